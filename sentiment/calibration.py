"""Temperature scaling: probabilities that mean what they say.

Guo et al., "On Calibration of Modern Neural Networks" (ICML 2017): one scalar ``T > 0``
divides the logits before the softmax, fitted on held-out data by minimizing the negative
log-likelihood. ``T > 1`` softens over-confident predictions, ``T < 1`` sharpens; the argmax
never changes. A classifier here outputs probabilities (an ensemble averages its members'),
so the temperature divides their logarithms, ``softmax(log(p) / T)``: for one member this is
exactly ``softmax(logits / T)`` (a softmax is unchanged by a constant added to its logits),
and for an ensemble it calibrates the averaged prediction the same way. Pure numpy.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

#: The temperatures searched, as ``(lowest, highest)``.
TEMPERATURE_RANGE = (0.05, 20.0)
#: Equal-width bins of the expected calibration error reported (and of ``evaluate
#: --report``'s reliability diagram).
ECE_BINS = 10
#: The smallest probability taken to a logarithm.
_FLOOR = 1e-12


def apply_temperature(probabilities: np.ndarray, temperature: float, *,
                      multi_label: bool = False) -> np.ndarray:
    """``softmax(log(probabilities) / temperature)`` row by row; with ``multi_label``, each
    probability alone: ``sigmoid(logit(p) / temperature)``.

    Args:
        probabilities: ``(n, classes)`` float rows summing to 1 (multi-label: any values in
            [0, 1]).
        temperature: ``> 0``; ``1.0`` returns the rows unchanged (as float32).

    Returns:
        ``(n, classes) float32``, each row's order of classes (its argmax) unchanged.
    """
    probabilities = np.asarray(probabilities, dtype=np.float32)
    if temperature == 1.0 or probabilities.size == 0:
        return probabilities
    if multi_label:
        logits = _logits(probabilities.astype(np.float64)) / temperature
        return (1 / (1 + np.exp(-logits))).astype(np.float32)
    logits = np.log(np.maximum(probabilities.astype(np.float64), _FLOOR)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    scaled = np.exp(logits)
    return (scaled / scaled.sum(axis=1, keepdims=True)).astype(np.float32)


def _negative_log_likelihood(log_probabilities: np.ndarray, y_true: np.ndarray,
                             temperature: float) -> float:
    logits = log_probabilities / temperature
    top = logits.max(axis=1, keepdims=True)
    normalizer = top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))
    return float((normalizer - logits[np.arange(y_true.size), y_true]).mean())


def _binary_negative_log_likelihood(logits: np.ndarray, y_true: np.ndarray,
                                    temperature: float) -> float:
    """Mean binary cross-entropy over every (row, label) cell of ``sigmoid(logits / T)``."""
    z = logits / temperature
    # -log sigmoid(z) = softplus(-z); -log(1 - sigmoid(z)) = softplus(z)
    return float(np.where(y_true > 0, np.logaddexp(0, -z), np.logaddexp(0, z)).mean())


def _logits(probabilities: np.ndarray) -> np.ndarray:
    p = np.clip(probabilities, _FLOOR, 1 - _FLOOR)
    return np.log(p) - np.log1p(-p)


def fit_temperature(y_true: Sequence[int], probabilities: np.ndarray,
                    tolerance: float = 1e-4, *, multi_label: bool = False) -> float:
    """The temperature that minimizes the log loss of ``probabilities`` on ``y_true``.

    The log loss of ``softmax(z / T)`` is convex in ``1 / T``, so a golden-section search over
    ``log T`` within :data:`TEMPERATURE_RANGE` finds its minimum; a one-dimensional search is
    all this needs (Guo et al. fit ``T`` with L-BFGS; the optimum is the same).

    Args:
        y_true: ``(n,)`` int class indices; with ``multi_label``, ``(n, labels)`` multi-hot.
        probabilities: ``(n, classes)`` float, the uncalibrated predictions.
        tolerance: the search stops when the bracket on ``log T`` is this narrow.
        multi_label: one sigmoid probability per label: ``T`` minimizes the mean binary
            cross-entropy of ``sigmoid(logit(p) / T)`` over every (row, label) cell.

    Returns:
        ``T`` (a Python float within :data:`TEMPERATURE_RANGE`).

    Raises:
        ValueError: when there are no rows, or ``y_true`` and ``probabilities`` disagree in
            length.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if y_true.size == 0:
        raise ValueError("fit_temperature needs at least one row")
    if probabilities.ndim != 2 or probabilities.shape[0] != len(y_true) or (
            multi_label and probabilities.shape != y_true.shape):
        raise ValueError(f"probabilities of shape {probabilities.shape} do not match "
                         f"labels of shape {y_true.shape}")
    if multi_label:
        logits = _logits(probabilities)

        def loss(log_t: float) -> float:
            return _binary_negative_log_likelihood(logits, y_true, math.exp(log_t))
    else:
        log_probabilities = np.log(np.maximum(probabilities, _FLOOR))

        def loss(log_t: float) -> float:
            return _negative_log_likelihood(log_probabilities, y_true, math.exp(log_t))

    ratio = (math.sqrt(5) - 1) / 2
    low, high = (math.log(t) for t in TEMPERATURE_RANGE)
    a, b = high - ratio * (high - low), low + ratio * (high - low)
    loss_a, loss_b = loss(a), loss(b)
    while high - low > tolerance:
        if loss_a <= loss_b:
            high, b, loss_b = b, a, loss_a
            a = high - ratio * (high - low)
            loss_a = loss(a)
        else:
            low, a, loss_a = a, b, loss_b
            b = low + ratio * (high - low)
            loss_b = loss(b)
    return math.exp((low + high) / 2)


