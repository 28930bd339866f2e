"""Losses the classifiers train with beyond Keras' own, and the choice of regression loss.

Keras' ``Model.fit(class_weight=...)`` weights whole examples by their one class, which does
not fit multi-label targets (an example has several labels, each a binary problem), so the
weighted binary cross-entropy is written here.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops


@keras.saving.register_keras_serializable(package="sentiment")
class WeightedBinaryCrossentropy(keras.losses.Loss):
    """Binary cross-entropy of each label, weighted by whether the label is present:
    ``mean_j(w[j, y_ij] * bce(y_ij, p_ij))`` for one example ``i``.

    Args:
        weights: ``(labels, 2)`` float, ``[negative weight, positive weight]`` per label
            (:func:`sentiment.labels.multilabel_class_weights`).

    Inputs: ``y_true`` ``(batch, labels)`` multi-hot, ``y_pred`` ``(batch, labels)``
    probabilities; the loss of each example is ``(batch,) float32``.
    """

    def __init__(self, weights, name: str = "weighted_binary_crossentropy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.weights = np.asarray(weights, dtype=np.float32).tolist()

    def call(self, y_true, y_pred):
        weights = ops.convert_to_tensor(self.weights, dtype="float32")  # (labels, 2)
        y_true = ops.cast(y_true, "float32")
        y_pred = ops.clip(ops.cast(y_pred, "float32"), 1e-7, 1 - 1e-7)
        cells = -(y_true * ops.log(y_pred) + (1 - y_true) * ops.log(1 - y_pred))
        cell_weights = y_true * weights[:, 1] + (1 - y_true) * weights[:, 0]
        return ops.mean(cells * cell_weights, axis=-1)

    def get_config(self):
        return {**super().get_config(), "weights": self.weights}


def regression_loss(name: str) -> keras.losses.Loss:
    """The Keras loss of ``--regression-loss`` on standardized targets ``(batch, 1)``:
    ``mse`` (mean squared error: the conditional mean), ``huber`` (Huber with delta 1, one
    standard deviation of the targets) or ``mae`` (mean absolute error: the conditional
    median, which minimizes the MAE reported; for targets in separate clumps, such as
    IMDB's 1-4 and 7-10 ratings, it stays inside a clump where the mean falls between them).

    Raises:
        ValueError: an unknown ``name``.
    """
    if name == "mse":
        return keras.losses.MeanSquaredError()
    if name == "huber":
        return keras.losses.Huber(delta=1.0)
    if name == "mae":
        return keras.losses.MeanAbsoluteError()
    raise ValueError(f"regression_loss must be mse, huber or mae; received {name!r}")
