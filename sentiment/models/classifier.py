"""Many-to-one text classifier: embedding -> recurrent encoder -> masked pooling -> logits.

    ids (batch, time) int32, 0 = padding
      -> Embedding(mask_zero=True)          (batch, time, embedding_dim), mask (batch, time)
      -> [Bidirectional] LSTM/GRU x layers   (batch, time, units * directions)
      -> pooling over unmasked steps         (batch, units * directions)
      -> Dropout -> Dense(classes) logits    (batch, classes)
      -> softmax in float32                  (batch, classes) probabilities

The mask travels from the embedding through every layer, so padding never changes a
prediction. Right padding keeps the recurrent layers eligible for cuDNN kernels on GPU; on a
CPU they multiply the inputs by their input kernel once per sequence instead of once per step
(``recurrent.py``).

Convolutional encoders (``arch`` ``cnn``, ``cnn-lstm``, ``cnn-gru``) take the padding mask from
the ids explicitly, because Conv1D and MaxPooling1D do not carry a Keras mask:

    cnn (Kim 2014, "Convolutional Neural Networks for Sentence Classification", EMNLP):
      ids -> Embedding -> zero padded steps  (batch, time, embedding_dim)
      -> Conv1D(filters, k, "same", relu) for each k in kernel_sizes
      -> max over unmasked steps, per width  (batch, filters) each
      -> concatenate                        (batch, filters * len(kernel_sizes))
      -> Dropout -> Dense -> softmax

    cnn-lstm / cnn-gru:
      ids -> Embedding -> zero padded steps -> Conv1D per width ("same", relu), concatenated
      -> zero padded steps                  (batch, time, filters * len(kernel_sizes))
      -> right zero padding to a multiple of pool_size, MaxPooling1D(pool_size)
                                            (batch, ceil(time / pool_size), ...)
         with the mask pooled alike (a window is kept when it holds a real token)
      -> [Bidirectional] LSTM/GRU x layers -> pooling -> Dropout -> Dense -> softmax

"same" convolution pads with zeros, and padded steps are zeroed before each convolution and
pooling, so a text's features do not depend on how much padding follows it. After ReLU every
feature is >= 0, so a zeroed padded step never wins a max-pooling window that holds a real one.

fasttext (Joulin et al. 2017, "Bag of Tricks for Efficient Text Classification", EACL):
  ids of the words and their n-grams -> Embedding(mask_zero=True) (batch, time, embedding_dim)
  -> mean (or max) over unmasked steps  (batch, embedding_dim)
  -> Dropout -> Dense -> softmax

An ensemble (``ensemble > 1``) is that many such classifiers, trained independently from
different seeds, behind one input; its output is the mean of their probabilities:

    ids (batch, time) int32 -> member_0 .. member_{n-1} -> Average   (batch, classes) float32

``pooling="attention"`` (any recurrent encoder) is masked additive attention over time
(Bahdanau et al. 2015, "Neural Machine Translation by Jointly Learning to Align and
Translate", ICLR, scored against a learned context vector as in Yang et al. 2016); the layer
also outputs its weights, ``(batch, time) float32``, for explanations.
"""

from __future__ import annotations

import keras
from keras import ops

from ..config import ClassifierConfig
from .recurrent import HoistedGRU, HoistedLSTM


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


@keras.saving.register_keras_serializable(package="sentiment")
class PaddingMask(keras.layers.Layer):
    """Padding mask of token ids: ``(batch, time) int32`` -> ``(batch, time) bool``, true
    where the id is not 0 (padding)."""

    def call(self, inputs):
        return ops.not_equal(inputs, 0)


