import math

import numpy as np
import pytest

from sentiment.metrics import (
    calibration_bins,
    classification_report,
    confusion_matrix,
    expected_calibration_error,
    log_loss,
    roc_auc,
    roc_curve,
)

# four rows, two classes; P(class 1) per row. Predictions: 0, 0, 0, 1 -> row 3 is wrong.
Y = np.array([0, 0, 1, 1])
P1 = np.array([0.1, 0.4, 0.35, 0.8])
PROBS = np.c_[1 - P1, P1]


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


# ----------------------------------------------------------------------------- forecasting


def test_repeat_last_and_seasonal_naive_by_hand():
    from sentiment.errors import ConfigError
    from sentiment.metrics import repeat_last, seasonal_naive

    # One window, lookback 6, one target: history 1..6 with the last value missing.
    past = np.array([1, 2, 3, 4, 5, np.nan], np.float32).reshape(1, 6, 1)
    np.testing.assert_array_equal(repeat_last(past, 1)[0, :, 0], [5])
    # Season 3, horizon 4: y[T+h] = x[T+h-3*ceil(h/3)] (0-based x[0..5]) -> x[3], x[4],
    # x[5] (missing: last observed value 5), x[3].
    np.testing.assert_array_equal(seasonal_naive(past, 1, 3, 4)[0, :, 0], [4, 5, 5, 4])
    with pytest.raises(ConfigError, match="lookback >= season"):
        seasonal_naive(past, 1, 7, 2)


def test_error_report_by_hand_with_missing_targets():
    from sentiment.metrics import error_report

    y_true = np.array([[[1.0], [2.0]], [[np.nan], [4.0]]])
    y_pred = np.array([[[0.0], [2.0]], [[9.0], [2.0]]])
    report = error_report(y_true, y_pred)
    assert report["mse"] == pytest.approx((1 + 0 + 4) / 3)
    assert report["mae"] == pytest.approx((1 + 0 + 2) / 3)
    assert report["per_step"]["mse"] == pytest.approx([1.0, 2.0])
    assert report["per_target"]["mae"] == pytest.approx([1.0])


def test_baseline_reports_and_default_season():
    from sentiment.metrics import baseline_reports, default_season, error_report
    from sentiment.timeseries.windows import make_windows

    assert [default_season(f) for f in (None, 3600, 900, 86400, 7 * 86400)] == [1, 24, 96, 7, 1]
    values = np.arange(40, dtype=np.float32).reshape(20, 2)
    windows = make_windows(values, 6, 2, [0], None, ())
    reports = baseline_reports(windows, 1, 3)
    assert reports["repeat_last"] == error_report(windows.targets, windows.past[:, -1:, :1])
    assert reports["seasonal_naive"]["season"] == 3
    assert baseline_reports(windows, 1, 7)["seasonal_naive"] is None  # lookback < season


def test_log_loss_by_hand():
    expected = -(math.log(0.9) + math.log(0.6) + math.log(0.35) + math.log(0.8)) / 4
    assert log_loss(Y, PROBS) == pytest.approx(expected)
    assert log_loss([0], [[0.0, 1.0]]) == pytest.approx(-math.log(1e-7))  # clipped, finite


def test_expected_calibration_error_by_hand():
    # confidences 0.9, 0.6, 0.65, 0.8 -> bins 9, 6, 6, 8 of ten
    # bin 6: mean confidence 0.625, accuracy 1/2; bin 8: 0.8, 1; bin 9: 0.9, 1
    expected = 2 / 4 * abs(0.5 - 0.625) + 1 / 4 * abs(1 - 0.8) + 1 / 4 * abs(1 - 0.9)
    assert expected_calibration_error(Y, PROBS, bins=10) == pytest.approx(expected)
    stats = calibration_bins(Y, PROBS, bins=10)
    assert stats["count"].tolist() == [0, 0, 0, 0, 0, 0, 2, 0, 1, 1]
    assert stats["accuracy"][6] == 0.5 and math.isnan(stats["accuracy"][0])
    # a perfectly calibrated case: confidence 1 and always right
    assert expected_calibration_error([0, 1], [[1.0, 0.0], [0.0, 1.0]]) == 0.0


def test_roc_curve_points_by_hand_and_area_matches_roc_auc():
    fpr, tpr, thresholds = roc_curve(Y == 1, P1)
    # thresholds 0.8, 0.4, 0.35, 0.1: positives above each
    assert fpr.tolist() == [0.0, 0.0, 0.5, 0.5, 1.0]
    assert tpr.tolist() == [0.0, 0.5, 0.5, 1.0, 1.0]
    assert thresholds.tolist() == [math.inf, 0.8, 0.4, 0.35, 0.1]
    area = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
    assert area == pytest.approx(roc_auc(Y, P1)) == pytest.approx(0.75)
    # tied scores make one point
    fpr, tpr, _ = roc_curve([0, 1, 1], [0.5, 0.5, 0.9])
    assert fpr.tolist() == [0.0, 0.0, 1.0] and tpr.tolist() == [0.0, 0.5, 1.0]


# ----------------------------------------------------------------------------- multi-label


