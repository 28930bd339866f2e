"""Batching of token ids for training and inference: padding and length bucketing.

Recurrent layers cost time in proportion to the padded length, so batches hold texts of
similar length (``tf.data.Dataset.bucket_by_sequence_length``) and are padded only to their
own longest text, not to the global maximum.
"""

from __future__ import annotations

import contextlib
import warnings
from typing import Iterator

import numpy as np
import tensorflow as tf

from .vocabulary import PAD_ID


@contextlib.contextmanager
def bucketed_fit_warnings_ignored() -> Iterator[None]:
    """Ignore, inside the block, the two warnings Keras' ``fit`` gives for the bucketed
    datasets of this module: their length is unknown (it warns that the input "ran out of
    data" at the end of the first epoch) and they shuffle themselves (it warns that
    ``shuffle=True`` is ignored for a dataset)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*ran out of data")
        warnings.filterwarnings("ignore", message=".*`shuffle=True` was passed")
        yield


def bucket_boundaries(max_length: int, smallest: int = 16, growth: float = 1.2) -> list[int]:
    """Geometric bucket boundaries ``[16, 19, 23, ...] < max_length`` (tokens).

    A text of length ``n`` lands in the first bucket whose boundary exceeds ``n``; growth 1.2
    bounds the padding inside a bucket to about a sixth of its tokens (docs/benchmarks/imdb.md
    compares it with 1.5 on IMDB).
    """
    boundaries, edge = [], float(smallest)
    while edge < max_length:
        boundaries.append(int(edge))
        edge *= growth
    return boundaries


def bucketed_batch_count(lengths: np.ndarray, boundaries: list[int], batch_size: int) -> int:
    """How many batches ``bucket_by_sequence_length`` makes of texts of ``lengths`` tokens:
    per bucket (``boundaries[i - 1] <= length < boundaries[i]``), its texts in batches of
    ``batch_size``, the last one partial. The same whatever the shuffling."""
    buckets = np.searchsorted(np.asarray(boundaries), np.asarray(lengths), side="right")
    counts = np.bincount(buckets, minlength=len(boundaries) + 1)
    return int(np.sum(-(-counts // batch_size)))


def to_ragged_arrays(ids: tf.RaggedTensor) -> tuple[np.ndarray, np.ndarray]:
    """Ragged ``(n, None)`` ids -> ``(flat_values int32, row_splits int64)`` numpy arrays."""
    return ids.flat_values.numpy().astype(np.int32), ids.row_splits.numpy()


def training_dataset(ids: tf.RaggedTensor, labels: np.ndarray, batch_size: int, *,
                     bucketing: bool = True, shuffle: bool = True, seed: int = 0,
                     max_length: int | None = None) -> tf.data.Dataset:
    """A ``tf.data.Dataset`` of ``((batch, time) int32 ids, (batch,) int32 labels)``, or
    ``(batch, labels) float32`` multi-hot labels.

    Args:
        ids: ``(n, None) int32`` ragged token ids, each row non-empty.
        labels: ``(n,)`` int class indices, ``(n, labels)`` multi-hot rows
            (multi-label), or ``(n,)`` float standardized targets (regression).
        batch_size: examples per batch.
        bucketing: group texts of similar length (:func:`bucket_boundaries` of
            ``max_length``); otherwise each batch is padded to its own longest text.
        shuffle: reshuffle the examples every epoch (``seed`` makes it repeatable).
        max_length: the truncation length, for the bucket boundaries (default: longest row).
    """
    labels = np.asarray(labels)
    # class indices stay int32; multi-hot rows and regression targets are float32
    integer = labels.ndim == 1 and not np.issubdtype(labels.dtype, np.floating)
    labels = tf.constant(labels.astype(np.int32 if integer else np.float32))
    label_shape = labels.shape[1:]  # () for class indices, (labels,) for multi-hot rows
    flat_values, row_splits = ids.flat_values, ids.row_splits
    # slicing a RaggedTensor in tf.data yields ragged elements, which padded_batch and
    # bucket_by_sequence_length refuse; slice the flat values by row instead
    dataset = tf.data.Dataset.range(len(labels))
    if shuffle:
        dataset = dataset.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.map(
        lambda i: (flat_values[row_splits[i]:row_splits[i + 1]], labels[i]),
        num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if bucketing:
        if max_length is None:
            max_length = int(tf.reduce_max(ids.row_lengths()))
        boundaries = bucket_boundaries(max_length)
        dataset = dataset.bucket_by_sequence_length(
            element_length_func=lambda x, y: tf.shape(x)[0],
            bucket_boundaries=boundaries,
            bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
            padded_shapes=([None], label_shape),
            padding_values=(PAD_ID, tf.constant(0, labels.dtype)),
        )
        # tf.data cannot know how many batches the buckets yield; telling it lets Keras show
        # the real step count and ETA from the first epoch on (not "1/Unknown")
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(
            bucketed_batch_count(ids.row_lengths().numpy(), boundaries, batch_size)))
    else:
        dataset = dataset.padded_batch(batch_size, padded_shapes=([None], label_shape),
                                       padding_values=(PAD_ID, tf.constant(0, labels.dtype)))
    return dataset.prefetch(tf.data.AUTOTUNE)


def length_sorted_batches(lengths: np.ndarray, batch_size: int) -> Iterator[np.ndarray]:
    """Index batches over examples sorted by length (for inference; put results back with the
    indices). Yields ``(<= batch_size,) int64`` index arrays."""
    order = np.argsort(np.asarray(lengths), kind="stable")
    for start in range(0, len(order), batch_size):
        yield order[start:start + batch_size]


def pad_rows(flat_values: np.ndarray, row_splits: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Gather ``rows`` of a ragged array into ``(len(rows), longest) int32``, right-padded
    with 0."""
    starts, ends = row_splits[rows], row_splits[rows + 1]
    lengths = ends - starts
    out = np.full((len(rows), int(lengths.max(initial=1))), PAD_ID, dtype=np.int32)
    for i, (start, end) in enumerate(zip(starts, ends)):
        out[i, : end - start] = flat_values[start:end]
    return out