@keras.saving.register_keras_serializable(package="sentiment")
class ZeroMaskedSteps(keras.layers.Layer):
    """Set masked time steps to zero: ``(batch, time, features)`` with a ``(batch, time)``
    bool ``mask`` -> the same shape and dtype. The output carries no Keras mask (the layers
    that follow, Conv1D and MaxPooling1D, do not support one)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return inputs
        return ops.where(ops.expand_dims(mask, -1), inputs, ops.zeros_like(inputs))

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)


@keras.saving.register_keras_serializable(package="sentiment")
class PadTimeToMultiple(keras.layers.Layer):
    """Right-pad the time axis with zeros to a multiple of ``multiple``:
    ``(batch, time, features)`` -> ``(batch, ceil(time / multiple) * multiple, features)``.

    ``MaxPooling1D(padding="same")`` splits its padding between both ends when the stride
    does not divide the length, which shifts the windows of a short text; padding on the
    right only, then pooling with ``"valid"``, keeps every window aligned at step 0.

    Args:
        multiple: the pooling stride, >= 1.
    """

    def __init__(self, multiple: int, **kwargs):
        super().__init__(**kwargs)
        self.multiple = int(multiple)

    def call(self, inputs):
        steps = ops.shape(inputs)[1]
        extra = (self.multiple - steps % self.multiple) % self.multiple
        return ops.pad(inputs, [[0, 0], [0, extra], [0, 0]])

    def get_config(self):
        return {**super().get_config(), "multiple": self.multiple}


@keras.saving.register_keras_serializable(package="sentiment")
class PoolMask(keras.layers.Layer):
    """The mask after :class:`PadTimeToMultiple` and ``MaxPooling1D(pool_size)``:
    ``(batch, time) bool`` ->
    ``(batch, ceil(time / pool_size)) bool``; a window is unmasked when any step in it is.

    Args:
        pool_size: the pooling window and stride, >= 1.
    """

    def __init__(self, pool_size: int, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = int(pool_size)

    def call(self, inputs):
        steps = ops.shape(inputs)[1]
        windows = (steps + self.pool_size - 1) // self.pool_size
        padded = ops.pad(ops.cast(inputs, "int32"),
                         [[0, 0], [0, windows * self.pool_size - steps]])
        windows_view = ops.reshape(padded, (-1, windows, self.pool_size))
        return ops.greater(ops.max(windows_view, axis=2), 0)

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size}


@keras.saving.register_keras_serializable(package="sentiment")
class AttentionPooling(keras.layers.Layer):
    """Masked additive attention pooling over time.

    ``score_t = v . tanh(W h_t + b)`` (Bahdanau et al. 2015, with a learned context vector
    ``v`` as query, Yang et al. 2016), ``a = softmax(score)`` over unmasked steps,
    ``output = sum_t a_t h_t``. Scores and weights are computed in float32.

    Args:
        units: width of the hidden projection ``W``.

    Call:
        inputs ``(batch, time, features)`` and an optional ``(batch, time)`` bool mask ->
        ``[(batch, features) pooled, (batch, time) float32 weights]``; masked steps get
        weight 0 and each row of weights sums to 1.
    """

    def __init__(self, units: int, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.supports_masking = True
        self.projection = keras.layers.Dense(self.units, activation="tanh", name="projection")
        self.context = keras.layers.Dense(1, use_bias=False, name="context")

    def build(self, input_shape):
        self.projection.build(input_shape)
        self.context.build((*input_shape[:-1], self.units))
        self.built = True

    def call(self, inputs, mask=None):
        scores = ops.cast(ops.squeeze(self.context(self.projection(inputs)), -1), "float32")
        if mask is not None:
            scores = ops.where(mask, scores, ops.full_like(scores, -1e9))
        # softmax by hand: ops.softmax warns on one-step sequences (a one-token text)
        weights = ops.exp(scores - ops.max(scores, axis=-1, keepdims=True))
        weights = weights / ops.sum(weights, axis=-1, keepdims=True)
        if mask is not None:  # a fully masked row gets zeros, not a uniform average
            weights = weights * ops.cast(mask, "float32")
        pooled = ops.sum(ops.expand_dims(ops.cast(weights, inputs.dtype), -1) * inputs, axis=1)
        return [pooled, weights]

    def compute_mask(self, inputs, mask=None):
        return [None, None]

    def compute_output_shape(self, input_shape):
        return [(input_shape[0], input_shape[2]), (input_shape[0], input_shape[1])]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="sentiment")
class AddPerturbation(keras.layers.Layer):
    """``embeddings + perturbation``, both ``(batch, time, embedding_dim)``, keeping the
    embeddings' mask and dtype: the input of (virtual) adversarial training on the word
    embeddings (:mod:`sentiment.models.adversarial`)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, perturbation, mask=None):
        return inputs + ops.cast(perturbation, inputs.dtype)

    def compute_mask(self, inputs, mask=None):
        return mask

    def compute_output_shape(self, input_shape, *args):
        return tuple(input_shape)


