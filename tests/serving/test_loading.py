"""What ``sentiment serve`` loads: model names, API key files, checks before start-up, and
Keras' safe mode (a model.keras holding Python code is refused)."""

import json
import shutil
from pathlib import Path

import pytest

from sentiment.errors import ConfigError, ModelError
from sentiment.serving.loading import ModelLoader, parse_model_specs, read_api_keys


def test_model_specs(tmp_path):
    default = tmp_path / "default"
    assert parse_model_specs([], default) == [("default", default)]
    assert parse_model_specs(["a=models/x", "models/sst2", "b=c=d", "x y=models/z"],
                             default) == [("a", Path("models/x")), ("sst2", Path("models/sst2")),
                                          ("b", Path("c=d")), ("z", Path("x y=models/z"))]
    with pytest.raises(ConfigError, match="given twice"):
        parse_model_specs(["a=x", "a=y"], default)
    with pytest.raises(ConfigError, match="NAME=DIR"):
        parse_model_specs(["models/bad name"], default)


def test_api_key_files(tmp_path):
    path = tmp_path / "keys"
    path.write_text("# comment\n\n  first-key  \nsecond-key\n")
    path.chmod(0o600)
    assert read_api_keys(path) == ("first-key", "second-key")
    for text, words in [("# only a comment\n", "holds no key"), ("two words\n", "line 1")]:
        path.write_text(text)
        with pytest.raises(ConfigError, match=words):
            read_api_keys(path)
    with pytest.raises(ConfigError, match="cannot be read"):
        read_api_keys(tmp_path / "missing")


def test_check_refuses_before_loading(tmp_path, tiny_model_dir):
    assert ModelLoader(tiny_model_dir).check()["labels"] == ["neg", "pos"]
    with pytest.raises(ModelError, match="does not exist"):
        ModelLoader(tmp_path / "nothing").check()
    copy = tmp_path / "copy"
    shutil.copytree(tiny_model_dir, copy)
    with open(copy / "vocab.txt", "a", encoding="utf-8") as handle:
        handle.write("extra\n")
    with pytest.raises(ModelError, match="vocab.txt"):
        ModelLoader(copy).check()


def test_models_load_in_keras_safe_mode(tmp_path, tiny_model_dir):
    """A model.keras with a Python lambda inside is refused: loading never runs code a model
    file carries (``keras.saving.load_model(..., safe_mode=True)``)."""
    import keras

    directory = tmp_path / "lambda"
    shutil.copytree(tiny_model_dir, directory)
    config = json.loads((directory / "config.json").read_text())
    config.pop("files")  # as a model written before digests were recorded
    (directory / "config.json").write_text(json.dumps(config))
    model = keras.Sequential([keras.Input((4,), dtype="int32"),
                              keras.layers.Lambda(lambda ids: keras.ops.cast(ids, "float32")),
                              keras.layers.Dense(2, activation="softmax")])
    model.save(directory / "model.keras")
    with pytest.raises(ModelError, match="Lambda"):
        ModelLoader(directory)()
