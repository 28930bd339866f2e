"""Continuous batching for recurrent classifiers: texts join and leave a running batch
between short chunks of time steps.

A padded batch costs one recurrent step per token of its *longest* text, whatever its size,
so many small concurrent requests of random lengths (a server's load) leave most of each
step idle. Iteration-level scheduling (Yu et al., "Orca: A Distributed Serving System for
Transformer-Based Generative Models", OSDI 2022) fixes this for generation: the batch is
re-formed between iterations, a finished sequence leaves and a waiting one takes its place.
A unidirectional recurrent classifier allows the same: its state after step ``t`` is all it
needs to go on, so each text (a *lane*) carries its own state, advances ``chunk_steps``
tokens per call, and leaves with its probabilities when its last token is in; new texts
join at the next call with zero states. Each text costs its own length in steps.

    lanes (texts in flight)   tokens of this chunk   states / pooled so far
    lane 0: text a, step 96   a[96:128]              h_a, max_a
    lane 1: text b, step 0    b[0:32]  (new)         0,   -1e9
    lane 2: text c, step 480  c[480:497] + padding   h_c, max_c   -> done: probabilities

The arithmetic of a step is the layer's own (:meth:`HoistedGRU.projected_step`, the vocabulary
projection table of :mod:`sentiment.models.inference`), so a text's probabilities equal
``Predictor.predict_proba``'s up to float rounding (tests/models/test_streaming.py).

It needs every recurrent layer to run forward only (``lstm``, ``gru``, stacked) with max,
mean or last pooling: a backward direction or attention pooling needs the whole text first.
:func:`recurrent_stepper` returns ``None`` for anything else, and the server keeps its
dynamic batcher for those models.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from .inference import recurrent_members
from .recurrent import HoistedLSTM

#: Time steps each :meth:`RecurrentStepper.advance` call runs. A call has a fixed cost of
#: about as much as a few tens of steps on a CPU, which more steps amortize; fewer let a
#: finished text leave (and a new one join) sooner and waste fewer steps in a text's last
#: chunk (docs/benchmarks/serving.md compares 16, 32 and 64).
DEFAULT_CHUNK_STEPS = 64

#: MaskedGlobalMaxPooling1D's lowest value, the running maximum's start.
_LOWEST = -1e9


@dataclass
class Lanes:
    """The texts in flight and their recurrent states, as numpy arrays of ``lanes`` rows.

    Attributes:
        states: per member, per layer, its states (``h``, and ``c`` for an LSTM), each
            ``(lanes, units) float32``; flattened in that order.
        pooled: per member, ``(lanes, units) float32``: the running maximum (max pooling),
            the running sum (mean pooling) or unused zeros (last pooling: the top state).
    """

    states: list[np.ndarray]
    pooled: list[np.ndarray]

    @property
    def count(self) -> int:
        return 0 if not self.states else int(self.states[0].shape[0])

    def keep(self, rows: np.ndarray) -> "Lanes":
        """Only lanes ``rows`` (an index or boolean array), in that order."""
        return Lanes([state[rows] for state in self.states],
                     [pooled[rows] for pooled in self.pooled])

    def extend(self, other: "Lanes") -> "Lanes":
        """These lanes followed by ``other``'s."""
        if not self.count:
            return other
        return Lanes([np.concatenate([a, b]) for a, b in zip(self.states, other.states)],
                     [np.concatenate([a, b]) for a, b in zip(self.pooled, other.pooled)])