def _recurrent_layer(config: ClassifierConfig, return_sequences: bool, name: str):
    # Keras' GRU/LSTM with the input projection out of the loop on CPU (recurrent.py)
    cell = HoistedLSTM if config.arch in ("lstm", "bilstm", "cnn-lstm") else HoistedGRU
    layer = cell(config.units, return_sequences=return_sequences, name=name)
    if config.arch.startswith("bi"):
        layer = keras.layers.Bidirectional(layer, name=f"bi_{name}")
    return layer


def _convolutions(config: ClassifierConfig, x, mask):
    """One ``Conv1D(filters, k, padding="same", relu)`` per kernel width over ``x`` with its
    padded steps zeroed: a list of ``(batch, time, filters)`` tensors."""
    x = ZeroMaskedSteps(name="zero_padding")(x, mask=mask)
    return [keras.layers.Conv1D(config.filters, width, padding="same", activation="relu",
                                name=f"conv_{width}" if config.kernel_sizes.count(width) == 1
                                else f"conv_{i}_{width}")(x)
            for i, width in enumerate(config.kernel_sizes)]


def _embedding_dropout(config: ClassifierConfig, x):
    """``SpatialDropout1D(config.embedding_dropout)`` on ``(batch, time, embedding_dim)``
    embeddings, or ``x`` unchanged when the rate is 0."""
    if not config.embedding_dropout:
        return x
    return keras.layers.SpatialDropout1D(config.embedding_dropout, name="embedding_dropout")(x)



def pooled_features(config, x, mask):
    """The encoder and pooling shared by text and sequence models: ``(batch, time, dim)``
    steps -> ``(batch, features)``.

    Args:
        config: a :class:`~sentiment.config.ClassifierConfig` or
            :class:`~sentiment.config.sequence.SequenceModelConfig` (``arch`` other than
            ``fasttext``, sizes, ``pooling``).
        x: the steps (embedded tokens, or frames).
        mask: ``(batch, time) bool``, true on real steps; ``None`` when ``x`` carries its
            Keras mask (``Embedding(mask_zero=True)``; recurrent architectures only).
    """
    if config.arch == "cnn":
        pooled = [MaskedGlobalMaxPooling1D(name=f"max_pool_{i}")(feature, mask=mask)
                  for i, feature in enumerate(_convolutions(config, x, mask))]
        return pooled[0] if len(pooled) == 1 else keras.layers.Concatenate(name="concat")(pooled)
    if config.arch.startswith("cnn-"):
        features = _convolutions(config, x, mask)
        x = (features[0] if len(features) == 1
             else keras.layers.Concatenate(name="concat")(features))
        x = ZeroMaskedSteps(name="zero_conv_padding")(x, mask=mask)
        x = PadTimeToMultiple(config.pool_size, name="pool_padding")(x)
        x = keras.layers.MaxPooling1D(config.pool_size, name="conv_pool")(x)
        mask = PoolMask(config.pool_size, name="pool_mask")(mask)
    for i in range(config.layers):
        last = i == config.layers - 1
        layer = _recurrent_layer(
            config, return_sequences=not (last and config.pooling == "last"),
            name=f"{config.arch.removeprefix('cnn-').removeprefix('bi')}_{i}")
        # an explicit mask is passed once; recurrent layers propagate it
        x = layer(x, mask=mask) if i == 0 and mask is not None else layer(x)
    if config.pooling == "mean":
        x = keras.layers.GlobalAveragePooling1D(name="mean_pool")(x)
    elif config.pooling == "max":
        x = MaskedGlobalMaxPooling1D(name="max_pool")(x)
    elif config.pooling == "attention":
        x, _ = AttentionPooling(config.units, name="attention_pool")(x)
    return x

