"""Virtual adversarial training (sentiment.models.adversarial.VirtualAdversarialTraining)
and the perturbation twin of a classifier."""

from __future__ import annotations

import numpy as np
import pytest

from sentiment.config import ClassifierConfig, TrainingConfig
from sentiment.models.adversarial import (VirtualAdversarialTraining,
                                          virtual_adversarial_perturbation)
from sentiment.models.classifier import build_classifier

IDS = np.array([[5, 6, 7, 0, 0, 0], [3, 4, 5, 6, 7, 8], [9, 0, 0, 0, 0, 0]], dtype=np.int32)


def _tiny(arch="gru", **kwargs):
    return ClassifierConfig(arch=arch, units=8, embedding_dim=6, filters=4,
                            kernel_sizes=(2, 3), labels=("negative", "positive"), **kwargs)


@pytest.mark.parametrize("arch", ["gru", "bilstm", "cnn", "cnn-gru", "fasttext"])
def test_the_twin_with_no_perturbation_is_the_classifier(arch):
    config = _tiny(arch)
    classifier = build_classifier(config, 20)
    twin = build_classifier(config, 20, perturbation=True)
    assert [w.shape for w in twin.get_weights()] == [w.shape for w in
                                                     classifier.get_weights()]
    twin.set_weights(classifier.get_weights())
    zeros = np.zeros((*IDS.shape, 6), np.float32)
    np.testing.assert_allclose(twin.predict([IDS, zeros], verbose=0),
                               classifier.predict(IDS, verbose=0), atol=1e-6)


def test_the_perturbation_has_norm_epsilon_and_is_zero_on_padding():
    config = _tiny()
    twin = build_classifier(config, 20, perturbation=True)
    r, clean = virtual_adversarial_perturbation(twin, IDS, 2.5, seed=3)
    r = np.asarray(r)
    assert r.shape == (3, 6, 6) and clean.shape == (3, 2)
    np.testing.assert_allclose(np.linalg.norm(r.reshape(3, -1), axis=1), 2.5, rtol=1e-4)
    assert np.all(r[IDS == 0] == 0)  # (a real token may get 0 too: max pooling's gradient)


def test_the_perturbation_raises_the_divergence_more_than_noise():
    """One power iteration finds a direction in which the prediction moves more than along
    random noise of the same norm (what makes the perturbation adversarial)."""
    import tensorflow as tf

    from sentiment.models.adversarial import _kl_divergence, _normalize

    config = _tiny(dropout=0.0, embedding_dropout=0.0)
    twin = build_classifier(config, 20, perturbation=True)
    ids = tf.constant(np.tile(IDS, (4, 1)))
    r, clean = virtual_adversarial_perturbation(twin, ids, 1.0, seed=1)
    mask = tf.cast(tf.not_equal(ids, 0), tf.float32)
    noise = _normalize(tf.random.stateless_normal(r.shape, (1, 2)), mask)
    adversarial = _kl_divergence(clean, twin([ids, r]), False)
    random = _kl_divergence(clean, twin([ids, noise]), False)
    assert float(adversarial) > float(random)


def test_a_virtual_adversarial_step_trains_the_twin_and_copies_back():
    import keras
    import tensorflow as tf

    config = _tiny()
    twin = build_classifier(config, 20, perturbation=True)
    trainer = VirtualAdversarialTraining(twin, 1.0, adversarial=0.5)
    trainer.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(),
                    metrics=["accuracy"])
    labels = np.array([0, 1, 0], np.int32)
    before = [w.copy() for w in twin.get_weights()]
    dataset = tf.data.Dataset.from_tensors(((IDS, IDS[::-1].copy()), labels)).repeat(3)
    history = trainer.fit(dataset, validation_data=tf.data.Dataset.from_tensors((IDS, labels)),
                          epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0]) and "val_loss" in history.history
    assert any(not np.array_equal(a, b) for a, b in zip(before, twin.get_weights()))
    classifier = build_classifier(config, 20)
    classifier.set_weights(twin.get_weights())
    np.testing.assert_allclose(classifier.predict(IDS, verbose=0),
                               trainer.predict(IDS, verbose=0), atol=1e-6)
    with pytest.raises(ValueError, match="perturbation input"):
        VirtualAdversarialTraining(classifier, 1.0)
    with pytest.raises(ValueError, match="epsilon must be > 0"):
        VirtualAdversarialTraining(twin, 0.0)


def test_train_classifier_with_virtual_adversarial_training(tmp_path):
    from conftest import make_reviews

    from sentiment import Predictor
    from sentiment.data import LabelledTexts
    from sentiment.errors import ConfigError
    from sentiment.training import train_classifier

    train = LabelledTexts(*map(tuple, make_reviews(80, seed=1)), "reviews")
    unlabelled = make_reviews(40, seed=2)[0]
    training = TrainingConfig(epochs=1, batch_size=16, virtual_adversarial=1.0,
                              adversarial=0.5, ema_momentum=0.0)
    result = train_classifier(train, _tiny(), training, tmp_path / "vat",
                              unlabelled=unlabelled, verbose=0)
    assert result.metrics["training"]["epochs_run"] == 1
    predictor = Predictor.load(tmp_path / "vat")
    short, long = "great fun", " ".join(train.texts[:4])
    np.testing.assert_allclose(predictor.predict_proba([short])[0],
                               predictor.predict_proba([short, long])[0], atol=1e-6)
    with pytest.raises(ConfigError, match="virtual adversarial"):
        train_classifier(train, _tiny(), TrainingConfig(epochs=1), tmp_path / "x",
                         unlabelled=unlabelled, verbose=0)
