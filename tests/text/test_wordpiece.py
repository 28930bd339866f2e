"""WordPiece: learned from the training split, round trip, no OOV inside the alphabet, saved
with the model."""

import numpy as np
import pytest

from conftest import make_reviews
from sentiment.errors import ConfigError


@pytest.fixture(scope="module")
def wordpiece():
    from sentiment.text.encoder import TextEncoder
    from sentiment.text.wordpiece import make_tokenizer, vocabulary_type

    texts, _ = make_reviews(400, seed=3)
    splitter = make_tokenizer("wordpiece")
    vocabulary = vocabulary_type("wordpiece").build(
        [splitter.tokenize(texts).flat_values.numpy()], max_size=120, min_frequency=2)
    return splitter, vocabulary, TextEncoder(splitter, vocabulary, max_length=256)


def test_reserved_tokens_come_first_and_pieces_are_learned(wordpiece):
    from sentiment.text.vocabulary import OOV_TOKEN, PAD_TOKEN

    _, vocabulary, _ = wordpiece
    tokens = vocabulary.get_vocabulary()
    assert tokens[:2] == [PAD_TOKEN, OOV_TOKEN]
    assert len(tokens) <= 120 and len(set(tokens)) == len(tokens)
    assert any(t.startswith("##") for t in tokens)  # continuation pieces
    assert "wonderful" in tokens  # a frequent word is one piece


def test_round_trip_restores_the_normalized_words(wordpiece):
    splitter, vocabulary, encoder = wordpiece
    texts = ["The plot was SUPERB! and the ending... dull!", "Boring<br />film", ""]
    ids = encoder.encode(texts)
    words = [" ".join(w.decode() for w in row) for row in splitter.tokenize(texts).to_list()]
    restored = [s.decode() for s in vocabulary.detokenize(ids[:2]).numpy()]
    assert restored == words[:2]
    assert words[0] == "the plot was superb ! and the ending . . . dull !"
    assert ids[2].numpy().tolist() == [1]  # an empty text is one [UNK]


def test_unseen_words_of_the_training_alphabet_never_map_to_unk(wordpiece):
    _, vocabulary, encoder = wordpiece
    alphabet = {t for t in vocabulary.get_vocabulary() if len(t) == 1 and t.isalpha()}
    rng = np.random.default_rng(0)
    letters = sorted(alphabet)
    words = ["".join(rng.choice(letters, size=rng.integers(3, 12))) for _ in range(50)]
    ids = encoder.encode([" ".join(words)])[0].numpy()
    assert len(ids) > len(words)  # unseen words are split into several pieces
    assert 1 not in ids
    outside = encoder.encode(["zzz qqq"])[0].numpy()  # letters never seen in training
    assert set(outside.tolist()) == {1}


def test_saved_vocabulary_loads_with_the_same_ids(wordpiece, tmp_path):
    from sentiment.text.encoder import TextEncoder
    from sentiment.text.wordpiece import WordpieceVocabulary

    splitter, vocabulary, encoder = wordpiece
    vocabulary.save(tmp_path / "vocab.txt")
    loaded = WordpieceVocabulary.load(tmp_path / "vocab.txt")
    text = ["Unpredictable, moving and delightful — café"]
    again = TextEncoder(splitter, loaded, max_length=256).encode(text)
    assert again.to_list() == encoder.encode(text).to_list()


def test_truncation_counts_pieces(wordpiece):
    from sentiment.text.encoder import TextEncoder

    splitter, vocabulary, _ = wordpiece
    ids = TextEncoder(splitter, vocabulary, max_length=5).encode(["qwxv " * 20])
    assert ids.row_lengths().numpy().tolist() == [5]


def test_build_rejects_a_too_small_vocabulary(monkeypatch):
    from tensorflow_text.tools.wordpiece_vocab import bert_vocab_from_dataset

    from sentiment.text.wordpiece import WordpieceVocabulary

    with pytest.raises(ConfigError, match="max_size"):
        WordpieceVocabulary.build([np.array([b"a"])], max_size=2)

    def no_learning(*args, **kwargs):
        raise AssertionError("learning started")

    # checked from the words' characters, before minutes of learning
    monkeypatch.setattr(bert_vocab_from_dataset, "bert_vocab_from_dataset", no_learning)
    words = np.array([b"abcdef", b"bcdefa"] * 50)  # 6 letters: 2 + 2 * 6 = 14 tokens needed
    with pytest.raises(ConfigError, match=r"needs at least 14 entries .*received max_size "
                                          r"\(--vocab-size\) 13"):
        WordpieceVocabulary.build([words], max_size=13)


