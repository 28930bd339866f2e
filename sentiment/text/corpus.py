"""Language-model corpora: token ids of whole documents -> one stream -> training windows.

    documents: one (length,) int32 id array per text (the classifier's text pipeline, without
               truncation)
      -> token_stream: the documents concatenated, each followed by the boundary id
                                                        (total,) int32
      -> lm_windows: consecutive windows of sequence_length tokens
                     inputs  (windows, sequence_length) int32
                     targets (windows, sequence_length) int32, the inputs shifted by one

Held-out documents get their own stream (:func:`split_documents` splits by document), so no
window holds tokens of both (``sentiment pretrain``, :mod:`sentiment.pretraining`).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

#: The document boundary token a language model learns to predict after each text.
BOUNDARY_TOKEN = "[EOD]"


def token_stream(documents: Sequence[np.ndarray], boundary_id: int) -> np.ndarray:
    """The documents' ids one after another, each followed by ``boundary_id``.

    Args:
        documents: one ``(length,)`` integer array per document (length may be 0).
        boundary_id: the id of :data:`BOUNDARY_TOKEN` (> 0: id 0 is padding).

    Returns:
        ``(sum(lengths) + len(documents),) int32``.

    Raises:
        ValueError: for ``boundary_id <= 0`` or a document that is not 1-D.
    """
    if boundary_id <= 0:
        raise ValueError(f"boundary_id must be > 0 (0 is padding); received {boundary_id}")
    parts = []
    for index, ids in enumerate(documents):
        ids = np.asarray(ids)
        if ids.ndim != 1:
            raise ValueError(f"documents[{index}] must be a 1-D id array; received shape "
                             f"{ids.shape}")
        parts += [ids.astype(np.int32), np.array([boundary_id], dtype=np.int32)]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)


def lm_windows(stream: np.ndarray, sequence_length: int) -> tuple[np.ndarray, np.ndarray]:
    """Consecutive, non-overlapping windows of ``stream`` and their next-token targets.

    Window ``k`` holds ``stream[k * L:(k + 1) * L]`` and its targets ``stream[k * L + 1:(k + 1)
    * L + 1]`` (``L = sequence_length``); the tokens after the last full window are dropped.

    Returns:
        ``(inputs, targets)``, each ``(windows, sequence_length) int32``, ``windows =
        (len(stream) - 1) // sequence_length``.

    Raises:
        ValueError: for ``sequence_length < 1``.
    """
    if sequence_length < 1:
        raise ValueError(f"sequence_length must be >= 1; received {sequence_length}")
    stream = np.asarray(stream, dtype=np.int32)
    windows = max(len(stream) - 1, 0) // sequence_length
    end = windows * sequence_length
    return (stream[:end].reshape(windows, sequence_length),
            stream[1:end + 1].reshape(windows, sequence_length))


def split_documents(count: int, held_out_fraction: float,
                    seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded split of ``count`` documents: ``(train, held_out)`` sorted index arrays, the
    held-out part ``round(count * held_out_fraction)`` documents (at least one when the
    fraction is > 0 and there are two or more).

    Raises:
        ValueError: for a fraction outside [0, 1).
    """
    if not 0 <= held_out_fraction < 1:
        raise ValueError(f"held_out_fraction must be in [0, 1); received {held_out_fraction}")
    order = np.random.default_rng(seed).permutation(count)
    cut = int(round(count * held_out_fraction))
    if held_out_fraction > 0 and count >= 2:
        cut = min(max(cut, 1), count - 1)
    return np.sort(order[cut:]), np.sort(order[:cut])
