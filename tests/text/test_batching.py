import numpy as np
import tensorflow as tf

from sentiment.text.batching import (bucket_boundaries, length_sorted_batches, pad_rows,
                                     training_dataset)


def make_ids(lengths, seed=0):
    rng = np.random.default_rng(seed)
    return tf.ragged.constant([rng.integers(2, 50, size=n).tolist() for n in lengths],
                              dtype=tf.int32)


def test_bucket_boundaries_grow_geometrically_below_max_length():
    boundaries = bucket_boundaries(100)
    assert boundaries[0] == 16 and boundaries[-1] < 100
    assert all(b2 > b1 for b1, b2 in zip(boundaries, boundaries[1:]))


def test_every_example_appears_once_and_padding_is_zero():
    lengths = np.random.default_rng(1).integers(1, 120, size=300)
    ids = make_ids(lengths)
    labels = np.arange(300) % 2
    seen = []
    for batch_ids, batch_labels in training_dataset(ids, labels, 32, max_length=120, seed=3):
        batch_ids = batch_ids.numpy()
        assert batch_ids.dtype == np.int32 and batch_ids.shape[0] <= 32
        row_lengths = (batch_ids != 0).sum(axis=1)
        for row, n in zip(batch_ids, row_lengths):
            assert np.all(row[n:] == 0) and np.all(row[:n] != 0)  # right padding
        seen.extend(row_lengths.tolist())
    assert sorted(seen) == sorted(lengths.tolist())


def test_a_bucketed_epoch_knows_its_number_of_batches():
    lengths = np.random.default_rng(4).integers(1, 200, size=500)
    ids = make_ids(lengths)
    labels = np.zeros(500, dtype=np.int32)
    for seed in (0, 1):
        dataset = training_dataset(ids, labels, 16, max_length=200, seed=seed)
        assert int(dataset.cardinality()) == sum(1 for _ in dataset) > 500 // 16
    plain = training_dataset(ids, labels, 16, bucketing=False)
    assert int(plain.cardinality()) == sum(1 for _ in plain) == 32


def test_bucketing_pads_less_than_plain_batching():
    lengths = np.random.default_rng(2).integers(1, 400, size=1000)
    ids = make_ids(lengths)
    labels = np.zeros(1000, dtype=np.int32)

    def padded_tokens(bucketing):
        return sum(int(np.prod(x.shape)) for x, _ in
                   training_dataset(ids, labels, 32, bucketing=bucketing, max_length=400))

    real = int(lengths.sum())
    assert padded_tokens(True) - real < 0.5 * (padded_tokens(False) - real)


def test_bucketed_batches_hold_similar_lengths():
    lengths = np.random.default_rng(4).integers(1, 400, size=2000)
    ids = make_ids(lengths)
    boundaries = [0] + bucket_boundaries(400) + [10**9]
    for x, _ in training_dataset(ids, np.zeros(2000, np.int32), 32, max_length=400):
        row_lengths = (x.numpy() != 0).sum(axis=1)
        bucket = np.searchsorted(boundaries, row_lengths, side="right")
        assert len(set(bucket.tolist())) == 1


def test_length_sorted_batches_cover_all_indices_in_length_order():
    lengths = np.array([5, 1, 9, 3, 7])
    batches = list(length_sorted_batches(lengths, 2))
    order = np.concatenate(batches)
    assert sorted(order.tolist()) == [0, 1, 2, 3, 4]
    assert lengths[order].tolist() == sorted(lengths.tolist())


def test_pad_rows_gathers_and_right_pads():
    flat = np.array([1, 2, 3, 4, 5, 6], dtype=np.int32)
    splits = np.array([0, 3, 4, 6])
    assert pad_rows(flat, splits, np.array([1, 0])).tolist() == [[4, 0, 0], [1, 2, 3]]
