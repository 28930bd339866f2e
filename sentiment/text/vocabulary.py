"""A token vocabulary built from training data, saved as ``vocab.txt``, looked up in-graph.

Id 0 is padding (``[PAD]``) and id 1 the OOV token (``[UNK]``); the other tokens follow by
decreasing count in the training split (ties by token, so the build is deterministic).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import tensorflow as tf

from ..errors import ConfigError, ModelError

PAD_TOKEN = "[PAD]"
OOV_TOKEN = "[UNK]"
PAD_ID = 0
OOV_ID = 1


def empty_vocabulary_error(highest_count: int, min_frequency: int) -> ConfigError:
    """The error for a training split in which no token reaches ``min_frequency``."""
    if not highest_count:
        return ConfigError("the vocabulary is empty: the training texts hold no tokens")
    return ConfigError(
        f"the vocabulary is empty: lower --min-frequency (no token occurs {min_frequency} "
        f"times in the training texts; the most frequent occurs {highest_count} "
        f"time{'s' if highest_count != 1 else ''})")


class Vocabulary:
    """Maps string tokens to int32 ids and back.

    Args:
        tokens: the vocabulary in id order; ``tokens[0]`` must be ``[PAD]`` and ``tokens[1]``
            ``[UNK]``, and no token may repeat.

    Raises:
        ConfigError: when the reserved tokens are not in place or a token repeats.
    """

    def __init__(self, tokens: Sequence[str]):
        tokens = list(tokens)
        if tokens[:2] != [PAD_TOKEN, OOV_TOKEN]:
            raise ConfigError(f"tokens must start with {PAD_TOKEN!r}, {OOV_TOKEN!r}; "
                              f"received {tokens[:2]!r}")
        self._index = {token: i for i, token in enumerate(tokens)}
        if len(self._index) != len(tokens):
            duplicate = next(t for t, c in Counter(tokens).items() if c > 1)
            raise ConfigError(f"token {duplicate!r} appears more than once in the vocabulary")
        self._tokens = tokens
        self._table = None

    # -- building -------------------------------------------------------------------------

    @classmethod
    def build(cls, token_batches: Iterable[np.ndarray], max_size: int,
              min_frequency: int = 1) -> "Vocabulary":
        """Count tokens and keep the most frequent.

        Args:
            token_batches: iterable of 1-D arrays of tokens (``bytes`` or ``str``), e.g. the
                flat values of :meth:`Tokenizer.tokenize` over chunks of the training split.
            max_size: maximum vocabulary size, ``[PAD]`` and ``[UNK]`` included (>= 3).
            min_frequency: tokens seen fewer times are left out (they map to ``[UNK]``).

        Raises:
            ConfigError: when ``max_size < 3`` or ``min_frequency < 1``, or when no token
                reaches ``min_frequency`` (the vocabulary would be empty; the message gives
                the highest count).
        """
        if max_size < 3:
            raise ConfigError(f"max_size must be >= 3; received {max_size!r}")
        if min_frequency < 1:
            raise ConfigError(f"min_frequency must be >= 1; received {min_frequency!r}")
        counts: Counter = Counter()
        for batch in token_batches:
            values, batch_counts = np.unique(np.asarray(batch, dtype=object), return_counts=True)
            counts.update(dict(zip(values.tolist(), batch_counts.tolist())))
        reserved = {PAD_TOKEN, OOV_TOKEN}
        kept = []
        for token, count in counts.items():
            token = token.decode("utf-8") if isinstance(token, bytes) else token
            if count >= min_frequency and token not in reserved:
                kept.append((-count, token))
        if not kept:
            raise empty_vocabulary_error(max(counts.values(), default=0), min_frequency)
        kept.sort()
        return cls([PAD_TOKEN, OOV_TOKEN] + [t for _, t in kept[: max_size - 2]])

    # -- keras-hub style accessors ---------------------------------------------------------

    def vocabulary_size(self) -> int:
        """Number of ids, ``[PAD]`` and ``[UNK]`` included."""
        return len(self._tokens)

    def get_vocabulary(self) -> list[str]:
        return list(self._tokens)

    def token_to_id(self, token: str) -> int:
        """The id of ``token``, or the OOV id (1) when it is not in the vocabulary."""
        return self._index.get(token, OOV_ID)

    def id_to_token(self, token_id: int) -> str:
        """The token of ``token_id``.

        Raises:
            ValueError: when ``token_id`` is outside ``[0, vocabulary_size())``.
        """
        if not 0 <= token_id < len(self._tokens):
            raise ValueError(f"token_id must be in [0, {len(self._tokens)}); "
                             f"received {token_id!r}")
        return self._tokens[token_id]

    # -- in-graph lookup -------------------------------------------------------------------

    @property
    def table(self) -> tf.lookup.StaticHashTable:
        """A ``tf.lookup.StaticHashTable`` string -> int32 id, OOV tokens -> 1."""
        if self._table is None:
            keys = tf.constant(self._tokens[2:], dtype=tf.string)
            values = tf.range(2, len(self._tokens), dtype=tf.int32)
            self._table = tf.lookup.StaticHashTable(
                tf.lookup.KeyValueTensorInitializer(keys, values), default_value=OOV_ID)
        return self._table

    def lookup(self, tokens: tf.RaggedTensor) -> tf.RaggedTensor:
        """Map ``(batch, None) tf.string`` ragged tokens to ``(batch, None) tf.int32`` ids."""
        return tf.ragged.map_flat_values(self.table.lookup, tokens)

    # -- persistence -----------------------------------------------------------------------

    def save(self, path: str | Path) -> None:
        """Write one token per line, in id order (UTF-8, ``\\n`` line ends)."""
        Path(path).write_text("\n".join(self._tokens) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> "Vocabulary":
        """Read a ``vocab.txt`` written by :meth:`save`.

        Raises:
            ModelError: when the file is missing or malformed.
        """
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ModelError(f"{path} is missing; the model directory is incomplete") from None
        except UnicodeDecodeError as error:
            raise ModelError(f"{path} is corrupted ({error})") from None
        # split on "\n" only: str.splitlines would also split tokens on U+2028 and friends
        tokens = text[:-1].split("\n") if text.endswith("\n") else text.split("\n")
        try:
            return cls(tokens)
        except ConfigError as error:
            raise ModelError(f"{path} is corrupted: {error}") from None
