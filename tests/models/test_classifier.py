import numpy as np
import pytest

from sentiment.config import ClassifierConfig
from sentiment.models.classifier import (MaskedGlobalMaxPooling1D, average_classifiers,
                                         build_classifier, classifier_members)

VOCABULARY_SIZE = 50


def random_ids(rng, length):
    return rng.integers(2, VOCABULARY_SIZE, size=length).astype(np.int32)


def padded(rows):
    out = np.zeros((len(rows), max(len(r) for r in rows)), dtype=np.int32)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row
    return out


@pytest.mark.parametrize("arch,pooling", [
    ("lstm", "last"), ("lstm", "max"), ("gru", "mean"), ("gru", "last"),
    ("bilstm", "max"), ("bilstm", "last"), ("bigru", "mean"), ("bigru", "max"),
])
def test_padding_never_changes_a_prediction(arch, pooling):
    config = ClassifierConfig(arch=arch, pooling=pooling, embedding_dim=8, units=6,
                              layers=2 if arch == "bigru" else 1, labels=("a", "b", "c"))
    model = build_classifier(config, VOCABULARY_SIZE)
    rng = np.random.default_rng(0)
    short = random_ids(rng, 7)
    long = random_ids(rng, 600)
    alone = model(padded([short]), training=False).numpy()[0]
    beside_long = model(padded([short, long]), training=False).numpy()[0]
    assert alone.shape == (3,)
    np.testing.assert_allclose(alone, beside_long, atol=1e-5)
    np.testing.assert_allclose(alone.sum(), 1.0, rtol=1e-5)


@pytest.mark.parametrize("arch,pooling", [("gru", "max"), ("cnn", "max"), ("cnn-lstm", "last")])
def test_embedding_dropout_keeps_the_mask_and_padding_invariance(arch, pooling):
    config = ClassifierConfig(arch=arch, pooling=pooling, embedding_dim=8, units=6, filters=4,
                              embedding_dropout=0.5, labels=("a", "b"))
    model = build_classifier(config, VOCABULARY_SIZE)
    assert model.get_layer("embedding_dropout").rate == 0.5
    rng = np.random.default_rng(1)
    short, long = random_ids(rng, 5), random_ids(rng, 600)
    alone = model(padded([short]), training=False).numpy()[0]
    beside_long = model(padded([short, long]), training=False).numpy()[0]
    np.testing.assert_allclose(alone, beside_long, atol=1e-5)
    without = build_classifier(config.replace(embedding_dropout=0.0), VOCABULARY_SIZE)
    assert "embedding_dropout" not in [layer.name for layer in without.layers]


def test_an_ensemble_averages_its_members_and_keeps_padding_invariance():
    import keras

    config = ClassifierConfig(arch="cnn-gru", embedding_dim=8, units=6, filters=4,
                              labels=("a", "b", "c"), ensemble=3)
    previous = keras.mixed_precision.global_policy().name
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = build_classifier(config, VOCABULARY_SIZE)
    finally:
        keras.mixed_precision.set_global_policy(previous)
    members = classifier_members(model)
    assert [member.name for member in members] == ["member_0", "member_1", "member_2"]
    rng = np.random.default_rng(2)
    short, long = random_ids(rng, 5), random_ids(rng, 600)
    batch = padded([short, long])
    out = model(batch, training=False)
    assert "float32" in str(out.dtype) and out.shape == (2, 3)
    each = np.stack([member(batch, training=False).numpy() for member in members])
    assert np.abs(each[0] - each[1]).max() > 1e-4  # members start from different weights
    np.testing.assert_allclose(out.numpy(), each.mean(axis=0), atol=1e-6)
    alone = model(padded([short]), training=False).numpy()[0]
    np.testing.assert_allclose(alone, out.numpy()[0], atol=1e-5)
    single = build_classifier(config.replace(ensemble=1), VOCABULARY_SIZE)
    assert classifier_members(single) == [single]


def test_average_classifiers_needs_members_with_distinct_names():
    config = ClassifierConfig(units=4, embedding_dim=4, labels=("a", "b"))
    with pytest.raises(ValueError, match="at least one member"):
        average_classifiers([])
    twins = [build_classifier(config, VOCABULARY_SIZE, name="twin") for _ in range(2)]
    with pytest.raises(ValueError, match="distinct names; received \\['twin', 'twin'\\]"):
        average_classifiers(twins)


def test_output_is_float32_probabilities_under_mixed_precision():
    import keras

    previous = keras.mixed_precision.global_policy().name
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = build_classifier(ClassifierConfig(units=4, embedding_dim=4, labels=("a", "b")),
                                 VOCABULARY_SIZE)
    finally:
        keras.mixed_precision.set_global_policy(previous)
    out = model(padded([[2, 3, 4]]), training=False)
    assert "float32" in str(out.dtype) and out.shape == (1, 2)
    assert any("bfloat16" in str(w.dtype) for w in model.weights) is False  # variables: float32
    assert model.get_layer("embedding").compute_dtype == "bfloat16"


def test_masked_max_pooling_ignores_padded_steps():
    values = np.array([[[1.0, -5.0], [2.0, -3.0], [100.0, 100.0]]], dtype=np.float32)
    mask = np.array([[True, True, False]])
    out = MaskedGlobalMaxPooling1D()(values, mask=mask)
    np.testing.assert_allclose(np.asarray(out), [[2.0, -3.0]])
