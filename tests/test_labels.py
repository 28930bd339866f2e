import numpy as np
import pytest

from sentiment.config import ClassifierConfig
from sentiment.data import LabelledTexts
from sentiment.errors import ConfigError, DataError
from sentiment.labels import (label_indices, label_set, multi_hot, multilabel_class_weights,
                              split_validation)


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


def multi(labels, source="train.csv"):
    """Multi-label ``LabelledTexts`` of ``labels`` (a list of label tuples)."""
    return LabelledTexts(tuple(f"t{i}" for i in range(len(labels))),
                         tuple(tuple(row) for row in labels), source, multi_label=True)


def test_multi_label_label_set_spans_all_rows():
    assert label_set(multi([("10", "2"), (), ("1",), ("2",)])) == ("1", "2", "10")
    assert label_set(multi([("sad",), ("joy", "anger")])) == ("anger", "joy", "sad")
    with pytest.raises(DataError, match=r"train.csv: the rows hold 1 distinct label\(s\) "
                                        "'joy'; multi-label training needs at least two"):
        label_set(multi([("joy",), (), ("joy",)]))
    with pytest.raises(DataError, match="hold 0 distinct"):
        label_set(multi([(), ()]))


def test_label_set_with_an_order():
    order = ("neutral", "joy", "anger")
    assert label_set(multi([("joy",), ()]), order=order) == order  # as given, unsorted
    assert label_set(multi([("joy",), ()]), order=list(order)) == order
    with pytest.raises(DataError, match="train.csv: row 3 has label 'fear', which is not "
                                        "among the given labels neutral, joy, anger"):
        label_set(multi([("joy",), (), ("anger", "fear")]), order=order)
    single = LabelledTexts(("a", "b", "c"), ("pos", "neg", "pos"), "s.csv")
    assert label_set(single, order=("pos", "neg")) == ("pos", "neg")
    assert label_set(single) == ("neg", "pos")
    with pytest.raises(DataError, match="s.csv: row 2 has label 'neg'"):
        label_set(single, order=("pos", "meh"))
    with pytest.raises(DataError, match="names 'pos' more than once"):
        label_set(single, order=("pos", "neg", "pos"))
    with pytest.raises(DataError, match="holds 1 label"):
        label_set(LabelledTexts(("a",), ("pos",), "s.csv"), order=("pos",))


def test_multi_hot_by_hand():
    config = ClassifierConfig(labels=("anger", "joy", "neutral"), label_values=("0", "1", "2"))
    data = multi([("joy",), (), ("neutral", "0"), ("2", "joy", "anger")], "dev.tsv")
    y = multi_hot(data, config)
    assert y.dtype == np.float32 and y.shape == (4, 3)
    assert y.tolist() == [[0, 1, 0], [0, 0, 0], [1, 0, 1], [1, 1, 1]]
    with pytest.raises(DataError, match="dev.tsv: row 2 has label 'fear', which the model does "
                                        "not know; its labels are anger, joy, neutral"):
        multi_hot(multi([("joy",), ("fear",)], "dev.tsv"), config)
    with pytest.raises(DataError,
                       match="dev.tsv: the data are multi-label .*the model is single-label"):
        label_indices(data, config)
    with pytest.raises(DataError, match="one label per row but the model is multi-label"):
        multi_hot(LabelledTexts(("a",), ("joy",), "x"), config)


def test_multi_label_validation_split():
    data = multi([(str(i % 3),) * (i % 2) for i in range(50)])
    train, validation = split_validation(data, 0.2, seed=3)
    assert train.multi_label and validation.multi_label
    assert len(train) == 40 and len(validation) == 10
    rows = {text: labels for text, labels in zip(data.texts, data.labels)}
    for part in (train, validation):
        assert all(rows[text] == labels for text, labels in zip(part.texts, part.labels))


def test_multilabel_class_weights_balanced_by_hand_and_from_a_file(tmp_path):
    import json

    config = ClassifierConfig(labels=("a", "b", "c", "d"), label_values=("0", "1", "2", "3"))
    y = np.array([[1, 1, 1, 0],
                  [0, 1, 1, 0],
                  [0, 1, 1, 0],
                  [0, 0, 1, 0]], dtype=np.float32)
    assert multilabel_class_weights("none", y, config) is None
    weights = multilabel_class_weights("balanced", y, config)
    assert weights.dtype == np.float64 and weights.shape == (4, 2)
    # a: 1 positive, 3 negative of 4 -> 4 / (2 * 3), 4 / (2 * 1); b: 3 positive -> 4 / (2 * 1),
    # 4 / (2 * 3); c (every row) and d (no row) -> 1, 1
    np.testing.assert_allclose(weights, [[2 / 3, 2.0], [2.0, 2 / 3], [1, 1], [1, 1]])
    assert (y * weights[:, 1] + (1 - y) * weights[:, 0]).sum(axis=0).tolist() == \
        pytest.approx([4.0] * 4)  # every label's weights sum to n
    path = tmp_path / "weights.json"
    path.write_text(json.dumps({"b": 3, "0": 0.5}))  # by name and by raw value
    assert multilabel_class_weights(str(path), y, config).tolist() == \
        [[1, 0.5], [1, 3], [1, 1], [1, 1]]
    for content, message in [({"e": 1}, "unknown label 'e'; the labels are a, b, c, d"),
                             ({"a": -1}, "weight of label 'a' must be a number > 0"),
                             ({"a": True}, "weight of label 'a' must be a number > 0"),
                             ([1, 2], "expected a JSON object of label -> weight")]:
        path.write_text(json.dumps(content))
        with pytest.raises(DataError, match=message):
            multilabel_class_weights(str(path), y, config)
    with pytest.raises(DataError, match="--class-weight balance: cannot read the file"):
        multilabel_class_weights("balance", y, config)
    with pytest.raises(ConfigError, match=r"must be \(n, 4\); received shape \(4, 3\)"):
        multilabel_class_weights("balanced", y[:, :3], config)