def build_classifier(config: ClassifierConfig, vocabulary_size: int,
                     name: str | None = None, perturbation: bool = False) -> keras.Model:
    """Build the classifier described by ``config``.

    Args:
        config: architecture, sizes, pooling, dropout, ensemble size and the class names.
        vocabulary_size: number of token ids (padding and OOV included).
        name: the model's name (default ``sentiment_<arch>``, or ``ensemble``).
        perturbation: build the twin that (virtual) adversarial training fits: a second
            input, ``(batch, time, embedding_dim) float32``, is added to the token embeddings
            (:class:`AddPerturbation`); otherwise the same layers, names and weights in the
            same order, so ``classifier.set_weights(twin.get_weights())`` carries them over.
            Not for ensembles.

    Returns:
        A ``keras.Model`` from ``(batch, time) int32`` ids (0 = padding) to
        ``(batch, classes) float32`` probabilities (``config.task == "regression"``: to
        ``(batch, 1) float32`` standardized values, from a linear layer named ``value``). Under a mixed precision policy the output
        softmax still computes in float32. With ``pooling="attention"`` the layer named
        ``attention_pool`` also outputs the ``(batch, time) float32`` attention weights. With
        ``config.ensemble > 1``, :func:`average_classifiers` of that many freshly initialised
        members (training fits the members one by one and copies their weights into one).
    """
    if config.ensemble > 1:
        single = config.replace(ensemble=1)
        return average_classifiers(
            [build_classifier(single, vocabulary_size, name=f"member_{i}")
             for i in range(config.ensemble)], name=name or "ensemble")
    ids = keras.Input(shape=(None,), dtype="int32", name="ids")
    inputs = ids
    if perturbation:
        delta = keras.Input(shape=(None, config.embedding_dim), dtype="float32",
                            name="perturbation")
        inputs = [ids, delta]

    def embed(mask_zero: bool):
        x = keras.layers.Embedding(vocabulary_size, config.embedding_dim, mask_zero=mask_zero,
                                   name="embedding")(ids)
        x = _embedding_dropout(config, x)  # the embedding's mask passes through
        if perturbation:  # after the dropout, so its norm is kept (as adversarial_text does)
            x = AddPerturbation(name="add_perturbation")(x, delta)
        return x

    if config.arch == "fasttext":
        x = embed(mask_zero=True)
        x = (keras.layers.GlobalAveragePooling1D(name="mean_pool")(x) if config.pooling == "mean"
             else MaskedGlobalMaxPooling1D(name="max_pool")(x))
    elif config.arch == "cnn" or config.arch.startswith("cnn-"):
        mask = PaddingMask(name="padding_mask")(ids)
        x = pooled_features(config, embed(mask_zero=False), mask)
    else:
        x = pooled_features(config, embed(mask_zero=True), None)
    x = keras.layers.Dropout(config.dropout, name="dropout")(x)
    if getattr(config, "task", "classification") == "regression":
        value = keras.layers.Dense(1, dtype="float32", name="value")(x)  # standardized
        return keras.Model(inputs, value, name=name or f"sentiment_{config.arch}")
    logits = keras.layers.Dense(config.num_classes, name="logits")(x)
    # multi-label: each label its own probability (sigmoid); else a softmax over the classes
    probabilities = keras.layers.Activation(
        "sigmoid" if getattr(config, "multi_label", False) else "softmax", dtype="float32",
        name="probabilities")(logits)
    return keras.Model(inputs, probabilities, name=name or f"sentiment_{config.arch}")


def average_classifiers(members, name: str = "ensemble") -> keras.Model:
    """One model whose probabilities are the mean of ``members``' probabilities (an ensemble
    over random seeds; averaging independently trained networks: Hansen & Salamon 1990,
    "Neural Network Ensembles", IEEE TPAMI; Lakshminarayanan et al. 2017).

    Args:
        members: classifiers from :func:`build_classifier`, each ``(batch, time) int32`` ->
            ``(batch, classes) float32``, with distinct names (``member_0``, ...).
        name: the ensemble model's name.

    Returns:
        A ``keras.Model`` from ``(batch, time) int32`` ids to ``(batch, classes) float32``
        mean probabilities; each member keeps its own padding mask.

    Raises:
        ValueError: when ``members`` is empty or two members share a name.
    """
    members = list(members)
    if not members:
        raise ValueError("an ensemble needs at least one member")
    names = [member.name for member in members]
    if len(set(names)) != len(names):
        raise ValueError(f"ensemble members need distinct names; received {names}")
    ids = keras.Input(shape=(None,), dtype="int32", name="ids")
    outputs = [member(ids) for member in members]
    probabilities = (outputs[0] if len(outputs) == 1 else
                     keras.layers.Average(dtype="float32", name="probabilities")(outputs))
    return keras.Model(ids, probabilities, name=name)


def classifier_members(model: keras.Model) -> list[keras.Model]:
    """The members of an ensemble from :func:`average_classifiers`, else ``[model]``."""
    members = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    return members or [model]
