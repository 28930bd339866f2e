"""Temperature scaling: fitting lowers the log loss of a miscalibrated model, recovers a known
temperature, never changes the argmax, and 1.0 changes nothing."""

import numpy as np
import pytest

from sentiment.calibration import TEMPERATURE_RANGE, apply_temperature, fit_temperature
from sentiment.metrics import expected_calibration_error, log_loss


def sampled(temperature: float, n: int = 4000, classes: int = 3, seed: int = 0):
    """Labels drawn from softmax(z), and the over- or under-confident softmax(z * temperature)
    a miscalibrated model would report."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 2, (n, classes))
    true = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(classes, p=row) for row in true])
    reported = np.exp(logits * temperature)
    return labels, reported / reported.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("miscalibration", [2.5, 0.5])
def test_fitting_recovers_the_temperature_and_lowers_the_log_loss(miscalibration):
    labels, reported = sampled(miscalibration)
    temperature = fit_temperature(labels, reported)
    assert temperature == pytest.approx(miscalibration, rel=0.1)
    calibrated = apply_temperature(reported, temperature)
    assert log_loss(labels, calibrated) < log_loss(labels, reported) - 0.01
    assert expected_calibration_error(labels, calibrated) < \
        expected_calibration_error(labels, reported)
    np.testing.assert_array_equal(calibrated.argmax(axis=1), reported.argmax(axis=1))
    np.testing.assert_allclose(calibrated.sum(axis=1), 1.0, atol=1e-6)


def test_a_calibrated_model_keeps_a_temperature_near_one():
    labels, reported = sampled(1.0, seed=1)
    assert fit_temperature(labels, reported) == pytest.approx(1.0, abs=0.1)


def test_temperature_one_and_its_inverse():
    _, reported = sampled(1.0, n=50)
    np.testing.assert_allclose(apply_temperature(reported, 1.0), reported, atol=1e-7)
    there = apply_temperature(reported, 1.7)
    np.testing.assert_allclose(apply_temperature(there, 1 / 1.7), reported, atol=1e-5)
    assert apply_temperature(np.zeros((0, 2)), 2.0).shape == (0, 2)


def test_fitting_stays_in_range_and_checks_its_input():
    labels = np.array([0, 1, 0, 1])
    perfect = np.eye(2)[labels] * 0.98 + 0.01  # right and confident: sharpen to the limit
    low, high = TEMPERATURE_RANGE
    assert low <= fit_temperature(labels, perfect) <= low * 1.01
    with pytest.raises(ValueError, match="at least one row"):
        fit_temperature([], np.zeros((0, 2)))
    with pytest.raises(ValueError, match=r"shape \(3, 2\) do not match labels of shape \(4,\)"):
        fit_temperature(labels, np.full((3, 2), 0.5))


def test_a_validation_split_without_errors_keeps_temperature_one():
    from sentiment.calibration import calibrate

    labels = np.array([0, 1, 1, 0])
    right = np.eye(2)[labels] * 0.8 + 0.1
    result = calibrate(labels, right)
    assert result["temperature"] == 1.0 and "every validation prediction is right" in \
        result["skipped"]
    labels[0] = 1  # one error: a temperature is fitted
    assert "skipped" not in calibrate(labels, right)


def test_multi_label_temperature_lowers_the_binary_log_loss_and_keeps_each_order():
    from sentiment.calibration import apply_temperature, calibrate
    from sentiment.metrics import binary_log_loss

    rng = np.random.default_rng(0)
    truth = rng.random((400, 3))  # the true probability of each label
    y = (rng.random((400, 3)) < truth).astype(int)
    # over-confident predictions: the true logits doubled
    logits = 2 * (np.log(truth) - np.log1p(-truth))
    overconfident = 1 / (1 + np.exp(-logits))
    result = calibrate(y, overconfident, multi_label=True)
    assert 1.6 < result["temperature"] < 2.5
    change = result["validation"]
    assert change["log_loss_after"] < change["log_loss_before"]
    assert change["ece_after"] < change["ece_before"]
    scaled = apply_temperature(overconfident, result["temperature"], multi_label=True)
    assert binary_log_loss(y, scaled) == pytest.approx(change["log_loss_after"], rel=1e-5)
    # each label's probability is scaled alone: the order within a column never changes
    for column in range(3):
        assert (np.argsort(scaled[:, column], kind="stable")
                == np.argsort(overconfident[:, column], kind="stable")).all()
