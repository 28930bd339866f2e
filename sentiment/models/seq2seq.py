"""Seq2seq forecasters: a recurrent encoder-decoder for many-to-many numeric forecasting.

Inputs (a dict, all ``float32``):

* ``past`` ``(batch, lookback, inputs)``: the history of every input column, z-normalized
  with training statistics; ``NaN`` marks a missing value (including left padding of short
  histories). The first ``targets`` input columns are the forecast targets.
* ``past_calendar`` ``(batch, lookback, calendar)`` and ``future_calendar``
  ``(batch, horizon, calendar)``: known calendar features (only when ``calendar > 0``).

Output: ``(batch, horizon, targets) float32`` in the same z-normalized units.

Pipeline: missing values are zero-filled and an observed/missing indicator is added per input
column; a time step where every input is missing is all zeros and masked by
``keras.layers.Masking`` (so left padding and gaps do not reach the recurrent state). Optional
reversible instance normalization (RevIN, Kim et al., "Reversible Instance Normalization for
Accurate Time-Series Forecasting against Distribution Shift", ICLR 2022) removes each window's
mean and scale before the encoder and restores them on the output. An optional causal
``Conv1D`` front end (Conv1D+LSTM hybrids) precedes a stack of GRU or LSTM layers. Decoders:

* ``direct``: a recurrent decoder seeded with the encoder's final state runs over the
  ``horizon`` steps; its inputs are the encoder's context vector repeated, plus the known
  future calendar features; ``TimeDistributed(Dense)`` emits all steps at once.
* ``autoregressive``: each step receives the previous step's value (teacher forcing in
  training: the true previous value; at inference its own prediction, fed back inside the
  recurrent loop by :class:`FeedbackCell`).

Options for long horizons and many channels: ``segment=W`` makes one recurrent step read a
patch of ``W`` time steps and one decoder step emit ``W`` steps (cf. SegRNN, Lin et al. 2023),
and ``channel_independent=True`` forecasts each channel as its own univariate series with
shared weights (``(batch, time, C) -> (batch * C, time, 1)``, Nie et al., PatchTST, ICLR 2023).

``highway=k`` adds a linear autoregressive component to the decoder's output (the "highway" of
LSTNet, Lai et al., "Modeling Long- and Short-Term Temporal Patterns with Deep Neural
Networks", SIGIR 2018): one ``Dense(horizon)`` from the last ``k`` values of each target, with
weights shared by the targets, computed in the normalized space and summed with the recurrent
forecast, so the network only has to learn what a linear map of the recent past misses.

``arch="linear"`` is the linear baseline: one ``Dense`` from the flattened window to all
``horizon x targets`` outputs (cf. Zeng et al., "Are Transformers Effective for Time Series
Forecasting?", AAAI 2023).

All layers are registered with ``keras.saving.register_keras_serializable(package="sentiment")``
so ``model.keras`` loads without ``custom_objects``.
"""

from __future__ import annotations

import keras
from keras import ops

from ..config import DECODERS, FORECASTER_ARCHITECTURES

ARCHITECTURES = FORECASTER_ARCHITECTURES

_register = keras.saving.register_keras_serializable(package="sentiment")


def _rnn_cell(arch: str, units: int, name: str):
    if arch == "gru":
        return keras.layers.GRUCell(units, name=name)
    if arch == "lstm":
        return keras.layers.LSTMCell(units, name=name)
    raise ValueError(f"arch must be gru or lstm for a recurrent cell; received {arch!r}")


def _rnn_layer(arch: str, units: int, name: str, **kwargs):
    layer = {"gru": keras.layers.GRU, "lstm": keras.layers.LSTM}[arch]
    return layer(units, name=name, **kwargs)


