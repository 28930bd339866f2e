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
