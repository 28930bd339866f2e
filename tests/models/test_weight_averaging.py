"""WeightAveraging: a moving average of the weights with a growing window, validated and
kept."""

from __future__ import annotations

import numpy as np
import pytest

import tensorflow as tf
import keras

from conftest import moving_average, raw_weights_recorder

from sentiment.models.weight_averaging import WeightAveraging, decay


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


def _loss(weights, x, y):
    check = _model()
    check.set_weights(weights)
    return check.evaluate(x, y, verbose=0)


def test_the_window_grows_as_a_quarter_of_the_steps_up_to_the_momentum():
    assert decay(1, 0.995) == 0.0  # the average starts as the first step's weights
    assert decay(2, 0.995) == 0.5 ** 4
    assert decay(100, 0.995) == pytest.approx(0.99 ** 4)  # about the last 25 steps
    assert 1 / (1 - decay(400, 0.995)) == pytest.approx(100, rel=0.01)
    assert decay(700, 0.995) < 0.995 == decay(900, 0.995) == decay(10**6, 0.995)
    assert decay(50, 0.9) == 0.9


def test_the_model_ends_with_the_moving_average_of_its_steps():
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
    assert history.history["val_loss"][0] == pytest.approx(
        _loss(moving_average(raw.after_batch[:5], 0.9), x_val, y_val), rel=1e-5)


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


class _EpochEndWeights(keras.callbacks.Callback):
    """The weights in the model at each epoch's end: what EarlyStopping records."""

    def on_train_begin(self, logs=None):
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append([w.numpy().copy() for w in self.model.trainable_weights])


# a small step still improving fast: the lagging average loses; a large, noisy one: it wins
@pytest.mark.parametrize("learning_rate, expected", [(0.05, "raw"), (0.6, "average")])
def test_with_validation_data_the_weights_of_lower_validation_loss_are_kept(learning_rate,
                                                                            expected):
    model, (x, y), raw, at_end = _model(), _data(64), raw_weights_recorder(), _EpochEndWeights()
    model.optimizer.learning_rate.assign(learning_rate)
    x_val, y_val = _data(32, seed=2)
    validation = tf.data.Dataset.from_tensor_slices((x_val, y_val)).batch(16)
    averaging = WeightAveraging(0.9, validation_data=validation)
    history = model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0,
                        validation_data=validation, callbacks=[averaging, raw, at_end])
    assert len(averaging.kept) == 3
    for epoch in range(3):
        steps = raw.after_batch[:8 * (epoch + 1)]
        candidates = {"average": moving_average(steps, 0.9), "raw": steps[-1]}
        losses = {name: _loss(weights, x_val, y_val) for name, weights in candidates.items()}
        assert averaging.kept[epoch] == min(losses, key=losses.get)
        # the logs (history, early stopping) report the kept weights' validation loss...
        assert history.history["val_loss"][epoch] == pytest.approx(min(losses.values()),
                                                                   rel=1e-5)
        # ...and the model holds them at the epoch's end
        for held, kept in zip(at_end.weights[epoch], candidates[averaging.kept[epoch]]):
            np.testing.assert_allclose(held, kept, rtol=1e-5, atol=1e-6)
        if epoch:  # training resumed from the raw weights either way
            for started, raw_end in zip(raw.at_epoch_begin[epoch], steps[-9]):
                np.testing.assert_array_equal(started, raw_end)
    assert averaging.kept == [expected] * 3
