"""Adversarial training: one step equals the fast gradient method computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

import tensorflow as tf
import keras

from sentiment.config import ClassifierConfig
from sentiment.models.adversarial import AdversarialTraining
from sentiment.models.classifier import build_classifier
from sentiment.models.optimizers import LazyAdam

VOCABULARY = 30


def _classifier(arch: str, seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    config = ClassifierConfig(arch=arch, embedding_dim=6, units=4, filters=3,
                              kernel_sizes=(2, 3), dropout=0.0, labels=("neg", "pos"),
                              label_values=("0", "1"))
    return build_classifier(config, VOCABULARY)


def _batch():
    rng = np.random.default_rng(1)
    ids = rng.integers(1, VOCABULARY, size=(8, 7)).astype("int32")
    ids[:3, 4:] = 0  # right padding
    ids[0, :2] = 5   # a repeated row
    return ids, rng.integers(0, 2, size=8).astype("int32")


def _by_hand(model: keras.Model, ids, labels, epsilon: float, learning_rate: float):
    """The weights after one SGD step on loss(E) + loss(E + r), r = eps g / ||g|| (dense)."""
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    table = model.get_layer("embedding").embeddings
    variables = model.trainable_variables

    def gradients():
        with tf.GradientTape() as tape:
            loss = loss_fn(labels, model(ids, training=True))
        return [tf.convert_to_tensor(g) for g in tape.gradient(loss, variables)]

    clean = gradients()
    g = clean[[v is table for v in variables].index(True)]
    start = table.numpy()
    table.assign(start + epsilon * g / tf.norm(g))
    perturbed = gradients()
    table.assign(start)
    return [v.numpy() - learning_rate * (a + b).numpy()
            for v, a, b in zip(variables, clean, perturbed)]


@pytest.mark.parametrize("arch", ["gru", "cnn"])
def test_one_step_is_the_fast_gradient_method(arch):
    ids, labels = _batch()
    expected = _by_hand(_classifier(arch), ids, labels, epsilon=0.5, learning_rate=0.1)
    model = _classifier(arch)
    trainer = AdversarialTraining(model, 0.5)
    trainer.compile(optimizer=keras.optimizers.SGD(0.1),
                    loss=keras.losses.SparseCategoricalCrossentropy())
    trainer.fit(ids, labels, batch_size=len(ids), epochs=1, shuffle=False, verbose=0)
    for got, want in zip(model.trainable_variables, expected):
        np.testing.assert_allclose(got.numpy(), want, atol=1e-6)


def test_perturbation_is_removed_exactly_and_reported_loss_is_the_clean_one():
    ids, labels = _batch()
    model = _classifier("gru")
    before = [w.numpy() for w in model.weights]
    trainer = AdversarialTraining(model, 2.0)
    trainer.compile(optimizer=keras.optimizers.SGD(0.0),
                    loss=keras.losses.SparseCategoricalCrossentropy())
    history = trainer.fit(ids, labels, batch_size=len(ids), epochs=1, verbose=0)
    for got, want in zip(model.weights, before):
        assert np.array_equal(got.numpy(), want)  # a zero step leaves every weight as it was
    plain = _classifier("gru")  # the same model fitted without the adversarial term
    plain.compile(optimizer=keras.optimizers.SGD(0.0),
                  loss=keras.losses.SparseCategoricalCrossentropy())
    clean = plain.fit(ids, labels, batch_size=len(ids), epochs=1, verbose=0).history["loss"]
    assert history.history["loss"] == pytest.approx(clean, rel=1e-6)


def test_lazy_adam_moves_only_the_rows_the_batch_uses():
    ids, labels = _batch()
    model = _classifier("gru")
    table = model.get_layer("embedding").embeddings
    before = table.numpy()
    trainer = AdversarialTraining(model, 1.0)
    trainer.compile(optimizer=LazyAdam(1e-2), loss=keras.losses.SparseCategoricalCrossentropy())
    trainer.fit(ids, labels, batch_size=len(ids), epochs=1, verbose=0)
    used = np.unique(ids[ids > 0])
    unused = np.setdiff1d(np.arange(VOCABULARY), np.append(used, 0))
    assert np.array_equal(table.numpy()[unused], before[unused])
    assert (table.numpy()[used] != before[used]).any(axis=1).all()


def test_rejects_a_bad_epsilon_and_a_model_without_embedding():
    with pytest.raises(ValueError, match="epsilon must be > 0; received 0"):
        AdversarialTraining(_classifier("gru"), 0)
    inputs = keras.Input((3,))
    plain = keras.Model(inputs, keras.layers.Dense(2)(inputs), name="plain")
    with pytest.raises(ValueError, match="plain has no layer named 'embedding'"):
        AdversarialTraining(plain, 1.0)
