"""A classifier's whole text pipeline, built in one place from its configuration.

    training texts --build_vocabulary--> Vocabulary (words, n-grams) or WordpieceVocabulary
    config + vocabulary --text_encoder--> TextEncoder:
        raw texts (batch,) tf.string -> normalize, split -> look up -> truncate
        -> (batch, None) int32 ids, at least one per text
    model directory --load_encoder--> the TextEncoder the model was trained with

Training, evaluation, prediction and export all go through these functions, so the tokenizer,
vocabulary kind, truncation and n-grams come from the same :class:`ClassifierConfig` fields
everywhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import tensorflow as tf

from ..config import VOCAB_FILE, ClassifierConfig
from ..errors import ConfigError
from .encoder import TextEncoder, add_ngrams
from .vocabulary import Vocabulary
from .wordpiece import make_tokenizer, vocabulary_type

#: Texts tokenized per call of the tensorflow-text graph while learning a vocabulary or
#: encoding a training split.
CHUNK = 2048


def _token_batches(tokenizer, texts: Sequence[str], ngrams: int) -> Iterator[np.ndarray]:
    """The ``(tokens,)`` flat tokens (words and their n-grams) of each chunk of ``texts``."""
    for start in range(0, len(texts), CHUNK):
        tokens = tokenizer.tokenize(list(texts[start:start + CHUNK]))
        yield add_ngrams(tokens, ngrams).flat_values.numpy()


def build_vocabulary(texts: Sequence[str], config: ClassifierConfig) -> Vocabulary:
    """The vocabulary of ``config`` (its tokenizer and n-grams, ``vocab_size``,
    ``min_frequency``) learned from ``texts``.

    Learn it once and pass it to several :func:`sentiment.training.train_classifier` calls
    (``vocabulary=``) to compare models on one training split without learning it again
    (WordPiece learning is slow: docs/benchmarks/models.md).

    Returns:
        A :class:`~sentiment.text.vocabulary.Vocabulary`, or a ``WordpieceVocabulary`` for
        ``tokenizer="wordpiece"``.

    Raises:
        ConfigError: no token reaches ``min_frequency`` (an empty vocabulary); for WordPiece,
            a ``vocab_size`` below the reserved tokens plus twice the training alphabet.
    """
    tokenizer = make_tokenizer(config.tokenizer)  # word splitter; wordpiece: BERT words
    return vocabulary_type(config.tokenizer).build(
        _token_batches(tokenizer, texts, config.ngrams), config.vocab_size,
        config.min_frequency)


def text_encoder(config: ClassifierConfig, vocabulary: Vocabulary) -> TextEncoder:
    """The :class:`TextEncoder` of ``config`` over ``vocabulary``.

    Raises:
        ConfigError: ``vocabulary`` is not of the kind ``config.tokenizer`` uses.
    """
    if type(vocabulary) is not vocabulary_type(config.tokenizer):
        raise ConfigError(f"vocabulary: a {type(vocabulary).__name__} does not go with "
                          f"tokenizer {config.tokenizer!r}")
    return TextEncoder(make_tokenizer(config.tokenizer), vocabulary, config.max_length,
                       config.truncation, config.ngrams)


def load_encoder(config: ClassifierConfig, model_dir: str | Path) -> TextEncoder:
    """The :class:`TextEncoder` of the model in ``model_dir`` (its ``vocab.txt``).

    Raises:
        ModelError: ``vocab.txt`` is missing or malformed.
    """
    vocabulary = vocabulary_type(config.tokenizer).load(Path(model_dir) / VOCAB_FILE)
    return text_encoder(config, vocabulary)


def encode_texts(encoder: TextEncoder, texts: Sequence[str]) -> tf.RaggedTensor:
    """Encode ``texts`` in chunks into one ``(n, None) int32`` ragged tensor."""
    parts = [encoder.encode(list(texts[start:start + CHUNK]))
             for start in range(0, len(texts), CHUNK)]
    return tf.concat(parts, axis=0)
