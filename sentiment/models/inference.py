"""A faster forward pass of a trained recurrent classifier, for inference only.

Keras runs a masked recurrent layer as a loop that, at every time step, also selects between
the new and the carried state and output for each row (the mask), and the first recurrent
layer multiplies every embedded token by its input kernel. Neither is needed to predict:

- **No mask inside the loop.** Texts are right-padded, and a forward recurrent layer is
  causal: its output at step ``t`` depends on steps ``0..t`` only, so the outputs at a text's
  real steps are the same whatever follows them. The loop runs over the padded batch without
  a mask, and the padding mask is applied where it matters, in the pooling (max, mean and
  attention pooling exclude padded steps; ``last`` pooling takes step ``length - 1``). A
  backward direction reads each text reversed within its own length
  (``tf.reverse_sequence``), so its padding also comes last.
- **The first input projection as a lookup.** ``embedding[id] @ kernel + bias`` depends on
  the token id alone, so it is computed once for the whole vocabulary, a
  ``(vocabulary_size, gates)`` table, and each step gathers its rows: the embedding lookup
  and the largest matrix product of the forward pass become one gather (the table is built
  only while it stays under ``MAX_TABLE_ELEMENTS``; above that the embedding is gathered and
  projected as in training).
- **Max pooling inside the loop.** With max pooling, the last recurrent layer keeps a running
  maximum over each row's real steps (``t < length``) instead of writing out every step's
  output for the pooling layer to mask and reduce.

The arithmetic of each step is the layer's own (:meth:`HoistedGRU.projected_step`), so the
probabilities equal the Keras model's up to float rounding; tests/models/test_inference.py
compares them for every recurrent architecture and pooling, and
docs/benchmarks/scoring.md records the speed.

What this does not cover (convolutional encoders, fastText-style models, mixed precision,
layers it does not know) keeps the Keras model: :func:`inference_function` returns ``None``.
"""

from __future__ import annotations

from typing import Callable

import keras
import tensorflow as tf

from .classifier import AttentionPooling, MaskedGlobalMaxPooling1D, classifier_members
from .recurrent import HoistedGRU, HoistedLSTM

#: Largest vocabulary projection table built, in float32 elements (64 Mi elements, 256 MiB).
MAX_TABLE_ELEMENTS = 1 << 26

_RECURRENT = (HoistedGRU, HoistedLSTM)
_POOLINGS = (MaskedGlobalMaxPooling1D, keras.layers.GlobalAveragePooling1D, AttentionPooling)
_IGNORED = (keras.layers.InputLayer, keras.layers.Dropout, keras.layers.SpatialDropout1D)


def _directions(layer) -> list:
    """The recurrent layers a (possibly ``Bidirectional``) layer runs, forward first."""
    if isinstance(layer, keras.layers.Bidirectional):
        return [layer.forward_layer, layer.backward_layer]
    return [layer]


