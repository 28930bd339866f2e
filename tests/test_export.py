"""`sentiment export`: a raw-string SavedModel that matches Predictor without `sentiment`."""

import json
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

TEXTS = [
    "What a wonderful film, the cast was brilliant!",
    "",
    "   ",
    "Café crème, naïve Ünïcödé — 日本語の映画 😀 <br />dull",
    "the plot was boring and the music was awful " * 40,  # longer than max_length
    "ok",
]

# Loads the SavedModel in a fresh interpreter where `import sentiment` is impossible.
LOADER = """
import json, sys
sys.modules["sentiment"] = None  # any import of the package would raise ImportError
import tensorflow as tf
import tensorflow_text  # noqa: F401  registers the tf-text custom ops
model = tf.saved_model.load(sys.argv[1])
texts = json.loads(sys.stdin.read())
out = model.serve(tf.constant(texts, dtype=tf.string))
empty = model.signatures["serving_default"](texts=tf.constant([], dtype=tf.string))
print(json.dumps({
    "probabilities": out["probabilities"].numpy().tolist(),
    "dtype": out["probabilities"].dtype.name,
    "labels": [label.decode() for label in out["label"].numpy()],
    "empty_shape": empty["probabilities"].shape.as_list(),
}))
"""


def load_elsewhere(path):
    result = subprocess.run([sys.executable, "-c", LOADER, str(path)], input=json.dumps(TEXTS),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def check_parity(model_dir, exported):
    from sentiment.predictor import Predictor

    predictor = Predictor.load(model_dir)
    expected = predictor.predict_proba(TEXTS)
    got = load_elsewhere(exported)
    assert got["dtype"] == "float32"
    np.testing.assert_allclose(np.array(got["probabilities"]), expected, atol=1e-4)
    assert got["labels"] == [predictor.labels[i] for i in expected.argmax(axis=1)]
    assert got["empty_shape"] == [0, len(predictor.labels)]


def test_exported_model_matches_the_predictor_without_sentiment(tiny_model_dir, tmp_path):
    from sentiment.cli import main

    result = CliRunner().invoke(main, ["export", "--model", str(tiny_model_dir),
                                       "--output", str(tmp_path / "served" / "1")])
    assert result.exit_code == 0, result.output
    info = json.loads((tmp_path / "served" / "1" / "sentiment_export.json").read_text())
    assert info["labels"] == ["neg", "pos"]
    check_parity(tiny_model_dir, tmp_path / "served" / "1")


def test_exported_wordpiece_cnn_matches_the_predictor(tiny_data, tmp_path):
    from sentiment.config import ClassifierConfig, TrainingConfig
    from sentiment.export import export_saved_model
    from sentiment.training import train_classifier

    train, _ = tiny_data
    train_classifier(
        train, ClassifierConfig(arch="cnn-gru", tokenizer="wordpiece", embedding_dim=16,
                                units=8, filters=8, max_length=48, vocab_size=150,
                                min_frequency=1, truncation="head_tail"),
        TrainingConfig(epochs=1, batch_size=64), tmp_path / "model", verbose=0)
    export_saved_model(tmp_path / "model", tmp_path / "exported")
    check_parity(tmp_path / "model", tmp_path / "exported")


def test_exported_fasttext_bigram_model_matches_the_predictor(tiny_data, tmp_path):
    """Word n-grams are built inside the exported graph too."""
    from sentiment.config import ClassifierConfig, TrainingConfig
    from sentiment.export import export_saved_model
    from sentiment.predictor import Predictor
    from sentiment.training import train_classifier

    train, _ = tiny_data
    train_classifier(
        train, ClassifierConfig(arch="fasttext", ngrams=2, embedding_dim=16, max_length=48,
                                vocab_size=2000, min_frequency=1),
        TrainingConfig(epochs=1, batch_size=64), tmp_path / "model", verbose=0)
    vocabulary = Predictor.load(tmp_path / "model").encoder.vocabulary
    assert any(" " in token for token in vocabulary.get_vocabulary())  # bigrams are in it
    export_saved_model(tmp_path / "model", tmp_path / "exported")
    check_parity(tmp_path / "model", tmp_path / "exported")


def test_exported_ensemble_matches_the_predictor(tiny_ensemble_dir, tmp_path):
    from sentiment.export import export_saved_model

    export_saved_model(tiny_ensemble_dir, tmp_path / "exported")
    check_parity(tiny_ensemble_dir, tmp_path / "exported")


def test_export_of_a_missing_model_is_a_one_line_error(tmp_path):
    from sentiment.cli import main

    result = CliRunner().invoke(main, ["export", "--model", str(tmp_path / "nothing"),
                                       "--output", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "does not exist" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_export_replaces_an_earlier_export_but_never_other_directories(tiny_model_dir,
                                                                      tmp_path):
    from sentiment.cli import main
    from sentiment.errors import ConfigError
    from sentiment.export import export_saved_model

    runner = CliRunner()
    base = tmp_path / "served"
    assert export_saved_model(tiny_model_dir, base / "1") == (base / "1").resolve()
    (base / "1" / "stale.txt").write_text("from an earlier export")
    model_files = sorted(p.name for p in tiny_model_dir.iterdir())
    # the serving base path (versions inside) and an export holding a file of the user's
    # are refused
    for output, holds in ((base, "1"), (base / "1", "stale.txt")):
        result = runner.invoke(main, ["export", "--model", str(tiny_model_dir),
                                      "--output", str(output)])
        assert result.exit_code == 2, result.output
        assert f"not a sentiment SavedModel export (it holds {holds}" in result.output
        assert "Traceback" not in result.output
    # so is the model directory itself, under any name (here through a symbolic link)
    (tmp_path / "link").symlink_to(tiny_model_dir, target_is_directory=True)
    for output in (tiny_model_dir, tmp_path / "link"):
        result = runner.invoke(main, ["export", "--model", str(tiny_model_dir),
                                      "--output", str(output)])
        assert result.exit_code == 2, result.output
        assert result.output == (f"Error: output '{output}' would replace the input "
                                 f"'{tiny_model_dir}' (the same path); choose another output "
                                 "path\n")
    with pytest.raises(ConfigError, match="not a sentiment SavedModel export"):
        export_saved_model(tiny_model_dir, tmp_path / "link")  # the library refuses it too
    assert [p.name for p in base.iterdir()] == ["1"]
    assert (base / "1" / "stale.txt").exists()
    assert sorted(p.name for p in tiny_model_dir.iterdir()) == model_files
    (base / "1" / "stale.txt").unlink()
    first = (base / "1" / "saved_model.pb").stat().st_mtime_ns
    export_saved_model(tiny_model_dir, base / "1")  # an earlier export is replaced
    assert (base / "1" / "saved_model.pb").stat().st_mtime_ns != first


def test_export_needs_an_output():
    from sentiment.cli import main

    result = CliRunner().invoke(main, ["export"])
    assert result.exit_code == 2 and "--output" in result.output


@pytest.mark.parametrize("argv", [["--help"], ["export", "--help"]])
def test_help_does_not_import_tensorflow(argv):
    code = ("import sys; from sentiment.cli import main\n"
            "try:\n    main(%r)\nexcept SystemExit:\n    pass\n"
            "assert 'tensorflow' not in sys.modules, 'tensorflow imported'" % argv)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]


def test_load_export_checks_the_recorded_files(tiny_model_dir, tmp_path):
    import tensorflow as tf

    from sentiment.errors import ModelError
    from sentiment.export import export_saved_model, load_export

    exported = export_saved_model(tiny_model_dir, tmp_path / "export")
    info = json.loads((exported / "sentiment_export.json").read_text())
    assert "saved_model.pb" in info["files"]
    assert any(name.startswith("variables/") for name in info["files"])
    loaded = load_export(exported)
    assert loaded.serve(tf.constant(["great"]))["probabilities"].shape == (1, 2)
    variables = sorted((exported / "variables").glob("variables.data-*"))[0]
    variables.write_bytes(variables.read_bytes()[:-8])
    with pytest.raises(ModelError, match=r"variables/variables.data-.* does not match the model "
                                         r"it was saved with.*sentiment_export.json"):
        load_export(exported)
    with pytest.raises(ModelError, match="is not a sentiment export"):
        load_export(tiny_model_dir)


def test_an_export_killed_while_writing_is_cleaned_up_by_the_next(tiny_model_dir, tmp_path):
    """`kill -9` during the export leaves `.NAME.tmp-*` with a partial export; the next
    export of the same output removes it, and the temporary marker never enters the export."""
    from sentiment.artifacts import TEMP_MARKER
    from sentiment.export import export_saved_model

    # killed after the SavedModel is written into the temporary directory, before its
    # sentiment_export.json
    code = ("import os, signal, sys\nimport sentiment.export\n"
            "def killed(path, payload):\n    os.kill(os.getpid(), signal.SIGKILL)\n"
            "sentiment.export.write_json = killed\n"
            "sentiment.export.export_saved_model(sys.argv[1], sys.argv[2])\n")
    target = tmp_path / "export"
    process = subprocess.run([sys.executable, "-c", code, str(tiny_model_dir), str(target)],
                             capture_output=True, text=True, timeout=300)
    assert process.returncode == -9, process.stdout + process.stderr[-3000:]
    [stale] = tmp_path.glob(".export.tmp-*")
    assert (stale / "export" / "saved_model.pb").is_file()
    assert not (stale / "export" / "sentiment_export.json").exists()
    export_saved_model(tiny_model_dir, target)
    assert [p.name for p in tmp_path.iterdir()] == ["export"]
    assert TEMP_MARKER not in {p.name for p in target.rglob("*")}


def test_the_exported_function_applies_the_models_temperature(tiny_predictor):
    import tensorflow as tf

    from sentiment.export import serving_function
    from sentiment.predictor import Predictor

    warm = Predictor(tiny_predictor.model, tiny_predictor.encoder,
                     tiny_predictor.config.replace(temperature=2.5))
    got = serving_function(warm)(tf.constant(TEXTS))["probabilities"].numpy()
    np.testing.assert_allclose(got, warm.predict_proba(TEXTS), atol=1e-5)
    assert not np.allclose(got, tiny_predictor.predict_proba(TEXTS), atol=1e-3)
