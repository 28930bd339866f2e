"""Normalization and tokenization with tensorflow-text, inside the TensorFlow graph.

Both training and serving call the same :class:`Tokenizer`, so a text is split identically in
``sentiment train``, :class:`sentiment.Predictor` and an exported SavedModel.
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_text as tf_text

from ..errors import ConfigError

#: HTML line breaks (``<br />``, ``<br>``, ``<BR/>``), frequent in IMDB reviews.
HTML_LINE_BREAK = r"(?i)<br\s*/?>"

TOKENIZERS = ("unicode_script", "whitespace")

#: A run of Latin letters, kept as a delimiter when splitting words of Latin letters, ASCII
#: digits and punctuation (see :meth:`Tokenizer._split_scripts`).
LATIN_RUN = r"(\p{Latin}+)"


def normalize(texts: tf.Tensor) -> tf.Tensor:
    """Normalize a batch of texts: NFKC, Unicode case folding, HTML line breaks to spaces.

    Args:
        texts: ``(batch,) tf.string`` UTF-8 texts.

    Returns:
        ``(batch,) tf.string``, normalized.
    """
    texts = tf_text.normalize_utf8(texts, "NFKC")
    texts = tf_text.case_fold_utf8(texts)
    return tf.strings.regex_replace(texts, HTML_LINE_BREAK, " ")


class Tokenizer:
    """Normalizes and splits texts into string tokens.

    Args:
        kind: ``unicode_script`` (splits on whitespace, then each word with tensorflow-text
            ``UnicodeScriptTokenizer`` on changes of Unicode script, so punctuation becomes its
            own token)
            or ``whitespace`` (``WhitespaceTokenizer``).

    Raises:
        ConfigError: for another ``kind``.
    """

    def __init__(self, kind: str = "unicode_script"):
        if kind not in TOKENIZERS:
            raise ConfigError(f"tokenizer must be one of {', '.join(TOKENIZERS)}; "
                              f"received {kind!r}")
        self.kind = kind
        self._whitespace = tf_text.WhitespaceTokenizer()
        self._script = tf_text.UnicodeScriptTokenizer()

    def tokenize(self, texts: tf.Tensor | list[str]) -> tf.RaggedTensor:
        """Normalize and split.

        Args:
            texts: ``(batch,) tf.string`` (or a list of ``str``).

        Returns:
            ``(batch, None) tf.string`` ragged tokens; an empty text has no tokens.
        """
        words = self._whitespace.tokenize(normalize(tf.convert_to_tensor(texts, dtype=tf.string)))
        if self.kind == "whitespace":
            return words
        # UnicodeScriptTokenizer alone joins runs of one script across spaces ("!! (" becomes
        # "!!("), so it splits each whitespace-separated word
        return self._split_scripts(words)

    def _split_scripts(self, words: tf.RaggedTensor) -> tf.RaggedTensor:
        """``(batch, None)`` words -> ``(batch, None)`` tokens: each word split by
        ``UnicodeScriptTokenizer``, in order.

        That tokenizer is the slowest step of the pipeline (docs/benchmarks/scoring.md gives
        the figures); most words are cheaper to split with the same result:

        * a run of Latin letters (84% of IMDB's words) is one token;
        * Latin letters mixed with ASCII digits and punctuation (``film,``, ``don't``,
          ``3rd``) split into the runs of Latin letters and the runs between them (ASCII
          digits and punctuation are all of the Common script), with
          ``tensorflow_text.regex_split``;
        * only the other words (other scripts, emoji, typographic punctuation) go through
          ``UnicodeScriptTokenizer``.

        The pieces are put back in word order with ``tf.dynamic_stitch``. Tests compare the
        result with ``UnicodeScriptTokenizer`` on every word.
        """
        flat = words.flat_values  # (words,) tf.string
        latin = tf.strings.regex_full_match(flat, r"\p{Latin}+")
        ascii_mixed = tf.logical_and(tf.logical_not(latin), tf.strings.regex_full_match(
            flat, r"[\p{Latin}[:punct:]0-9]+"))
        other = tf.logical_not(tf.logical_or(latin, ascii_mixed))
        groups = []  # (word indices (n,) int64, their pieces (n, None) tf.string)
        at = tf.where(latin)[:, 0]
        groups.append((at, tf.RaggedTensor.from_tensor(tf.gather(flat, at)[:, None])))
        at = tf.where(ascii_mixed)[:, 0]
        groups.append((at, tf_text.regex_split(tf.gather(flat, at), LATIN_RUN, LATIN_RUN)))
        at = tf.where(other)[:, 0]
        groups.append((at, self._script.tokenize(tf.gather(flat, at))))

        # the groups partition the words: tokens per word, (words,) int64
        counts = tf.dynamic_stitch([tf.cast(at, tf.int32) for at, _ in groups],
                                   [pieces.row_lengths() for _, pieces in groups])
        first = tf.cumsum(counts, exclusive=True)  # position of each word's first token
        positions, values = [], []
        for at, pieces in groups:
            # piece j of word w goes to first[w] + j (dense arithmetic on the flat values:
            # ragged elementwise ops broadcast through a much slower path)
            word_of_piece = pieces.value_rowids()
            positions.append(tf.cast(
                tf.gather(tf.gather(first, at), word_of_piece)
                + tf.range(tf.size(pieces.flat_values, out_type=tf.int64))
                - tf.gather(pieces.row_starts(), word_of_piece), tf.int32))
            values.append(pieces.flat_values)
        tokens = tf.dynamic_stitch(positions, values)
        per_text = tf.reduce_sum(tf.RaggedTensor.from_row_splits(counts, words.row_splits), 1)
        return tf.RaggedTensor.from_row_lengths(tokens, per_text)
