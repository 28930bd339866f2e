"""Shared fixtures: tiny labelled data built in memory, and small models trained once per
session on it (and on a slice of SST-2 when the shared data are present)."""

from __future__ import annotations

import csv
import os
import random
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

PROJECT_ROOT = Path(__file__).resolve().parents[1]

POSITIVE_WORDS = ["great", "wonderful", "superb", "moving", "brilliant", "delightful", "fun"]
NEGATIVE_WORDS = ["awful", "boring", "terrible", "dull", "poor", "tedious", "bad"]
NEUTRAL_WORDS = ["the", "film", "movie", "plot", "actors", "was", "a", "story", "and", "music",
                 "scenes", "director", "it", "this", "ending", "cast"]


def shared_data_dir() -> Path:
    """``$SENTIMENT_DATA_DIR``, else ``../shared/data`` beside the project root."""
    value = os.environ.get("SENTIMENT_DATA_DIR")
    return Path(value) if value else PROJECT_ROOT.parent / "shared" / "data"


def require_data(*relative: str) -> Path:
    """The shared data directory, or skip the test when one of ``relative`` is absent."""
    root = shared_data_dir()
    for name in relative:
        if not (root / name).is_file():
            pytest.skip(f"needs {root / name} (set SENTIMENT_DATA_DIR to the shared data)")
    return root


