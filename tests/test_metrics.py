import numpy as np
import pytest

from sentiment.metrics import classification_report, confusion_matrix, roc_auc


def test_confusion_matrix_rows_are_true_classes():
    assert confusion_matrix([0, 0, 1, 2], [0, 1, 1, 0], 3).tolist() == [
        [1, 1, 0], [0, 1, 0], [1, 0, 0]]


def test_roc_auc_matches_pairwise_count_with_ties():
    y = np.array([0, 0, 1, 1, 1])
    s = np.array([0.1, 0.5, 0.5, 0.8, 0.2])
    pairs = [(p, n) for p in s[y == 1] for n in s[y == 0]]
    expected = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in pairs) / len(pairs)
    assert roc_auc(y, s) == pytest.approx(expected)
    assert roc_auc([1, 1], [0.2, 0.3]) is None


def test_report_on_a_hand_computed_case():
    probabilities = np.array([[0.9, 0.1], [0.4, 0.6], [0.3, 0.7], [0.8, 0.2]])
    report = classification_report([0, 0, 1, 1], probabilities, ["neg", "pos"])
    # predictions: 0, 1, 1, 0 -> one error per class
    assert report["accuracy"] == 0.5
    assert report["confusion_matrix"] == [[1, 1], [1, 1]]
    assert report["per_class"]["pos"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5,
                                          "support": 2}
    assert report["macro_f1"] == 0.5
    assert report["roc_auc"] == pytest.approx(0.75)  # pos scores 0.7, 0.2 vs neg 0.1, 0.6
