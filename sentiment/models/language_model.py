"""A next-token recurrent language model, trained with sampled softmax.

    ids (batch, time) int32 (no padding inside a training window)
      -> Embedding(mask_zero=True), named "embedding"     (batch, time, embedding_dim)
      -> SpatialDropout1D
      -> GRU/LSTM x layers, named "gru_0", ... ("lstm_i")  (batch, time, units)
      -> Dropout, named "dropout"
      -> SoftmaxHead, named "softmax"                      (batch, time, vocabulary) float32
                                                             logits of the next token

The embedding and recurrent layers are built by the classifier's own code
(:func:`~sentiment.models.classifier._recurrent_layer`) under the classifier's layer names, so
a classifier with the same settings takes their weights by name (``sentiment train
--pretrained``).

Training never computes the full softmax: :class:`SampledSoftmaxTraining` scores each target
against ``num_sampled`` negative tokens drawn from a log-uniform (Zipfian) distribution over
the ids, which the vocabulary's order by decreasing frequency approximates
(``tf.nn.sampled_softmax_loss``; Jean et al. 2015, "On Using Very Large Target Vocabulary
for Neural Machine Translation", ACL). Its evaluation (held-out loss, and perplexity
``exp(loss)``) uses the full softmax.

Why our own training step: Keras has no sampled softmax; this is ``tf.nn``'s loss in a Keras
``train_step``, so ``fit`` still gives the progress bar, callbacks and validation.
"""

from __future__ import annotations

import math

import keras
from keras import ops

from ..config import LanguageModelConfig
from .classifier import _recurrent_layer


@keras.saving.register_keras_serializable(package="sentiment")
class SoftmaxHead(keras.layers.Layer):
    """The output layer of a language model: ``(batch, time, features)`` ->
    ``(batch, time, vocabulary_size) float32`` logits ``h W^T + b``.

    The kernel is stored as ``(vocabulary_size, features)`` (one row per token, the layout
    ``tf.nn.sampled_softmax_loss`` takes), so a sampled-softmax step reads, and its gradient
    touches, only the rows of the targets and the sampled tokens.

    Args:
        vocabulary_size: number of token ids (padding, OOV and the boundary token included).
    """

    def __init__(self, vocabulary_size: int, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary_size = int(vocabulary_size)

    def build(self, input_shape):
        features = input_shape[-1]
        scale = 1.0 / math.sqrt(features)
        self.kernel = self.add_weight(
            shape=(self.vocabulary_size, features), name="kernel",
            initializer=keras.initializers.RandomUniform(-scale, scale))
        self.bias = self.add_weight(shape=(self.vocabulary_size,), name="bias",
                                    initializer="zeros")

    def call(self, inputs):
        inputs = ops.cast(inputs, "float32")
        return ops.einsum("btf,vf->btv", inputs, ops.cast(self.kernel, "float32")) + ops.cast(
            self.bias, "float32")

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.vocabulary_size)

    def get_config(self):
        return {**super().get_config(), "vocabulary_size": self.vocabulary_size}


def build_language_model(config: LanguageModelConfig, vocabulary_size: int) -> keras.Model:
    """The language model of ``config``: ``(batch, time) int32`` ids ->
    ``(batch, time, vocabulary_size) float32`` next-token logits (see the module docstring).

    Raises:
        ValueError: for ``vocabulary_size < 3``.
    """
    if vocabulary_size < 3:
        raise ValueError(f"vocabulary_size must be >= 3; received {vocabulary_size}")
    ids = keras.Input(shape=(None,), dtype="int32", name="ids")
    x = keras.layers.Embedding(vocabulary_size, config.embedding_dim, mask_zero=True,
                               name="embedding")(ids)
    if config.embedding_dropout:
        x = keras.layers.SpatialDropout1D(config.embedding_dropout, name="embedding_dropout")(x)
    for i in range(config.layers):
        x = _recurrent_layer(config, return_sequences=True, name=f"{config.arch}_{i}")(x)
    x = keras.layers.Dropout(config.dropout, name="dropout")(x)
    logits = SoftmaxHead(vocabulary_size, name="softmax")(x)
    return keras.Model(ids, logits, name=f"language_model_{config.arch}")


def recurrent_layer_names(config) -> list[str]:
    """The names of the layers a classifier takes from a language model: ``embedding`` and
    the recurrent layers, bottom to top (``["embedding", "gru_0", ...]``)."""
    return ["embedding", *(f"{config.arch}_{i}" for i in range(config.layers))]


