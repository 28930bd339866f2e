import pytest

from sentiment.errors import ConfigError
from sentiment.text.tokenizer import Tokenizer, normalize


def tokens(tokenizer, text):
    return [t.decode() for t in tokenizer.tokenize([text]).to_list()[0]]


def test_normalize_nfkc_case_fold_and_html_breaks():
    out = normalize(["Ｃａｆé  ＢＩＧ<br />next<BR>line<br/>end"]).numpy()[0].decode()
    assert out == "café  big next line end"


def test_case_folding_is_unicode_aware():
    assert tokens(Tokenizer(), "STRASSE Straße ΣΊΣΥΦΟΣ") == ["strasse", "strasse", "σίσυφοσ"]


def test_unicode_script_tokenizer_splits_punctuation():
    assert tokens(Tokenizer("unicode_script"), "Great film!! (really)") == [
        "great", "film", "!!", "(", "really", ")"]


def test_whitespace_tokenizer_keeps_punctuation_attached():
    assert tokens(Tokenizer("whitespace"), "Great film!! (really)") == [
        "great", "film!!", "(really)"]


def test_empty_and_whitespace_texts_have_no_tokens():
    assert Tokenizer().tokenize(["", "   \n\t"]).to_list() == [[], []]


def test_cjk_and_emoji_are_tokens():
    assert tokens(Tokenizer(), "映画 😀") == ["映画", "😀"]


def test_unknown_tokenizer_names_the_value():
    with pytest.raises(ConfigError, match="'spaces'"):
        Tokenizer("spaces")


def test_fast_paths_split_like_unicode_script_tokenizer_on_every_word():
    # Tokenizer._split_scripts sends Latin words and Latin/ASCII-punctuation words around
    # UnicodeScriptTokenizer; the result must be what that tokenizer gives word by word
    import random

    import tensorflow_text as tf_text

    rng = random.Random(0)
    alphabet = [chr(c) for c in [*range(33, 127), 0xE9, 0x3A3, 0x416, 0x6620, 0x1F600, 0x2014,
                                 0x201C, 0x2019, 0x301, 0x200B, 0xA0, 0x3000]] + [" "] * 8
    texts = ["", "don't stop: 3rd-rate film,(really)!! ok",
             "naïve café's x\u0301y 映画😀 «x»",
             "Привет мир!! mixedЛатиница"]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))
              for _ in range(2000)]
    tokenizer = Tokenizer()
    words = tokenizer._whitespace.tokenize(normalize(texts))
    expected = tf_text.UnicodeScriptTokenizer().tokenize(words).merge_dims(1, 2)
    assert tokenizer.tokenize(texts).to_list() == expected.to_list()
    assert tokens(tokenizer, "don't stop: 3rd-rate") == [
        "don", "'", "t", "stop", ":", "3", "rd", "-", "rate"]