def test_multilabel_report_by_hand():
    import json

    from sentiment.metrics import multilabel_report

    y_true = np.array([[1, 0, 1, 0], [0, 1, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0]])
    y_pred = np.array([[1, 0, 0, 0], [0, 1, 1, 0], [1, 0, 0, 0], [0, 0, 0, 0]], bool)
    probabilities = np.array([[0.9, 0.1, 0.3, 0.1], [0.2, 0.7, 0.6, 0.1],
                              [0.8, 0.4, 0.2, 0.1], [0.1, 0.5, 0.1, 0.1]])
    report = multilabel_report(y_true, y_pred, probabilities, ["a", "b", "c", "d"],
                               thresholds=[0.5, 0.5, 0.55, 0.5])
    # per label (TP, FP, FN): a (2, 0, 0) -> P 1, R 1, F1 1; b (1, 0, 1) -> P 1, R 1/2,
    # F1 2/3; c (0, 1, 1) -> 0, 0, 0; d (0, 0, 0) -> 0, 0, 0 (zero_division=0)
    assert report["per_label"]["b"] == {"precision": 1.0, "recall": 0.5,
                                        "f1": pytest.approx(2 / 3), "support": 2,
                                        "roc_auc": 0.75, "threshold": 0.5}
    assert report["per_label"]["c"]["threshold"] == 0.55
    # micro: TP 3, FP 1, FN 2 -> P 3/4, R 3/5, F1 2*3 / (2*3 + 1 + 2) = 2/3
    assert report["micro_precision"] == pytest.approx(3 / 4)
    assert report["micro_recall"] == pytest.approx(3 / 5)
    assert report["micro_f1"] == pytest.approx(2 / 3)
    # macro over 4 labels: P (1 + 1) / 4, R (1 + 1/2) / 4, F1 (1 + 2/3) / 4
    assert report["macro_precision"] == pytest.approx(0.5)
    assert report["macro_recall"] == pytest.approx(0.375)
    assert report["macro_f1"] == pytest.approx(5 / 12)
    # wrong cells: (0, c), (1, c), (2, b) of 16; only row 3 matches its true set exactly
    assert report["hamming_loss"] == pytest.approx(3 / 16)
    assert report["subset_accuracy"] == pytest.approx(1 / 4)
    # AUC: a 1 (0.9, 0.8 above 0.2, 0.1); b 3/4 (0.7 > 0.1, 0.5; 0.4 > 0.1 only);
    # c 2/3 (0.3 above 0.2, 0.1, not 0.6); d has no positive -> None, left out of the mean
    assert report["per_label"]["a"]["roc_auc"] == 1.0
    assert report["per_label"]["d"]["roc_auc"] is None
    assert report["macro_roc_auc"] == pytest.approx((1 + 3 / 4 + 2 / 3) / 3)
    assert report["rows_without_label"] == 1
    assert report["label_cardinality"] == {"true": 5 / 4, "predicted": 1.0}
    assert report["examples"] == 4 and report["multi_label"] is True
    assert report["labels"] == ["a", "b", "c", "d"]
    assert "accuracy" not in report
    json.dumps(report)  # plain Python values only
    no_auc = multilabel_report([[1], [1]], [[1], [0]], [[0.9], [0.2]], ["a"])
    assert no_auc["macro_roc_auc"] is None and "threshold" not in no_auc["per_label"]["a"]


def test_multilabel_report_rejects_mismatched_shapes():
    from sentiment.metrics import multilabel_report

    y = np.zeros((4, 3))
    with pytest.raises(ValueError, match=r"\(4, 3\), \(4, 2\) and \(4, 3\)"):
        multilabel_report(y, np.zeros((4, 2)), y, ["a", "b", "c"])
    with pytest.raises(ValueError, match=r"\(n, 2\) for 2 labels"):
        multilabel_report(y, y, y, ["a", "b"])
    with pytest.raises(ValueError, match=r"thresholds must be \(3,\)"):
        multilabel_report(y, y, y, ["a", "b", "c"], thresholds=[0.5])


def test_selective_report_counts_covered_rows_only():
    from sentiment.metrics import selective_report

    # rows 1 and 3 abstained (-1); of the covered rows 0, 2, 4 two are right
    report = selective_report([0, 1, 1, 0, 1], [0, -1, 0, -1, 1], 2)
    assert report["coverage"] == pytest.approx(0.6)
    assert (report["rows_covered"], report["rows_abstained"]) == (3, 2)
    assert report["accuracy_covered"] == pytest.approx(2 / 3)
    # covered confusion [[1, 0], [1, 1]]: F1 of class 0 = 2/3, of class 1 = 2/3
    assert report["macro_f1_covered"] == pytest.approx(2 / 3)
    nothing = selective_report([0, 1], [-1, -1], 2)
    assert nothing["coverage"] == 0 and nothing["accuracy_covered"] is None


def test_binary_log_loss_and_label_wise_calibration_error_by_hand():
    from sentiment.metrics import binary_log_loss, multilabel_calibration_error

    y = np.array([[1, 0], [0, 0]])
    p = np.array([[0.8, 0.2], [0.4, 0.1]])
    expected = -(math.log(0.8) + math.log(0.8) + math.log(0.6) + math.log(0.9)) / 4
    assert binary_log_loss(y, p) == pytest.approx(expected)
    # bins of 0.1: 0.8 (y=1) alone, 0.2 (y=0) alone, 0.4 (y=0) alone, 0.1 (y=0) alone
    assert multilabel_calibration_error(y, p, 10) == pytest.approx(
        (0.2 + 0.2 + 0.4 + 0.1) / 4)
    with pytest.raises(ValueError):
        binary_log_loss(y, p[:1])