@_register
def masked_mse(y_true, y_pred):
    """Mean squared error over the observed (non-``NaN``) targets of each window.

    Args:
        y_true: ``(batch, horizon, targets) float32``, ``NaN`` where missing.
        y_pred: ``(batch, horizon, targets) float32``.

    Returns:
        ``(batch,) float32``; a window without observed target contributes 0.
    """
    observed = ops.logical_not(ops.isnan(y_true))
    diff = ops.where(observed, y_pred - ops.where(observed, y_true, 0.0), 0.0)
    count = ops.sum(ops.cast(observed, y_pred.dtype), axis=(1, 2))
    return ops.sum(ops.square(diff), axis=(1, 2)) / ops.maximum(count, 1.0)


@_register
def masked_mae(y_true, y_pred):
    """Mean absolute error over the observed targets of each window, ``(batch,) float32``."""
    observed = ops.logical_not(ops.isnan(y_true))
    diff = ops.where(observed, y_pred - ops.where(observed, y_true, 0.0), 0.0)
    count = ops.sum(ops.cast(observed, y_pred.dtype), axis=(1, 2))
    return ops.sum(ops.abs(diff), axis=(1, 2)) / ops.maximum(count, 1.0)


@_register
class ReversibleInstanceNormalization(keras.layers.Layer):
    """RevIN (Kim et al., ICLR 2022): per-window, per-channel normalization undone on output.

    ``call(x, observed)`` with ``x`` ``(batch, time, channels) float32`` (missing values already
    zero-filled) and ``observed`` the same shape, 1.0 where observed, returns
    ``(x_norm, mean, std)``; ``mean`` and ``std`` are ``(batch, 1, channels)``, computed over
    observed steps only and treated as constants (no gradient), as in the reference code.
    ``x_norm = (x - mean) / std * gamma + beta`` with a learned affine map per channel, and
    0 where unobserved. :meth:`denormalize` inverts it for the first ``targets`` channels.
    """

    def __init__(self, affine: bool = True, epsilon: float = 1e-5, **kwargs):
        super().__init__(**kwargs)
        self.affine = affine
        self.epsilon = epsilon

    def build(self, input_shape):
        channels = input_shape[-1]
        if self.affine:
            self.gamma = self.add_weight(shape=(channels,), initializer="ones", name="gamma")
            self.beta = self.add_weight(shape=(channels,), initializer="zeros", name="beta")

    def call(self, x, observed):
        count = ops.maximum(ops.sum(observed, axis=1, keepdims=True), 1.0)
        mean = ops.sum(x * observed, axis=1, keepdims=True) / count
        var = ops.sum(ops.square((x - mean) * observed), axis=1, keepdims=True) / count
        mean = ops.stop_gradient(mean)
        std = ops.stop_gradient(ops.sqrt(var + self.epsilon))
        normalized = (x - mean) / std
        if self.affine:
            normalized = normalized * self.gamma + self.beta
        return normalized * observed, mean, std

    def normalize_targets(self, y, mean, std):
        """Apply the window statistics of the first ``targets`` channels to ``y``
        ``(batch, horizon, targets)`` (used for teacher forcing)."""
        t = y.shape[-1]
        y = (y - mean[..., :t]) / std[..., :t]
        if self.affine:
            y = y * self.gamma[:t] + self.beta[:t]
        return y

    def denormalize(self, y, mean, std):
        """Undo the normalization on ``y`` ``(batch, horizon, targets)``."""
        t = y.shape[-1]
        if self.affine:
            y = (y - self.beta[:t]) / (self.gamma[:t] + self.epsilon * self.epsilon)
        return y * std[..., :t] + mean[..., :t]

    def get_config(self):
        return {**super().get_config(), "affine": self.affine, "epsilon": self.epsilon}


