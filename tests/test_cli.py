import json
import os
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from sentiment.cli import main


@pytest.fixture
def runner():
    return CliRunner()


def test_help_answers_without_importing_tensorflow():
    code = ("import sys; from sentiment.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "assert 'tensorflow' not in sys.modules, 'tensorflow imported'")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "train" in out.stdout and "predict" in out.stdout


@pytest.mark.parametrize("args", [["train", "--help"], ["forecast", "train", "--help"],
                                  ["train", "--arch", "transformer"],
                                  ["forecast", "train", "--lookback", "0", "--horizon", "2"],
                                  ["ensemble", "--help"],
                                  ["ensemble", ".", "--output", "x", "--weights", "best"],
                                  ["pretrain", "--help"],
                                  ["pretrain", "--dataset", "imdb", "--units", "0",
                                   "--output", "x"]])
def test_command_help_and_option_errors_answer_without_importing_tensorflow(args):
    code = ("import sys; from sentiment.cli import main\n"
            f"try:\n    main({args!r})\nexcept SystemExit as stop:\n    code = stop.code\n"
            "assert 'tensorflow' not in sys.modules, 'tensorflow imported'\n"
            "print('exit', code)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-1] == ("exit 0" if "--help" in args else "exit 2")


def test_train_options_are_the_settings_with_their_defaults():
    """Without options, `train` and `forecast train` build the dataclasses' defaults; every
    command-line setting has its option."""
    from sentiment.cli import train
    from sentiment.cli.dataclass_options import cli_settings, config_from_options
    from sentiment.cli.forecast import train as forecast_train
    from sentiment.config import (ClassifierConfig, ForecasterConfig, ForecastTrainingConfig,
                                  TrainingConfig)

    from sentiment.config.sequence import SequenceModelConfig, SequenceTrainingConfig

    options = dict(train.make_context("train", []).params)
    assert config_from_options(ClassifierConfig, options) == ClassifierConfig()
    assert config_from_options(TrainingConfig, options) == TrainingConfig()
    # the sequence models' own settings (the others are shared with the text model's)
    assert options.pop("frame_units") == SequenceModelConfig().frame_units
    assert options.pop("task") == SequenceModelConfig().task
    assert options.pop("regression_loss") == SequenceTrainingConfig().regression_loss
    assert set(options) == {"dataset", "train_file", "validation_file", "test_file",
                            "text_column", "label_column", "keep_label_strings",
                            "label_delimiter", "label_names_file", "unlabelled_files", "limit",
                            "output_dir", "sequence_column", "clip_range",
                            "quiet"}
    options = dict(forecast_train.make_context("train", ["--lookback", "96", "--horizon",
                                                         "24"]).params)
    assert config_from_options(ForecasterConfig, options) == ForecasterConfig()
    assert config_from_options(ForecastTrainingConfig, options) == ForecastTrainingConfig()
    names = {option for param in forecast_train.params for option in param.opts}
    for config_class in (ForecasterConfig, ForecastTrainingConfig):
        for f in cli_settings(config_class):
            assert (f.metadata["option"] or "--" + f.name.replace("_", "-")) in names
    options = dict(forecast_train.make_context("train", [
        "--lookback", "8", "--horizon", "2", "--no-calendar", "--channel-independent",
        "--max-windows", "5"]).params)
    config = config_from_options(ForecasterConfig, options, targets=("a",), inputs=("a",))
    assert (config.calendar, config.channel_independent) == ((), True)
    assert config_from_options(ForecastTrainingConfig, options).max_train_windows == 5
    options = dict(train.make_context("train", ["--kernel-sizes", "2,4", "--mixed-precision",
                                                "--no-bucketing"]).params)
    assert config_from_options(ClassifierConfig, options).kernel_sizes == (2, 4)
    training = config_from_options(TrainingConfig, options)
    assert training.mixed_precision is True and training.bucketing is False


def test_option_errors_exit_2_without_traceback(runner):
    result = runner.invoke(main, ["train", "--arch", "transformer"])
    assert result.exit_code == 2 and "transformer" in result.output
    result = runner.invoke(main, ["train", "--dataset", "imdb", "--train", "x.csv"])
    assert result.exit_code == 2 and "either --dataset or --train" in result.output
    result = runner.invoke(main, ["train", "--arch", "cnn", "--pooling", "mean"])
    assert result.exit_code == 2 and "pooling must be max" in result.output
    result = runner.invoke(main, ["train", "--ema-momentum", "1"])
    assert result.exit_code == 2 and "--ema-momentum" in result.output
    result = runner.invoke(main, ["train", "--ensemble", "0"])
    assert result.exit_code == 2 and "--ensemble" in result.output
    result = runner.invoke(main, ["train", "--adversarial", "-1"])
    assert result.exit_code == 2 and "--adversarial" in result.output


def test_predict_prints_label_and_probability(runner, tiny_model_dir):
    result = runner.invoke(main, ["predict", "--model", str(tiny_model_dir),
                                  "a great and wonderful film", "awful and boring"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().split("\n")
    assert [line.split("\t")[0] for line in lines] == ["pos", "neg"]
    assert all(0.5 <= float(line.split("\t")[1]) <= 1.0 for line in lines)


def test_predict_json_matches_the_python_predictor(runner, tiny_model_dir, tiny_predictor):
    result = runner.invoke(main, ["predict", "--model", str(tiny_model_dir), "--json", "superb"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    expected = tiny_predictor.predict("superb")
    assert printed["label"] == expected["label"]
    assert printed["score"] == pytest.approx(expected["score"], abs=1e-6)


def test_predict_uses_the_default_model_directory(runner, tiny_model_dir, monkeypatch):
    monkeypatch.setenv("SENTIMENT_MODEL_DIR", str(tiny_model_dir))
    result = runner.invoke(main, ["predict", "great"])
    assert result.exit_code == 0 and result.output.startswith("pos\t")


def test_missing_model_is_a_one_line_error(runner, tmp_path):
    result = runner.invoke(main, ["predict", "--model", str(tmp_path / "none"), "x"])
    assert result.exit_code == 2
    assert "does not exist" in result.output and "Traceback" not in result.output


def write_csv(path, rows, header="text,label"):
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_evaluate_prints_metrics_and_confusion_matrix(runner, tiny_model_dir, tmp_path):
    test = write_csv(tmp_path / "test.csv", ["great fun,pos", "awful film,neg",
                                             "boring and dull,neg", "superb,pos"])
    result = runner.invoke(main, ["evaluate", "--model", str(tiny_model_dir), "--test", str(test)])
    assert result.exit_code == 0, result.output
    assert "accuracy   1.0000" in result.output and "ROC-AUC" in result.output
    assert "confusion matrix" in result.output
    result = runner.invoke(main, ["evaluate", "--model", str(tiny_model_dir), "--test", str(test),
                                  "--json"])
    report = json.loads(result.output)
    assert report["confusion_matrix"] == [[2, 0], [0, 2]]


def test_evaluate_errors(runner, tiny_model_dir, tmp_path):
    model = ["--model", str(tiny_model_dir)]
    unknown = write_csv(tmp_path / "unknown.csv", ["great,pos", "meh,neutral"])
    result = runner.invoke(main, ["evaluate", *model, "--test", str(unknown)])
    assert result.exit_code == 2
    assert "row 2 has label 'neutral'" in result.output and "neg, pos" in result.output
    result = runner.invoke(main, ["evaluate", *model, "--test", str(unknown),
                                  "--label-column", "gold"])
    assert result.exit_code == 2 and "no column 'gold'" in result.output
    result = runner.invoke(main, ["evaluate", *model])
    assert result.exit_code == 2 and "exactly one of" in result.output


def test_train_errors_are_one_line(runner, tmp_path):
    missing = runner.invoke(main, ["train", "--train", str(tmp_path / "none.csv")])
    assert missing.exit_code == 2 and "none.csv: file not found" in missing.output
    single = write_csv(tmp_path / "single.csv", ["good,pos", "fine,pos", "great,pos"])
    result = runner.invoke(main, ["train", "--train", str(single), "--output",
                                  str(tmp_path / "m")])
    assert result.exit_code == 2 and "single class 'pos'" in result.output
    empty = write_csv(tmp_path / "empty.csv", [])
    result = runner.invoke(main, ["train", "--train", str(empty), "--output", str(tmp_path / "m")])
    assert result.exit_code == 2 and "no rows" in result.output
    assert not (tmp_path / "m").exists()


def test_train_from_files_then_predict(runner, tmp_path):
    from conftest import make_reviews

    texts, labels = make_reviews(300, seed=5)
    rows = [f'"{t}",{y}' for t, y in zip(texts, labels)]
    train = write_csv(tmp_path / "train.csv", rows[:240])
    test = write_csv(tmp_path / "test.csv", rows[240:])
    output = tmp_path / "model"
    result = runner.invoke(main, [
        "train", "--train", str(train), "--test", str(test), "--arch", "lstm", "--units", "8",
        "--embedding-dim", "8", "--epochs", "1", "--max-length", "32", "--output", str(output),
        "--ema-momentum", "0", "--ensemble", "2", "--adversarial", "0.5", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "test accuracy" in result.output and f"model saved to {output}" in result.output
    saved = json.loads((output / "config.json").read_text())
    assert saved["training"]["ema_momentum"] == 0.0  # weight averaging off
    assert saved["training"]["adversarial"] == 0.5
    assert saved["classifier"]["ensemble"] == 2
    members = json.loads((output / "metrics.json").read_text())["training"]["members"]
    assert [member["seed"] for member in members] == [1337, 1338]
    result = runner.invoke(main, ["predict", "--model", str(output), "great"])
    assert result.exit_code == 0 and result.output.split("\t")[0] in ("neg", "pos")


def test_train_zoo_options_reach_the_saved_model(runner, tmp_path):
    """`--arch cnn-gru --filters --kernel-sizes --pool-size --pooling attention --tokenizer
    wordpiece` end to end: saved in config.json, read back by the predictor, vocab.txt holds
    WordPiece pieces, and the saved model is built that way."""
    from conftest import make_reviews
    from sentiment.predictor import Predictor

    texts, labels = make_reviews(200, seed=7)
    train = write_csv(tmp_path / "train.csv", [f'"{t}",{y}' for t, y in zip(texts, labels)])
    output = tmp_path / "model"
    result = runner.invoke(main, [
        "train", "--train", str(train), "--arch", "cnn-gru", "--filters", "6",
        "--kernel-sizes", "2,4", "--pool-size", "3", "--pooling", "attention", "--units", "5",
        "--embedding-dim", "8", "--tokenizer", "wordpiece", "--vocab-size", "90",
        "--min-frequency", "1", "--max-length", "40", "--epochs", "1", "--output", str(output),
        "--quiet"])
    assert result.exit_code == 0, result.output
    saved = json.loads((output / "config.json").read_text())["classifier"]
    assert {key: saved[key] for key in ("arch", "filters", "kernel_sizes", "pool_size",
                                        "pooling", "units", "tokenizer", "vocab_size")} == {
        "arch": "cnn-gru", "filters": 6, "kernel_sizes": [2, 4], "pool_size": 3,
        "pooling": "attention", "units": 5, "tokenizer": "wordpiece", "vocab_size": 90}
    vocab = (output / "vocab.txt").read_text(encoding="utf-8").splitlines()
    assert vocab[:2] == ["[PAD]", "[UNK]"] and len(vocab) <= 90
    assert any(token.startswith("##") for token in vocab)
    predictor = Predictor.load(output)
    assert predictor.config.kernel_sizes == (2, 4) and predictor.config.pool_size == 3
    convolutions = [layer for layer in predictor.model.layers if "Conv1D" in type(layer).__name__]
    assert sorted((layer.kernel_size[0], layer.filters) for layer in convolutions) == [(2, 6),
                                                                                       (4, 6)]
    assert any(type(layer).__name__ == "MaxPooling1D" and layer.pool_size[0] == 3
               for layer in predictor.model.layers)


def test_train_stops_at_once_on_an_output_another_run_writes(runner, tmp_path):
    code = ("import signal, sys\nsignal.alarm(120)\nfrom sentiment.artifacts import output_lock\n"
            "with output_lock(sys.argv[1]):\n    print('locked', flush=True)\n"
            "    sys.stdin.read()\n")
    output = tmp_path / "model"
    holder = subprocess.Popen([sys.executable, "-c", code, str(output)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "locked\n"
        # a missing training file would be the next error: the lock comes before the data
        results = [runner.invoke(main, [*command, "--output", str(output)]) for command in (
            ["train", "--train", str(tmp_path / "none.csv")],
            ["forecast", "train", "--data", str(tmp_path / "none.csv"), "--lookback", "4",
             "--horizon", "2"])]
        holder.communicate("", timeout=60)
    finally:
        holder.kill()
    for result in results:
        assert result.exit_code == 2, result.output
        assert result.output == (f"Error: '{output}' is being written by another run (pid "
                                 f"{holder.pid}); wait for it to end or stop it\n")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")
def test_train_into_proc_is_refused_before_the_data_loads(runner, tmp_path):
    data = write_csv(tmp_path / "train.csv", ["good,pos", "bad,neg"])
    for command in (["train", "--train", str(data)],
                    ["forecast", "train", "--data", str(data), "--lookback", "4",
                     "--horizon", "2"]):
        result = runner.invoke(main, [*command, "--output", "/proc/sentiment-model"])
        assert result.exit_code == 2
        assert result.output.startswith("Error: output '/proc/sentiment-model': cannot write "
                                        "in /proc (")
        assert len(result.output.splitlines()) == 1


def test_forecast_predict_refuses_to_write_over_its_data(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "series.csv"
    data.write_text("date,x\n2020-01-01,1\n2020-01-02,2\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "linkdir").symlink_to(tmp_path, target_is_directory=True)
    for option, output in (("-o", "sub/../series.csv"), ("--plot", "linkdir/series.csv")):
        # no model at --model: the check comes before the model loads
        result = runner.invoke(main, ["forecast", "predict", "--model", "missing", "--data",
                                      "series.csv", option, output])
        assert result.exit_code == 2
        assert result.output == (f"Error: output '{output}' would replace the input "
                                 "'series.csv' (the same path); choose another output path\n")
    assert data.read_text() == "date,x\n2020-01-01,1\n2020-01-02,2\n"


def test_inference_commands_ask_for_onednn_unless_the_user_chose(monkeypatch):
    from sentiment.cli import options

    monkeypatch.delenv(options.ONEDNN_VARIABLE, raising=False)
    options.enable_onednn()
    assert os.environ[options.ONEDNN_VARIABLE] == "1"
    monkeypatch.setenv(options.ONEDNN_VARIABLE, "0")
    options.enable_onednn()
    assert os.environ[options.ONEDNN_VARIABLE] == "0"


def test_predict_runs_with_onednn_in_a_fresh_process(tiny_model_dir):
    """The variable is set before TensorFlow is imported, where TensorFlow reads it."""
    code = ("import sys; from sentiment.cli import main; "
            "sys.argv = ['sentiment', 'predict', '--model', sys.argv[1], 'great fun']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "from tensorflow.python.util import _pywrap_util_port as port\n"
            "import os; print('onednn', os.environ.get('TF_ENABLE_ONEDNN_OPTS'), "
            "port.IsMklEnabled())")
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    result = subprocess.run([sys.executable, "-c", code, str(tiny_model_dir)], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "onednn 1 True" in result.stdout


def test_threshold_and_abstention_at_prediction_time(tiny_model_dir, tiny_predictor,
                                                     tiny_data, tmp_path):
    texts = list(tiny_data[1].texts[:30])
    p = tiny_predictor.predict_proba(texts)[:, 1]  # P(pos)
    threshold = float(np.sort(p)[10])  # 20 rows at or above it
    runner = CliRunner()
    result = runner.invoke(main, ["predict", "--model", str(tiny_model_dir), "--json",
                                  "--threshold", repr(threshold), *texts])
    assert result.exit_code == 0, result.output
    given = [json.loads(line)["label"] for line in result.output.splitlines()]
    assert given == ["pos" if x >= threshold else "neg" for x in p]
    # --abstain-below: the label is replaced where its probability is below P
    top = np.maximum(p, 1 - p)
    below = float(np.sort(top)[5])
    result = runner.invoke(main, ["predict", "--model", str(tiny_model_dir), "--abstain-below",
                                  repr(below), "--abstain-label", "unsure", *texts])
    lines = result.output.splitlines()
    assert [line.split("\t")[0] == "unsure" for line in lines] == list(top < below)
    # score: the same labels, one row per input row
    path = tmp_path / "in.csv"
    path.write_text("text\n" + "\n".join(texts) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = runner.invoke(main, ["score", str(path), "-o", str(out), "--model",
                                  str(tiny_model_dir), "--quiet", "--abstain-below",
                                  repr(below)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["predicted_label"] == "uncertain" for row in rows] == list(top < below)
    assert [row["predicted_score"] for row in rows] == pytest.approx(top.tolist(), abs=1e-6)


def test_evaluate_reports_the_threshold_and_the_coverage(tiny_model_dir, tiny_data, tmp_path):
    from tests.conftest import write_labelled_csv

    test = tiny_data[1]
    path = write_labelled_csv(tmp_path / "test.csv", list(test.texts), list(test.labels))
    args = ["evaluate", "--model", str(tiny_model_dir), "--test", str(path)]
    runner = CliRunner()
    plain = json.loads(runner.invoke(main, args + ["--json"]).output)
    report = json.loads(runner.invoke(main, args + ["--json", "--threshold", "0.999",
                                                    "--abstain-below", "0.9"]).output)
    assert report["decision"] == {"threshold": 0.999, "positive_label": "pos",
                                  "abstain_below": 0.9, "abstain_label": "uncertain"}
    # hardly anything reaches 0.999: nearly every row is called neg
    assert report["confusion_matrix"][0][1] + report["confusion_matrix"][1][1] <= \
        plain["confusion_matrix"][0][1] + plain["confusion_matrix"][1][1]
    abstention = report["abstention"]
    assert abstention["rows_covered"] + abstention["rows_abstained"] == len(test)
    assert 0 <= abstention["coverage"] <= 1
    assert report["roc_auc"] == pytest.approx(plain["roc_auc"])  # no decision in the AUC
    text = runner.invoke(main, args + ["--abstain-below", "0.9"]).output
    assert "coverage" in text and "accuracy on covered rows" in text


def test_threshold_on_a_model_of_three_classes_is_an_error(tmp_path):
    from tests.conftest import write_labelled_csv

    path = write_labelled_csv(tmp_path / "t.csv", ["good film", "bad film", "a film"] * 20,
                              ["pos", "neg", "neu"] * 20)
    runner = CliRunner()
    assert runner.invoke(main, ["train", "--train", str(path), "--epochs", "1", "--units", "2",
                                "--embedding-dim", "2", "--min-frequency", "1", "--output",
                                str(tmp_path / "m"), "--quiet"]).exit_code == 0
    result = runner.invoke(main, ["predict", "--model", str(tmp_path / "m"), "--threshold",
                                  "0.3", "good"])
    assert result.exit_code == 2
    assert "threshold needs a two-class model; this model has 3 classes (neg, neu, pos)" in \
        result.output
