"""WeightAveraging: a bias-corrected moving average of the weights, validated and kept."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
import keras  # noqa: E402

from conftest import moving_average, raw_weights_recorder  # noqa: E402

from sentiment.models.weight_averaging import WeightAveraging  # noqa: E402


def _model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="tanh"),
                              keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    return model


def _data(n=40, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    return x, (x @ np.array([1.0, -2.0, 0.5, 3.0], "float32"))[:, None]


def test_the_model_ends_with_the_bias_corrected_average_of_its_steps():
    model, (x, y), raw = _model(), _data(), raw_weights_recorder()
    model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0,
              callbacks=[WeightAveraging(0.9), raw])
    assert len(raw.after_batch) == 10
    expected = moving_average(raw.after_batch, 0.9)
    for weight, average, last in zip(model.trainable_weights, expected, raw.after_batch[-1]):
        np.testing.assert_allclose(weight.numpy(), average, rtol=1e-5, atol=1e-6)
        assert not np.allclose(average, last)  # the average is not the last step's weights


def test_validation_sees_the_average_and_training_resumes_from_the_raw_weights():
    model, (x, y), raw = _model(), _data(), raw_weights_recorder()
    x_val, y_val = _data(16, seed=2)
    history = model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0,
                        validation_data=(x_val, y_val),
                        callbacks=[WeightAveraging(0.9), raw])
    # epoch 2 started from epoch 1's last raw weights, not from the average swapped in
    for started, raw_end in zip(raw.at_epoch_begin[1], raw.after_batch[4]):
        np.testing.assert_array_equal(started, raw_end)
    # epoch 1's validation loss is the loss of the average of its 5 steps
    check = _model()
    check.set_weights(moving_average(raw.after_batch[:5], 0.9))
    assert history.history["val_loss"][0] == pytest.approx(
        check.evaluate(x_val, y_val, verbose=0), rel=1e-5)


def test_early_stopping_after_it_restores_averaged_weights():
    model, (x, y), raw = _model(), _data(), raw_weights_recorder()
    x_val, y_val = _data(16, seed=2)
    stopping = keras.callbacks.EarlyStopping(patience=5, restore_best_weights=True)
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0,
              validation_data=(x_val, y_val),
              callbacks=[WeightAveraging(0.9), stopping, raw])
    for best, average in zip(stopping.best_weights, moving_average(raw.after_batch, 0.9)):
        np.testing.assert_allclose(best, average, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("momentum", [0.0, 1.0, -0.5])
def test_momentum_out_of_range_is_an_error(momentum):
    with pytest.raises(ValueError, match=f"momentum must be in \\(0, 1\\); received {momentum}"):
        WeightAveraging(momentum)