@_register
class FeedbackCell(keras.layers.Layer):
    """A recurrent cell that feeds its previous output back as input (autoregressive decoding).

    Step inputs are ``concat([teacher, rest])``: ``teacher`` ``(batch, targets)`` is the true
    previous value (used only when ``training`` is true: teacher forcing), ``rest`` the other
    step inputs (context vector, calendar features). States are the inner GRU/LSTM cell's
    states followed by the previous prediction ``(batch, targets)``. Output: the step's
    prediction ``(batch, targets) float32``.
    """

    def __init__(self, arch: str, units: int, targets: int, **kwargs):
        super().__init__(**kwargs)
        self.arch, self.units, self.targets = arch, units, targets
        self.cell = _rnn_cell(arch, units, name="cell")
        self.projection = keras.layers.Dense(targets, name="projection")
        inner = self.cell.state_size
        self.state_size = (list(inner) if isinstance(inner, (list, tuple)) else [inner]) \
            + [targets]
        self.output_size = targets

    def build(self, input_shape):
        self.cell.build((input_shape[0], input_shape[-1]))
        self.projection.build((input_shape[0], self.units))

    def call(self, inputs, states, training=False):
        previous = states[-1]
        if training:
            previous = inputs[:, :self.targets]
        step = ops.concatenate([previous, inputs[:, self.targets:]], axis=-1)
        inner_states = list(states[:-1])
        output, new_states = self.cell(step, inner_states if len(inner_states) > 1
                                       else inner_states[0], training=training)
        if not isinstance(new_states, (list, tuple)):
            new_states = [new_states]
        prediction = self.projection(output)
        return prediction, list(new_states) + [prediction]

    def get_config(self):
        return {**super().get_config(), "arch": self.arch, "units": self.units,
                "targets": self.targets}


class _BuiltFromExampleInputs:
    """Keras' build hooks for models that build by calling themselves on their own
    ``example_inputs()`` (so ``model.keras`` reloads with every weight created)."""

    def get_build_config(self):
        return {"example_batch": 1}

    def build_from_config(self, config):
        self(self.example_inputs())


