"""Choosing decision thresholds on a validation split.

A classifier outputs probabilities; a decision needs a threshold (predict positive when
``score >= threshold``). The conventional 0.5 is rarely the best one for F1, and a
multi-label model may need one threshold per label. The functions here pick the threshold
that maximises F1 or accuracy on held-out rows (:func:`tune_threshold`, per label
:func:`tune_label_thresholds`, one for all labels :func:`tune_global_threshold`) and apply
thresholds to probabilities (:func:`apply_thresholds`). Plain numpy, ``O(n log n)``: one
sort, then cumulative sums give the counts at every candidate threshold at once (the
approach of scikit-learn's ``precision_recall_curve``).
"""

from __future__ import annotations

import numpy as np

from .config import IF_NO_LABEL
from .errors import ConfigError

#: What a threshold can be tuned for (``TrainingConfig.tune_threshold`` less auto and none).
THRESHOLD_METRICS = ("f1", "accuracy")


def tune_threshold(y_true: np.ndarray, scores: np.ndarray, metric: str = "f1") -> float:
    """The threshold ``t`` whose decisions ``scores >= t`` maximise ``metric`` on these rows.

    Args:
        y_true: ``(n,)`` {0, 1} int or bool, 1 = positive.
        scores: ``(n,)`` float, probabilities of the positive class.
        metric: ``"f1"``: F1 of the positive class, ``2 TP / (2 TP + FP + FN)``, 0 when
            there is no true and no predicted positive (scikit-learn's binary F1 with
            ``zero_division=0``); ``"accuracy"``: ``(TP + TN) / n``.

    Returns:
        A Python float that float32 represents exactly (thresholds are compared with the
        model's float32 probabilities, here, in the Predictor and in the SavedModel alike),
        within ``[0, 1]``. With the distinct scores ``d_0 > d_1 > ... > d_{k-1}``, the
        candidate decisions are "positive when ``score >= d_j``" (``j = 0..k-1``) and "no row
        positive"; each holds for a whole interval of thresholds: ``(d_{j+1}, d_j]``
        (``(-inf, d_{k-1}]`` for the lowest score, ``(d_0, inf)`` for none positive). Each
        candidate is represented by

        * ``0.5`` when its interval contains 0.5, else
        * the midpoint ``(d_j + d_{j+1}) / 2`` rounded to float32, so the threshold sits
          between the two scores it separates (``d_j`` itself if rounding would put the
          midpoint on ``d_{j+1}``); for the lowest score ``d_{k-1} / 2`` (midway to 0;
          ``d_{k-1}`` when it is <= 0); for none positive ``1.0`` (when ``d_0`` is 1.0
          itself, no threshold in [0, 1] makes that row negative: ``1.0`` then keeps the
          rows scored 1.0 positive).

        The best-scoring candidate is returned by its representative; among equally good
        candidates, the one whose representative is closest to 0.5 (then the higher one).
        So ``scores >= tune_threshold(...)`` reproduces the best decisions on these rows (but
        for the case of a score of 1.0 above), and a split where 0.5 is among the best keeps
        0.5.

    Raises:
        ValueError: for no rows, inputs that are not 1-D of equal length, labels other than
            0/1, NaN scores, or an unknown ``metric`` (:class:`~sentiment.errors.ConfigError`).
    """
    _check_metric(metric)
    y_true = np.asarray(y_true)
    # the model's probabilities are float32: decide in float32, as every caller will
    scores = np.asarray(scores, dtype=np.float32).astype(np.float64)
    if y_true.ndim != 1 or y_true.shape != scores.shape:
        raise ValueError(f"y_true and scores must be 1-D of equal length; got shapes "
                         f"{y_true.shape} and {scores.shape}")
    if y_true.size == 0:
        raise ValueError("tune_threshold needs at least one row")
    if not np.isin(y_true, (0, 1)).all():
        raise ValueError("y_true must hold 0/1 (or bool) labels")
    if np.isnan(scores).any():
        raise ValueError("scores must not be NaN")

    order = np.argsort(-scores, kind="mergesort")
    sorted_scores = scores[order]
    last_of_run = np.r_[np.flatnonzero(np.diff(sorted_scores)), scores.size - 1]
    distinct = sorted_scores[last_of_run]  # d_0 > d_1 > ... > d_{k-1}
    # candidate 0: none positive; candidate j + 1: positive when score >= d_j
    true_pos = np.r_[0, np.cumsum(y_true[order].astype(np.int64))[last_of_run]]
    predicted_pos = np.r_[0, last_of_run + 1]
    positives, n = true_pos[-1], scores.size
    if metric == "f1":
        denominator = (positives + predicted_pos).astype(np.float64)
        value = np.divide(2.0 * true_pos, denominator, out=np.zeros_like(denominator),
                          where=denominator > 0)
    else:  # TN = (n - positives) - (predicted_pos - true_pos)
        value = (n - positives - predicted_pos + 2 * true_pos) / n
    # ties are exact: equal ratios of small integers divide to the same float

    upper = np.r_[np.inf, distinct]  # candidate intervals (lower, upper]
    lower = np.r_[distinct, -np.inf]
    middle = ((distinct[:-1] + distinct[1:]) / 2).astype(np.float32).astype(np.float64)
    middle = np.where(middle > distinct[1:], middle, distinct[:-1])
    top = 1.0
    bottom = float(np.float32(distinct[-1] / 2)) if distinct[-1] > 0 else distinct[-1]
    represent = np.r_[top, middle, bottom]
    represent = np.where((lower < 0.5) & (0.5 <= upper), 0.5, represent)

    distance = np.where(value == value.max(), np.abs(represent - 0.5), np.inf)
    return float(represent[np.argmin(distance)])  # argmin: first, i.e. higher, on a tie


