"""HoistedGRU / HoistedLSTM compute what keras.layers.GRU / LSTM compute, with the same weights."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from sentiment.models.recurrent import HoistedGRU, HoistedLSTM

PAIRS = [(HoistedGRU, keras.layers.GRU), (HoistedLSTM, keras.layers.LSTM)]


def test_the_private_keras_loop_is_where_and_what_the_layers_expect():
    """Fails, naming the path, when a Keras upgrade moves or changes the generic recurrent loop
    that sentiment.models.recurrent imports (its only private Keras dependency)."""
    import importlib
    import inspect

    from sentiment.models import recurrent

    module, name = recurrent.KERAS_RNN_PATH.rsplit(".", 1)
    loop = getattr(importlib.import_module(module), name, None)
    assert loop is recurrent.keras_rnn, f"{recurrent.KERAS_RNN_PATH} moved in Keras " \
                                        f"{keras.__version__}"
    parameters = inspect.signature(loop).parameters
    for argument in ("step_function", "inputs", "initial_states", "go_backwards", "mask",
                     "unroll", "input_length", "zero_output_for_mask", "return_all_outputs"):
        assert argument in parameters, f"{recurrent.KERAS_RNN_PATH} lost {argument!r}"


def inputs_and_mask():
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(5, 9, 7)).astype("float32"))  # (batch, time, features)
    lengths = np.array([9, 3, 1, 6, 9])
    mask = tf.constant(np.arange(9)[None, :] < lengths[:, None])   # right-padded
    return x, mask


def twin_layers(new, old, **kwargs):
    """A Keras layer and its hoisted twin holding the same weights."""
    reference, hoisted = old(4, **kwargs), new(4, **kwargs)
    reference.build((None, None, 7))
    hoisted.build((None, None, 7))
    hoisted.set_weights(reference.get_weights())
    return reference, hoisted


def outputs_and_gradients(layer, x, mask):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, mask=mask)
        loss = tf.reduce_sum(y * y)
    return y.numpy(), [g.numpy() for g in tape.gradient(loss, [x, *layer.trainable_weights])]


@pytest.mark.parametrize("new,old", PAIRS)
@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_same_outputs_and_gradients_as_keras(new, old, return_sequences, go_backwards):
    x, mask = inputs_and_mask()
    reference, hoisted = twin_layers(new, old, return_sequences=return_sequences,
                                     go_backwards=go_backwards)
    y_ref, grads_ref = outputs_and_gradients(reference, x, mask)
    y_new, grads_new = outputs_and_gradients(hoisted, x, mask)
    assert y_new.shape == y_ref.shape == ((5, 9, 4) if return_sequences else (5, 4))
    np.testing.assert_allclose(y_new, y_ref, atol=1e-6)
    for g_new, g_ref in zip(grads_new, grads_ref):
        np.testing.assert_allclose(g_new, g_ref, atol=1e-5)


@pytest.mark.parametrize("new,old", PAIRS)
def test_bidirectional_wrapper_builds_a_hoisted_backward_layer(new, old):
    x, mask = inputs_and_mask()
    reference = keras.layers.Bidirectional(old(4, return_sequences=True))
    hoisted = keras.layers.Bidirectional(new(4, return_sequences=True))
    reference.build((None, None, 7))
    hoisted.build((None, None, 7))
    hoisted.set_weights(reference.get_weights())
    assert type(hoisted.backward_layer) is new and hoisted.backward_layer.go_backwards
    np.testing.assert_allclose(hoisted(x, mask=mask).numpy(), reference(x, mask=mask).numpy(),
                               atol=1e-6)


@pytest.mark.parametrize("new,old", PAIRS)
def test_mixed_precision_keeps_the_compute_dtype(new, old):
    previous = keras.mixed_precision.global_policy().name
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        x, mask = inputs_and_mask()
        reference, hoisted = twin_layers(new, old, return_sequences=True)
        x = tf.cast(x, "bfloat16")
        y_ref, y_new = reference(x, mask=mask), hoisted(x, mask=mask)
    finally:
        keras.mixed_precision.set_global_policy(previous)
    assert y_new.dtype == y_ref.dtype == tf.bfloat16
    assert hoisted.cell.kernel.dtype == "float32"
    np.testing.assert_allclose(tf.cast(y_new, "float32").numpy(),
                               tf.cast(y_ref, "float32").numpy(), atol=2e-2)


@pytest.mark.parametrize("new,old", PAIRS)
def test_layer_dropout_hands_over_to_keras_loop(new, old):
    x, mask = inputs_and_mask()
    layer = new(4, dropout=0.5, recurrent_dropout=0.2, return_sequences=True, seed=1)
    assert layer(x, mask=mask, training=True).shape == (5, 9, 4)
    assert not layer._hoistable(training=True)
    assert new(4, dropout=0.5)._hoistable(training=False)
    reference, hoisted = twin_layers(new, old, dropout=0.5)  # inference: no dropout, hoisted
    np.testing.assert_allclose(hoisted(x, mask=mask).numpy(), reference(x, mask=mask).numpy(),
                               atol=1e-6)


@pytest.mark.parametrize("new,old", PAIRS)
def test_round_trip_through_keras_saving(tmp_path, new, old):
    x, mask = inputs_and_mask()
    inputs = keras.Input((None, 7))
    model = keras.Model(inputs, new(4, name="encoder")(inputs))
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded.get_layer("encoder")) is new
    np.testing.assert_allclose(loaded(x).numpy(), model(x).numpy(), atol=1e-7)
