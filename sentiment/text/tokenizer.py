"""Normalization and tokenization with tensorflow-text, inside the TensorFlow graph.

Both training and serving call the same :class:`Tokenizer`, so a text is split identically in
``sentiment train``, :class:`sentiment.Predictor` and an exported SavedModel.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf
import tensorflow_text as tf_text

from ..errors import ConfigError

#: HTML line breaks (``<br />``, ``<br>``, ``<BR/>``), frequent in IMDB reviews.
HTML_LINE_BREAK = r"(?i)<br\s*/?>"

TOKENIZERS = ("unicode_script", "whitespace")


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
        # "!!("), so it splits each whitespace-separated word: (batch, words, pieces) -> merge
        return self._script.tokenize(words).merge_dims(1, 2)

    def get_config(self) -> dict[str, Any]:
        return {"kind": self.kind}
