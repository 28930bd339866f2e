"""The inference forward pass (no mask inside the recurrent loops, the first projection as a
table lookup) equals the Keras model for every recurrent layout, keeps padding invariance,
and declines the layouts it does not cover."""

import numpy as np
import pytest

from sentiment.config import ClassifierConfig

VOCABULARY_SIZE = 40

RECURRENT = [
    ("gru", "max", 1, 1),
    ("gru", "mean", 2, 1),
    ("gru", "last", 1, 1),
    ("lstm", "last", 2, 1),
    ("lstm", "attention", 1, 1),
    ("bigru", "max", 2, 1),
    ("bigru", "last", 1, 1),
    ("bilstm", "mean", 1, 1),
    ("bilstm", "attention", 2, 1),
    ("gru", "max", 1, 2),  # an ensemble of two
]


def config(arch, pooling, layers=1, ensemble=1, **changes):
    return ClassifierConfig(arch=arch, pooling=pooling, layers=layers, ensemble=ensemble,
                            embedding_dim=8, units=6, filters=4, kernel_sizes=(2, 3),
                            labels=("a", "b", "c"), **changes)


def randomized(model, seed=0):
    """``model`` with every weight drawn at random (biases too, so none is trivially 0)."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 0.5, w.shape).astype(w.dtype) for w in model.get_weights()])
    return model


def padded_batch(rng, lengths, time=None):
    time = time or max(lengths)
    ids = np.zeros((len(lengths), time), dtype=np.int32)
    for row, n in enumerate(lengths):
        ids[row, :n] = rng.integers(1, VOCABULARY_SIZE, size=n)
    return ids


def compiled(function):
    import tensorflow as tf

    return tf.function(function, input_signature=[tf.TensorSpec((None, None), tf.int32)])


@pytest.mark.parametrize("arch,pooling,layers,ensemble", RECURRENT)
def test_equals_the_keras_model(arch, pooling, layers, ensemble):
    from sentiment.models.classifier import build_classifier
    from sentiment.models.inference import inference_function

    model = randomized(build_classifier(config(arch, pooling, layers, ensemble),
                                        VOCABULARY_SIZE))
    fast = inference_function(model)
    assert fast is not None
    rng = np.random.default_rng(1)
    # ragged lengths incl. one token and a row with no padding; extra padding columns
    ids = padded_batch(rng, [1, 2, 5, 9, 17, 17, 3], time=23)
    expected = compiled(lambda x: model(x, training=False))(ids).numpy()
    got = compiled(fast)(ids).numpy()
    assert got.shape == expected.shape == (7, 3)
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert not np.allclose(got[0], got[3])  # distinct rows: the comparison means something


@pytest.mark.parametrize("arch,pooling", [("bigru", "last"), ("lstm", "max")])
def test_padding_never_changes_a_prediction(arch, pooling):
    from sentiment.models.classifier import build_classifier
    from sentiment.models.inference import inference_function

    forward = compiled(inference_function(randomized(build_classifier(config(arch, pooling),
                                                                      VOCABULARY_SIZE))))
    rng = np.random.default_rng(2)
    short = padded_batch(rng, [4])
    alone = forward(short).numpy()[0]
    beside_long = np.zeros((2, 300), dtype=np.int32)
    beside_long[0, :4] = short[0]
    beside_long[1] = rng.integers(1, VOCABULARY_SIZE, size=300)
    np.testing.assert_allclose(forward(beside_long).numpy()[0], alone, atol=1e-6)


def test_the_table_and_the_plain_projection_agree(monkeypatch):
    """Above MAX_TABLE_ELEMENTS the embedding is gathered and projected per batch instead."""
    from sentiment.models import inference
    from sentiment.models.classifier import build_classifier

    model = randomized(build_classifier(config("bigru", "max", 2), VOCABULARY_SIZE))
    ids = padded_batch(np.random.default_rng(3), [3, 8, 1])
    with_table = compiled(inference.inference_function(model))(ids).numpy()
    monkeypatch.setattr(inference, "MAX_TABLE_ELEMENTS", 0)
    member = inference.inference_function(model)
    assert all(d.table is None for layer in member.layers for d in layer)
    np.testing.assert_allclose(compiled(member)(ids).numpy(), with_table, atol=1e-6)


@pytest.mark.parametrize("arch,pooling,changes", [
    ("cnn", "max", {}),
    ("cnn-gru", "max", {}),
    ("fasttext", "mean", {}),
    ("gru", "max", {"dtype_policy": "mixed_bfloat16"}),
])
def test_other_layouts_keep_the_keras_model(arch, pooling, changes):
    import keras

    from sentiment.models.classifier import build_classifier
    from sentiment.models.inference import inference_function

    previous = keras.config.dtype_policy()
    try:
        if "dtype_policy" in changes:
            keras.config.set_dtype_policy(changes["dtype_policy"])
        model = build_classifier(config(arch, pooling), VOCABULARY_SIZE)
    finally:
        keras.config.set_dtype_policy(previous)
    assert inference_function(model) is None
