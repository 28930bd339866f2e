import numpy as np
import pytest
import tensorflow as tf

from sentiment.errors import ConfigError, ModelError
from sentiment.text.vocabulary import OOV_ID, OOV_TOKEN, PAD_ID, PAD_TOKEN, Vocabulary


def build(tokens, max_size=100, min_frequency=1):
    return Vocabulary.build([np.array(tokens, dtype=object)], max_size, min_frequency)


def test_reserved_ids_then_frequency_order_with_ties_by_token():
    vocab = build(["b", "a", "c", "a", "b", "a", "d"])
    assert vocab.get_vocabulary() == [PAD_TOKEN, OOV_TOKEN, "a", "b", "c", "d"]
    assert vocab.token_to_id(PAD_TOKEN) == PAD_ID and vocab.token_to_id(OOV_TOKEN) == OOV_ID


def test_min_frequency_drops_rare_tokens():
    vocab = build(["a", "a", "b", "b", "c"], min_frequency=2)
    assert vocab.get_vocabulary()[2:] == ["a", "b"]
    assert vocab.token_to_id("c") == OOV_ID


def test_max_size_counts_the_reserved_tokens():
    vocab = build(["a"] * 3 + ["b"] * 2 + ["c"], max_size=4)
    assert vocab.vocabulary_size() == 4
    assert vocab.get_vocabulary()[2:] == ["a", "b"]


def test_counts_add_up_across_batches_of_bytes():
    batches = [np.array([b"x", b"y"], dtype=object), np.array([b"y"], dtype=object)]
    assert Vocabulary.build(batches, 10).get_vocabulary()[2:] == ["y", "x"]


def test_in_graph_lookup_maps_unknown_tokens_to_oov():
    vocab = build(["good", "bad", "good"])
    ids = vocab.lookup(tf.ragged.constant([["good", "unseen"], ["bad"]]))
    assert ids.dtype == tf.int32
    assert ids.to_list() == [[2, OOV_ID], [3]]
    assert vocab.id_to_token(2) == "good"
    with pytest.raises(ValueError, match="received 99"):
        vocab.id_to_token(99)


def test_round_trip_through_vocab_txt(tmp_path):
    vocab = build(["naïve", "映画", "😀", "a\u2028b", "x"])
    vocab.save(tmp_path / "vocab.txt")
    lines = (tmp_path / "vocab.txt").read_text(encoding="utf-8").split("\n")
    assert lines[:2] == [PAD_TOKEN, OOV_TOKEN]
    loaded = Vocabulary.load(tmp_path / "vocab.txt")
    assert loaded.get_vocabulary() == vocab.get_vocabulary()


def test_load_rejects_missing_and_corrupted_files(tmp_path):
    with pytest.raises(ModelError, match="missing"):
        Vocabulary.load(tmp_path / "vocab.txt")
    (tmp_path / "vocab.txt").write_text("a\nb\n")
    with pytest.raises(ModelError, match="corrupted"):
        Vocabulary.load(tmp_path / "vocab.txt")


def test_invalid_arguments_name_the_value():
    with pytest.raises(ConfigError, match="received 2"):
        build(["a"], max_size=2)
    with pytest.raises(ConfigError, match="'a'"):
        Vocabulary([PAD_TOKEN, OOV_TOKEN, "a", "a"])