def calibration_change(y_true: Sequence[int], probabilities: np.ndarray,
                       temperature: float, *, multi_label: bool = False) -> dict:
    """Log loss (nats) and expected calibration error (:data:`ECE_BINS` bins) of the
    uncalibrated ``probabilities`` ``(n, classes)`` and of the same scaled by
    ``temperature``: ``{"log_loss_before", "log_loss_after", "ece_before", "ece_after"}``.
    With ``multi_label`` (``y_true`` ``(n, labels)`` multi-hot): the mean binary log loss
    and the label-wise ECE over every (row, label) cell
    (:func:`sentiment.metrics.multilabel_calibration_error`).

    Raises:
        ValueError: when there are no rows.
    """
    from .metrics import (binary_log_loss, expected_calibration_error, log_loss,
                          multilabel_calibration_error)

    after = apply_temperature(probabilities, temperature, multi_label=multi_label)
    loss, ece = ((binary_log_loss, multilabel_calibration_error) if multi_label
                 else (log_loss, expected_calibration_error))
    return {"log_loss_before": loss(y_true, probabilities),
            "log_loss_after": loss(y_true, after),
            "ece_before": ece(y_true, probabilities, ECE_BINS),
            "ece_after": ece(y_true, after, ECE_BINS)}


def calibrate(y_true: Sequence[int], probabilities: np.ndarray, *,
              multi_label: bool = False) -> dict:
    """Fit the temperature of uncalibrated validation ``probabilities`` ``(n, classes)``
    (``multi_label``: ``y_true`` ``(n, labels)`` multi-hot, as :func:`fit_temperature`).

    Returns:
        ``{"temperature": T, "method": "temperature scaling", "validation":``
        :func:`calibration_change` ``}``, as ``metrics.json`` records it. When every row's
        argmax is right, ``T`` stays 1.0 and ``"skipped"`` says why (the log loss would
        only fall as ``T`` approaches 0).

    Raises:
        ValueError: when there are no rows.
    """
    method = "temperature scaling (Guo et al. 2017)"
    y = np.asarray(y_true, dtype=np.int64)
    right = ((np.asarray(probabilities) >= 0.5) == (y > 0)) if multi_label else \
        (np.asarray(probabilities).argmax(axis=1) == y)
    if y.size and right.all():
        # with no error to learn from, the log loss falls as T -> 0: every probability
        # would become 0 or 1, a certainty a held-out split this easy does not justify
        return {"temperature": 1.0, "method": method,
                "skipped": "every validation prediction is right, so the log loss has no "
                           "minimum; the temperature stays 1.0",
                "validation": calibration_change(y_true, probabilities, 1.0,
                                                 multi_label=multi_label)}
    temperature = fit_temperature(y_true, probabilities, multi_label=multi_label)
    return {"temperature": temperature, "method": method,
            "validation": calibration_change(y_true, probabilities, temperature,
                                             multi_label=multi_label)}
