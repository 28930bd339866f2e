"""The many-to-one model over variable-length sequences of vectors.

    values  (batch, time, features) float32, standardized, right-padded with zeros
    lengths (batch,) int32, the true number of frames of each row
      -> LengthMask                                   mask (batch, time) bool from the lengths
      [-> Dense(frame_units, relu) on each frame      (batch, time, frame_units)]
      -> the text classifier's encoders and poolings  (batch, features)
         (models.classifier.pooled_features: recurrent, cnn, cnn-rnn; the mask given
          explicitly, pooled with the steps by the cnn-rnn front end)
      -> Dropout -> Dense
      -> (batch, classes) float32 softmax probabilities, or (batch, 1) float32 standardized
         values (regression)

The mask comes from the lengths, never from the values: a real frame may be all zeros.
"""

from __future__ import annotations

import keras
from keras import ops

from .classifier import pooled_features


@keras.saving.register_keras_serializable(package="sentiment")
class LengthMask(keras.layers.Layer):
    """``[(batch, time, features) values, (batch,) int32 lengths]`` -> ``(batch, time)
    bool``, true on the first ``lengths[b]`` steps of row ``b``."""

    def call(self, inputs):
        values, lengths = inputs
        steps = ops.arange(ops.shape(values)[1], dtype="int32")
        return ops.less(ops.expand_dims(steps, 0),
                        ops.expand_dims(ops.cast(lengths, "int32"), 1))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0][:2])


def build_sequence_model(config, name: str | None = None) -> keras.Model:
    """Build the model ``config`` (:class:`~sentiment.config.sequence.SequenceModelConfig`)
    describes.

    Returns:
        A ``keras.Model`` with inputs ``values`` ``(batch, time, features) float32`` and
        ``lengths`` ``(batch,) int32``, and output ``(batch, classes) float32``
        probabilities (named ``probabilities``) or ``(batch, 1) float32`` standardized
        values (named ``value``, regression). Always float32.
    """
    values = keras.Input(shape=(None, config.features), dtype="float32", name="values")
    lengths = keras.Input(shape=(), dtype="int32", name="lengths")
    mask = LengthMask(name="length_mask")([values, lengths])
    x = values
    if config.frame_units:
        # Dense on the last axis is TimeDistributed(Dense): the same weights on every frame.
        # keras.layers.TimeDistributed itself loops over the time axis with vectorized_map,
        # which fails inside tf.data-fed training when batches differ in length.
        x = keras.layers.Dense(config.frame_units, activation="relu",
                               name="frame_projection")(x)
    x = pooled_features(config, x, mask)
    x = keras.layers.Dropout(config.dropout, name="dropout")(x)
    if config.regression:
        output = keras.layers.Dense(1, dtype="float32", name="value")(x)
    else:
        logits = keras.layers.Dense(config.num_outputs, name="logits")(x)
        output = keras.layers.Activation("softmax", dtype="float32",
                                         name="probabilities")(logits)
    return keras.Model({"values": values, "lengths": lengths}, output,
                       name=name or f"sequence_{config.arch}")
