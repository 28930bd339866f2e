"""Raw strings -> token ids: tokenizer, vocabulary lookup, truncation, at least one token.

With ``ngrams=n > 1`` (bag-of-n-grams models such as ``arch="fasttext"``) the words are
truncated first and each text's word n-grams of orders 2..n are appended to its words before
the lookup, so the vocabulary holds words and n-grams alike.

The whole chain is TensorFlow ops, so it runs in ``tf.data``, in :class:`sentiment.Predictor`
and inside an exported SavedModel alike.
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_text as tf_text

from ..config import TRUNCATIONS
from ..errors import ConfigError
from .tokenizer import Tokenizer
from .vocabulary import OOV_ID, PAD_ID, Vocabulary



def valid_utf8(text: str) -> str:
    """``text`` with what cannot be encoded as UTF-8 replaced by U+FFFD.

    A Python ``str`` can hold lone surrogates: undecodable bytes of a command-line argument
    or file name (``\\udcff``, Python's ``surrogateescape``) or a broken UTF-16 pair. Such
    bytes are decoded as UTF-8 again, each invalid sequence becoming U+FFFD, as UTF-8
    decoders (and the exported SavedModel's ops on raw bytes) do; valid text is returned
    unchanged.
    """
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that is not an escaped byte
        raw = text.encode("utf-8", "surrogatepass")
    return raw.decode("utf-8", "replace")


def truncate(ids: tf.RaggedTensor, max_length: int, truncation: str = "head") -> tf.RaggedTensor:
    """Cut each row of ``(batch, None)`` ragged ids to at most ``max_length`` tokens.

    ``head`` keeps the first ``max_length`` tokens. ``head_tail`` keeps the first
    ``max_length // 4`` and the last ``max_length - max_length // 4`` tokens, following the
    head+tail truncation of Sun et al. (2019), "How to Fine-Tune BERT for Text Classification".

    Raises:
        ConfigError: for an unknown ``truncation`` or ``max_length < 1``.
    """
    if max_length < 1:
        raise ConfigError(f"max_length must be >= 1; received {max_length!r}")
    if truncation == "head":
        return ids[:, :max_length]
    if truncation != "head_tail":
        raise ConfigError(f"truncation must be one of {', '.join(TRUNCATIONS)}; "
                          f"received {truncation!r}")
    head = max_length // 4
    tail = max_length - head
    # on the flat values (ragged elementwise ops broadcast through a much slower path):
    # each token's row, its position in the row and the row's length, (tokens,) int64
    row = ids.value_rowids()
    position = tf.range(tf.size(ids.flat_values, out_type=tf.int64)) - tf.gather(
        ids.row_starts(), row)
    length = tf.gather(ids.row_lengths(), row)
    keep = (position < head) | (position >= length - tail)
    return tf.RaggedTensor.from_value_rowids(tf.boolean_mask(ids.flat_values, keep),
                                             tf.boolean_mask(row, keep), ids.nrows())


def ensure_nonempty(ids: tf.RaggedTensor) -> tf.RaggedTensor:
    """Give each empty row one OOV token, so no row is all padding.

    cuDNN recurrent kernels reject fully masked sequences; a text with no tokens is read as a
    single unknown token instead.
    """
    empty = tf.cast(tf.equal(ids.row_lengths(), 0), tf.int64)
    filler = tf.RaggedTensor.from_row_lengths(
        tf.fill([tf.reduce_sum(empty)], tf.constant(OOV_ID, ids.dtype)), empty)
    return tf.concat([ids, filler], axis=1)


#: Separator of the words of an n-gram token ("not good").
NGRAM_SEPARATOR = " "


def add_ngrams(tokens: tf.RaggedTensor, ngrams: int) -> tf.RaggedTensor:
    """Append each row's word n-grams of orders 2..``ngrams`` to its words.

    ``(batch, None) tf.string`` -> ``(batch, None) tf.string``: the words, then the bigrams
    ("not good"), then the trigrams..., each joined by a space, as fastText's word n-gram
    features (Joulin et al. 2017, "Bag of Tricks for Efficient Text Classification", EACL).
    A row of ``k`` words gains ``k - 1`` bigrams; ``ngrams=1`` returns ``tokens`` unchanged.
    """
    if ngrams <= 1:
        return tokens
    grams = [tf_text.ngrams(tokens, width, axis=-1,
                            reduction_type=tf_text.Reduction.STRING_JOIN,
                            string_separator=NGRAM_SEPARATOR)
             for width in range(2, ngrams + 1)]
    return tf.concat([tokens, *grams], axis=1)


class TextEncoder:
    """Turns raw texts into token ids exactly as the model was trained on.

    Args:
        tokenizer: the :class:`Tokenizer`.
        vocabulary: the :class:`Vocabulary`.
        max_length: truncation length in tokens.
        truncation: ``head`` or ``head_tail`` (see :func:`truncate`).
        ngrams: append word n-grams of orders 2..``ngrams`` after truncating the words (see
            :func:`add_ngrams`); 1 (default) for words only.
    """

    def __init__(self, tokenizer: Tokenizer, vocabulary: Vocabulary, max_length: int,
                 truncation: str = "head", ngrams: int = 1):
        self.tokenizer = tokenizer
        self.vocabulary = vocabulary
        self.max_length = max_length
        self.truncation = truncation
        self.ngrams = ngrams
        truncate(tf.ragged.constant([[1]], dtype=tf.int32), max_length, truncation)  # validate

    def tokens(self, texts: tf.Tensor | list[str]) -> tf.RaggedTensor:
        """``(batch,) tf.string`` -> the ``(batch, None) tf.string`` tokens the model reads, for
        word tokenizers: the words truncated to ``max_length``, then with ``ngrams > 1`` their
        n-grams (before :func:`ensure_nonempty`; a text without words has none)."""
        words = truncate(self.tokenizer.tokenize(texts), self.max_length, self.truncation)
        return add_ngrams(words, self.ngrams)

    def encode(self, texts: tf.Tensor | list[str]) -> tf.RaggedTensor:
        """``(batch,) tf.string`` -> ``(batch, None) tf.int32`` ids, 1 to ``max_length`` each
        (to ``max_length`` words plus their n-grams with ``ngrams > 1``)."""
        if self.ngrams > 1:
            return ensure_nonempty(self.vocabulary.lookup(self.tokens(texts)))
        ids = self.vocabulary.lookup(self.tokenizer.tokenize(texts))
        return ensure_nonempty(truncate(ids, self.max_length, self.truncation))

    def encode_padded(self, texts: tf.Tensor | list[str]) -> tf.Tensor:
        """``(batch,) tf.string`` -> ``(batch, time) tf.int32`` ids, right-padded with 0 to the
        longest row of the batch (right padding is what cuDNN kernels require)."""
        return self.encode(texts).to_tensor(default_value=PAD_ID)
