import numpy as np
import pytest
import tensorflow as tf

from sentiment.errors import ConfigError
from sentiment.text.encoder import TextEncoder, add_ngrams, ensure_nonempty, truncate
from sentiment.text.tokenizer import Tokenizer
from sentiment.text.vocabulary import OOV_ID, Vocabulary


def ragged(rows):
    return tf.ragged.constant(rows, dtype=tf.int32)


def test_head_truncation_keeps_the_first_tokens():
    assert truncate(ragged([list(range(10)), [1, 2]]), 4).to_list() == [[0, 1, 2, 3], [1, 2]]


def test_head_tail_truncation_keeps_a_quarter_head_and_the_tail():
    out = truncate(ragged([list(range(20)), [5, 6, 7]]), 8, "head_tail").to_list()
    assert out == [[0, 1, 14, 15, 16, 17, 18, 19], [5, 6, 7]]


def test_truncation_rejects_bad_arguments():
    with pytest.raises(ConfigError, match="'middle'"):
        truncate(ragged([[1]]), 4, "middle")
    with pytest.raises(ConfigError, match="received 0"):
        truncate(ragged([[1]]), 0)


def test_empty_rows_get_one_oov_token():
    assert ensure_nonempty(ragged([[], [4, 5], []])).to_list() == [[OOV_ID], [4, 5], [OOV_ID]]


@pytest.fixture
def encoder():
    vocab = Vocabulary.build([np.array(["good", "film", "bad", "!"], dtype=object)], 100)
    return TextEncoder(Tokenizer(), vocab, max_length=3)


def test_encode_tokenizes_looks_up_and_truncates(encoder):
    vocab = encoder.vocabulary
    ids = encoder.encode(["Good film!", "bad bad bad bad", "", "unknown"]).to_list()
    assert ids[0] == [vocab.token_to_id("good"), vocab.token_to_id("film"), vocab.token_to_id("!")]
    assert ids[1] == [vocab.token_to_id("bad")] * 3
    assert ids[2] == [OOV_ID] and ids[3] == [OOV_ID]


def test_encode_padded_pads_right_with_zeros(encoder):
    padded = encoder.encode_padded(["good film !", "bad"]).numpy()
    assert padded.dtype == np.int32 and padded.shape == (2, 3)
    assert padded[1, 1:].tolist() == [0, 0] and padded[1, 0] != 0
    mask = padded != 0
    # right padding: once a row is masked it stays masked
    assert all(np.all(np.diff(row.astype(int)) <= 0) for row in mask)


def test_add_ngrams_appends_bigrams_and_trigrams_after_the_words():
    words = tf.ragged.constant([["not", "a", "good", "film"], ["fine"], []])
    assert add_ngrams(words, 1) is words
    out = [[t.decode() for t in row] for row in add_ngrams(words, 3).to_list()]
    assert out == [["not", "a", "good", "film", "not a", "a good", "good film", "not a good",
                    "a good film"], ["fine"], []]


def test_ngram_encoder_truncates_the_words_before_adding_their_ngrams():
    vocab = Vocabulary.build([np.array(["not", "good", "not good", "film", "good film"],
                                       dtype=object)], 100)
    encoder = TextEncoder(Tokenizer(), vocab, max_length=2, ngrams=2)
    assert [t.decode() for t in encoder.tokens(["Not good film"])[0].numpy()] == [
        "not", "good", "not good"]
    ids = encoder.encode(["Not good film", ""]).to_list()
    assert ids[0] == [vocab.token_to_id("not"), vocab.token_to_id("good"),
                      vocab.token_to_id("not good")]
    assert ids[1] == [OOV_ID]  # still never an empty row