class _Direction:
    """One direction of one recurrent layer, run without a mask.

    Args:
        layer: a :class:`HoistedGRU` or :class:`HoistedLSTM` (``go_backwards`` for the
            backward half of a ``Bidirectional``).
        embeddings: ``(vocabulary_size, embedding_dim)`` of the embedding feeding this layer
            directly, or ``None``; with it the input projection is a table lookup.
    """

    def __init__(self, layer, embeddings=None):
        self.layer = layer
        self.backward = bool(layer.go_backwards)
        self.table = None
        if embeddings is not None:
            gates = int(layer.cell.kernel.shape[-1])
            if embeddings.shape[0] * gates <= MAX_TABLE_ELEMENTS:
                # (vocabulary_size, embedding_dim) @ (embedding_dim, gates) -> (vocab, gates)
                self.table = tf.constant(layer.input_projection(embeddings))
        self.embeddings = embeddings

    def __call__(self, inputs, lengths, max_pool: bool = False):
        """Run this direction.

        Args:
            inputs: ``(batch, time) int32`` ids when this layer reads the embedding, else
                ``(time, batch, features)``.
            lengths: ``(batch,) int32`` real steps per row.
            max_pool: return the maximum over each row's real steps instead of the outputs.

        Returns:
            ``(time, batch, units)`` outputs in the loop's order (reversed within each
            length for a backward direction), or with ``max_pool`` ``(batch, units)``.
        """
        if self.embeddings is not None:
            inputs = tf.transpose(inputs)  # (time, batch): time-major ids
            if self.backward:
                inputs = tf.reverse_sequence(inputs, lengths, seq_axis=0, batch_axis=1)
            if self.table is None:
                inputs = self.layer.input_projection(tf.gather(self.embeddings, inputs))
        else:
            if self.backward:
                inputs = tf.reverse_sequence(inputs, lengths, seq_axis=0, batch_axis=1)
            inputs = self.layer.input_projection(inputs)
        return self._loop(inputs, lengths, max_pool)

    def _loop(self, inputs, lengths, max_pool: bool):
        """The layer's step over time from zero states.

        ``inputs`` is ``(time, batch) int32`` ids to look up in the table at each step (the
        rows stay in cache, and no ``(time, batch, gates)`` tensor is written), or the
        projected ``(time, batch, gates)``. A plain ``tf.while_loop`` over time-major slices:
        Keras' generic loop (``keras.src.backend.rnn``) also runs an extra step to learn the
        output's shape and unstacks the inputs into a TensorArray, which measured slower.
        With ``max_pool`` the loop keeps the running maximum over real steps (``t < length``)
        instead of the outputs, as ``MaskedGlobalMaxPooling1D`` takes it over the outputs.
        """
        step = self.layer.projected_step()
        lookup = self.table is not None
        steps = tf.shape(inputs)[0]
        batch = tf.shape(inputs)[1]
        zeros = tf.zeros((batch, self.layer.cell.units), tf.float32)
        # max_pool: the running maximum, from MaskedGlobalMaxPooling1D's lowest value
        kept = (tf.fill((batch, self.layer.cell.units), tf.constant(-1e9, tf.float32))
                if max_pool else tf.TensorArray(tf.float32, size=steps))

        def body(t, kept, *states):
            x_t = tf.gather(self.table, inputs[t]) if lookup else inputs[t]  # (batch, gates)
            output, states = step(x_t, list(states))  # (batch, units)
            if max_pool:
                real = tf.expand_dims(t < lengths, -1)  # (batch, 1)
                kept = tf.where(real, tf.maximum(kept, output), kept)
            else:
                kept = kept.write(t, output)
            return (t + 1, kept, *states)

        state_count = 2 if isinstance(self.layer, HoistedLSTM) else 1
        _, kept, *_ = tf.while_loop(lambda t, *_: t < steps, body,
                                    (tf.constant(0), kept, *[zeros] * state_count))
        return kept if max_pool else kept.stack()  # (batch, units) or (time, batch, units)