class SampledSoftmaxTraining(keras.Model):
    """Trains ``language_model`` with sampled softmax; evaluates it with the full softmax.

    Fit this wrapper on ``(inputs, targets)`` batches, each ``(batch, time) int32`` with
    targets the inputs shifted by one token, and save ``language_model`` (whose weights it
    shares). ``loss`` in training is the sampled-softmax loss (an estimate that is lower than
    the true cross-entropy); ``val_loss`` is the full softmax cross-entropy per token in nats,
    and perplexity is ``exp(val_loss)``.

    Args:
        language_model: a model from :func:`build_language_model`.
        num_sampled: negative tokens per batch (at most ``vocabulary_size - 1``).

    Raises:
        ValueError: ``num_sampled`` out of range.

    Only the TensorFlow backend is supported (the step uses ``tf.GradientTape`` and
    ``tf.nn.sampled_softmax_loss``).
    """

    def __init__(self, language_model: keras.Model, num_sampled: int, **kwargs):
        super().__init__(name=f"sampled_{language_model.name}", **kwargs)
        self.language_model = language_model
        self.head = language_model.get_layer("softmax")
        if not 1 <= num_sampled < self.head.vocabulary_size:
            raise ValueError(f"num_sampled must be in [1, {self.head.vocabulary_size}); "
                             f"received {num_sampled}")
        self.num_sampled = int(num_sampled)
        # the same layers up to the head's input: (batch, time, units)
        self.hidden = keras.Model(language_model.input,
                                  language_model.get_layer("dropout").output)
        self.loss_tracker = keras.metrics.Mean(name="loss")

    def call(self, inputs, training=False):
        return self.language_model(inputs, training=training)

    @property
    def metrics(self):
        return [self.loss_tracker]

    def train_step(self, data):
        import tensorflow as tf

        inputs, targets = data
        with tf.GradientTape() as tape:
            hidden = tf.cast(self.hidden(inputs, training=True), tf.float32)
            hidden = tf.reshape(hidden, (-1, hidden.shape[-1]))      # (batch * time, units)
            labels = tf.reshape(tf.cast(targets, tf.int64), (-1, 1))  # (batch * time, 1)
            loss = tf.reduce_mean(tf.nn.sampled_softmax_loss(
                weights=self.head.kernel.value, biases=self.head.bias.value, labels=labels,
                inputs=hidden, num_sampled=self.num_sampled,
                num_classes=self.head.vocabulary_size, remove_accidental_hits=True))
        variables = self.trainable_variables
        gradients = tape.gradient(loss, [v.value for v in variables])
        self.optimizer.apply(gradients, variables)
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}

    def test_step(self, data):
        import tensorflow as tf

        inputs, targets = data
        logits = self.language_model(inputs, training=False)  # (batch, time, vocabulary)
        losses = tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=tf.cast(targets, tf.int32), logits=logits)
        self.loss_tracker.update_state(tf.reduce_mean(losses),
                                       sample_weight=tf.cast(tf.size(targets), tf.float32))
        return {"loss": self.loss_tracker.result()}


def perplexity(loss: float) -> float:
    """``exp(loss)`` of a mean next-token cross-entropy in nats, the loss clamped at 700 so
    that an untrained model's huge loss gives a large finite number, not an overflow."""
    return float(math.exp(min(loss, 700.0)))


class Perplexity(keras.callbacks.Callback):
    """Adds ``val_perplexity = exp(val_loss)`` to the logs after each epoch (before the
    progress bar prints them, when listed before it)."""

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and "val_loss" in logs:
            logs["val_perplexity"] = perplexity(logs["val_loss"])


class StopAfterSteps(keras.callbacks.Callback):
    """Stops ``fit`` after ``steps`` batches in all, across epochs; ``done`` counts the
    batches run, ``evaluation_seconds`` the time spent in validation."""

    def __init__(self, steps: int):
        super().__init__()
        self.steps = int(steps)
        self.done = 0
        self.evaluation_seconds = 0.0
        self._evaluating_since = None

    def on_test_begin(self, logs=None):
        import time

        self._evaluating_since = time.perf_counter()

    def on_test_end(self, logs=None):
        import time

        if self._evaluating_since is not None:
            self.evaluation_seconds += time.perf_counter() - self._evaluating_since
            self._evaluating_since = None

    def on_train_batch_end(self, batch, logs=None):
        self.done += 1
        if self.done >= self.steps:
            self.model.stop_training = True