@_register
class Seq2SeqForecaster(_BuiltFromExampleInputs, keras.Model):
    """Encoder-decoder forecaster ``{"past", "past_calendar", "future_calendar"} ->
    (batch, horizon, targets) float32`` (see the module docstring).

    Args:
        lookback: history length ``L`` (time steps).
        horizon: forecast length ``H`` (time steps).
        inputs: input columns (targets first).
        targets: forecast columns, the first ``targets`` inputs.
        calendar: number of calendar features (0: none, no calendar inputs).
        arch: ``gru``, ``lstm`` or ``linear`` (baseline).
        decoder: ``direct`` or ``autoregressive``.
        units: recurrent units per layer.
        layers: stacked encoder layers.
        conv_filters: filters of the causal Conv1D front end; 0 disables it.
        kernel_size: its kernel width in time steps.
        dropout: dropout rate on the context vector, in [0, 1).
        revin: reversible instance normalization of each window.
        segment: time steps per recurrent step (patches in the encoder and decoder).
        channel_independent: treat each channel as its own series (needs inputs == targets).
        highway: steps of each target's recent history in the linear highway (LSTNet); 0
            disables it; at most ``lookback``.
    """

    def __init__(self, lookback: int, horizon: int, inputs: int, targets: int, calendar: int = 0,
                 arch: str = "gru", decoder: str = "direct", units: int = 64, layers: int = 1,
                 conv_filters: int = 0, kernel_size: int = 3, dropout: float = 0.0,
                 revin: bool = True, segment: int = 1, channel_independent: bool = False,
                 highway: int = 0, **kwargs):
        super().__init__(**kwargs)
        if arch not in ARCHITECTURES:
            raise ValueError(f"arch must be one of {', '.join(ARCHITECTURES)}; received {arch!r}")
        if decoder not in DECODERS:
            raise ValueError(f"decoder must be one of {', '.join(DECODERS)}; received "
                             f"{decoder!r}")
        if targets > inputs:
            raise ValueError("the targets must be among the inputs (targets <= inputs)")
        if channel_independent and targets != inputs:
            raise ValueError("channel_independent needs the inputs to be the targets")
        if segment < 1:
            raise ValueError(f"segment must be >= 1; received {segment!r}")
        if not 0 <= highway <= lookback:
            raise ValueError(f"highway must be in [0, lookback={lookback}]; received "
                             f"{highway!r}")
        self.lookback, self.horizon = int(lookback), int(horizon)
        self.n_inputs, self.n_targets, self.n_calendar = int(inputs), int(targets), int(calendar)
        self.arch, self.decoder = arch, decoder
        self.units, self.layers_count = int(units), int(layers)
        self.conv_filters, self.kernel_size = int(conv_filters), int(kernel_size)
        self.dropout_rate, self.use_revin = float(dropout), bool(revin)
        self.segment, self.channel_independent = int(segment), bool(channel_independent)
        self.highway_steps = int(highway)
        # Width of one series as the layers see it: 1 per channel when channel-independent.
        self._inputs = 1 if channel_independent else self.n_inputs
        self._targets = 1 if channel_independent else self.n_targets
        self._steps_out = -(-self.horizon // self.segment)  # decoder steps (segments)

        self.revin = ReversibleInstanceNormalization(name="revin") if revin else None
        self.masking = keras.layers.Masking(mask_value=0.0, name="masking")
        if arch == "linear":
            self.flatten = keras.layers.Flatten(name="flatten")
            self.linear = keras.layers.Dense(self.horizon * self._targets, name="linear")
            return
        self.highway = (keras.layers.Dense(self.horizon, name="highway")
                        if self.highway_steps else None)
        self.conv = (keras.layers.Conv1D(conv_filters, kernel_size, padding="causal",
                                         activation="relu", name="conv")
                     if conv_filters else None)
        self.encoder_layers = [
            _rnn_layer(arch, units, name=f"encoder_{i}", return_sequences=i < layers - 1,
                       return_state=i == layers - 1)
            for i in range(layers)]
        self.context_dropout = keras.layers.Dropout(dropout, name="dropout") if dropout else None
        if decoder == "direct":
            self.decoder_rnn = _rnn_layer(arch, units, name="decoder", return_sequences=True)
            self.head = keras.layers.TimeDistributed(
                keras.layers.Dense(self.segment * self._targets), name="head")
        else:
            self.decoder_rnn = keras.layers.RNN(FeedbackCell(arch, units,
                                                             self.segment * self._targets,
                                                             name="feedback"),
                                                return_sequences=True, name="decoder")

    def call(self, inputs, training=None, teacher=None):
        """Forecast; ``teacher`` ``(batch, horizon, targets)`` (true targets, z-normalized) is
        used by the autoregressive decoder when ``training`` is true (teacher forcing)."""
        past = ops.cast(inputs["past"], "float32")
        past_calendar = future_calendar = None
        if self.n_calendar:
            past_calendar = ops.cast(inputs["past_calendar"], "float32")
            future_calendar = ops.cast(inputs["future_calendar"], "float32")
        if teacher is not None:
            teacher = ops.cast(teacher, "float32")
        if self.channel_independent:
            # (batch, time, channels) -> (batch * channels, time, 1); the calendar is repeated
            # for each channel in the same order.
            past = self._split_channels(past)
            if teacher is not None:
                teacher = self._split_channels(teacher)
            if self.n_calendar:
                past_calendar = ops.repeat(past_calendar, self.n_inputs, axis=0)
                future_calendar = ops.repeat(future_calendar, self.n_inputs, axis=0)
        output = self._forecast(past, past_calendar, future_calendar, training, teacher)
        if self.channel_independent:
            output = ops.transpose(ops.reshape(output, (-1, self.n_inputs, self.horizon)),
                                   (0, 2, 1))
        return output

    def _split_channels(self, x):
        return ops.reshape(ops.transpose(x, (0, 2, 1)), (-1, x.shape[1], 1))

    def _segments(self, x, left: bool):
        """``(batch, time, d)`` -> ``(batch, ceil(time / segment), segment * d)``, zero-padded
        on the left (history) or the right (future)."""
        w = self.segment
        if w == 1:
            return x
        time, depth = x.shape[1], x.shape[2]
        steps = -(-time // w)
        pad = steps * w - time
        if pad:
            x = ops.pad(x, [[0, 0], [pad, 0] if left else [0, pad], [0, 0]])
        return ops.reshape(x, (-1, steps, w * depth))

    def _forecast(self, past, past_calendar, future_calendar, training, teacher):
        t = self._targets
        missing = ops.isnan(past)
        observed = ops.cast(ops.logical_not(missing), "float32")
        values = ops.where(missing, 0.0, past)
        mean = std = None
        if self.revin is not None:
            values, mean, std = self.revin(values, observed)
        if self.arch == "linear":
            output = ops.reshape(self.linear(self.flatten(values)), (-1, self.horizon, t))
            return self._restore(output, mean, std)

        step_observed = ops.max(observed, axis=-1, keepdims=True)
        parts = [values, observed]
        if past_calendar is not None:
            parts.append(past_calendar)
        # Fully missing steps are all zeros, so Masking masks exactly them (the mask is taken
        # from the Masking layer and handed to the recurrent layers, past the Conv1D front end).
        hidden = ops.concatenate(parts, axis=-1) * step_observed
        if self.conv is not None:
            hidden = self.conv(hidden) * step_observed
        if self.segment > 1:
            # A patch of `segment` steps is one encoder step; it is masked when all its steps
            # are missing.
            hidden = self._segments(hidden, left=True)
            step_observed = ops.max(self._segments(step_observed, left=True), axis=-1,
                                    keepdims=True)
            hidden = hidden * step_observed
        mask = self.masking.compute_mask(
            ops.concatenate([step_observed, ops.zeros_like(step_observed)], axis=-1))
        for layer in self.encoder_layers[:-1]:
            hidden = layer(hidden, mask=mask, training=training)
        context, *states = self.encoder_layers[-1](hidden, mask=mask, training=training)
        if self.context_dropout is not None:
            context = self.context_dropout(context, training=training)
        repeated = ops.repeat(ops.expand_dims(context, 1), self._steps_out, axis=1)
        rest = [repeated]
        if future_calendar is not None:
            rest.append(self._segments(future_calendar, left=False))
        if self.decoder == "direct":
            decoded = self.decoder_rnn(ops.concatenate(rest, axis=-1), initial_state=states,
                                       training=training)
            output = self._unsegment(self.head(decoded))
            return self._restore(self._add_highway(output, values), mean, std)

        last = ops.reshape(values[:, -self.segment:, :t], (-1, self.segment * t))
        if training and teacher is not None:
            truth_missing = ops.isnan(teacher)
            truth = ops.where(truth_missing, 0.0, teacher)
            if self.revin is not None:
                truth = self.revin.normalize_targets(truth, mean, std)
            truth = self._segments(ops.where(truth_missing, 0.0, truth), left=False)
            previous = ops.concatenate([ops.expand_dims(last, 1), truth[:, :-1]], axis=1)
        else:
            previous = ops.zeros_like(repeated[..., :1]) * ops.zeros((self.segment * t,))
        output = self.decoder_rnn(ops.concatenate([previous] + rest, axis=-1),
                                  initial_state=list(states) + [last], training=training)
        return self._restore(self._add_highway(self._unsegment(output), values), mean, std)

    def _add_highway(self, output, values):
        """``output`` ``(batch, horizon, targets)`` plus the linear highway of the last
        ``highway`` steps of ``values`` ``(batch, lookback, inputs)`` (normalized, zero where
        missing), applied to each target alike."""
        if self.highway is None:
            return output
        recent = ops.transpose(values[:, -self.highway_steps:, :self._targets], (0, 2, 1))
        return output + ops.transpose(self.highway(recent), (0, 2, 1))

    def _unsegment(self, x):
        """``(batch, steps, segment * targets)`` -> ``(batch, horizon, targets)``."""
        x = ops.reshape(x, (-1, self._steps_out * self.segment, self._targets))
        return x[:, :self.horizon]

    def _restore(self, output, mean, std):
        if self.revin is not None:
            output = self.revin.denormalize(output, mean, std)
        return output

    def train_step(self, data):
        """Keras' TensorFlow ``train_step`` with the targets passed to :meth:`call` as
        ``teacher`` (teacher forcing for the autoregressive decoder)."""
        import tensorflow as tf

        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True,
                          teacher=y if self.decoder == "autoregressive" else None)
            loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
                                     training=True)
            tracker = getattr(self, "_loss_tracker", None)
            if tracker is not None:
                tracker.update_state(loss, sample_weight=tf.shape(x["past"])[0])
            if self.optimizer is not None:
                loss = self.optimizer.scale_loss(loss)
        gradients = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_weights))
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def example_inputs(self, batch: int = 1) -> dict:
        """Zero inputs of the right shapes, ``float32`` (used to build the model)."""
        import numpy as np

        inputs = {"past": np.zeros((batch, self.lookback, self.n_inputs), np.float32)}
        if self.n_calendar:
            inputs["past_calendar"] = np.zeros((batch, self.lookback, self.n_calendar),
                                               np.float32)
            inputs["future_calendar"] = np.zeros((batch, self.horizon, self.n_calendar),
                                                 np.float32)
        return inputs

    def get_config(self):
        return {**super().get_config(),
                "lookback": self.lookback, "horizon": self.horizon, "inputs": self.n_inputs,
                "targets": self.n_targets, "calendar": self.n_calendar, "arch": self.arch,
                "decoder": self.decoder, "units": self.units, "layers": self.layers_count,
                "conv_filters": self.conv_filters, "kernel_size": self.kernel_size,
                "dropout": self.dropout_rate, "revin": self.use_revin, "segment": self.segment,
                "channel_independent": self.channel_independent, "highway": self.highway_steps}


