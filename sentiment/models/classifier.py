"""Many-to-one text classifier: embedding -> recurrent encoder -> masked pooling -> logits.

    ids (batch, time) int32, 0 = padding
      -> Embedding(mask_zero=True)          (batch, time, embedding_dim), mask (batch, time)
      -> [Bidirectional] LSTM/GRU x layers   (batch, time, units * directions)
      -> pooling over unmasked steps         (batch, units * directions)
      -> Dropout -> Dense(classes) logits    (batch, classes)
      -> softmax in float32                  (batch, classes) probabilities

The mask travels from the embedding through every layer, so padding never changes a
prediction. Right padding keeps the recurrent layers eligible for cuDNN kernels on GPU.
"""

from __future__ import annotations

import keras
from keras import ops

from ..config import ClassifierConfig


@keras.saving.register_keras_serializable(package="sentiment")
class MaskedGlobalMaxPooling1D(keras.layers.Layer):
    """Maximum over unmasked time steps: ``(batch, time, features)`` -> ``(batch, features)``.

    Keras' ``GlobalMaxPooling1D`` ignores the mask (padded steps could win the maximum), so
    masked steps are set to the dtype's lowest value before the reduction.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is not None:
            lowest = ops.convert_to_tensor(-65504.0 if inputs.dtype == "float16" else -1e9,
                                           dtype=inputs.dtype)
            inputs = ops.where(ops.expand_dims(mask, -1), inputs, lowest)
        return ops.max(inputs, axis=1)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])


def _recurrent_layer(config: ClassifierConfig, return_sequences: bool, name: str):
    cell = keras.layers.LSTM if config.arch in ("lstm", "bilstm") else keras.layers.GRU
    layer = cell(config.units, return_sequences=return_sequences, name=name)
    if config.arch.startswith("bi"):
        layer = keras.layers.Bidirectional(layer, name=f"bi_{name}")
    return layer


def build_classifier(config: ClassifierConfig, vocabulary_size: int) -> keras.Model:
    """Build the classifier described by ``config``.

    Args:
        config: architecture, sizes, pooling, dropout and the class names.
        vocabulary_size: number of token ids (padding and OOV included).

    Returns:
        A ``keras.Model`` from ``(batch, time) int32`` ids (0 = padding) to
        ``(batch, classes) float32`` probabilities. Under a mixed precision policy the output
        softmax still computes in float32.
    """
    ids = keras.Input(shape=(None,), dtype="int32", name="ids")
    x = keras.layers.Embedding(vocabulary_size, config.embedding_dim, mask_zero=True,
                               name="embedding")(ids)
    for i in range(config.layers):
        last = i == config.layers - 1
        x = _recurrent_layer(config, return_sequences=not (last and config.pooling == "last"),
                             name=f"{config.arch.removeprefix('bi')}_{i}")(x)
    if config.pooling == "mean":
        x = keras.layers.GlobalAveragePooling1D(name="mean_pool")(x)
    elif config.pooling == "max":
        x = MaskedGlobalMaxPooling1D(name="max_pool")(x)
    x = keras.layers.Dropout(config.dropout, name="dropout")(x)
    logits = keras.layers.Dense(config.num_classes, name="logits")(x)
    probabilities = keras.layers.Activation("softmax", dtype="float32",
                                            name="probabilities")(logits)
    return keras.Model(ids, probabilities, name=f"sentiment_{config.arch}")