class RecurrentStepper:
    """Advances the lanes of a forward-only recurrent classifier by chunks of steps.

    Args:
        members: from :func:`sentiment.models.inference.recurrent_members` (one member, or
            an ensemble's, whose probabilities are averaged), each forward-only with max,
            mean or last pooling.
        chunk_steps: time steps per :meth:`advance`, >= 1.
        temperature: the probabilities are ``softmax(log(p) / temperature)``
            (:mod:`sentiment.calibration`; the model's ``ClassifierConfig.temperature``).

    Raises:
        TypeError: for a member with a backward direction or attention pooling.
        ValueError: when ``chunk_steps < 1``.
    """

    def __init__(self, members: list, chunk_steps: int = DEFAULT_CHUNK_STEPS,
                 temperature: float = 1.0):
        if not isinstance(chunk_steps, int) or chunk_steps < 1:
            raise ValueError(f"chunk_steps must be an integer >= 1; received {chunk_steps!r}")
        for member in members:
            if any(len(layer) != 1 for layer in member.layers):
                raise TypeError("a bidirectional layer needs the whole text")
            if member.pooling is not None and not (
                    member.max_pool
                    or isinstance(member.pooling, keras.layers.GlobalAveragePooling1D)):
                raise TypeError("attention pooling needs the whole text")
        self.members = members
        self.chunk_steps = chunk_steps
        self.temperature = float(temperature)
        self.classes = int(members[0].logits.units)
        # per member: the directions (one per layer) and their state counts
        self._layers = [[layer[0] for layer in member.layers] for member in members]
        self._state_counts = [[2 if isinstance(d.layer, HoistedLSTM) else 1 for d in layers]
                              for layers in self._layers]
        lanes = self.new_lanes(0)
        # one concrete graph for any number of lanes (calling it skips tf.function's
        # argument matching, a large part of a call's fixed cost)
        self._advance = tf.function(self._advance_graph).get_concrete_function(
            tf.TensorSpec((None, None), tf.int32), tf.TensorSpec((None,), tf.int32),
            tf.TensorSpec((None,), tf.float32),
            [tf.TensorSpec((None, s.shape[1]), tf.float32) for s in lanes.states],
            [tf.TensorSpec((None, p.shape[1]), tf.float32) for p in lanes.pooled])

    def new_lanes(self, count: int) -> Lanes:
        """``count`` lanes at step 0: zero states and an empty pooling."""
        states, pooled = [], []
        for member, layers, counts in zip(self.members, self._layers, self._state_counts):
            for direction, state_count in zip(layers, counts):
                units = direction.layer.cell.units
                states += [np.zeros((count, units), np.float32) for _ in range(state_count)]
            top = layers[-1].layer.cell.units
            pooled.append(np.full((count, top), _LOWEST if member.max_pool else 0.0,
                                  np.float32))
        return Lanes(states, pooled)

    def warm_up(self) -> None:
        """Run :meth:`advance` once on a few lanes (the first calls of a graph are slower)."""
        for count in (1, 3):
            self.advance(self.new_lanes(count), np.zeros((count, self.chunk_steps), np.int32),
                         np.full(count, self.chunk_steps, np.int32),
                         np.full(count, self.chunk_steps, np.int32))

    def advance(self, lanes: Lanes, tokens: np.ndarray, steps: np.ndarray,
                lengths: np.ndarray) -> tuple[Lanes, np.ndarray]:
        """Run the lanes over their next tokens.

        Args:
            lanes: the states after each lane's tokens so far.
            tokens: ``(lanes, span) int32``, each lane's next ids, right-padded with 0;
                ``span`` is usually ``chunk_steps``, any width >= 1 runs.
            steps: ``(lanes,) int32``, the real tokens in each lane's row of ``tokens``
                (< span only in a text's last call; the states of such a lane are then
                undefined, its pooling and probabilities are not).
            lengths: ``(lanes,) int32``, each lane's whole text length in tokens (mean
                pooling divides by it).

        Returns:
            ``(lanes, probabilities)``: the new states, and ``(lanes, classes) float32``
            probabilities of each lane's text as read so far: a lane's final
            probabilities are those of the call that ran its last token.
        """
        outputs = self._advance(tf.constant(np.ascontiguousarray(tokens.T), tf.int32),
                                tf.constant(steps, tf.int32),
                                tf.constant(lengths, tf.float32),
                                [tf.constant(s) for s in lanes.states],
                                [tf.constant(p) for p in lanes.pooled])
        probabilities, states, pooled = outputs
        return (Lanes([s.numpy() for s in states], [p.numpy() for p in pooled]),
                probabilities.numpy())

    def _advance_graph(self, tokens, steps, lengths, states, pooled):
        """``tokens (chunk, lanes) int32`` time-major; see :meth:`advance`."""
        chunk = tf.shape(tokens)[0]
        last_pooling = [member.pooling is None for member in self.members]

        def body(t, states, pooled):
            real = tf.expand_dims(t < steps, -1)  # (lanes, 1)
            ids = tokens[t]  # (lanes,)
            new_states, new_pooled, offset = [], [], 0
            for index, layers in enumerate(self._layers):
                x = None
                for depth, (direction, count) in enumerate(
                        zip(layers, self._state_counts[index])):
                    if depth == 0:
                        x_t = (tf.gather(direction.table, ids) if direction.table is not None
                               else direction.layer.input_projection(
                                   tf.gather(direction.embeddings, ids)))
                    else:
                        x_t = direction.layer.input_projection(x)  # (lanes, gates)
                    old = list(states[offset:offset + count])
                    x, new = direction.layer.projected_step()(x_t, old)
                    if last_pooling[index]:  # a lane's last state must survive its end
                        new = [tf.where(real, n, o) for n, o in zip(new, old)]
                    new_states += new
                    offset += count
                kept = pooled[index]
                if self.members[index].max_pool:
                    kept = tf.where(real, tf.maximum(kept, x), kept)
                elif not last_pooling[index]:
                    kept = tf.where(real, kept + x, kept)
                new_pooled.append(kept)
            return t + 1, new_states, new_pooled

        # (a fully unrolled chunk measured no faster: each step's ops, not the loop, cost)
        _, states, pooled = tf.while_loop(lambda t, *_: t < chunk, body,
                                          (tf.constant(0), list(states), list(pooled)))
        probabilities, offset = [], 0
        for index, member in enumerate(self.members):
            offset += sum(self._state_counts[index])
            if last_pooling[index]:
                top = states[offset - self._state_counts[index][-1]]  # h of the top layer
            elif member.max_pool:
                top = pooled[index]
            else:
                top = pooled[index] / tf.expand_dims(lengths, -1)
            probabilities.append(member.probabilities(member.logits(top)))
        mean = probabilities[0] if len(probabilities) == 1 else \
            tf.add_n(probabilities) / len(probabilities)
        if self.temperature != 1.0:  # temperature scaling, as sentiment.calibration
            mean = tf.nn.softmax(tf.math.log(tf.maximum(mean, 1e-12)) / self.temperature,
                                 axis=-1)
        return mean, states, pooled


def recurrent_stepper(model: keras.Model, chunk_steps: int = DEFAULT_CHUNK_STEPS,
                      temperature: float = 1.0) -> RecurrentStepper | None:
    """A :class:`RecurrentStepper` for ``model`` (a classifier or an ensemble of them), or
    ``None`` when one of its recurrent layers is bidirectional, its pooling is attention,
    or :func:`sentiment.models.inference.inference_function` does not take it."""
    members = recurrent_members(model)
    if members is None:
        return None
    try:
        return RecurrentStepper(members, chunk_steps, temperature)
    except TypeError:
        return None
