"""Continuous batching's stepper: texts that join the running batch at different chunks and
leave when their last token is in get the Keras model's probabilities, for every
forward-only recurrent layout; other layouts get no stepper."""

import numpy as np
import pytest

from test_inference import VOCABULARY_SIZE, config, randomized

FORWARD_ONLY = [
    ("gru", "max", 1, 1),
    ("gru", "mean", 2, 1),
    ("gru", "last", 1, 1),
    ("lstm", "last", 2, 1),
    ("lstm", "mean", 1, 1),
    ("lstm", "max", 2, 1),
    ("gru", "max", 1, 2),  # an ensemble of two
]


def stream(stepper, rows, joins):
    """Drive ``stepper`` over token-id ``rows``: text ``i`` joins before chunk ``joins[i]``;
    each text's probabilities from the chunk that ran its last token."""
    chunk = stepper.chunk_steps
    lanes, owners, position = stepper.new_lanes(0), [], np.zeros(0, np.int64)
    out = np.full((len(rows), stepper.classes), np.nan, np.float32)
    call = 0
    while np.isnan(out).any():
        new = [i for i, at in enumerate(joins) if at == call]
        lanes = lanes.extend(stepper.new_lanes(len(new)))
        owners += new
        position = np.concatenate([position, np.zeros(len(new), np.int64)])
        call += 1
        if not owners:
            continue
        lengths = np.array([len(rows[i]) for i in owners], np.int32)
        tokens = np.zeros((len(owners), chunk), np.int32)
        for lane, (i, start) in enumerate(zip(owners, position)):
            piece = rows[i][start:start + chunk]
            tokens[lane, :len(piece)] = piece
        steps = np.minimum(lengths - position, chunk).astype(np.int32)
        lanes, probabilities = stepper.advance(lanes, tokens, steps, lengths)
        position = position + chunk
        done = position >= lengths
        for lane in np.flatnonzero(done):
            out[owners[lane]] = probabilities[lane]
        lanes, position = lanes.keep(~done), position[~done]
        owners = [i for i, d in zip(owners, done) if not d]
    return out


@pytest.mark.parametrize("arch,pooling,layers,ensemble", FORWARD_ONLY)
def test_streamed_texts_get_the_keras_models_probabilities(arch, pooling, layers, ensemble):
    from sentiment.models.classifier import build_classifier
    from sentiment.models.streaming import recurrent_stepper

    model = randomized(build_classifier(config(arch, pooling, layers, ensemble),
                                        VOCABULARY_SIZE))
    stepper = recurrent_stepper(model, chunk_steps=4)
    assert stepper is not None and stepper.classes == 3
    rng = np.random.default_rng(3)
    # lengths: one token, exactly one chunk, chunk + 1, several chunks; joins staggered so
    # lanes enter and leave mid-stream
    lengths = [1, 4, 5, 13, 2, 9, 8, 21]
    rows = [rng.integers(1, VOCABULARY_SIZE, size=n).astype(np.int32) for n in lengths]
    joins = [0, 0, 1, 1, 2, 3, 5, 6]
    got = stream(stepper, rows, joins)
    for row, probabilities in zip(rows, got):
        expected = model(row[None, :], training=False).numpy()[0]
        np.testing.assert_allclose(probabilities, expected, atol=1e-6)
    assert not np.allclose(got[0], got[3])  # distinct rows: the comparison means something


@pytest.mark.parametrize("arch,pooling", [("bigru", "max"), ("gru", "attention"),
                                          ("cnn", "max"), ("fasttext", "mean")])
def test_layouts_that_need_the_whole_text_get_no_stepper(arch, pooling):
    from sentiment.models.classifier import build_classifier
    from sentiment.models.streaming import recurrent_stepper

    assert recurrent_stepper(build_classifier(config(arch, pooling), VOCABULARY_SIZE)) is None


def test_chunk_steps_is_checked():
    from sentiment.models.classifier import build_classifier
    from sentiment.models.inference import recurrent_members
    from sentiment.models.streaming import RecurrentStepper

    members = recurrent_members(build_classifier(config("gru", "max"), VOCABULARY_SIZE))
    with pytest.raises(ValueError, match="chunk_steps must be an integer >= 1; received 0"):
        RecurrentStepper(members, chunk_steps=0)


def test_the_stepper_applies_a_temperature():
    from sentiment.calibration import apply_temperature
    from sentiment.models.classifier import build_classifier
    from sentiment.models.streaming import recurrent_stepper

    model = randomized(build_classifier(config("gru", "max"), VOCABULARY_SIZE))
    rows = [np.array([3, 5, 7, 9, 11], np.int32), np.array([2], np.int32)]
    got = stream(recurrent_stepper(model, chunk_steps=4, temperature=0.5), rows, [0, 0])
    expected = apply_temperature(np.stack([model(row[None, :], training=False).numpy()[0]
                                           for row in rows]), 0.5)
    np.testing.assert_allclose(got, expected, atol=1e-6)
