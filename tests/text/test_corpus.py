"""Language-model corpora (sentiment.text.corpus): streams, windows, document splits."""

import numpy as np
import pytest

from sentiment.text.corpus import lm_windows, split_documents, token_stream


def test_the_stream_ends_each_document_with_the_boundary():
    stream = token_stream([np.array([5, 6]), np.array([], dtype=np.int32), np.array([7])], 2)
    assert stream.dtype == np.int32
    assert stream.tolist() == [5, 6, 2, 2, 7, 2]
    with pytest.raises(ValueError, match="boundary_id"):
        token_stream([np.array([5])], 0)
    with pytest.raises(ValueError, match=r"documents\[0\]"):
        token_stream([np.zeros((2, 2))], 2)


def test_targets_are_the_inputs_shifted_by_one():
    stream = np.arange(3, 14, dtype=np.int32)  # 11 tokens
    inputs, targets = lm_windows(stream, 4)
    assert inputs.shape == targets.shape == (2, 4)
    assert inputs.tolist() == [[3, 4, 5, 6], [7, 8, 9, 10]]
    np.testing.assert_array_equal(targets, inputs + 1)
    assert targets[-1, -1] == stream[8]  # the last target exists in the stream
    empty_inputs, _ = lm_windows(stream[:1], 4)
    assert empty_inputs.shape == (0, 4)
    with pytest.raises(ValueError, match="sequence_length"):
        lm_windows(stream, 0)


def test_held_out_documents_never_share_a_window_with_training_ones():
    documents = [np.full(n, 10 + i, dtype=np.int32) for i, n in enumerate([3, 5, 2, 7, 4])]
    train, held_out = split_documents(len(documents), 0.4, seed=0)
    assert sorted(train.tolist() + held_out.tolist()) == list(range(5))
    assert len(held_out) == 2
    train_inputs, _ = lm_windows(token_stream([documents[i] for i in train], 1), 3)
    held_ids = {10 + i for i in held_out}
    assert not held_ids & set(np.unique(train_inputs).tolist())
    assert split_documents(10, 0.0, 1)[1].size == 0
    with pytest.raises(ValueError, match="held_out_fraction"):
        split_documents(10, 1.0, 1)
