"""The model over sequences of vectors (sentiment.models.sequence): the mask from the lengths,
padding invariance for every encoder, all-zero real frames, wide and one-feature frames."""

import numpy as np
import pytest

from sentiment.config.sequence import SequenceModelConfig
from sentiment.sequences.data import pad_sequences

ENCODERS = [dict(arch="gru"), dict(arch="lstm", pooling="last"), dict(arch="bigru", layers=2),
            dict(arch="bilstm", pooling="attention"), dict(arch="cnn"),
            dict(arch="cnn-gru", pooling="mean"), dict(arch="cnn-lstm", pool_size=3),
            dict(arch="gru", frame_units=8, pooling="mean")]


def model_of(features=12, **settings):
    import keras

    from sentiment.models.sequence import build_sequence_model

    keras.utils.set_random_seed(0)
    config = SequenceModelConfig(units=6, filters=5, kernel_sizes=(2, 3), features=features,
                                 labels=("a", "b", "c"), **settings)
    return build_sequence_model(config)


def run(model, sequences):
    values, lengths = pad_sequences(sequences)
    return np.asarray(model({"values": values, "lengths": lengths}, training=False))


@pytest.mark.parametrize("settings", ENCODERS, ids=lambda s: "-".join(map(str, s.values())))
def test_padding_never_changes_a_prediction(settings):
    model = model_of(**settings)
    rng = np.random.default_rng(0)
    short = rng.normal(size=(7, 12)).astype(np.float32)
    long = rng.normal(size=(29, 12)).astype(np.float32)
    alone = run(model, [short])[0]
    beside = run(model, [short, long])[0]  # padded with 22 zero frames
    np.testing.assert_allclose(alone, beside, atol=1e-6)
    # padding of any value: the mask comes from the lengths, not from the values
    values, lengths = pad_sequences([short, long])
    values[0, 7:] = 5.0
    np.testing.assert_allclose(
        np.asarray(model({"values": values, "lengths": lengths}))[0], alone, atol=1e-6)


@pytest.mark.parametrize("arch", ["gru", "cnn-gru"])
def test_a_real_all_zero_frame_is_not_masked(arch):
    model = model_of(arch=arch, pooling="mean")
    frames = np.random.default_rng(1).normal(size=(6, 12)).astype(np.float32)
    with_zero = np.concatenate([frames, np.zeros((2, 12), np.float32)])
    assert not np.allclose(run(model, [frames])[0], run(model, [with_zero])[0], atol=1e-6)


def test_the_length_mask():
    from sentiment.models.sequence import LengthMask

    mask = LengthMask()([np.zeros((2, 4, 1), np.float32), np.array([1, 4], np.int32)])
    assert np.asarray(mask).tolist() == [[True, False, False, False], [True] * 4]


@pytest.mark.parametrize("features,length", [(512, 5), (1, 9)])
def test_wide_and_one_number_frames_train_a_step(features, length):
    model = model_of(features=features)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(2)
    values, lengths = pad_sequences([rng.normal(size=(length, features)).astype(np.float32),
                                     rng.normal(size=(2, features)).astype(np.float32)])
    before = [w.copy() for w in model.get_weights()]
    model.train_on_batch({"values": values, "lengths": lengths}, np.array([0, 2]))
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_regression_has_one_linear_float32_output():
    from sentiment.models.sequence import build_sequence_model

    model = build_sequence_model(SequenceModelConfig(task="regression", features=2, units=4))
    out = run(model, [np.ones((3, 2), np.float32)])
    assert out.shape == (1, 1) and out.dtype == np.float32
    assert model.get_layer("value").activation.__name__ == "linear"
