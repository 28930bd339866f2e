"""Sequences of vectors (sentiment.sequences.data): cells, normalization, padding, targets."""

import numpy as np
import pytest

from sentiment.errors import DataError
from sentiment.sequences.data import (FeatureNormalizer, TargetScaler, check_features,
                                      load_sequence_file, pad_sequences, to_frames)


def test_cells_become_time_by_feature_arrays():
    assert to_frames([[1, 2], [3, 4], [5, 6]], "x").shape == (3, 2)
    assert to_frames([0.5, 0.0, 1.5], "x").shape == (3, 1)  # one feature per frame
    assert to_frames(np.ones((1, 512)), "x").dtype == np.float32
    for value, message in ((None, "missing"), ([], "no frames"), ([[1, 2], [3]], "frames"),
                           ([[1.0, float("nan")]], "frame 0 holds NaN"),
                           ([[1.0], [float("inf")]], "frame 1"), ("abc", "JSON list"),
                           ([["a", "b"]], "numbers")):
        with pytest.raises(DataError, match=message):
            to_frames(value, "f.parquet: row 3, column 'frames'")
    with pytest.raises(DataError, match="sequence 1 has 3 features per frame; the model takes 2"):
        check_features([np.zeros((2, 2)), np.zeros((4, 3))], 2, "f.parquet")


def test_padding_keeps_the_true_lengths_and_zero_frames():
    a, b = np.zeros((2, 3), np.float32), np.arange(12, dtype=np.float32).reshape(4, 3)
    values, lengths = pad_sequences([a, b])
    assert values.shape == (2, 4, 3) and lengths.tolist() == [2, 4]
    np.testing.assert_array_equal(values[1], b)
    assert not values[0].any()  # the real all-zero frames: the lengths say they are real


def test_normalization_statistics_round_trip():
    sequences = [np.array([[1.0, 5.0], [3.0, 5.0]]), np.array([[5.0, 5.0]])]
    normalizer = FeatureNormalizer.fit(sequences)
    assert normalizer.mean == pytest.approx((3.0, 5.0))
    assert normalizer.std[1] == 1.0  # a constant feature is left unscaled
    again = FeatureNormalizer.from_dict(normalizer.to_dict())
    np.testing.assert_allclose(again.transform(sequences[0])[:, 0],
                               [-2 / np.std([1, 3, 5]), 0.0])


def test_targets_are_restored_to_their_units():
    scaler = TargetScaler.fit([1.0, 4.0, 10.0, 7.0])
    scaled = scaler.transform([1.0, 10.0])
    np.testing.assert_allclose(scaler.inverse(scaled), [1.0, 10.0], rtol=1e-6)
    with pytest.raises(DataError, match="finite"):
        TargetScaler.fit([1.0, float("nan")])


def test_load_sequence_file_reads_parquet_list_columns(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"frames": [[[0.1, 0.2], [0.3, 0.4]], [[1.0, 2.0]]], "label": ["1", "2"]})
    pq.write_table(table, tmp_path / "s.parquet")
    data = load_sequence_file(tmp_path / "s.parquet")
    assert [s.shape for s in data.sequences] == [(2, 2), (1, 2)] and data.targets == ("1", "2")
    pq.write_table(pa.table({"frames": [[[0.1, 0.2]], []], "label": ["1", "2"]}),
                   tmp_path / "bad.parquet")
    with pytest.raises(DataError, match=r"bad.parquet: row 2, column 'frames': the sequence "
                                        "has no frames"):
        load_sequence_file(tmp_path / "bad.parquet")


def test_csv_cells_hold_json_and_regression_targets_are_numbers(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text('frames,rating\n"[[1, 2], [3, 4]]",7\n"[[0.5, 0.25]]",2.5\n')
    data = load_sequence_file(path, "frames", "rating", task="regression")
    assert [s.shape for s in data.sequences] == [(2, 2), (1, 2)]
    np.testing.assert_allclose(data.targets, [7.0, 2.5])
    path.write_text('frames,rating\n"[[1, 2]]",7\n"[[1, 2]]",high\n')
    with pytest.raises(DataError, match=r"row 2, column 'rating': a regression target must be "
                                        "a number; received 'high'"):
        load_sequence_file(path, "frames", "rating", task="regression")


def test_feature_counts_must_agree_within_a_file(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_text('{"frames": [[1, 2]], "label": "a"}\n{"frames": [[1, 2, 3]], "label": "b"}\n')
    with pytest.raises(DataError, match="sequence 1 has 3 features per frame; the model takes 2"):
        load_sequence_file(path)


def test_the_validation_split_is_stratified_and_seeded():
    from sentiment.sequences.data import LabelledSequences, split_validation

    data = LabelledSequences([np.full((2, 1), i, np.float32) for i in range(40)],
                             tuple("ab"[i % 2] for i in range(40)), "mem")
    train, validation = split_validation(data, 0.25, seed=3)
    assert len(train) + len(validation) == 40 and sorted(validation.targets) == ["a"] * 5 + ["b"] * 5
    again = split_validation(data, 0.25, seed=3)[1]
    assert [s[0, 0] for s in again.sequences] == [s[0, 0] for s in validation.sequences]
    seen = {float(s[0, 0]) for s in train.sequences} | {float(s[0, 0]) for s in validation.sequences}
    assert seen == set(map(float, range(40)))


def test_the_japanese_vowels_data_set():
    from conftest import require_data

    from sentiment.sequences.data import load_sequence_dataset

    root = require_data("japanese_vowels/train.parquet", "japanese_vowels/test.parquet")
    import os

    previous = os.environ.get("SENTIMENT_DATA_DIR")
    os.environ["SENTIMENT_DATA_DIR"] = str(root)
    try:
        train, test = load_sequence_dataset("japanese_vowels")
    finally:
        if previous is None:
            del os.environ["SENTIMENT_DATA_DIR"]
        else:
            os.environ["SENTIMENT_DATA_DIR"] = previous
    assert (len(train), len(test), train.features) == (270, 370, 12)
    assert sorted(set(train.targets)) == [str(i) for i in range(1, 10)]
    assert 7 <= min(map(len, train.sequences)) and max(map(len, test.sequences)) <= 29