def tune_label_thresholds(y_true: np.ndarray, probabilities: np.ndarray,
                          metric: str = "f1") -> np.ndarray:
    """One threshold per label: :func:`tune_threshold` on each column.

    Args:
        y_true: ``(n, labels)`` {0, 1} int or bool.
        probabilities: ``(n, labels)`` float.
        metric: one of :data:`THRESHOLD_METRICS`.

    Returns:
        ``(labels,) float64``. A label with no positive row in ``y_true`` gets 0.5, whatever
        the metric: there is nothing to tune on (F1 is undefined, i.e. 0 at every threshold;
        accuracy would only push the threshold above every score).

    Raises:
        ValueError: for no rows, shapes that are not equal ``(n, labels)``, or as
            :func:`tune_threshold`.
    """
    y_true, probabilities = _matrices(y_true, probabilities)
    _check_metric(metric)  # here too: a label without positives skips tune_threshold
    return np.array([tune_threshold(y_true[:, j], probabilities[:, j], metric)
                     if y_true[:, j].any() else 0.5
                     for j in range(y_true.shape[1])], dtype=np.float64)


def tune_global_threshold(y_true: np.ndarray, probabilities: np.ndarray,
                          metric: str = "f1") -> float:
    """One threshold for every label maximising micro F1 (or the accuracy of the cells, 1 -
    Hamming loss) over all (row, label) cells.

    Micro F1 pools TP, FP and FN over the cells, so it is the binary F1 of the flattened
    problem: this is :func:`tune_threshold` on the flattened ``(n, labels)`` arrays (same
    return convention).

    Raises:
        ValueError: for no rows, shapes that are not equal ``(n, labels)``, or as
            :func:`tune_threshold`.
    """
    y_true, probabilities = _matrices(y_true, probabilities)
    return tune_threshold(y_true.ravel(), probabilities.ravel(), metric)


def apply_thresholds(probabilities: np.ndarray, thresholds: float | np.ndarray,
                     if_no_label: str = "empty") -> np.ndarray:
    """Multi-label decisions ``probabilities >= thresholds``, compared in float32 (the
    model's precision; the SavedModel compares the same way).

    Args:
        probabilities: ``(n, labels)`` float.
        thresholds: a float for every label, or ``(labels,)`` float, one per label.
        if_no_label: what a row gets when no label reaches its threshold: ``"empty"`` nothing,
            ``"top"`` its single most probable label (the first on a tie).

    Returns:
        ``(n, labels) bool``.

    Raises:
        ValueError: for an unknown ``if_no_label`` (:class:`~sentiment.errors.ConfigError`),
            probabilities that are not 2-D, or thresholds that are neither a scalar nor
            ``(labels,)``.
    """
    if if_no_label not in IF_NO_LABEL:
        raise ConfigError(f"if_no_label must be one of {', '.join(IF_NO_LABEL)}; received "
                          f"{if_no_label!r}")
    probabilities = np.asarray(probabilities, dtype=np.float32)
    thresholds = np.asarray(thresholds, dtype=np.float32)
    if probabilities.ndim != 2:
        raise ValueError(f"probabilities must be (n, labels); got shape {probabilities.shape}")
    if thresholds.ndim != 0 and thresholds.shape != probabilities.shape[1:]:
        raise ValueError(f"thresholds must be a scalar or ({probabilities.shape[1]},) for "
                         f"probabilities of shape {probabilities.shape}; got shape "
                         f"{thresholds.shape}")
    decisions = probabilities >= thresholds
    if if_no_label == "top" and probabilities.shape[1]:
        empty = np.flatnonzero(~decisions.any(axis=1))
        decisions[empty, probabilities[empty].argmax(axis=1)] = True
    return decisions


def _check_metric(metric: str) -> None:
    if metric not in THRESHOLD_METRICS:
        raise ConfigError(f"metric must be one of {', '.join(THRESHOLD_METRICS)}; received "
                          f"{metric!r}")


def _matrices(y_true: np.ndarray, probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``y_true`` and ``probabilities`` as arrays of one ``(n, labels)`` shape, ``n >= 1``."""
    y_true = np.asarray(y_true)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if y_true.ndim != 2 or y_true.shape != probabilities.shape:
        raise ValueError(f"y_true and probabilities must both be (n, labels); got shapes "
                         f"{y_true.shape} and {probabilities.shape}")
    if y_true.shape[0] == 0:
        raise ValueError("threshold tuning needs at least one row")
    return y_true, probabilities
