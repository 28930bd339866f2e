"""Pretraining a recurrent language model on unlabelled texts, and reading it back for
fine-tuning (``sentiment pretrain``, ``sentiment train --pretrained``).

    texts -> split by document (held out for perplexity)
      -> Tokenizer -> vocabulary of the training documents, with [EOD] at id 2
      -> ids of each document, one stream with [EOD] after each (text/corpus.py)
      -> windows of sequence_length tokens, targets shifted by one
      -> build_language_model -> fit with sampled softmax (models/language_model.py)
      -> held-out perplexity (full softmax) before training and after each epoch
      -> language_model.keras + vocab.txt + config.json + metrics.json (atomic)

A language model directory is its own artifact kind (``language_model.keras`` in place of
``model.keras``): ``sentiment train`` refuses to overwrite one with a classifier, and
``sentiment pretrain`` refuses to overwrite a classifier. ``train --pretrained`` takes its
tokenizer, vocabulary, embedding and recurrent layers (:func:`adopt_pretrained`,
:func:`copy_pretrained`); the classifier it writes is an ordinary model directory.

TensorFlow is imported inside the functions, so the command line can read a language
model's configuration (to check options against it) before TensorFlow loads.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from .artifacts import atomic_directory, check_replaceable, locks_output
from .config import (CONFIG_FILE, LANGUAGE_MODEL_ARTIFACT, LANGUAGE_MODEL_FILE, METRICS_FILE,
                     PRETRAINED_SETTINGS, VOCAB_FILE, ClassifierConfig, LanguageModelConfig,
                     PretrainingConfig, write_json)
from .errors import ConfigError, DataError
from .fingerprints import FILES_KEY, fingerprint_files
from .versions import library_versions

#: Far above any document's length: the language model reads whole documents (no truncation).
_NO_TRUNCATION = 2 ** 31 - 1


@dataclass(frozen=True)
class PretrainResult:
    """What :func:`pretrain_language_model` produced.

    Attributes:
        model_dir: the written language model directory.
        config: the saved :class:`LanguageModelConfig`.
        metrics: the content of ``metrics.json``: ``training`` (steps, tokens seen, seconds,
            tokens per second, documents, vocabulary size) and ``held_out`` (perplexity
            before training and after each epoch, tokens).
    """

    model_dir: Path
    config: LanguageModelConfig
    metrics: dict[str, Any]


@dataclass(frozen=True)
class LanguageModel:
    """A loaded language model directory.

    Attributes:
        path: the directory.
        config: its :class:`LanguageModelConfig`.
        vocabulary: its :class:`~sentiment.text.vocabulary.Vocabulary` (``[EOD]`` at id 2).
        model: the Keras model, ``(batch, time) int32`` -> ``(batch, time, vocabulary)``
            float32 logits.
    """

    path: Path
    config: LanguageModelConfig
    vocabulary: Any
    model: Any


def text_config(config: LanguageModelConfig) -> ClassifierConfig:
    """The text-pipeline settings of ``config`` as a :class:`ClassifierConfig` (its
    tokenizer, vocabulary size and minimum count; words only; no truncation), for the
    functions of :mod:`sentiment.text.pipeline`."""
    return ClassifierConfig(tokenizer=config.tokenizer, vocab_size=config.vocab_size,
                            min_frequency=config.min_frequency, ngrams=1,
                            max_length=_NO_TRUNCATION, truncation="head")


def build_lm_vocabulary(texts: Sequence[str], config: LanguageModelConfig):
    """The vocabulary of ``texts`` for a language model: ``[PAD]`` (0), ``[UNK]`` (1), the
    boundary token ``[EOD]`` (2), then the tokens by decreasing count, ``config.vocab_size``
    ids in all (the order the log-uniform sampler of sampled softmax assumes).

    Raises:
        ConfigError: as :func:`sentiment.text.pipeline.build_vocabulary`.
    """
    from .text.corpus import BOUNDARY_TOKEN
    from .text.pipeline import build_vocabulary
    from .text.vocabulary import Vocabulary

    built = build_vocabulary(texts, text_config(config).replace(vocab_size=config.vocab_size))
    tokens = [t for t in built.get_vocabulary()[2:] if t != BOUNDARY_TOKEN]
    return Vocabulary(built.get_vocabulary()[:2] + [BOUNDARY_TOKEN]
                      + tokens[:config.vocab_size - 3])


def document_windows(encoder, texts: Sequence[str], sequence_length: int, boundary_id: int):
    """``(inputs, targets)`` windows of ``texts``' token stream (:mod:`sentiment.text.corpus`),
    each ``(windows, sequence_length) int32``, and the number of tokens in the stream."""
    import numpy as np

    from .text.corpus import lm_windows, token_stream
    from .text.pipeline import encode_texts

    ids = encode_texts(encoder, list(texts))
    flat = ids.flat_values.numpy()
    documents = np.split(flat, ids.row_splits.numpy()[1:-1]) if len(texts) else []
    stream = token_stream(documents, boundary_id)
    return (*lm_windows(stream, sequence_length), len(stream))


@locks_output("output_dir")  # the whole run holds .NAME.lock beside the output
def pretrain_language_model(texts: Sequence[str], config: LanguageModelConfig,
                            training: PretrainingConfig, output_dir: str | Path, *,
                            source: str = "texts", callbacks: Sequence[Any] = (),
                            verbose: int = 1) -> PretrainResult:
    """Train a language model on ``texts`` and write its directory atomically.

    Args:
        texts: unlabelled documents (reviews, tickets, posts); never the test texts of the
            classifier to be fine-tuned.
        config: text pipeline and model settings.
        training: epochs, step bound, batch size, learning rate, held-out share, seed.
        output_dir: the language model directory to write (replaced only once complete, and
            only when empty or an earlier language model directory).
        source: what ``texts`` are, for messages and ``metrics.json``.
        callbacks: extra ``keras.callbacks.Callback`` objects for ``fit``.
        verbose: 1 for a Keras progress bar (with ETA) per epoch, 0 for silence.

    Returns:
        A :class:`PretrainResult`.

    Raises:
        DataError: fewer than two texts, or training or held-out documents too short for one
            window of ``sequence_length + 1`` tokens.
        ConfigError: ``output_dir`` is not a directory a language model may replace
            (checked before any work), or no token reaches ``min_frequency``.
    """
    check_replaceable(output_dir, LANGUAGE_MODEL_ARTIFACT)
    import keras
    import tensorflow as tf

    from .models.language_model import (Perplexity, SampledSoftmaxTraining, StopAfterSteps,
                                        build_language_model)
    from .models.optimizers import make_optimizer
    from .text.corpus import BOUNDARY_TOKEN, split_documents
    from .text.pipeline import text_encoder

    texts = list(texts)
    if len(texts) < 2:
        raise DataError(f"{source}: pretraining needs at least two texts (one is held out for "
                        f"perplexity); received {len(texts)}")
    keras.utils.set_random_seed(training.seed)
    train_index, held_out_index = split_documents(len(texts), training.held_out_fraction,
                                                  training.seed)
    train_texts = [texts[i] for i in train_index]
    held_out_texts = [texts[i] for i in held_out_index]
    vocabulary = build_lm_vocabulary(train_texts, config)
    encoder = text_encoder(text_config(config), vocabulary)
    boundary = vocabulary.token_to_id(BOUNDARY_TOKEN)  # [EOD]: id 2
    inputs, targets, train_tokens = document_windows(encoder, train_texts,
                                                     config.sequence_length, boundary)
    held_inputs, held_targets, held_tokens = document_windows(
        encoder, held_out_texts, config.sequence_length, boundary)
    for name, windows, count in (("training", inputs, len(train_texts)),
                                 ("held-out", held_inputs, len(held_out_texts))):
        if not len(windows):
            raise DataError(
                f"{source}: the {count} {name} documents hold fewer than "
                f"{config.sequence_length + 1} tokens, not one window of --sequence-length "
                f"{config.sequence_length}; give more text, a larger --held-out-fraction or "
                "a smaller --sequence-length")
    num_sampled = min(config.num_sampled, vocabulary.vocabulary_size() - 1)

    steps_per_epoch = math.ceil(len(inputs) / training.batch_size)
    total_steps = training.epochs * steps_per_epoch
    if training.max_steps:
        total_steps = min(total_steps, training.max_steps)
    fit_steps = min(steps_per_epoch, total_steps)  # per fit "epoch": a bounded run's bar
    fit_epochs = math.ceil(total_steps / fit_steps)
    train_batches = (tf.data.Dataset.from_tensor_slices((inputs, targets))
                     .shuffle(len(inputs), seed=training.seed, reshuffle_each_iteration=True)
                     .batch(training.batch_size).repeat().prefetch(tf.data.AUTOTUNE))
    held_out_batches = (tf.data.Dataset.from_tensor_slices((held_inputs, held_targets))
                        .batch(training.batch_size).prefetch(tf.data.AUTOTUNE))

    model = build_language_model(config, vocabulary.vocabulary_size())
    trainer = SampledSoftmaxTraining(model, num_sampled)
    trainer.compile(optimizer=make_optimizer(training.optimizer, training.learning_rate,
                                             training.clip_norm or None))
    initial_loss = float(trainer.evaluate(held_out_batches, verbose=0, return_dict=True)["loss"])
    if verbose:
        print(f"held-out perplexity before training {_perplexity(initial_loss):.1f} "
              f"({len(held_inputs) * config.sequence_length:,} tokens); {total_steps:,} steps "
              f"of {training.batch_size} x {config.sequence_length} tokens", flush=True)
    stop = StopAfterSteps(total_steps)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*`shuffle=True` was passed")
        history = trainer.fit(train_batches, validation_data=held_out_batches,
                              epochs=fit_epochs, steps_per_epoch=fit_steps,
                              callbacks=[Perplexity(), stop, *callbacks], verbose=verbose)
    seconds = time.perf_counter() - started
    held_out_losses = [float(x) for x in history.history["val_loss"]]
    # the windows are batched, then repeated: the last batch of each pass is smaller
    passes, rest = divmod(stop.done, steps_per_epoch)
    windows_seen = passes * len(inputs) + min(rest * training.batch_size, len(inputs))
    tokens_seen = windows_seen * config.sequence_length
    training_seconds = seconds - stop.evaluation_seconds  # without the held-out passes
    metrics: dict[str, Any] = {
        "training": {
            "source": source, "documents": len(train_texts), "tokens": int(train_tokens),
            "windows": int(len(inputs)), "steps": stop.done,
            "steps_per_epoch": steps_per_epoch, "epochs": round(stop.done / steps_per_epoch, 3),
            "tokens_seen": int(tokens_seen),
            "seconds": round(seconds, 2),
            "held_out_seconds": round(stop.evaluation_seconds, 2),
            "tokens_per_second": (round(tokens_seen / training_seconds, 1)
                                  if training_seconds > 0 else None),
            "vocabulary_size": vocabulary.vocabulary_size(), "num_sampled": num_sampled,
            "device": "GPU" if tf.config.list_physical_devices("GPU") else "CPU",
            "sampled_loss": [float(x) for x in history.history["loss"]],
        },
        "held_out": {
            # the tokens scored: whole windows (the stream's tail is left out)
            "documents": len(held_out_texts),
            "tokens": int(len(held_inputs) * config.sequence_length),
            "stream_tokens": int(held_tokens), "windows": int(len(held_inputs)),
            "perplexity_before": _perplexity(initial_loss),
            "perplexity": _perplexity(held_out_losses[-1]),
            "perplexity_per_epoch": [_perplexity(x) for x in held_out_losses],
            "loss": held_out_losses[-1],
        },
    }
    with atomic_directory(output_dir, LANGUAGE_MODEL_ARTIFACT) as tmp:
        model.save(tmp / LANGUAGE_MODEL_FILE)
        vocabulary.save(tmp / VOCAB_FILE)
        write_json(tmp / CONFIG_FILE, {
            "language_model": config.to_dict(), "pretraining": training.to_dict(),
            "versions": library_versions("tensorflow_text"),
            FILES_KEY: fingerprint_files(tmp, (LANGUAGE_MODEL_FILE, VOCAB_FILE))})
        write_json(tmp / METRICS_FILE, metrics)
    return PretrainResult(Path(output_dir), config, metrics)


def _perplexity(loss: float) -> float:
    from .models.language_model import perplexity

    return round(perplexity(loss), 3)


def read_language_model_config(model_dir: str | Path) -> LanguageModelConfig:
    """The :class:`LanguageModelConfig` of a language model directory, after checking its
    recorded files; no TensorFlow.

    Raises:
        ModelError: the directory or ``config.json`` is missing or corrupted, it holds no
            language model (a classifier, say), or a file differs from the one recorded.
    """
    from .models.saving import read_model_config

    return read_model_config(model_dir, "language_model", LanguageModelConfig.from_dict)[1]


def load_language_model(model_dir: str | Path) -> LanguageModel:
    """Load a directory written by :func:`pretrain_language_model`.

    Raises:
        ModelError: as :func:`read_language_model_config`, or the weights or ``vocab.txt``
            cannot be read.
    """
    from .models import language_model  # noqa: F401  registers SoftmaxHead
    from .models import recurrent  # noqa: F401  registers the recurrent layers
    from .models.saving import load_keras_model
    from .text.vocabulary import Vocabulary

    path = Path(model_dir).expanduser()
    config = read_language_model_config(path)
    vocabulary = Vocabulary.load(path / VOCAB_FILE)
    return LanguageModel(path, config, vocabulary, load_keras_model(path / LANGUAGE_MODEL_FILE))


def adopt_pretrained(config: ClassifierConfig, language_model: LanguageModelConfig, *,
                     source: str = "the pretrained model",
                     explicit: Iterable[str] = ()) -> ClassifierConfig:
    """``config`` with the settings a pretrained language model fixes taken from it: arch
    (``gru`` / ``lstm``), ``embedding_dim``, ``units``, ``layers``, ``tokenizer``,
    ``vocab_size``, ``min_frequency`` and ``ngrams`` (1).

    A setting of ``config`` that differs from the language model's is a contradiction when it
    is in ``explicit`` (given on the command line) or differs from the setting's default.

    Raises:
        ConfigError: a contradiction, naming the option, both values and ``source``.
    """
    import dataclasses

    defaults = {f.name: f.default for f in dataclasses.fields(ClassifierConfig)}
    explicit = set(explicit)
    wanted = {name: (1 if name == "ngrams" else getattr(language_model, name))
              for name in PRETRAINED_SETTINGS}
    for name, value in wanted.items():
        given = getattr(config, name)
        if given != value and (name in explicit or given != defaults[name]):
            option = "--" + name.replace("_", "-")
            raise ConfigError(f"{option} {given} contradicts --pretrained {source}, whose "
                              f"{name} is {value}; leave {option} out to take it from the "
                              "language model")
    return config.replace(**wanted)


def copy_pretrained(classifier, language_model, config) -> list[str]:
    """Copy the embedding and recurrent weights of ``language_model`` into ``classifier``
    (layers of the same names and shapes); returns the names copied, bottom to top.

    Raises:
        ConfigError: a layer is missing from either model or its weights' shapes differ.
    """
    from .models.language_model import recurrent_layer_names

    names = recurrent_layer_names(config)
    for name in names:
        try:
            source, target = language_model.get_layer(name), classifier.get_layer(name)
        except ValueError:
            raise ConfigError(f"layer {name!r} is missing from the classifier or the language "
                              "model; they do not match") from None
        weights = source.get_weights()
        shapes = ([w.shape for w in weights], [w.shape for w in target.get_weights()])
        if shapes[0] != shapes[1]:
            raise ConfigError(f"layer {name!r}: the language model's weights {shapes[0]} do "
                              f"not fit the classifier's {shapes[1]}")
        target.set_weights(weights)
    return names
