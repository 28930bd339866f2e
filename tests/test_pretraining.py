"""Pretraining a language model and fine-tuning classifiers from it (sentiment.pretraining,
``sentiment pretrain``, ``sentiment train --pretrained``)."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from click.testing import CliRunner

from sentiment.cli import main
from sentiment.config import (ClassifierConfig, LanguageModelConfig, PretrainingConfig,
                              TrainingConfig)
from sentiment.errors import ConfigError, DataError, ModelError

from conftest import NEGATIVE_WORDS, NEUTRAL_WORDS, POSITIVE_WORDS, write_labelled_csv

TINY_LM = LanguageModelConfig(units=12, embedding_dim=8, vocab_size=60, min_frequency=1,
                              sequence_length=8, num_sampled=6)


def corpus(n: int, seed: int = 0) -> list[str]:
    """Reviews in which a sentiment word is followed by the word of its polarity ("great
    fun", "dull bad"): a language model can learn the next word."""
    rng = random.Random(seed)
    texts = []
    for _ in range(n):
        words = []
        for _ in range(rng.randint(6, 14)):
            polarity = rng.random() < 0.5
            words += [rng.choice(NEUTRAL_WORDS), rng.choice(POSITIVE_WORDS if polarity
                                                            else NEGATIVE_WORDS),
                      "fun" if polarity else "bad"]
        texts.append(" ".join(words) + " .")
    return texts


@pytest.fixture(scope="module")
def language_model_dir(tmp_path_factory):
    from sentiment.pretraining import pretrain_language_model

    output = tmp_path_factory.mktemp("pretrain") / "lm"
    result = pretrain_language_model(corpus(300), TINY_LM,
                                     PretrainingConfig(epochs=4, batch_size=16,
                                                       held_out_fraction=0.1),
                                     output, verbose=0)
    return output, result


def test_sampled_softmax_training_lowers_held_out_perplexity(language_model_dir):
    output, result = language_model_dir
    held_out = result.metrics["held_out"]
    assert held_out["perplexity"] < 0.8 * held_out["perplexity_before"]
    per_epoch = held_out["perplexity_per_epoch"]
    assert len(per_epoch) == 4 and per_epoch[-1] < per_epoch[0]
    saved = json.loads((output / "metrics.json").read_text())
    assert saved["held_out"]["perplexity"] == held_out["perplexity"]
    assert saved["training"]["steps"] == 4 * saved["training"]["steps_per_epoch"]
    assert sorted(p.name for p in output.iterdir()) == [
        "config.json", "language_model.keras", "metrics.json", "vocab.txt"]


def test_the_full_softmax_matches_the_reported_perplexity(language_model_dir):
    """exp(mean full-softmax cross-entropy) of the saved model on the held-out windows,
    computed with numpy, is the perplexity metrics.json reports."""
    from sentiment.pretraining import (document_windows, load_language_model, text_config)
    from sentiment.text.corpus import split_documents
    from sentiment.text.pipeline import text_encoder

    output, result = language_model_dir
    lm = load_language_model(output)
    assert lm.vocabulary.get_vocabulary()[:3] == ["[PAD]", "[UNK]", "[EOD]"]
    texts = corpus(300)
    _, held_out = split_documents(len(texts), 0.1, 1337)
    encoder = text_encoder(text_config(lm.config), lm.vocabulary)
    inputs, targets, _ = document_windows(encoder, [texts[i] for i in held_out], 8, 2)
    logits = lm.model.predict(inputs, verbose=0).astype(np.float64)  # (windows, 8, vocab)
    logits -= logits.max(-1, keepdims=True)
    log_probabilities = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    picked = np.take_along_axis(log_probabilities, targets[..., None], -1)
    assert np.exp(-picked.mean()) == pytest.approx(result.metrics["held_out"]["perplexity"],
                                                   rel=1e-3)


def test_held_out_documents_never_reach_a_training_window():
    """Each document has its own word; no held-out document's word is in a training window,
    and every window's targets are its inputs shifted by one in the stream."""
    from sentiment.pretraining import build_lm_vocabulary, document_windows, text_config
    from sentiment.text.corpus import split_documents
    from sentiment.text.pipeline import text_encoder

    def word(i):  # letters only: the tokenizer splits letters from digits
        return "doc" + chr(97 + i % 26) + chr(97 + i // 26)

    texts = [f"{word(i)} " * 5 + "common words here" for i in range(40)]
    config = TINY_LM.replace(vocab_size=100)
    train, held_out = split_documents(len(texts), 0.25, 7)
    assert not set(train) & set(held_out) and len(held_out) == 10
    vocabulary = build_lm_vocabulary([texts[i] for i in train] + [texts[i] for i in held_out],
                                     config)
    encoder = text_encoder(text_config(config), vocabulary)
    inputs, targets, tokens = document_windows(encoder, [texts[i] for i in train], 8, 2)
    held_ids = {vocabulary.token_to_id(word(i)) for i in held_out}
    assert min(held_ids) > 2  # in the vocabulary (built from every document here)
    assert not held_ids & set(np.unique(np.concatenate([inputs, targets])).tolist())
    np.testing.assert_array_equal(inputs[1:, 0], targets[:-1, -1])  # consecutive windows
    np.testing.assert_array_equal(inputs[:, 1:], targets[:, :-1])
    assert (inputs == 2).sum() + (targets[-1:, -1] == 2).sum() >= len(train) - 1  # [EOD]s
    assert tokens == sum(9 for _ in train)  # 8 tokens per document and its [EOD]


def test_max_steps_bounds_the_run(tmp_path):
    from sentiment.pretraining import pretrain_language_model

    result = pretrain_language_model(corpus(120), TINY_LM,
                                     PretrainingConfig(epochs=50, max_steps=5, batch_size=8),
                                     tmp_path / "lm", verbose=0)
    assert result.metrics["training"]["steps"] == 5
    assert result.metrics["training"]["tokens_seen"] == 5 * 8 * 8  # 5 full batches of 8 x 8


def test_too_little_text_is_a_data_error(tmp_path):
    from sentiment.pretraining import pretrain_language_model

    with pytest.raises(DataError, match="at least two texts"):
        pretrain_language_model(["one text"], TINY_LM, PretrainingConfig(), tmp_path / "a",
                                verbose=0)
    with pytest.raises(DataError, match="--sequence-length 8"):
        pretrain_language_model(["a b", "c d", "e f"], TINY_LM,
                                PretrainingConfig(held_out_fraction=0.3), tmp_path / "b",
                                verbose=0)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_fine_tuning_starts_from_the_pretrained_weights(language_model_dir):
    from sentiment.models.classifier import build_classifier
    from sentiment.pretraining import adopt_pretrained, copy_pretrained, load_language_model

    lm = load_language_model(language_model_dir[0])
    config = adopt_pretrained(ClassifierConfig(labels=("negative", "positive")), lm.config)
    assert (config.arch, config.units, config.embedding_dim, config.vocab_size) == (
        "gru", 12, 8, 60)
    classifier = build_classifier(config, lm.vocabulary.vocabulary_size())
    assert copy_pretrained(classifier, lm.model, config) == ["embedding", "gru_0"]
    for name in ("embedding", "gru_0"):
        for got, want in zip(classifier.get_layer(name).get_weights(),
                             lm.model.get_layer(name).get_weights()):
            np.testing.assert_array_equal(got, want)


def test_contradicting_settings_are_rejected(language_model_dir):
    from sentiment.pretraining import adopt_pretrained, load_language_model

    lm = load_language_model(language_model_dir[0]).config
    with pytest.raises(ConfigError, match=r"--units 64 contradicts --pretrained lm.*units is 12"):
        adopt_pretrained(ClassifierConfig(units=64), lm, source="lm", explicit=["units"])
    with pytest.raises(ConfigError, match="--arch bigru contradicts"):
        adopt_pretrained(ClassifierConfig(arch="bigru"), lm)
    with pytest.raises(ConfigError, match="--ngrams 2 contradicts"):
        adopt_pretrained(ClassifierConfig(ngrams=2), lm)
    # a setting the model fixes, given at its default on the command line, contradicts too
    with pytest.raises(ConfigError, match="--embedding-dim 128 contradicts"):
        adopt_pretrained(ClassifierConfig(), lm, explicit=["embedding_dim"])
    with pytest.raises(ConfigError, match="--freeze-epochs 2 fine-tunes a pretrained model"):
        TrainingConfig(freeze_epochs=2)
    with pytest.raises(ConfigError, match="--discriminative-decay"):
        TrainingConfig(discriminative_decay=2.6)


def test_freezing_trains_only_the_new_layers(language_model_dir):
    import keras

    from sentiment.models.classifier import build_classifier
    from sentiment.pretraining import adopt_pretrained, copy_pretrained, load_language_model
    from sentiment.text.batching import training_dataset
    from sentiment.text.pipeline import encode_texts, text_encoder
    from sentiment.training import _fit_new_layers

    lm = load_language_model(language_model_dir[0])
    config = adopt_pretrained(ClassifierConfig(labels=("negative", "positive")), lm.config)
    model = build_classifier(config, lm.vocabulary.vocabulary_size())
    names = copy_pretrained(model, lm.model, config)
    texts = corpus(40, seed=3)
    ids = encode_texts(text_encoder(config, lm.vocabulary), texts)
    batches = training_dataset(ids, np.arange(40) % 2, 8)
    before = {layer.name: [w.copy() for w in layer.get_weights()] for layer in model.layers}
    history = _fit_new_layers(model, names, batches, batches,
                              TrainingConfig(pretrained="lm", freeze_epochs=2),
                              keras.losses.SparseCategoricalCrossentropy(),
                              lambda: "accuracy", None, 0)
    assert len(history["val_loss"]) == 2
    for name in names:
        for got, want in zip(model.get_layer(name).get_weights(), before[name]):
            np.testing.assert_array_equal(got, want)
    assert not np.array_equal(model.get_layer("logits").get_weights()[0], before["logits"][0])
    assert all(model.get_layer(name).trainable for name in names)  # unfrozen afterwards


def test_discriminative_rates_scale_each_layer_groups_step():
    """One Adam step moves a variable with factor f exactly f times as far as one with 1."""
    import keras

    from sentiment.models.optimizers import make_optimizer

    for name in ("adam", "lazy_adam"):
        low, high = keras.Variable(np.zeros(3, "float32")), keras.Variable(np.zeros(3, "float32"))
        optimizer = make_optimizer(name, 0.1, rate_multipliers=[(low, 1 / 2.6)])
        gradient = np.array([1.0, -2.0, 0.5], "float32")
        optimizer.apply([gradient, gradient], [low, high])
        np.testing.assert_allclose(np.asarray(low), np.asarray(high) / 2.6, rtol=1e-5)
        assert np.abs(np.asarray(high)).max() > 0


def test_pretrain_and_fine_tune_from_the_command_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    texts = corpus(200, seed=5)
    (tmp_path / "unlabelled.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
    labelled = [t for t in corpus(60, seed=9)]
    labels = ["positive" if t.count("fun") > t.count("bad") else "negative" for t in labelled]
    write_labelled_csv(tmp_path / "train.csv", labelled, labels)
    runner = CliRunner()
    tiny = ["--units", "12", "--embedding-dim", "8", "--vocab-size", "60", "--min-frequency",
            "1", "--sequence-length", "8", "--num-sampled", "6"]
    result = runner.invoke(main, ["pretrain", "--unlabelled", "unlabelled.txt", *tiny,
                                  "--epochs", "2", "--batch-size", "16", "--output", "lm",
                                  "--quiet"])
    assert result.exit_code == 0, result.output
    assert "held-out perplexity" in result.output
    # the options a language model fixes: from it, or a usage error naming both
    result = runner.invoke(main, ["train", "--train", "train.csv", "--pretrained", "lm",
                                  "--units", "64", "--output", "clf"])
    assert result.exit_code == 2
    assert "--units 64 contradicts --pretrained lm" in result.output and "12" in result.output
    result = runner.invoke(main, ["train", "--train", "train.csv", "--pretrained", "lm",
                                  "--freeze-epochs", "1", "--discriminative-decay", "2.6",
                                  "--epochs", "2", "--output", "clf", "--quiet"])
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "clf" / "config.json").read_text())
    assert config["classifier"]["units"] == 12
    assert config["training"]["pretrained"] == "lm"
    metrics = json.loads((tmp_path / "clf" / "metrics.json").read_text())
    assert metrics["training"]["pretrained"]["layers"] == ["embedding", "gru_0"]
    assert len(metrics["training"]["pretrained"]["frozen_val_loss"]) == 1
    # the classifier is an ordinary model directory; padding changes no prediction
    from sentiment import Predictor

    predictor = Predictor.load(tmp_path / "clf")
    short, long = "great fun", " ".join(labelled[:3])
    alone = predictor.predict_proba([short])
    beside = predictor.predict_proba([short, long])
    np.testing.assert_allclose(alone[0], beside[0], atol=1e-6)
    assert runner.invoke(main, ["predict", "--model", "clf", "great fun"]).exit_code == 0
    # artifacts of the other kind are not replaced
    result = runner.invoke(main, ["train", "--train", "train.csv", "--output", "lm"])
    assert result.exit_code == 2 and "not a classifier model directory" in result.output
    result = runner.invoke(main, ["pretrain", "--unlabelled", "unlabelled.txt", "--output",
                                  "clf"])
    assert result.exit_code == 2 and "not a language model directory" in result.output
    result = runner.invoke(main, ["predict", "--model", "lm", "great"])
    assert result.exit_code == 2 and "holds no classifier" in result.output
    result = runner.invoke(main, ["train", "--train", "train.csv", "--pretrained", "clf",
                                  "--output", "clf2"])
    assert result.exit_code == 2 and "holds no language_model" in result.output


def test_pretrain_options_are_checked_before_any_work(tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["pretrain", "--output", str(tmp_path / "lm")])
    assert result.exit_code == 2 and "--dataset NAME, --unlabelled FILE" in result.output
    result = runner.invoke(main, ["pretrain", "--dataset", "imdb", "--unlabelled", "x.txt",
                                  "--output", str(tmp_path / "lm")])
    assert result.exit_code == 2 and "not both" in result.output
    result = runner.invoke(main, ["pretrain", "--unlabelled", str(tmp_path / "missing.txt"),
                                  "--output", str(tmp_path / "lm")])
    assert result.exit_code == 2 and "missing.txt: file not found" in result.output
    result = runner.invoke(main, ["train", "--unlabelled", "x.txt"])
    assert result.exit_code == 2 and "--virtual-adversarial" in result.output


def test_load_texts_reads_text_files_and_tables(tmp_path):
    from sentiment.data import load_texts

    (tmp_path / "a.txt").write_text("first\nsecond line\n", encoding="utf-8")
    assert load_texts(tmp_path / "a.txt") == ("first", "second line")
    write_labelled_csv(tmp_path / "b.csv", ["x y", "z"], ["1", "0"])
    assert load_texts(tmp_path / "b.csv") == ("x y", "z")
    with pytest.raises(DataError, match="no column 'body'"):
        load_texts(tmp_path / "b.csv", "body")
    (tmp_path / "c.jsonl").write_text('{"text": "ok"}\n{"text": 3}\n', encoding="utf-8")
    with pytest.raises(DataError, match="row 2"):
        load_texts(tmp_path / "c.jsonl")


def test_a_language_model_directory_is_checked(language_model_dir, tmp_path):
    import shutil

    from sentiment.pretraining import load_language_model

    copy = tmp_path / "lm"
    shutil.copytree(language_model_dir[0], copy)
    with open(copy / "vocab.txt", "a", encoding="utf-8") as handle:
        handle.write("extra\n")
    with pytest.raises(ModelError, match="vocab.txt"):
        load_language_model(copy)


def test_virtual_adversarial_training_on_a_pretrained_model(language_model_dir, tmp_path,
                                                            monkeypatch):
    """--virtual-adversarial with --unlabelled, --adversarial and --pretrained together."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "unlabelled.txt").write_text("\n".join(corpus(50, seed=11)) + "\n",
                                             encoding="utf-8")
    labelled = corpus(40, seed=12)
    labels = ["positive" if t.count("fun") > t.count("bad") else "negative" for t in labelled]
    write_labelled_csv(tmp_path / "train.csv", labelled, labels)
    result = CliRunner().invoke(main, [
        "train", "--train", "train.csv", "--pretrained", str(language_model_dir[0]),
        "--virtual-adversarial", "1.0", "--unlabelled", "unlabelled.txt", "--adversarial",
        "0.5", "--epochs", "1", "--output", "vat", "--quiet"])
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "vat" / "config.json").read_text())
    assert config["training"]["virtual_adversarial"] == 1.0
    from sentiment import Predictor

    assert len(Predictor.load(tmp_path / "vat").predict(["great fun"])) == 1


def test_pretraining_learns_only_from_the_training_documents(tmp_path):
    """Each document has a word of its own: the language model's vocabulary (min count 1)
    holds every training document's word and no held-out document's, so no held-out token
    reached a training window."""
    from sentiment.pretraining import load_language_model, pretrain_language_model
    from sentiment.text.corpus import split_documents

    def word(i):
        return "doc" + chr(97 + i % 26) + chr(97 + i // 26)

    texts = [f"{word(i)} " * 5 + "common words here and there" for i in range(60)]
    config = TINY_LM.replace(vocab_size=200)
    training = PretrainingConfig(epochs=1, batch_size=8, held_out_fraction=0.2, seed=5)
    result = pretrain_language_model(texts, config, training, tmp_path / "lm", verbose=0)
    train, held_out = split_documents(60, 0.2, 5)
    assert result.metrics["held_out"]["documents"] == len(held_out) == 12
    vocabulary = set(load_language_model(tmp_path / "lm").vocabulary.get_vocabulary())
    assert {word(i) for i in train} <= vocabulary
    assert not {word(i) for i in held_out} & vocabulary
    # 11 tokens per document with its [EOD]: whole windows of 8 are scored
    assert result.metrics["held_out"]["tokens"] == (12 * 11 - 1) // 8 * 8


def test_the_language_model_ignores_padding(language_model_dir):
    from sentiment.pretraining import load_language_model

    lm = load_language_model(language_model_dir[0]).model
    short = np.array([[5, 6, 7]], np.int32)
    padded = np.array([[5, 6, 7, 0, 0], [5, 6, 7, 8, 9]], np.int32)
    np.testing.assert_allclose(lm.predict(short, verbose=0)[0],
                               lm.predict(padded, verbose=0)[0, :3], atol=1e-5)


def test_train_pretrained_starts_from_the_language_models_weights(language_model_dir,
                                                                   tmp_path):
    """At the start of fine-tuning (no frozen epochs) the classifier's embedding and GRU hold
    the language model's weights, and its optimizer scales their learning rates."""
    import keras

    from sentiment.data import LabelledTexts
    from sentiment.pretraining import load_language_model
    from sentiment.training import train_classifier

    lm = load_language_model(language_model_dir[0]).model
    seen = {}

    class Record(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            for name in ("embedding", "gru_0"):
                seen[name] = [w.copy() for w in self.model.get_layer(name).get_weights()]
            seen["factors"] = sorted(set(self.model.optimizer._rate_factors.values()))

    texts = corpus(60, seed=21)
    labels = tuple("positive" if t.count("fun") > t.count("bad") else "negative"
                   for t in texts)
    train_classifier(LabelledTexts(tuple(texts), labels, "reviews"), ClassifierConfig(),
                     TrainingConfig(epochs=1, pretrained=str(language_model_dir[0]),
                                    discriminative_decay=2.0),
                     tmp_path / "clf", callbacks=[Record()], verbose=0)
    for name in ("embedding", "gru_0"):
        for got, want in zip(seen[name], lm.get_layer(name).get_weights()):
            np.testing.assert_array_equal(got, want)
    assert seen["factors"] == pytest.approx([0.25, 0.5])  # embedding, then gru_0


def test_rate_multipliers_scale_sparse_embedding_steps():
    import keras
    import tensorflow as tf

    from sentiment.models.optimizers import make_optimizer

    low = keras.Variable(np.zeros((4, 2), "float32"))
    high = keras.Variable(np.zeros((4, 2), "float32"))
    optimizer = make_optimizer("lazy_adam", 0.1, rate_multipliers=[(low, 0.25)])
    gradient = tf.IndexedSlices(tf.constant([[1.0, -1.0]]), tf.constant([2]),
                                tf.constant([4, 2]))
    optimizer.apply([gradient, gradient], [low, high])
    np.testing.assert_allclose(np.asarray(low), np.asarray(high) * 0.25, rtol=1e-5)
    assert np.asarray(high)[2].any() and not np.asarray(high)[[0, 1, 3]].any()