def test_max_size_is_a_maximum_and_keeps_the_alphabet():
    from sentiment.text.wordpiece import WordpieceVocabulary

    texts, _ = make_reviews(400, seed=3)
    words = np.array([w for w in " ".join(texts).split() if w.isalpha()], dtype=object)
    alphabet = sorted({c for w in words for c in w})
    needed = 2 + 2 * len(alphabet)  # [PAD], [UNK], each letter as a start and as ##letter
    # bert_vocab_from_dataset alone returns 79 tokens for a target of needed + 3 = 73
    for max_size in (needed, needed + 3):
        tokens = WordpieceVocabulary.build([words], max_size=max_size).get_vocabulary()
        assert len(tokens) == max_size
        assert all(c in tokens and "##" + c in tokens for c in alphabet)


def test_the_cap_drops_the_rarest_learned_pieces_never_a_character():
    from sentiment.text.wordpiece import _cap

    # the learner's order: reserved, characters, learned pieces by falling count
    tokens = ["[PAD]", "[UNK]", "a", "b", "##a", "##b", "ab", "##ba", "ba", "abab"]
    assert _cap(tokens, 8) == tokens[:8]
    assert _cap(tokens, 6) == tokens[:6]
    assert _cap(tokens, 20) == tokens
    with pytest.raises(ConfigError, match=r"at least 6 entries .*\(--vocab-size\) 5"):
        _cap(tokens, 5)


def test_oov_rate_counts_unknown_tokens_and_texts_before_truncation(wordpiece):
    from sentiment.text.encoder import TextEncoder
    from sentiment.text.tokenizer import Tokenizer
    from sentiment.text.vocabulary import Vocabulary
    from sentiment.text.wordpiece import oov_rate

    words = TextEncoder(Tokenizer("whitespace"),
                        Vocabulary(["[PAD]", "[UNK]", "good", "film"]), max_length=2)
    texts = ["good film", "good zzz film qqq", "", "film film film xx"]
    # 2 + 4 + 0 + 4 = 10 tokens (max_length 2 does not cut them), 3 unknown, in 2 of 4 texts
    assert oov_rate(words, texts, chunk=3) == {"tokens": 10, "oov_tokens": 0.3,
                                               "texts_with_oov": 0.5}
    _, _, pieces = wordpiece
    assert oov_rate(pieces, ["the film was dull"])["oov_tokens"] == 0.0


def test_wordpiece_model_trains_and_loads_from_its_directory(tiny_data, tmp_path):
    from sentiment.config import ClassifierConfig, TrainingConfig
    from sentiment.predictor import Predictor
    from sentiment.text.wordpiece import WordpieceVocabulary
    from sentiment.training import train_classifier

    train, test = tiny_data
    result = train_classifier(
        train, ClassifierConfig(arch="cnn", tokenizer="wordpiece", embedding_dim=16, filters=8,
                                max_length=64, vocab_size=150, min_frequency=1),
        TrainingConfig(epochs=3, batch_size=32, learning_rate=1e-2, patience=2),
        tmp_path / "model", test=test, verbose=0)
    assert result.metrics["test"]["accuracy"] > 0.9
    saved = (tmp_path / "model" / "vocab.txt").read_text(encoding="utf-8").split("\n")
    assert saved[:2] == ["[PAD]", "[UNK]"] and any(t.startswith("##") for t in saved)
    predictor = Predictor.load(tmp_path / "model")
    assert isinstance(predictor.encoder.vocabulary, WordpieceVocabulary)
    assert predictor.config.tokenizer == "wordpiece"
    # the reloaded model (vocab.txt read back as WordPiece) reproduces the test accuracy
    predicted = predictor.predict_proba(list(test.texts)).argmax(axis=1)
    accuracy = np.mean([predictor.labels[i] == label for i, label in zip(predicted, test.labels)])
    assert accuracy == pytest.approx(result.metrics["test"]["accuracy"])