class _RecurrentMember:
    """The forward pass of one classifier built by ``build_classifier`` with a recurrent
    encoder over the embedding (``lstm``, ``gru``, ``bilstm``, ``bigru``, stacked, any
    pooling). Raises ``TypeError`` from the constructor for any other layout."""

    def __init__(self, model: keras.Model):
        layers = [layer for layer in model.layers if not isinstance(layer, _IGNORED)]
        if any(layer.dtype_policy.compute_dtype != "float32" for layer in layers):
            raise TypeError("only float32 models")
        if not layers or not isinstance(layers[0], keras.layers.Embedding):
            raise TypeError("the first layer is not an Embedding")
        embedding, rest = layers[0], layers[1:]
        if not embedding.mask_zero:
            raise TypeError("the embedding does not mask id 0")
        recurrent = []
        while rest and all(isinstance(d, _RECURRENT) for d in _directions(rest[0])):
            recurrent.append(rest.pop(0))
        if not recurrent:
            raise TypeError("no recurrent layer follows the embedding")
        self.pooling = rest.pop(0) if rest and isinstance(rest[0], _POOLINGS) else None
        if len(rest) != 2 or not isinstance(rest[0], keras.layers.Dense) \
                or not isinstance(rest[1], keras.layers.Activation):
            raise TypeError("the model does not end in Dense -> Activation")
        self.logits, self.probabilities = rest
        for layer in recurrent:
            directions = _directions(layer)
            if isinstance(layer, keras.layers.Bidirectional) and layer.merge_mode != "concat":
                raise TypeError("Bidirectional merge_mode is not concat")
            if any(d.unroll or d.dropout or d.recurrent_dropout or d.stateful
                   for d in directions):
                raise TypeError("unrolled, stateful or dropout recurrent layers")
            if isinstance(directions[0], HoistedGRU) and not directions[0].cell.reset_after:
                raise TypeError("GRU with reset_after=False")
        if (self.pooling is None) == recurrent[-1].return_sequences:
            raise TypeError("pooling and return_sequences do not agree")
        if any(not layer.return_sequences for layer in recurrent[:-1]):
            raise TypeError("an inner recurrent layer does not return sequences")
        self.max_pool = isinstance(self.pooling, MaskedGlobalMaxPooling1D)
        embeddings = tf.convert_to_tensor(embedding.embeddings)
        self.layers = [[_Direction(d, embeddings if i == 0 else None)
                        for d in _directions(layer)]
                       for i, layer in enumerate(recurrent)]

    def __call__(self, ids):
        mask = tf.not_equal(ids, 0)  # (batch, time) bool
        lengths = tf.reduce_sum(tf.cast(mask, tf.int32), axis=1)  # (batch,)
        x = ids
        if self.max_pool:  # the last layer keeps only its running maximum
            *layers, top = self.layers
        else:
            layers, top = self.layers, None
        for layer in layers:
            looped = [direction(x, lengths) for direction in layer]  # (time, batch, units)
            outputs = [tf.reverse_sequence(out, lengths, seq_axis=0, batch_axis=1)
                       if direction.backward else out
                       for direction, out in zip(layer, looped)]
            x = outputs[0] if len(outputs) == 1 else tf.concat(outputs, axis=-1)
        if top is not None:
            pooled = [direction(x, lengths, max_pool=True) for direction in top]
            pooled = pooled[0] if len(pooled) == 1 else tf.concat(pooled, axis=-1)
        elif self.pooling is None:
            # the state after each text's last real step: step length - 1 in each
            # direction's loop order, of the last layer only
            last_step = tf.stack([tf.maximum(lengths - 1, 0), tf.range(tf.shape(ids)[0])], -1)
            pooled = [tf.gather_nd(out, last_step) for out in looped]  # (batch, units) each
            pooled = pooled[0] if len(pooled) == 1 else tf.concat(pooled, axis=-1)
        else:
            # (time, batch, features) -> (batch, time, features) for the pooling layer
            pooled = self.pooling(tf.transpose(x, [1, 0, 2]), mask=mask)
            if isinstance(self.pooling, AttentionPooling):
                pooled = pooled[0]
        return self.probabilities(self.logits(pooled))  # (batch, classes) float32


def recurrent_members(model: keras.Model) -> list[_RecurrentMember] | None:
    """The forward passes of ``model``'s members (one, or an ensemble's), or ``None`` when
    one of them is outside the layouts :func:`inference_function` takes."""
    try:
        return [_RecurrentMember(member) for member in classifier_members(model)]
    except TypeError:
        return None


def inference_function(model: keras.Model) -> Callable[[tf.Tensor], tf.Tensor] | None:
    """The forward pass of ``model`` without masking inside the recurrent loops (see the
    module docstring), or ``None`` where it does not apply.

    Args:
        model: a classifier from :func:`sentiment.models.classifier.build_classifier` or an
            ensemble of them (:func:`average_classifiers`).

    Returns:
        A function from ``(batch, time) int32`` right-padded ids (0 = padding) to
        ``(batch, classes) float32`` probabilities, equal to ``model(ids)`` up to float
        rounding, to be wrapped in a ``tf.function``; or ``None`` for a model with a
        convolutional or bag-of-words encoder, a mixed precision policy, or any layer outside
        the layouts ``build_classifier`` writes for ``lstm``, ``gru``, ``bilstm`` and
        ``bigru``.
    """
    members = recurrent_members(model)
    if members is None:
        return None
    if len(members) == 1:
        return members[0]

    def ensemble(ids):  # the mean of the members' probabilities, as average_classifiers
        return tf.add_n([member(ids) for member in members]) / len(members)

    return ensemble
