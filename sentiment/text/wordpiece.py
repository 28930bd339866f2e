"""WordPiece subword vocabulary: learned from the training split, applied in the graph.

    raw texts (batch,) tf.string
      -> normalize (NFKC, case fold, <br /> -> space; :func:`sentiment.text.tokenizer.normalize`)
      -> BERT BasicTokenizer words       (batch, None) tf.string   split on whitespace and
                                                                   punctuation
      -> FastWordpieceTokenizer pieces   (batch, None) tf.int32    "unhappily" -> un ##hap ##pily

The vocabulary is learned with ``tensorflow_text.tools.wordpiece_vocab.bert_vocab_from_dataset``
(the BERT vocabulary learner; Wu et al. 2016, "Google's Neural Machine Translation System",
describes WordPiece) over the words of the training split, with the reserved tokens ``[PAD]``
(id 0) and ``[UNK]`` (id 1) first, so ids line up with :class:`Vocabulary`. Words are split by
the same ``BasicTokenizer`` when the vocabulary is learned and when texts are tokenized, as the
learner's documentation requires. Pieces are looked up with ``FastWordpieceTokenizer``
(Song et al. 2021, "Fast WordPiece Tokenization", EMNLP). The vocabulary is saved as
``vocab.txt`` like a word vocabulary; ``config.json`` says ``"tokenizer": "wordpiece"``.

Every single character of the training alphabet (the ``max_unique_chars`` most frequent) enters
the vocabulary, both as a word start and as a ``##`` continuation, so a text written in that
alphabet never maps to ``[UNK]``.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text
from tensorflow_text.python.ops.bert_tokenizer import BasicTokenizer

from ..errors import ConfigError
from .tokenizer import Tokenizer, normalize
from .vocabulary import OOV_ID, OOV_TOKEN, PAD_TOKEN, Vocabulary, empty_vocabulary_error

#: Prefix of a piece that continues a word.
SUFFIX_INDICATOR = "##"
#: Longest word (in UTF-8 bytes) split into pieces; longer words become ``[UNK]``.
MAX_BYTES_PER_WORD = 100
# bert_vocab_from_dataset's defaults (wordpiece_tokenizer_learner_lib.learn): it keeps the
# most frequent MAX_UNIQUE_CHARS characters and reads at most MAX_INPUT_WORDS distinct words
MAX_UNIQUE_CHARS = 1000
MAX_INPUT_WORDS = 5_000_000


class BasicWordSplitter:
    """Normalizes texts and splits them into words as BERT does before WordPiece.

    Same interface as :class:`~sentiment.text.tokenizer.Tokenizer`: :meth:`tokenize` maps
    ``(batch,) tf.string`` texts to ``(batch, None) tf.string`` words, splitting on whitespace
    and around every punctuation character (``tensorflow_text.BasicTokenizer``).
    """

    kind = "wordpiece"

    def __init__(self):
        # normalize() already applies NFKC and case folding
        self._splitter = BasicTokenizer(lower_case=False, normalization_form=None)

    def tokenize(self, texts: tf.Tensor | list[str]) -> tf.RaggedTensor:
        """``(batch,) tf.string`` -> ``(batch, None) tf.string`` words; an empty text has
        none."""
        texts = normalize(tf.convert_to_tensor(texts, dtype=tf.string))
        return self._splitter.tokenize(texts)


class WordpieceVocabulary(Vocabulary):
    """A WordPiece vocabulary: ``[PAD]``, ``[UNK]``, then word starts and ``##`` pieces.

    :meth:`lookup` takes the words of :class:`BasicWordSplitter` and returns piece ids, so a
    :class:`~sentiment.text.encoder.TextEncoder` built from the two yields subword ids and
    truncates in pieces.

    Args:
        tokens: the vocabulary in id order (see :class:`Vocabulary`).

    Raises:
        ConfigError: when the reserved tokens are not in place or a token repeats.
    """

    def __init__(self, tokens: Sequence[str]):
        super().__init__(tokens)
        self._wordpiece = None

    @classmethod
    def build(cls, token_batches: Iterable[np.ndarray], max_size: int,
              min_frequency: int = 1) -> "WordpieceVocabulary":
        """Learn a vocabulary from words with ``bert_vocab_from_dataset``.

        Args:
            token_batches: iterable of 1-D arrays of words (``bytes`` or ``str``), e.g. the
                flat values of :meth:`BasicWordSplitter.tokenize` over chunks of the training
                split.
            max_size: maximum vocabulary size, reserved tokens included (>= 3). The
                learner's binary search aims within 5% below it but can stop above it; the
                rarest learned pieces are then dropped. Single characters (as word starts and
                as ``##`` continuations) are always kept, so no text of the training alphabet
                maps to ``[UNK]``.
            min_frequency: lower bound of the learner's count threshold (``lower_thresh``):
                a piece seen fewer times in the words does not enter (single characters
                always do).

        Raises:
            ConfigError: when ``max_size < 3``, ``min_frequency < 1``, or ``max_size`` is
                below the number of reserved and single-character tokens the training
                alphabet needs (checked from the words' characters before learning; the
                message gives that number).
        """
        from tensorflow_text.tools.wordpiece_vocab import bert_vocab_from_dataset as bvfd

        if max_size < 3:
            raise ConfigError(f"max_size must be >= 3; received {max_size!r}")
        if min_frequency < 1:
            raise ConfigError(f"min_frequency must be >= 1; received {min_frequency!r}")
        batches = [np.asarray(batch, dtype=object) for batch in token_batches]
        batches = [batch for batch in batches if len(batch)]
        if not batches:
            raise empty_vocabulary_error(0, min_frequency)
        distinct = set().union(*(batch.tolist() for batch in batches))
        if len(distinct) <= MAX_INPUT_WORDS:  # else the learner may see fewer characters
            characters = set("".join(w.decode("utf-8") if isinstance(w, bytes) else w
                                     for w in distinct))
            _check_room(2 + 2 * min(len(characters), MAX_UNIQUE_CHARS), max_size)
        words = tf.data.Dataset.from_generator(
            lambda: iter(batches), output_signature=tf.TensorSpec([None], tf.string))
        # the words are already split by BasicWordSplitter; splitting them again with the same
        # BasicTokenizer settings changes nothing
        vocab = bvfd.bert_vocab_from_dataset(
            words, vocab_size=max_size, reserved_tokens=[PAD_TOKEN, OOV_TOKEN],
            bert_tokenizer_params={"lower_case": False, "normalization_form": None},
            learn_params={"lower_thresh": min_frequency, "include_joiner_token": True,
                          "joiner": SUFFIX_INDICATOR})
        seen, tokens = set(), []
        for token in vocab:  # keep the first occurrence; the learner lists reserved first
            if token not in seen:
                seen.add(token)
                tokens.append(token)
        return cls(_cap(tokens, max_size))

    @property
    def wordpiece(self) -> tf_text.FastWordpieceTokenizer:
        """The ``FastWordpieceTokenizer`` over this vocabulary (words in, int32 ids out)."""
        if self._wordpiece is None:
            self._wordpiece = tf_text.FastWordpieceTokenizer(
                vocab=self.get_vocabulary(), suffix_indicator=SUFFIX_INDICATOR,
                max_bytes_per_word=MAX_BYTES_PER_WORD, token_out_type=tf.int32,
                unknown_token=OOV_TOKEN, no_pretokenization=True, support_detokenization=True)
        return self._wordpiece

    def lookup(self, tokens: tf.RaggedTensor) -> tf.RaggedTensor:
        """Map ``(batch, None) tf.string`` words to ``(batch, None) tf.int32`` piece ids
        (a word without a split into known pieces is one ``[UNK]``)."""
        pieces = self.wordpiece.tokenize(tokens)  # (batch, words, pieces)
        return pieces.merge_dims(1, 2)

    def detokenize(self, ids: tf.RaggedTensor | list[list[int]]) -> tf.Tensor:
        """``(batch, None)`` piece ids -> ``(batch,) tf.string``, words joined by a space."""
        ids = ids if isinstance(ids, tf.RaggedTensor) else tf.ragged.constant(ids, tf.int32)
        return self.wordpiece.detokenize(ids)


def _check_room(needed: int, max_size: int) -> None:
    """Raise ConfigError when ``max_size`` is below the ``needed`` reserved and
    single-character tokens."""
    if max_size < needed:
        raise ConfigError(
            f"a WordPiece vocabulary of this training data needs at least {needed} entries "
            f"([PAD], [UNK] and each character of its alphabet as a word start and as a "
            f"{SUFFIX_INDICATOR} continuation); received max_size (--vocab-size) {max_size!r}")


def _cap(tokens: list[str], max_size: int) -> list[str]:
    """``tokens`` without their rarest learned pieces beyond ``max_size``.

    ``bert_vocab_from_dataset`` lists the reserved tokens, then the single characters, then
    the learned pieces by falling count, so the pieces dropped are the last multi-character
    ones; the alphabet is never dropped.

    Raises:
        ConfigError: when the reserved and single-character tokens alone exceed
            ``max_size``.
    """
    if len(tokens) <= max_size:
        return tokens
    essential = {t for t in tokens
                 if t in (PAD_TOKEN, OOV_TOKEN) or len(t.removeprefix(SUFFIX_INDICATOR)) == 1}
    _check_room(len(essential), max_size)
    room = max_size - len(essential)
    kept = []
    for token in tokens:
        if token in essential:
            kept.append(token)
        elif room:
            kept.append(token)
            room -= 1
    return kept


def make_tokenizer(kind: str):
    """The word splitter for ``ClassifierConfig.tokenizer`` ``kind``: a
    :class:`BasicWordSplitter` for ``wordpiece``, else a :class:`Tokenizer`.

    Raises:
        ConfigError: for an unknown ``kind``.
    """
    return BasicWordSplitter() if kind == "wordpiece" else Tokenizer(kind)


def vocabulary_type(kind: str) -> type[Vocabulary]:
    """The vocabulary class that goes with tokenizer ``kind`` (its ``build`` and ``load``)."""
    return WordpieceVocabulary if kind == "wordpiece" else Vocabulary


def oov_rate(encoder, texts: Sequence[str], chunk: int = 2048) -> dict[str, float]:
    """Share of unknown ids among the tokens of ``texts`` encoded by ``encoder`` (a
    :class:`~sentiment.text.encoder.TextEncoder`), before truncation.

    Returns:
        ``{"tokens": n, "oov_tokens": share of ids equal to [UNK], "texts_with_oov": share of
        texts holding at least one}``.
    """
    total = unknown = with_oov = 0
    for start in range(0, len(texts), chunk):
        ids = encoder.vocabulary.lookup(encoder.tokenizer.tokenize(list(texts[start:start + chunk])))
        is_oov = tf.cast(tf.equal(ids, OOV_ID), tf.int64)
        total += int(tf.size(ids.flat_values))
        unknown += int(tf.reduce_sum(is_oov.flat_values))
        with_oov += int(tf.reduce_sum(tf.cast(tf.reduce_sum(is_oov, axis=1) > 0, tf.int64)))
    return {"tokens": total, "oov_tokens": unknown / max(total, 1),
            "texts_with_oov": with_oov / max(len(texts), 1)}
