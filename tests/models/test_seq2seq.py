"""Seq2seq forecaster layers: output shapes, masking of missing inputs, teacher forcing,
RevIN, saving."""

from __future__ import annotations

import numpy as np
import pytest

import keras

from sentiment.models.seq2seq import (
    ReversibleInstanceNormalization,
    build_forecaster,
    masked_mse,
)


def inputs(model, batch=3, seed=0):
    rng = np.random.default_rng(seed)
    return {k: rng.normal(size=v.shape).astype("float32")
            for k, v in model.example_inputs(batch).items()}


@pytest.mark.parametrize("arch", ["gru", "lstm"])
@pytest.mark.parametrize("decoder", ["direct", "autoregressive"])
def test_both_decoders_output_batch_horizon_targets(arch, decoder):
    model = build_forecaster(lookback=10, horizon=7, inputs=3, targets=2, calendar=2,
                             arch=arch, decoder=decoder, units=4, layers=2, conv_filters=3)
    out = model(inputs(model))
    assert tuple(out.shape) == (3, 7, 2)
    assert np.asarray(out).dtype == np.float32


@pytest.mark.parametrize("options", [{"segment": 4}, {"channel_independent": True},
                                     {"arch": "linear"}, {"segment": 3, "decoder":
                                                          "autoregressive"}])
def test_segments_channel_independence_and_linear_keep_the_output_shape(options):
    model = build_forecaster(lookback=10, horizon=7, inputs=2, targets=2, calendar=1, units=4,
                             **options)
    assert tuple(model(inputs(model)).shape) == (3, 7, 2)


def test_nan_inputs_are_masked_not_propagated():
    model = build_forecaster(lookback=8, horizon=3, inputs=2, targets=2, units=4)
    x = inputs(model)
    x["past"][0, 2, 1] = np.nan  # one missing value
    x["past"][1, :5] = np.nan  # a gap of whole steps
    x["past"][2] = np.nan  # nothing observed at all
    out = np.asarray(model(x))
    assert np.isfinite(out).all()


def test_left_padded_history_gives_the_same_forecast_as_the_short_history():
    """Fully missing steps are masked: padding a 6-step history to 10 changes nothing."""
    short = build_forecaster(lookback=6, horizon=3, inputs=2, targets=1, units=5)
    long = build_forecaster(lookback=10, horizon=3, inputs=2, targets=1, units=5)
    long.set_weights(short.get_weights())
    history = inputs(short)["past"]
    padded = np.concatenate([np.full((3, 4, 2), np.nan, np.float32), history], axis=1)
    np.testing.assert_allclose(np.asarray(long({"past": padded})),
                               np.asarray(short({"past": history})), atol=1e-5)
    # ... whereas zeros (observed values) in place of the padding do change it.
    zeros = np.concatenate([np.zeros((3, 4, 2), np.float32), history], axis=1)
    assert not np.allclose(np.asarray(long({"past": zeros})),
                           np.asarray(short({"past": history})), atol=1e-4)


def test_teacher_forcing_feeds_the_previous_true_value_in_training_only():
    model = build_forecaster(lookback=6, horizon=5, inputs=1, targets=1, units=4,
                             decoder="autoregressive", revin=False)
    x = {"past": inputs(model)["past"]}
    teacher = np.zeros((3, 5, 1), np.float32)
    changed = teacher.copy()
    changed[:, 2] = 5.0
    a = np.asarray(model(x, training=True, teacher=teacher))
    b = np.asarray(model(x, training=True, teacher=changed))
    np.testing.assert_allclose(a[:, :3], b[:, :3], atol=1e-6)  # steps up to 2 unaffected
    assert not np.allclose(a[:, 3], b[:, 3])  # step 3 sees the true value of step 2
    c = np.asarray(model(x, training=False, teacher=changed))
    d = np.asarray(model(x, training=False))
    np.testing.assert_allclose(c, d, atol=1e-6)  # inference feeds back its own predictions


def test_revin_normalizes_each_window_and_restores_it():
    layer = ReversibleInstanceNormalization()
    x = np.array([[[1.0, 10.0], [3.0, 30.0], [5.0, 0.0]]], np.float32)
    observed = np.array([[[1, 1], [1, 1], [1, 0]]], np.float32)
    normalized, mean, std = (np.asarray(t) for t in layer(x, observed))
    np.testing.assert_allclose(mean[0, 0], [3.0, 20.0], rtol=1e-6)
    np.testing.assert_allclose(normalized[0, :, 0], np.array([-2, 0, 2]) / np.sqrt(8 / 3),
                               rtol=1e-4)
    assert normalized[0, 2, 1] == 0  # unobserved stays 0
    restored = np.asarray(layer.denormalize(normalized[:, :2], mean, std))
    np.testing.assert_allclose(restored, x[:, :2], rtol=1e-4)


@pytest.mark.parametrize("decoder", ["direct", "autoregressive"])
def test_highway_adds_a_linear_map_of_each_targets_recent_history(decoder):
    """LSTNet's highway: forecast = recurrent part + Dense(horizon) of the last k values of
    each target, with the same weights for every target."""
    model = build_forecaster(lookback=10, horizon=4, inputs=3, targets=2, units=4, revin=False,
                             decoder=decoder, highway=3)
    x = inputs(model)
    highway = model.get_layer("highway")
    rng = np.random.default_rng(1)
    kernel = rng.normal(size=(3, 4)).astype("float32")
    bias = rng.normal(size=(4,)).astype("float32")
    highway.set_weights([np.zeros_like(kernel), np.zeros_like(bias)])
    recurrent_only = np.asarray(model(x))
    highway.set_weights([kernel, bias])
    recent = x["past"][:, -3:, :2]  # (batch, 3, targets)
    expected = recurrent_only + np.einsum("bkt,kh->bht", recent, kernel) + bias[None, :, None]
    np.testing.assert_allclose(np.asarray(model(x)), expected, rtol=1e-5, atol=1e-5)


def test_highway_longer_than_the_lookback_is_refused():
    with pytest.raises(ValueError, match="highway"):
        build_forecaster(lookback=5, horizon=2, inputs=1, targets=1, highway=6)


def test_masked_mse_ignores_missing_targets():
    y_true = np.array([[[1.0], [np.nan]], [[np.nan], [np.nan]]], np.float32)
    y_pred = np.array([[[3.0], [100.0]], [[7.0], [7.0]]], np.float32)
    np.testing.assert_allclose(np.asarray(masked_mse(y_true, y_pred)), [4.0, 0.0])


def test_save_and_load_round_trip(tmp_path):
    model = build_forecaster(lookback=8, horizon=4, inputs=2, targets=2, calendar=1, units=4,
                             decoder="autoregressive", segment=2, conv_filters=2, highway=3)
    x = inputs(model)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", compile=False)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), atol=1e-6)
