"""Lazy (sparse) Adam: Adam that updates only the embedding rows a batch uses.

Why our own: Keras 3's ``Adam`` turns the ``tf.IndexedSlices`` gradient of an ``Embedding``
into an update of the whole matrix every step (moments and weights), so a bag-of-n-grams model
with a 434,000 x 64 embedding spends most of its step there. TensorFlow Addons' ``LazyAdam``
did exactly this but is end-of-life and does not work with Keras 3, and Keras ships no sparse
optimizer (PyTorch has ``SparseAdam``). The update rule is TensorFlow Addons' ``LazyAdam``:

* a dense gradient (every other weight) gets Keras' ``Adam`` update unchanged;
* a sparse gradient ``g`` on rows ``i`` (duplicates summed) updates only those rows:
  ``m[i] = b1 m[i] + (1 - b1) g``, ``v[i] = b2 v[i] + (1 - b2) g**2``,
  ``w[i] -= lr sqrt(1 - b2**t) / (1 - b1**t) * m[i] / (sqrt(v[i]) + eps)``
  (Kingma & Ba, "Adam", ICLR 2015, Algorithm 1 with the efficient bias correction of their
  section 2). Rows a batch does not use keep their weights and moments, where dense Adam would
  keep moving them on momentum alone.
"""

from __future__ import annotations

import keras
from keras import ops

class RateMultipliers:
    """A learning-rate factor per variable, for Keras optimizers (mixed in before the
    optimizer class): ``update_step`` scales its learning rate by the variable's factor.

    Discriminative fine-tuning (Howard & Ruder 2018, ULMFiT) gives each layer group its own
    rate; Keras 3 has no per-variable rates (TensorFlow Addons' ``MultiOptimizer`` is gone),
    and scaling gradients would not do: Adam's step does not depend on the gradient's scale.
    """

    def set_rate_multipliers(self, factors) -> None:
        """``factors``: ``(variable, factor)`` pairs; other variables keep factor 1."""
        self._rate_factors = {self._var_key(variable): float(factor)
                              for variable, factor in factors}

    def update_step(self, gradient, variable, learning_rate):
        factor = getattr(self, "_rate_factors", {}).get(self._var_key(variable), 1.0)
        if factor != 1.0:
            learning_rate = ops.cast(learning_rate, variable.dtype) * factor
        return super().update_step(gradient, variable, learning_rate)


@keras.saving.register_keras_serializable(package="sentiment")
class LazyAdam(keras.optimizers.Adam):
    """``keras.optimizers.Adam`` with sparse updates for ``tf.IndexedSlices`` gradients
    (see the module docstring). Same arguments as ``Adam``; ``amsgrad`` is not supported.

    Raises:
        ValueError: when ``amsgrad=True``.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.amsgrad:
            raise ValueError("LazyAdam does not support amsgrad=True")

    def update_step(self, gradient, variable, learning_rate):
        import tensorflow as tf

        if not isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        # rows: the distinct row ids, (rows,) int; values: their summed gradients
        rows, position = tf.unique(gradient.indices)
        values = tf.math.unsorted_segment_sum(ops.cast(gradient.values, dtype), position,
                                              tf.shape(rows)[0])
        step = ops.cast(self.iterations + 1, dtype)
        alpha = (ops.cast(learning_rate, dtype)
                 * ops.sqrt(1 - ops.power(ops.cast(self.beta_2, dtype), step))
                 / (1 - ops.power(ops.cast(self.beta_1, dtype), step)))
        m = self._momentums[self._get_variable_index(variable)]
        v = self._velocities[self._get_variable_index(variable)]
        m_rows = self.beta_1 * tf.gather(m.value, rows) + (1 - self.beta_1) * values
        v_rows = self.beta_2 * tf.gather(v.value, rows) + (1 - self.beta_2) * ops.square(values)
        self.assign(m, tf.IndexedSlices(m_rows, rows))
        self.assign(v, tf.IndexedSlices(v_rows, rows))
        self.assign_sub(variable, tf.IndexedSlices(
            alpha * m_rows / (ops.sqrt(v_rows) + self.epsilon), rows))


class ScaledAdam(RateMultipliers, keras.optimizers.Adam):
    """Keras' Adam with :class:`RateMultipliers`."""


class ScaledLazyAdam(RateMultipliers, LazyAdam):
    """:class:`LazyAdam` with :class:`RateMultipliers`."""


def make_optimizer(name: str, learning_rate, global_clipnorm: float | None = None,
                   rate_multipliers=()):
    """The Keras optimizer ``name`` (``adam`` or ``lazy_adam``) with ``learning_rate`` (a
    float or a ``keras.optimizers.schedules.LearningRateSchedule``), clipping each step's
    gradients to ``global_clipnorm`` (their global L2 norm) when given, and with
    ``rate_multipliers`` (``(variable, factor)`` pairs, :class:`RateMultipliers`) when given.

    Raises:
        ValueError: for an unknown name.
    """
    if name not in ("adam", "lazy_adam"):
        raise ValueError(f"optimizer must be adam or lazy_adam; received {name!r}")
    rate_multipliers = list(rate_multipliers)
    if rate_multipliers:
        kind = ScaledAdam if name == "adam" else ScaledLazyAdam
    else:
        kind = keras.optimizers.Adam if name == "adam" else LazyAdam
    optimizer = kind(learning_rate, global_clipnorm=global_clipnorm, name=name)
    if rate_multipliers:
        optimizer.set_rate_multipliers(rate_multipliers)
    return optimizer
