import pytest

from sentiment.config import ClassifierConfig
from sentiment.data import LabelledTexts
from sentiment.errors import DataError
from sentiment.labels import label_indices, label_set, split_validation


def test_label_set_orders_numbers_numerically():
    data = LabelledTexts(("a",) * 4, ("10", "2", "1", "2"), "x")
    assert label_set(data) == ("1", "2", "10")


def test_single_class_is_an_error():
    with pytest.raises(DataError, match="single class 'pos'"):
        label_set(LabelledTexts(("a", "b"), ("pos", "pos"), "train.csv"))


def test_unknown_labels_name_the_row_and_the_known_labels():
    config = ClassifierConfig(labels=("negative", "positive"), label_values=("0", "1"))
    data = LabelledTexts(("a", "b", "c"), ("1", "positive", "2"), "test.csv")
    with pytest.raises(DataError, match="test.csv: row 3 has label '2'.*negative, positive"):
        label_indices(data, config)
    assert label_indices(data.head(2), config).tolist() == [1, 1]


def test_validation_split_is_disjoint_and_seeded():
    data = LabelledTexts(tuple(str(i) for i in range(100)), ("a", "b") * 50, "x")
    train, validation = split_validation(data, 0.2, seed=1)
    assert len(validation) == 20 and len(train) == 80
    assert not set(train.texts) & set(validation.texts)
    assert split_validation(data, 0.2, seed=1)[1].texts == validation.texts


def test_class_weights_balanced_by_hand_and_from_a_file(tmp_path):
    import json

    import numpy as np

    from sentiment.labels import class_weights

    config = ClassifierConfig(labels=("negative", "positive"), label_values=("0", "1"))
    y = np.array([0, 0, 0, 1])  # 4 examples, 2 classes: 4 / (2 * 3) and 4 / (2 * 1)
    assert class_weights("none", y, config) is None
    assert class_weights("balanced", y, config) == pytest.approx({0: 2 / 3, 1: 2.0})
    path = tmp_path / "weights.json"
    path.write_text(json.dumps({"positive": 3, "0": 0.5}))  # by name and by raw value
    assert class_weights(str(path), y, config) == {0: 0.5, 1: 3.0}
    for content, message in [({"positive": 1}, "no weight for class 'negative'"),
                             ({"neutral": 1, "0": 1, "1": 1}, "unknown class 'neutral'"),
                             ({"0": 0, "1": 1}, "weight of class '0' must be a number > 0"),
                             ([1, 2], "expected a JSON object")]:
        path.write_text(json.dumps(content))
        with pytest.raises(DataError, match=message):
            class_weights(str(path), y, config)
    with pytest.raises(DataError, match="--class-weight balance: cannot read the file"):
        class_weights("balance", y, config)
