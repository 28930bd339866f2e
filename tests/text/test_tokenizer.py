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
    assert Tokenizer("whitespace").get_config() == {"kind": "whitespace"}