def build_forecaster(**kwargs) -> Seq2SeqForecaster:
    """A built :class:`Seq2SeqForecaster` (weights created); ``kwargs`` as its constructor."""
    model = Seq2SeqForecaster(**kwargs)
    model(model.example_inputs())
    return model


@_register
class ForecastEnsemble(_BuiltFromExampleInputs, keras.Model):
    """The mean forecast of independently trained members (an ensemble over random seeds, as
    N-BEATS averages its members: Oreshkin et al., "N-BEATS", ICLR 2020).

    Inputs as a :class:`Seq2SeqForecaster`'s; output ``(batch, horizon, targets) float32``,
    the element-wise mean of the members' forecasts. Used for inference only: each member is
    trained on its own (see :func:`sentiment.forecasting.train_forecaster`).

    Args:
        members: the trained :class:`Seq2SeqForecaster` models, all with the same inputs,
            horizon and targets.

    Raises:
        ValueError: when ``members`` is empty.
    """

    def __init__(self, members, **kwargs):
        super().__init__(**kwargs)
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = list(members)

    def call(self, inputs, training=None):
        forecasts = [member(inputs, training=training) for member in self.members]
        return ops.mean(ops.stack(forecasts, axis=0), axis=0)

    def example_inputs(self, batch: int = 1) -> dict:
        """Zero inputs of the right shapes (see :meth:`Seq2SeqForecaster.example_inputs`)."""
        return self.members[0].example_inputs(batch)

    def get_config(self):
        return {**super().get_config(),
                "members": [keras.saving.serialize_keras_object(m) for m in self.members]}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        members = [keras.saving.deserialize_keras_object(m) for m in config.pop("members")]
        return cls(members, **config)
