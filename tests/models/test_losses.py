"""The regression losses of --regression-loss (sentiment.models.losses.regression_loss)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from sentiment.models.losses import regression_loss


def test_each_regression_loss_is_the_one_named():
    y_true = np.array([[0.0], [0.0], [0.0]], np.float32)
    y_pred = np.array([[0.5], [-2.0], [3.0]], np.float32)
    errors = np.abs(y_pred - y_true)[:, 0]
    expected = {"mse": np.mean(errors ** 2), "mae": np.mean(errors),
                "huber": np.mean(np.where(errors <= 1, 0.5 * errors ** 2, errors - 0.5))}
    for name, value in expected.items():
        assert float(regression_loss(name)(y_true, y_pred)) == pytest.approx(value, rel=1e-6)
    assert isinstance(regression_loss("mae"), keras.losses.MeanAbsoluteError)
    with pytest.raises(ValueError, match="mse, huber or mae; received 'l3'"):
        regression_loss("l3")


def test_mean_absolute_error_fits_the_median_of_two_clumps():
    """Targets in two clumps (IMDB's 1-4 and 7-10 stars): a constant fitted with the mean
    absolute error lands in the larger clump, with mean squared error between the clumps."""
    y = np.array([[1.0]] * 3 + [[9.0]] * 4, np.float32)
    fitted = {}
    for name in ("mse", "mae"):
        constant = keras.Variable(np.zeros((1, 1), np.float32))
        optimizer = keras.optimizers.SGD(0.2)
        loss = regression_loss(name)
        for _ in range(600):
            with tf.GradientTape() as tape:
                value = loss(y, tf.broadcast_to(constant, y.shape))
            optimizer.apply([tape.gradient(value, constant)], [constant])
        fitted[name] = float(constant.numpy()[0, 0])
    assert fitted["mse"] == pytest.approx(y.mean(), abs=0.05)
    assert fitted["mae"] > 8.5  # the median, 9