def write_labelled_csv(path: Path, texts: list[str], labels: list[str]) -> Path:
    """Write a ``text,label`` CSV with the csv module (independent of the code under test)."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(zip(texts, labels))
    return path


def moving_average(steps: list[list], momentum: float) -> list:
    """The moving average of per-step weight lists (numpy arrays) with the decay
    ``min(momentum, (1 - 1/t)**4)`` after step ``t``, computed by hand: what
    ``WeightAveraging`` must leave in a model."""
    average = steps[0]
    for t, weights in enumerate(steps[1:], start=2):
        d = min(momentum, (1 - 1 / t) ** 4)
        average = [d * a + (1 - d) * w for a, w in zip(average, weights)]
    return average


def raw_weights_recorder():
    """A Keras callback recording the trained weights (numpy copies) after every batch in
    ``after_batch`` and at every epoch start in ``at_epoch_begin``."""
    import keras

    class RawWeights(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.after_batch, self.at_epoch_begin = [], []

        def on_train_batch_end(self, batch, logs=None):
            self.after_batch.append([w.numpy().copy() for w in self.model.trainable_weights])

        def on_epoch_begin(self, epoch, logs=None):
            self.at_epoch_begin.append([w.numpy().copy() for w in self.model.trainable_weights])

    return RawWeights()


def make_reviews(n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """``n`` synthetic reviews: neutral filler with sentiment words; labels "neg"/"pos"."""
    rng = random.Random(seed)
    texts, labels = [], []
    for i in range(n):
        positive = i % 2 == 0
        words = rng.choices(NEUTRAL_WORDS, k=rng.randint(3, 30))
        cue = POSITIVE_WORDS if positive else NEGATIVE_WORDS
        for _ in range(rng.randint(1, 3)):
            words.insert(rng.randrange(len(words) + 1), rng.choice(cue))
        text = " ".join(words)
        texts.append(text.capitalize() + ("!" if positive else "."))
        labels.append("pos" if positive else "neg")
    return texts, labels


@pytest.fixture(scope="session")
def tiny_data():
    """``LabelledTexts`` of 600 synthetic reviews (train) and 200 (test)."""
    from sentiment.data import LabelledTexts

    texts, labels = make_reviews(800)
    train = LabelledTexts(tuple(texts[:600]), tuple(labels[:600]), "tiny:train")
    test = LabelledTexts(tuple(texts[600:]), tuple(labels[600:]), "tiny:test")
    return train, test


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, tiny_data):
    """A small BiGRU (max pooling) trained for 3 epochs on :func:`tiny_data`; its directory."""
    from sentiment.config import ClassifierConfig, TrainingConfig
    from sentiment.training import train_classifier

    train, test = tiny_data
    output = tmp_path_factory.mktemp("models") / "tiny"
    train_classifier(
        train,
        ClassifierConfig(arch="bigru", embedding_dim=16, units=8, max_length=64,
                         vocab_size=200, min_frequency=1),
        TrainingConfig(epochs=3, batch_size=32, learning_rate=1e-2, patience=2),
        output, test=test, verbose=0)
    return output


@pytest.fixture(scope="session")
def tiny_ensemble_dir(tmp_path_factory, tiny_data):
    """An ensemble of two small GRUs trained for 2 epochs on :func:`tiny_data`; its
    directory."""
    from sentiment.config import ClassifierConfig, TrainingConfig
    from sentiment.training import train_classifier

    output = tmp_path_factory.mktemp("models") / "ensemble"
    train_classifier(
        tiny_data[0],
        ClassifierConfig(arch="gru", embedding_dim=16, units=8, max_length=64, vocab_size=200,
                         min_frequency=1, ensemble=2),
        TrainingConfig(epochs=2, batch_size=32, learning_rate=1e-2), output, verbose=0)
    return output


@pytest.fixture(scope="session")
def tiny_predictor(tiny_model_dir):
    from sentiment.predictor import Predictor

    return Predictor.load(tiny_model_dir)


@pytest.fixture(scope="session")
def sst2_model_dir(tmp_path_factory):
    """A small GRU trained on 8,000 SST-2 phrases for 2 epochs (skips without the data)."""
    root = require_data("sst2/train.tsv", "sst2/dev.tsv")
    from sentiment.config import ClassifierConfig, TrainingConfig
    from sentiment.data import load_labelled_file
    from sentiment.training import train_classifier

    train = load_labelled_file(root / "sst2" / "train.tsv", "sentence").head(8000)
    dev = load_labelled_file(root / "sst2" / "dev.tsv", "sentence")
    output = tmp_path_factory.mktemp("models") / "sst2"
    train_classifier(
        train,
        ClassifierConfig(arch="gru", embedding_dim=32, units=32, max_length=64,
                         vocab_size=8000),
        TrainingConfig(epochs=2, batch_size=64, learning_rate=3e-3),
        output, test=dev, label_names={"0": "negative", "1": "positive"}, verbose=0)
    return output


EMOTION_WORDS = {"joy": ["happy", "glad", "joyful", "delighted"],
                 "anger": ["angry", "furious", "mad", "livid"],
                 "fear": ["scared", "afraid", "fearful", "terrified"]}


def make_emotions(n: int, seed: int = 0) -> tuple[list[str], list[tuple[str, ...]]]:
    """``n`` synthetic texts with zero to two of the labels joy / anger / fear, each label
    present exactly when one of its cue words is."""
    rng = random.Random(seed)
    texts, labels = [], []
    for _ in range(n):
        chosen = tuple(sorted(rng.sample(sorted(EMOTION_WORDS), rng.choice([0, 1, 1, 2]))))
        words = rng.choices(NEUTRAL_WORDS, k=rng.randint(3, 12))
        for label in chosen:
            words.insert(rng.randrange(len(words) + 1), rng.choice(EMOTION_WORDS[label]))
        texts.append(" ".join(words))
        labels.append(chosen)
    return texts, labels


@pytest.fixture(scope="session")
def emotions_data():
    """Multi-label ``LabelledTexts``: 900 synthetic texts (train) and 300 (test)."""
    from sentiment.data import LabelledTexts

    texts, labels = make_emotions(1200)
    train = LabelledTexts(tuple(texts[:900]), tuple(labels[:900]), "emotions:train",
                          multi_label=True)
    test = LabelledTexts(tuple(texts[900:]), tuple(labels[900:]), "emotions:test",
                         multi_label=True)
    return train, test


@pytest.fixture(scope="session")
def multilabel_model_dir(tmp_path_factory, emotions_data):
    """A small multi-label GRU trained on :func:`emotions_data` (per-label thresholds tuned
    on validation); its directory."""
    from sentiment.config import ClassifierConfig, TrainingConfig
    from sentiment.training import train_classifier

    train, test = emotions_data
    output = tmp_path_factory.mktemp("models") / "emotions"
    train_classifier(
        train, ClassifierConfig(arch="gru", embedding_dim=16, units=16, max_length=32,
                                vocab_size=200, min_frequency=1, multi_label=True),
        TrainingConfig(epochs=6, batch_size=32, learning_rate=1e-2, patience=2),
        output, test=test, verbose=0)
    return output


@pytest.fixture(scope="session")
def bigram_model_dir(tmp_path_factory, tiny_data):
    """A fastText-style model with word bigrams (its own vocabulary) trained on
    :func:`tiny_data`; its directory."""
    from sentiment.config import ClassifierConfig, TrainingConfig
    from sentiment.training import train_classifier

    output = tmp_path_factory.mktemp("models") / "bigrams"
    train_classifier(
        tiny_data[0], ClassifierConfig(arch="fasttext", ngrams=2, embedding_dim=16,
                                       max_length=48, vocab_size=2000, min_frequency=1),
        TrainingConfig(epochs=2, batch_size=64, learning_rate=1e-2), output, verbose=0)
    return output


@pytest.fixture(scope="session")
def mixed_ensemble_dir(tmp_path_factory, tiny_model_dir, bigram_model_dir):
    """``sentiment ensemble`` of the BiGRU of :func:`tiny_model_dir` and the bigram model
    (different architectures, tokenizations and vocabularies), weights 3:1."""
    from sentiment.ensemble import build_ensemble

    output = tmp_path_factory.mktemp("models") / "mixed"
    build_ensemble([tiny_model_dir, bigram_model_dir], output, weights=(3.0, 1.0))
    return output


# ----------------------------------------------------------- sequences of vectors


def make_sequences(n: int, features: int = 3, seed: int = 0, regression: bool = False):
    """``n`` sequences of 3-12 frames: class ``"up"`` frames drift upwards, ``"down"``
    downwards (regression: the target is the drift times 10 plus 100)."""
    import numpy as np

    from sentiment.sequences.data import LabelledSequences

    rng = np.random.default_rng(seed)
    sequences, targets = [], []
    for _ in range(n):
        length = int(rng.integers(3, 13))
        slope = float(rng.uniform(-1, 1))
        steps = np.arange(length, dtype=np.float32)[:, None]
        frames = slope * steps + rng.normal(0, 0.3, (length, features))
        sequences.append(frames.astype(np.float32))
        targets.append(100 + 10 * slope if regression else ("up" if slope > 0 else "down"))
    return LabelledSequences(sequences, np.array(targets) if regression else tuple(targets),
                             "tiny-sequences")


def write_sequence_parquet(path, data, column="frames", label="label"):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({column: [s.tolist() for s in data.sequences],
                             label: list(data.targets)}), path)
    return path


@pytest.fixture(scope="session")
def sequence_model_dir(tmp_path_factory):
    """A small GRU classifier over 3-feature sequences (max pooling), trained briefly."""
    from sentiment.config.sequence import SequenceModelConfig, SequenceTrainingConfig
    from sentiment.sequences.training import train_sequence_model

    output = tmp_path_factory.mktemp("sequence") / "gru"
    train_sequence_model(make_sequences(120), SequenceModelConfig(units=8),
                         SequenceTrainingConfig(epochs=4, batch_size=16, patience=2),
                         output, test=make_sequences(40, seed=1), verbose=0)
    return output


@pytest.fixture(scope="session")
def regression_model_dir(tmp_path_factory):
    """A small GRU regression model (targets around 100, clipped to [92, 108])."""
    from sentiment.config.sequence import SequenceModelConfig, SequenceTrainingConfig
    from sentiment.sequences.training import train_sequence_model

    output = tmp_path_factory.mktemp("sequence") / "regression"
    train_sequence_model(make_sequences(120, regression=True),
                         SequenceModelConfig(units=8, task="regression",
                                             clip_range=(92, 108)),
                         SequenceTrainingConfig(epochs=6, batch_size=16, patience=3),
                         output, verbose=0)
    return output


def ratings(n: int, seed: int = 0):
    """Reviews rated 7-10 when positive and 1-4 when negative."""
    import numpy as np

    texts, labels = make_reviews(n, seed)
    rng = np.random.default_rng(seed)
    return texts, [str(int(rng.integers(7, 11)) if label == "pos" else int(rng.integers(1, 5)))
                   for label in labels]


@pytest.fixture(scope="session")
def rated_model_dir(tmp_path_factory):
    """A small GRU regression model over texts (ratings 1-10, clipped to [1, 10])."""
    from sentiment.config import ClassifierConfig, TrainingConfig
    from sentiment.data import LabelledTexts
    from sentiment.training import train_classifier

    texts, targets = ratings(500)
    output = tmp_path_factory.mktemp("regression") / "rated"
    train_classifier(
        LabelledTexts(tuple(texts[:400]), tuple(targets[:400]), "rated:train"),
        ClassifierConfig(arch="gru", embedding_dim=16, units=8, vocab_size=200,
                         min_frequency=1, max_length=64, task="regression",
                         clip_range=(1, 10)),
        TrainingConfig(epochs=6, learning_rate=1e-2, patience=2), output,
        test=LabelledTexts(tuple(texts[400:]), tuple(targets[400:]), "rated:test"),
        verbose=0)
    return output


def read_shards(prefix, suffix):
    """The rows of the shards ``PREFIX-SSSSS-of-NNNNN<suffix>`` a Beam run wrote (Parquet or
    JSON Lines), shard after shard."""
    import glob
    import json

    import pyarrow.parquet as pq

    paths = sorted(glob.glob(f"{prefix}-*-of-*{suffix}"))
    assert paths, f"no shards under {prefix}"
    if suffix == ".parquet":
        return [row for path in paths for row in pq.read_table(path).to_pylist()]
    return [json.loads(line) for path in paths for line in open(path, encoding="utf-8")]
