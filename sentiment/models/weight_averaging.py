"""Exponential moving average (EMA) of a model's weights, validated, kept and saved.

The average of the weights over the last few hundred steps generalizes better than the
weights of the last step (Polyak & Juditsky, "Acceleration of stochastic approximation by
averaging", SIAM J. Control Optim. 1992; the exponential form is TensorFlow's
``tf.train.ExponentialMovingAverage``). docs/benchmarks/imdb.md records what it gains for the
default GRU on IMDB.

Why our own callback: Keras 3 optimizers take ``use_ema=True``, but they swap the average into
the model only at the very end of ``fit``, after the last validation, so early stopping never
sees it, and ``EarlyStopping(restore_best_weights=True)`` then overwrites it with the raw
weights of the best epoch; their ``ema_overwrite_frequency`` instead replaces the weights
being trained, which changes training itself; and their fixed decay makes a short training
(a few thousand texts, a few dozen steps) average mostly its first, untrained steps. This
callback trains the raw weights, validates the averaged ones (and, given the validation
data, the raw ones too, keeping whichever validates better), leaves the kept weights of the
best epoch in the model, and lets its window grow with the training.
"""

from __future__ import annotations

import keras


#: Exponent ``gamma`` of the warm-up: over the first ``t`` steps the average weighs step ``tau``
#: in proportion to ``tau ** gamma`` (EDM2's power-function EMA, Karras et al., "Analyzing and
#: Improving the Training Dynamics of Diffusion Models", CVPR 2024, eq. 2), so it spans about the
#: last ``t / (gamma + 1)`` steps: a quarter of the training so far.
WARMUP_POWER = 3


def decay(step: int, momentum: float) -> float:
    """The average's decay after training step ``step`` (from 1):
    ``min(momentum, (1 - 1 / step) ** (WARMUP_POWER + 1))``. It is 0 at step 1 (the average
    starts as the first step's weights, with no bias to correct), spans about the last quarter
    of the steps while that is shorter than ``1 / (1 - momentum)`` steps, and is ``momentum``
    from about step ``(WARMUP_POWER + 1) / (1 - momentum)`` on (800 steps at 0.995)."""
    return min(momentum, (1.0 - 1.0 / step) ** (WARMUP_POWER + 1))


class WeightAveraging(keras.callbacks.Callback):
    """Keep an exponential moving average of the trainable weights during ``fit``.

    After each training batch ``t`` (from 1): ``average = d * average + (1 - d) * weights`` with
    ``d = decay(t, momentum)`` (see :func:`decay`): a moving average whose window grows with the
    training, a quarter of the steps so far, up to about ``1 / (1 - momentum)`` steps (200 at
    0.995).

    Validation (``on_test_begin``) runs with the averaged weights, which then stay in the model
    through ``on_epoch_end``, so ``EarlyStopping`` monitors and keeps averaged weights; the raw
    weights come back at the next epoch's start. At the end of ``fit`` the model holds the
    average of its last epoch (or, with early stopping's restore, of its best epoch).

    With ``validation_data`` (the data ``fit`` validates on), the raw weights are validated too
    at each epoch's end, and whichever of the two has the lower validation loss stays in the
    model: the ``val_*`` entries of the epoch's logs (what ``EarlyStopping``, the history and
    the progress bar see) are then the kept weights' figures, and :attr:`kept` lists
    ``"average"`` or ``"raw"`` per epoch. An average lags behind weights that are still
    improving fast (a few thousand texts, a few epochs); this keeps it from costing anything
    there, for one more validation pass per epoch.

    Args:
        momentum: the largest decay of the average per step, in ``(0, 1)``.
        validation_data: the validation data of ``fit`` (a ``tf.data.Dataset`` of ``(inputs,
            targets)`` batches), or ``None`` to keep the average unconditionally.

    Raises:
        ValueError: when ``momentum`` is not in ``(0, 1)``.
    """

    def __init__(self, momentum: float = 0.995, validation_data=None):
        super().__init__()
        if not 0.0 < momentum < 1.0:
            raise ValueError(f"momentum must be in (0, 1); received {momentum!r}")
        self.momentum = float(momentum)
        self.validation_data = validation_data
        self.kept: list[str] = []
        self._average: list = []
        self._raw: list | None = None
        self._steps = 0

    def on_train_begin(self, logs=None):
        import tensorflow as tf

        weights = self.model.trainable_weights
        self._average = [tf.Variable(w.value, trainable=False) for w in weights]
        self._raw = None
        self._steps = 0
        self.kept = []

        @tf.function
        def accumulate(d):
            for average, weight in zip(self._average, weights):
                average.assign(d * average + (1.0 - d) * weight.value)

        self._accumulate = accumulate

    def on_train_batch_end(self, batch, logs=None):
        import tensorflow as tf

        self._steps += 1
        # a tensor, not a Python float, or tf.function would trace once per value
        self._accumulate(tf.constant(decay(self._steps, self.momentum), tf.float32))

    def averaged_weights(self) -> list:
        """The averages, one tensor per trainable weight (same shapes and dtypes); the weights
        at the start of training before the first step."""
        return [average.value() for average in self._average]

    def _assign(self, values):
        for weight, value in zip(self.model.trainable_weights, values):
            weight.assign(value)

    def _swap_in_average(self):
        import tensorflow as tf

        if self._raw is None:
            self._raw = [tf.identity(w.value) for w in self.model.trainable_weights]
            self._assign(self.averaged_weights())

    def on_test_begin(self, logs=None):
        self._swap_in_average()

    def on_epoch_end(self, epoch, logs=None):
        if self.validation_data is None or self._raw is None or logs is None \
                or "val_loss" not in logs:
            return
        # the average was swapped in for validation; validate the raw weights too
        self._assign(self._raw)
        raw_logs = self.model.evaluate(self.validation_data, verbose=0, return_dict=True)
        if raw_logs["loss"] < logs["val_loss"]:
            logs.update({f"val_{name}": value for name, value in raw_logs.items()})
            self.kept.append("raw")
        else:
            self._assign(self.averaged_weights())
            self.kept.append("average")

    def on_epoch_begin(self, epoch, logs=None):
        if self._raw is not None:
            self._assign(self._raw)
            self._raw = None

    def on_train_end(self, logs=None):
        self._swap_in_average()  # no validation ran in the last epoch: average it now
