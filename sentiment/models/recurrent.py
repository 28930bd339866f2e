"""GRU and LSTM layers whose input projection runs once per sequence, not once per step.

Keras' generic recurrent loop (what runs wherever no fused kernel applies: on a CPU, or any
masked layer outside cuDNN) calls the cell at every time step, and the cell multiplies that
step's input by the input kernel: ``time`` small ``(batch, input_dim) @ (input_dim, gates)``
products forward, and as many kernel-gradient products accumulated step by step backward.
The input projection does not depend on the recurrent state, so it can be taken out of the
loop as one ``(batch * time, input_dim) @ (input_dim, gates)`` product, which is what cuDNN
and PyTorch's CPU kernels do internally; the loop is then left with the recurrent product and
the gates. docs/benchmarks/imdb.md records what this gains for the default classifier's
training steps on a CPU.

:class:`HoistedGRU` and :class:`HoistedLSTM` are ``keras.layers.GRU`` / ``keras.layers.LSTM``
with the same weights, the same arguments and the same arithmetic (up to float rounding); only
the loop differs. On a TensorFlow GPU they hand over to the parent layer, which uses cuDNN when
the mask is right-padded. Where hoisting does not apply (input or recurrent dropout inside the
layer, ``reset_after=False``, ``unroll=True``) they also hand over to the parent.
"""

from __future__ import annotations

import keras
from keras import ops

# The generic recurrent loop Keras' own RNN layers call (keras/src/layers/rnn/rnn.py); Keras
# exports no public name for it, and keras.layers.RNN would need a cell of its own, which would
# lose the GRU/LSTM layers' cuDNN path and weight layout. This is the package's only import of
# a private Keras module; tests/models/test_recurrent.py checks its path and arguments.
KERAS_RNN_PATH = "keras.src.backend.rnn"
try:
    from keras.src.backend import rnn as keras_rnn
except ImportError as error:  # pragma: no cover - only with a Keras that moved it
    raise ImportError(
        f"sentiment.models.recurrent needs Keras' generic recurrent loop {KERAS_RNN_PATH}, "
        f"which Keras {keras.__version__} does not have there; install the Keras version "
        "setup.cfg pins (with tensorflow 2.21) or update this import") from error


def _fused_kernel_available() -> bool:
    """True where Keras' TensorFlow backend may run the layer as one cuDNN kernel (a GPU is
    visible); the hoisted loop is for everywhere else."""
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return bool(tf.config.list_logical_devices("GPU"))


class _HoistedInputProjection:
    """Mixin for a Keras GRU/LSTM layer: ``inner_loop`` projects the whole sequence once and
    runs the subclass's recurrent step (``projected_step``) in Keras' generic loop, or hands
    over to the Keras layer where that does not apply."""

    def _hoistable(self, training) -> bool:
        return (not self.unroll and not self.recurrent_dropout
                and not (training and self.dropout) and not _fused_kernel_available())

    def input_projection(self, inputs):
        """``inputs (..., input_dim)`` -> ``(..., gates)``: the inputs times the input kernel
        plus the input bias, what the recurrent step adds to its own product."""
        raise NotImplementedError

    def projected_step(self):
        """The recurrent step on projected inputs: ``step(projected_t (batch, gates), states)
        -> (output (batch, units), states)``, states a list as ``keras.layers.GRU`` / ``LSTM``
        keep them."""
        raise NotImplementedError

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if not self._hoistable(training):
            return super().inner_loop(sequences, initial_state, mask, training=training)
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        states = (list(initial_state) if isinstance(initial_state, (list, tuple))
                  else [initial_state])
        projected, step = self.input_projection(sequences), self.projected_step()
        # the generic loop Keras' own RNN layers call, on the projected inputs
        return keras_rnn(step, projected, states, go_backwards=self.go_backwards, mask=mask,
                         unroll=False, input_length=projected.shape[1],
                         zero_output_for_mask=self.zero_output_for_mask,
                         return_all_outputs=self.return_sequences)


@keras.saving.register_keras_serializable(package="sentiment")
class HoistedGRU(_HoistedInputProjection, keras.layers.GRU):
    """``keras.layers.GRU`` with the input projection taken out of the recurrent loop.

    Same constructor, weights (``kernel (input_dim, 3 * units)``, ``recurrent_kernel
    (units, 3 * units)``, ``bias (2, 3 * units)``; gates in Keras' order z, r, h) and call
    signature as ``keras.layers.GRU``: ``(batch, time, input_dim)`` with an optional
    ``(batch, time)`` bool mask -> ``(batch, units)`` or ``(batch, time, units)`` with
    ``return_sequences``. See the module docstring for why and when the loop differs.
    """

    def _hoistable(self, training) -> bool:
        return self.cell.reset_after and super()._hoistable(training)

    def input_projection(self, inputs):
        cell = self.cell
        # (..., input_dim) @ (input_dim, 3 * units) -> (..., 3 * units)
        projected = ops.matmul(inputs, cell.kernel)
        return projected + cell.bias[0] if cell.use_bias else projected

    def projected_step(self):
        cell = self.cell
        recurrent_bias = cell.bias[1] if cell.use_bias else None

        def step(x_t, states):
            h_tm1 = states[0]
            inner = ops.matmul(h_tm1, cell.recurrent_kernel)  # (batch, 3 * units)
            if recurrent_bias is not None:
                inner = inner + recurrent_bias
            x_z, x_r, x_h = ops.split(x_t, 3, axis=-1)
            inner_z, inner_r, inner_h = ops.split(inner, 3, axis=-1)
            z = cell.recurrent_activation(x_z + inner_z)
            r = cell.recurrent_activation(x_r + inner_r)
            hh = cell.activation(x_h + r * inner_h)
            h = z * h_tm1 + (1 - z) * hh
            return h, [h]

        return step


@keras.saving.register_keras_serializable(package="sentiment")
class HoistedLSTM(_HoistedInputProjection, keras.layers.LSTM):
    """``keras.layers.LSTM`` with the input projection taken out of the recurrent loop.

    Same constructor, weights (``kernel (input_dim, 4 * units)``, ``recurrent_kernel
    (units, 4 * units)``, ``bias (4 * units,)``; gates in Keras' order i, f, c, o) and call
    signature as ``keras.layers.LSTM``: ``(batch, time, input_dim)`` with an optional
    ``(batch, time)`` bool mask -> ``(batch, units)`` or ``(batch, time, units)`` with
    ``return_sequences``. See the module docstring for why and when the loop differs.
    """

    def input_projection(self, inputs):
        cell = self.cell
        # (..., input_dim) @ (input_dim, 4 * units) -> (..., 4 * units)
        projected = ops.matmul(inputs, cell.kernel)
        return projected + cell.bias if cell.use_bias else projected

    def projected_step(self):
        cell = self.cell

        def step(x_t, states):
            h_tm1, c_tm1 = states
            z = x_t + ops.matmul(h_tm1, cell.recurrent_kernel)  # (batch, 4 * units)
            z_i, z_f, z_c, z_o = ops.split(z, 4, axis=-1)
            i = cell.recurrent_activation(z_i)
            f = cell.recurrent_activation(z_f)
            c = f * c_tm1 + i * cell.activation(z_c)
            o = cell.recurrent_activation(z_o)
            h = o * cell.activation(c)
            return h, [h, c]

        return step
