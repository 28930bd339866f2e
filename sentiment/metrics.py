"""Classification and forecasting metrics on numpy arrays.

Plain numpy so evaluation needs nothing beyond the runtime dependencies (scikit-learn is not
one). Each function documents the formula it implements. The forecasting part: MSE/MAE over
observed targets (:func:`error_report`) and the ``repeat_last`` and ``seasonal_naive``
baselines a forecaster is compared with.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from .errors import ConfigError

if TYPE_CHECKING:
    from .timeseries.windows import Windows


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts ``(num_classes, num_classes)`` int64: row = true class, column = predicted class."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (y_true, y_pred), 1)
    return matrix


def precision_recall_f1(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-class precision, recall and F1 ``(num_classes,) float64`` from a confusion matrix.

    A class never predicted (or never present) gets precision (or recall) 0, as scikit-learn's
    ``zero_division=0``.
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    true_positive = np.diag(matrix)
    predicted = matrix.sum(axis=0)
    actual = matrix.sum(axis=1)
    precision = np.divide(true_positive, predicted, out=np.zeros_like(true_positive),
                          where=predicted > 0)
    recall = np.divide(true_positive, actual, out=np.zeros_like(true_positive), where=actual > 0)
    denominator = precision + recall
    f1 = np.divide(2 * precision * recall, denominator, out=np.zeros_like(true_positive),
                   where=denominator > 0)
    return precision, recall, f1


def roc_auc(y_true: np.ndarray, scores: np.ndarray) -> float | None:
    """Area under the ROC curve for binary labels ``(n,)`` {0, 1} and scores ``(n,)`` float.

    Computed exactly as the Mann-Whitney U statistic with average ranks for ties (the
    probability that a random positive scores above a random negative). Returns ``None``
    when only one class is present, where the AUC is undefined.
    """
    y_true = np.asarray(y_true).astype(bool)
    scores = np.asarray(scores, dtype=np.float64)
    positives = int(y_true.sum())
    negatives = y_true.size - positives
    if positives == 0 or negatives == 0:
        return None
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    ranks = np.empty(scores.size, dtype=np.float64)
    # average ranks (1-based) over runs of tied scores
    boundaries = np.flatnonzero(np.diff(sorted_scores)) + 1
    starts = np.concatenate([[0], boundaries])
    ends = np.concatenate([boundaries, [scores.size]])
    for start, end in zip(starts, ends):
        ranks[order[start:end]] = (start + end + 1) / 2.0
    rank_sum = ranks[y_true].sum()
    return float((rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives))


def classification_report(y_true: Sequence[int], probabilities: np.ndarray,
                          labels: Sequence[str], y_pred: Sequence[int] | None = None) -> dict:
    """Accuracy, per-class and macro precision/recall/F1, ROC-AUC and the confusion matrix.

    Args:
        y_true: ``(n,)`` int class indices into ``labels``.
        probabilities: ``(n, num_classes)`` float class probabilities.
        labels: class names, in column order of ``probabilities``.
        y_pred: ``(n,)`` int predicted class indices (a decision threshold's); default the
            argmax of ``probabilities``. ROC-AUC does not depend on it.

    Returns:
        A JSON-serialisable dict. ``roc_auc`` is given for two classes (score of the second
        class) and is ``None`` otherwise or when the data hold one class only.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    num_classes = len(labels)
    y_pred = (probabilities.argmax(axis=1) if y_pred is None
              else np.asarray(y_pred, dtype=np.int64))
    matrix = confusion_matrix(y_true, y_pred, num_classes)
    precision, recall, f1 = precision_recall_f1(matrix)
    report = {
        "examples": int(y_true.size),
        "accuracy": float((y_pred == y_true).mean()) if y_true.size else 0.0,
        "macro_precision": float(precision.mean()),
        "macro_recall": float(recall.mean()),
        "macro_f1": float(f1.mean()),
        "roc_auc": roc_auc(y_true == 1, probabilities[:, 1]) if num_classes == 2 else None,
        "per_class": {
            label: {"precision": float(p), "recall": float(r), "f1": float(f),
                    "support": int(s)}
            for label, p, r, f, s in zip(labels, precision, recall, f1, matrix.sum(axis=1))
        },
        "labels": list(labels),
        "confusion_matrix": matrix.tolist(),
    }
    return report


def log_loss(y_true: Sequence[int], probabilities: np.ndarray, eps: float = 1e-7) -> float:
    """Mean negative log-likelihood of the true classes, in nats:
    ``-mean(log(clip(p[i, y_true[i]], eps, 1)))``.

    Args:
        y_true: ``(n,)`` int class indices.
        probabilities: ``(n, num_classes)`` float class probabilities (rows summing to 1).
        eps: floor of a probability before the log, so a confident error costs
            ``-log(eps)`` (about 16.1 for ``1e-7``) instead of infinity.

    Raises:
        ValueError: when there are no rows.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if y_true.size == 0:
        raise ValueError("log_loss needs at least one row")
    true_probabilities = probabilities[np.arange(y_true.size), y_true]
    return float(-np.log(np.clip(true_probabilities, eps, 1.0)).mean())


def selective_report(y_true: Sequence[int], y_pred: Sequence[int],
                     num_classes: int) -> dict:
    """Coverage and the metrics on the rows a classifier did not abstain on (selective
    classification, El-Yaniv & Wiener 2010: the accuracy on the covered rows against the
    share covered).

    Args:
        y_true: ``(n,)`` int class indices.
        y_pred: ``(n,)`` int predicted class indices, -1 where the classifier abstained.
        num_classes: the number of classes.

    Returns:
        ``{"coverage": covered / n, "rows_covered", "rows_abstained", "accuracy_covered",
        "macro_f1_covered"}`` (the last two ``None`` when no row is covered).
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    covered = y_pred >= 0
    n_covered = int(covered.sum())
    report: dict[str, Any] = {
        "coverage": float(covered.mean()) if y_true.size else 0.0,
        "rows_covered": n_covered, "rows_abstained": int(y_true.size - n_covered),
        "accuracy_covered": None, "macro_f1_covered": None}
    if n_covered:
        matrix = confusion_matrix(y_true[covered], y_pred[covered], num_classes)
        report["accuracy_covered"] = float((y_true[covered] == y_pred[covered]).mean())
        report["macro_f1_covered"] = float(precision_recall_f1(matrix)[2].mean())
    return report


def binary_log_loss(y_true: np.ndarray, probabilities: np.ndarray, eps: float = 1e-7) -> float:
    """Mean binary cross-entropy over every (row, label) cell of multi-label predictions, in
    nats: ``-mean(y log p + (1 - y) log(1 - p))``, ``p`` clipped to ``[eps, 1 - eps]``.

    Args:
        y_true: ``(n, labels)`` multi-hot {0, 1}.
        probabilities: ``(n, labels)`` float, one probability per label.

    Raises:
        ValueError: when there are no rows or the shapes differ.
    """
    y_true = np.asarray(y_true, dtype=np.float64)
    p = np.clip(np.asarray(probabilities, dtype=np.float64), eps, 1 - eps)
    if y_true.size == 0 or y_true.shape != p.shape:
        raise ValueError(f"binary_log_loss needs equal, non-empty shapes; received "
                         f"{y_true.shape} and {p.shape}")
    return float(-(y_true * np.log(p) + (1 - y_true) * np.log1p(-p)).mean())


def multilabel_calibration_bins(y_true: np.ndarray, probabilities: np.ndarray,
                                bins: int = 10) -> dict:
    """Reliability-diagram statistics of multi-label predictions: every (row, label) cell's
    probability ``p`` falls in bin ``min(floor(p * bins), bins - 1)``.

    Returns:
        As :func:`calibration_bins`: ``{"edges", "count", "confidence": mean p per bin,
        "accuracy": share of the bin's cells whose label is present}`` (NaN for empty bins).

    Raises:
        ValueError: when the shapes differ.
    """
    y_true = np.asarray(y_true, dtype=np.float64).ravel()
    p = np.asarray(probabilities, dtype=np.float64).ravel()
    if y_true.shape != p.shape:
        raise ValueError(f"labels of shape {np.shape(y_true)} and probabilities of shape "
                         f"{np.shape(probabilities)} differ")
    return _reliability_bins(p, y_true, bins)


def multilabel_calibration_error(y_true: np.ndarray, probabilities: np.ndarray,
                                 bins: int = 10) -> float:
    """Label-wise expected calibration error of multi-label predictions: over the bins of
    :func:`multilabel_calibration_bins`, ``sum_b (n_b / N) * |freq_b - mean_p_b|`` with
    ``freq_b`` the share of cells of bin ``b`` whose label is present (the classwise ECE of
    Kull et al., NeurIPS 2019, pooled over labels).

    Raises:
        ValueError: when there are no cells or the shapes differ.
    """
    return _calibration_gap(multilabel_calibration_bins(y_true, probabilities, bins),
                            "multilabel_calibration_error needs at least one cell")


def calibration_bins(y_true: Sequence[int], probabilities: np.ndarray, bins: int = 10) -> dict:
    """Reliability-diagram statistics of the top-class confidence in ``bins`` equal-width bins.

    The confidence of a row is its largest probability; row ``i`` falls in bin
    ``min(floor(confidence * bins), bins - 1)``, i.e. bin ``b`` covers ``[b/bins, (b+1)/bins)``
    and the last bin includes 1.

    Returns:
        ``{"edges": (bins + 1,), "count": (bins,) int64, "confidence": (bins,) mean confidence,
        "accuracy": (bins,) share of correct predictions}`` as numpy arrays; ``confidence`` and
        ``accuracy`` are NaN for empty bins.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    confidence = probabilities.max(axis=1) if probabilities.size else np.zeros(0)
    correct = probabilities.argmax(axis=1) == y_true if probabilities.size else np.zeros(0, bool)
    return _reliability_bins(confidence, correct.astype(np.float64), bins)


def _reliability_bins(values: np.ndarray, outcomes: np.ndarray, bins: int) -> dict:
    """``values`` ``(m,)`` in [0, 1] into ``bins`` equal-width bins (the last includes 1):
    per bin the count, the mean value (``confidence``) and the mean of ``outcomes`` (``(m,)``
    0/1; ``accuracy``), NaN for empty bins."""
    index = np.minimum((values * bins).astype(np.int64), bins - 1)
    count = np.bincount(index, minlength=bins).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_value = np.where(count > 0, np.bincount(index, weights=values, minlength=bins)
                              / count, np.nan)
        mean_outcome = np.where(count > 0, np.bincount(index, weights=outcomes,
                                                       minlength=bins) / count, np.nan)
    return {"edges": np.linspace(0.0, 1.0, bins + 1), "count": count,
            "confidence": mean_value, "accuracy": mean_outcome}


def _calibration_gap(stats: dict, empty_message: str) -> float:
    """``sum_b (n_b / n) * |accuracy_b - confidence_b|`` over the filled bins of ``stats``.

    Raises:
        ValueError: ``empty_message`` when every bin is empty.
    """
    count = stats["count"]
    if count.sum() == 0:
        raise ValueError(empty_message)
    filled = count > 0
    gaps = np.abs(stats["accuracy"][filled] - stats["confidence"][filled])
    return float((count[filled] * gaps).sum() / count.sum())


def expected_calibration_error(y_true: Sequence[int], probabilities: np.ndarray,
                               bins: int = 10) -> float:
    """Expected calibration error (Guo et al., 2017, "On Calibration of Modern Neural
    Networks"): ``sum_b (n_b / n) * |accuracy_b - confidence_b|`` over the equal-width bins of
    :func:`calibration_bins`. 0 is perfectly calibrated; the value is a probability gap.

    Raises:
        ValueError: when there are no rows.
    """
    return _calibration_gap(calibration_bins(y_true, probabilities, bins),
                            "expected_calibration_error needs at least one row")


def roc_curve(y_true: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                               np.ndarray]:
    """ROC curve points for binary labels ``(n,)`` and scores ``(n,)``.

    Each distinct score, from the highest down, is a threshold (predict positive when
    ``score >= threshold``); the curve starts at ``(0, 0)`` with threshold ``+inf``.

    Returns:
        ``(fpr, tpr, thresholds)``, float64 arrays of equal length ``distinct scores + 1``.
        Rates are NaN when one class is absent.
    """
    y_true = np.asarray(y_true).astype(bool)
    scores = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-scores, kind="mergesort")
    sorted_scores, sorted_true = scores[order], y_true[order]
    last_of_run = np.r_[np.flatnonzero(np.diff(sorted_scores)), sorted_scores.size - 1] \
        if sorted_scores.size else np.zeros(0, np.int64)
    true_positives = np.cumsum(sorted_true)[last_of_run]
    false_positives = (last_of_run + 1) - true_positives
    positives, negatives = int(y_true.sum()), int((~y_true).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        tpr = np.r_[0.0, true_positives / positives] if positives else \
            np.full(last_of_run.size + 1, np.nan)
        fpr = np.r_[0.0, false_positives / negatives] if negatives else \
            np.full(last_of_run.size + 1, np.nan)
    thresholds = np.r_[np.inf, sorted_scores[last_of_run]]
    return fpr, tpr, thresholds


def multilabel_report(y_true: np.ndarray, y_pred: np.ndarray, probabilities: np.ndarray,
                      labels: Sequence[str], thresholds: np.ndarray | None = None) -> dict:
    """Micro and macro precision/recall/F1, Hamming loss, subset accuracy and ROC-AUC of
    multi-label decisions (each row may have any number of labels).

    Args:
        y_true: ``(n, L)`` {0, 1} int or bool, the true label sets.
        y_pred: ``(n, L)`` bool or {0, 1}, the decisions (e.g. from
            :func:`sentiment.thresholds.apply_thresholds`).
        probabilities: ``(n, L)`` float, the scores the decisions came from (for ROC-AUC).
        labels: the ``L`` label names, in column order.
        thresholds: optional ``(L,)`` float, recorded per label when given.

    Returns:
        A JSON-serialisable dict. With per-label counts ``TP_j, FP_j, FN_j``:
        ``micro_*`` pool the counts over labels (``micro_precision = sum TP / sum(TP + FP)``,
        ``micro_f1 = 2 sum TP / sum(2 TP + FP + FN)``); ``macro_*`` are unweighted means of
        the per-label values, 0 where undefined (scikit-learn's ``zero_division=0``, as
        :func:`precision_recall_f1`); ``hamming_loss`` the share of wrong (row, label) cells;
        ``subset_accuracy`` the share of rows whose predicted set equals the true set;
        ``macro_roc_auc`` the mean of :func:`roc_auc` over labels where both classes occur
        (``None`` when no label has both); ``per_label`` ``{name: {"precision", "recall",
        "f1", "support" (true rows), "roc_auc" (None: one class), "threshold" (when
        given)}}``; ``rows_without_label`` the rows with no predicted label;
        ``label_cardinality`` ``{"true", "predicted"}`` the mean labels per row. There is no
        ``accuracy`` key: in multi-label it is ambiguous (use ``subset_accuracy``).

    Raises:
        ValueError: when the arrays are not all ``(n, len(labels))`` (the message names the
            shapes), ``thresholds`` is not ``(L,)``, label names repeat, or there is no row
            or no label.
    """
    y_true = np.asarray(y_true).astype(bool)
    y_pred = np.asarray(y_pred).astype(bool)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    expected = (y_true.shape[0] if y_true.ndim == 2 else -1, len(labels))
    shapes = (y_true.shape, y_pred.shape, probabilities.shape)
    if any(shape != expected for shape in shapes):
        raise ValueError(f"y_true, y_pred and probabilities must all be (n, {len(labels)}) "
                         f"for {len(labels)} labels; got shapes {shapes[0]}, {shapes[1]} and "
                         f"{shapes[2]}")
    if 0 in expected:
        raise ValueError(f"multilabel_report needs at least one row and one label; got shape "
                         f"{y_true.shape}")
    if len(set(labels)) != len(labels):
        raise ValueError(f"label names must be distinct; got {list(labels)}")
    if thresholds is not None:
        thresholds = np.asarray(thresholds, dtype=np.float64)
        if thresholds.shape != (len(labels),):
            raise ValueError(f"thresholds must be ({len(labels)},); got shape "
                             f"{thresholds.shape}")

    true_positive = (y_true & y_pred).sum(axis=0).astype(np.float64)
    predicted = y_pred.sum(axis=0).astype(np.float64)
    actual = y_true.sum(axis=0).astype(np.float64)

    def ratio(numerator, denominator):
        return np.divide(numerator, denominator, out=np.zeros_like(numerator, dtype=np.float64),
                         where=denominator > 0)

    precision, recall = ratio(true_positive, predicted), ratio(true_positive, actual)
    f1 = ratio(2 * true_positive, predicted + actual)  # = 2PR / (P + R)
    tp, pp, ap = true_positive.sum(), predicted.sum(), actual.sum()
    aucs = [roc_auc(y_true[:, j], probabilities[:, j]) for j in range(len(labels))]
    defined = [auc for auc in aucs if auc is not None]
    per_label = {}
    for j, label in enumerate(labels):
        per_label[label] = {"precision": float(precision[j]), "recall": float(recall[j]),
                            "f1": float(f1[j]), "support": int(actual[j]), "roc_auc": aucs[j]}
        if thresholds is not None:
            per_label[label]["threshold"] = float(thresholds[j])
    return {
        "examples": int(y_true.shape[0]),
        "micro_precision": float(ratio(tp, pp)),
        "micro_recall": float(ratio(tp, ap)),
        "micro_f1": float(ratio(2 * tp, pp + ap)),
        "macro_precision": float(precision.mean()),
        "macro_recall": float(recall.mean()),
        "macro_f1": float(f1.mean()),
        "hamming_loss": float((y_true != y_pred).mean()),
        "subset_accuracy": float((y_true == y_pred).all(axis=1).mean()),
        "macro_roc_auc": float(np.mean(defined)) if defined else None,
        "per_label": per_label,
        "labels": list(labels),
        "multi_label": True,
        "rows_without_label": int((~y_pred.any(axis=1)).sum()),
        "label_cardinality": {"true": float(y_true.sum(axis=1).mean()),
                              "predicted": float(y_pred.sum(axis=1).mean())},
    }


# ----------------------------------------------------------------------------- forecasting


def default_season(frequency: int | None) -> int:
    """Seasonal period in steps for ``seasonal_naive``: one day for sub-daily data (24 for
    hourly: "same hour a day earlier"), one week (7) for daily data, else 1 (repeat last)."""
    if not frequency:
        return 1
    if frequency < 86400 and 86400 % frequency == 0:
        return 86400 // frequency
    if frequency == 86400:
        return 7
    return 1


def repeat_last(past: np.ndarray, targets: int) -> np.ndarray:
    """The ``repeat_last`` baseline: each target's last observed value in the window.

    Args:
        past: ``(windows, lookback, inputs) float32``, targets first, ``NaN`` where missing.
        targets: number of target columns.

    Returns:
        ``(windows, 1, targets) float32`` (broadcasts over the horizon); 0 (the training
        mean) where a target was never observed in the window.
    """
    values = past[:, :, :targets]
    observed = ~np.isnan(values)
    last = values.shape[1] - 1 - np.argmax(observed[:, ::-1], axis=1)  # (windows, targets)
    picked = np.take_along_axis(values, last[:, None, :], axis=1)
    return np.where(np.isnan(picked), 0.0, picked).astype(np.float32)


def seasonal_naive(past: np.ndarray, targets: int, season: int, horizon: int) -> np.ndarray:
    """The ``seasonal_naive`` baseline: the value one season earlier (for hourly data with
    ``season=24``, the same hour a day earlier); beyond one season the last observed season
    repeats: ``y[T + h] = x[T + h - season * ceil(h / season)]``, ``h = 1..horizon``.

    Args:
        past: ``(windows, lookback, inputs) float32``, targets first; ``lookback >= season``.
        targets: number of target columns.
        season: period in steps.
        horizon: forecast length.

    Returns:
        ``(windows, horizon, targets) float32``; missing seasonal values fall back to
        :func:`repeat_last`.

    Raises:
        ConfigError: when the lookback is shorter than the season.
    """
    lookback = past.shape[1]
    if season > lookback:
        raise ConfigError(f"seasonal_naive needs lookback >= season ({season}); lookback is "
                          f"{lookback}")
    steps = np.arange(1, horizon + 1)
    index = lookback - 1 + steps - season * np.ceil(steps / season).astype(int)
    forecast = past[:, index, :targets]
    return np.where(np.isnan(forecast), repeat_last(past, targets), forecast).astype(np.float32)


def error_report(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, Any]:
    """MSE and MAE over observed targets, overall, per horizon step and per target column.

    Args:
        y_true: ``(windows, horizon, targets)``, ``NaN`` where missing.
        y_pred: the same shape (or broadcastable), no ``NaN``.

    Returns:
        ``{"mse", "mae", "per_step": {"mse": [H], "mae": [H]}, "per_target": {"mse": [T],
        "mae": [T]}}`` (floats; ``None`` where nothing was observed).
    """
    y_true = np.asarray(y_true, np.float64)
    y_pred = np.broadcast_to(np.asarray(y_pred, np.float64), y_true.shape)
    observed = ~np.isnan(y_true)
    err = np.where(observed, y_pred - np.where(observed, y_true, 0.0), 0.0)

    def mean(values, axis):
        count = observed.sum(axis=axis)
        total = values.sum(axis=axis)
        with np.errstate(invalid="ignore", divide="ignore"):
            result = np.where(count > 0, total / np.maximum(count, 1), np.nan)
        if np.ndim(result) == 0:
            return None if np.isnan(result) else float(result)
        return [None if np.isnan(x) else float(x) for x in result]

    sq, ab = err ** 2, np.abs(err)
    return {"mse": mean(sq, None), "mae": mean(ab, None),
            "per_step": {"mse": mean(sq, (0, 2)), "mae": mean(ab, (0, 2))},
            "per_target": {"mse": mean(sq, (0, 1)), "mae": mean(ab, (0, 1))}}


def baseline_reports(windows: Windows, targets: int, season: int) -> dict[str, Any]:
    """:func:`error_report` of ``repeat_last`` and ``seasonal_naive`` on ``windows`` (the
    latter ``None`` when the lookback is shorter than the season)."""
    horizon = windows.targets.shape[1]
    reports: dict[str, Any] = {
        "repeat_last": error_report(windows.targets, repeat_last(windows.past, targets))}
    try:
        reports["seasonal_naive"] = error_report(
            windows.targets, seasonal_naive(windows.past, targets, season, horizon))
        reports["seasonal_naive"]["season"] = season
    except ConfigError:
        reports["seasonal_naive"] = None
    return reports


def spearman(y_true: np.ndarray, y_pred: np.ndarray) -> float | None:
    """Spearman's rank correlation: the Pearson correlation of the ranks (ties get their
    average rank, ``pandas.Series.rank``); ``None`` when either side is constant."""
    import pandas as pd

    ranks_true = pd.Series(np.asarray(y_true, np.float64)).rank().to_numpy()
    ranks_pred = pd.Series(np.asarray(y_pred, np.float64)).rank().to_numpy()
    if ranks_true.std() == 0 or ranks_pred.std() == 0:
        return None
    return float(np.corrcoef(ranks_true, ranks_pred)[0, 1])


def regression_report(y_true: Sequence[float], y_pred: Sequence[float]) -> dict[str, Any]:
    """Errors of numeric predictions, in the targets' units.

    Args:
        y_true, y_pred: ``(n,)`` numbers.

    Returns:
        ``{"task": "regression", "examples", "mae", "rmse", "r2" (1 - SSE / SST; ``None``
        for constant targets), "spearman" (:func:`spearman`), "mean_target",
        "mean_prediction"}``.
    """
    y_true = np.asarray(y_true, np.float64)
    y_pred = np.asarray(y_pred, np.float64)
    errors = y_pred - y_true
    total = float(((y_true - y_true.mean()) ** 2).sum()) if y_true.size else 0.0
    return {
        "task": "regression", "examples": int(y_true.size),
        "mae": float(np.abs(errors).mean()) if y_true.size else 0.0,
        "rmse": float(np.sqrt((errors ** 2).mean())) if y_true.size else 0.0,
        "r2": 1.0 - float((errors ** 2).sum()) / total if total > 0 else None,
        "spearman": spearman(y_true, y_pred) if y_true.size > 1 else None,
        "mean_target": float(y_true.mean()) if y_true.size else None,
        "mean_prediction": float(y_pred.mean()) if y_true.size else None,
    }
