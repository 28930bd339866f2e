"""Hostile but fair input through the command line: each case either works or is a one-line
error with exit status 2 naming the file, row, column or line (never a traceback, never a
silently wrong model or prediction)."""

import json
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

from conftest import make_reviews, write_labelled_csv
from sentiment.cli import main


def run(*args):
    result = CliRunner().invoke(main, [str(arg) for arg in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        result.exc_info
    return result


def one_line_error(result, *expected):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()
             and not line.startswith(("Usage:", "Try "))]  # click's usage lines
    assert len(lines) == 1, result.output
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def model_copy(tiny_model_dir, tmp_path):
    return shutil.copytree(tiny_model_dir, tmp_path / "base")


def test_predict_refuses_a_truncated_vocabulary(model_copy):
    intact = run("predict", "--model", model_copy, "a wonderful and brilliant film")
    assert intact.exit_code == 0 and intact.output.startswith("pos")
    lines = (model_copy / "vocab.txt").read_text(encoding="utf-8").splitlines()
    (model_copy / "vocab.txt").write_text("\n".join(lines[:3]) + "\n", encoding="utf-8")
    one_line_error(run("predict", "--model", model_copy, "a wonderful and brilliant film"),
                   f"{model_copy / 'vocab.txt'} does not match the model")


def test_predict_refuses_labels_the_model_does_not_output(model_copy):
    config = json.loads((model_copy / "config.json").read_text())
    config["classifier"]["labels"] = ["a", "b", "c"]
    config["classifier"]["label_values"] = ["a", "b", "c"]
    (model_copy / "config.json").write_text(json.dumps(config))
    one_line_error(run("predict", "--model", model_copy, "fine"),
                   str(model_copy / "config.json"), "names 3 labels", "outputs 2")


def test_random_bytes_for_weights_are_not_a_keras_archive(model_copy):
    config = json.loads((model_copy / "config.json").read_text())
    del config["files"]  # as a model written before the digests were recorded
    (model_copy / "config.json").write_text(json.dumps(config))
    (model_copy / "model.keras").write_bytes(bytes(range(256)) * 16)
    one_line_error(run("predict", "--model", model_copy, "fine"),
                   "model.keras is not a valid Keras archive")


def test_predict_reads_undecodable_bytes_as_replacement_characters(tiny_model_dir):
    code = "from sentiment.cli import main; main()"
    out = subprocess.run([sys.executable, "-c", code, "predict", "--json", "--model",
                          str(tiny_model_dir), b"\xff\xfe bad \xc3\x28 film"],
                         capture_output=True, timeout=300)
    assert out.returncode == 0, out.stderr.decode(errors="replace")
    assert json.loads(out.stdout)["label"] in ("neg", "pos")


def test_train_names_the_row_of_an_empty_label(tmp_path):
    texts, labels = make_reviews(20)
    labels[4] = ""
    path = write_labelled_csv(tmp_path / "train.csv", texts, labels)
    one_line_error(run("train", "--train", path, "--output", tmp_path / "m", "--quiet"),
                   "train.csv: row 5, column 'label': the label is empty")
    labels[4] = "NaN"
    path = write_labelled_csv(tmp_path / "train.csv", texts, labels)
    one_line_error(run("train", "--train", path, "--output", tmp_path / "m", "--quiet"),
                   "row 5, column 'label': the label 'NaN' reads as a missing value",
                   "--keep-label-strings")
    assert not (tmp_path / "m").exists()


def test_train_on_two_rows_says_the_vocabulary_is_empty(tmp_path):
    path = write_labelled_csv(tmp_path / "two.csv", ["good film", "bad film", "fine", "dull"],
                              ["pos", "neg", "pos", "neg"])
    one_line_error(run("train", "--train", path, "--output", tmp_path / "m", "--quiet"),
                   "the vocabulary is empty: lower --min-frequency (no token occurs 3 times")


def test_train_refuses_a_parquet_text_column_of_integers(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"text": list(range(10)), "label": [0, 1] * 5}),
                   tmp_path / "ints.parquet")
    one_line_error(run("train", "--train", tmp_path / "ints.parquet", "--output",
                       tmp_path / "m", "--quiet"),
                   "ints.parquet: column 'text' holds int values")


def test_train_names_the_bad_line_of_a_json_lines_file(tmp_path):
    texts, labels = make_reviews(12)
    lines = [json.dumps({"text": t, "label": y}) for t, y in zip(texts, labels)]
    lines[6] = '{"text": "broken, "label": "pos"'
    path = tmp_path / "train.jsonl"
    path.write_text("\n".join(lines) + "\n")
    one_line_error(run("train", "--train", path, "--output", tmp_path / "m", "--quiet"),
                   "train.jsonl: line 7 is not valid JSON")


def test_forecast_train_names_a_non_numeric_cell_instead_of_dropping_its_column(tmp_path):
    header = "date,HUFL,HULL,OT\n"
    rows = [f"2020-01-01 {h:02d}:00:00,{h},{h * 2},{h * 3}\n" for h in range(24)]
    rows += [f"2020-01-02 {h:02d}:00:00,{h},{h * 2},{h * 3}\n" for h in range(24)]
    rows[20] = "2020-01-01 20:00:00,20,abc,60\n"  # line 22 of the file
    path = tmp_path / "ett.csv"
    path.write_text(header + "".join(rows))
    one_line_error(run("forecast", "train", "--data", path, "--lookback", "4", "--horizon",
                       "2", "--epochs", "1", "--output", tmp_path / "f", "--quiet"),
                   "ett.csv: column 'HULL' is not numeric: line 22 holds 'abc'")


def test_score_refuses_an_input_named_like_its_hidden_files(tmp_path, model_copy, monkeypatch):
    monkeypatch.chdir(tmp_path)
    texts, labels = make_reviews(5)
    for hidden in (".o.csv.partial", ".o.csv.score-state.json", ".o.csv.lock"):
        source = write_labelled_csv(tmp_path / hidden, texts, labels)
        before = source.read_bytes()
        one_line_error(run("score", hidden, "--format", "csv", "-o", "o.csv", "--model",
                           model_copy), "would replace the input")
        assert source.read_bytes() == before


def test_outputs_inside_the_model_directory_are_refused(tmp_path, model_copy):
    texts, labels = make_reviews(5)
    source = write_labelled_csv(tmp_path / "in.csv", texts, labels)
    vocabulary = (model_copy / "vocab.txt").read_bytes()
    one_line_error(run("score", source, "-o", model_copy / "vocab.txt", "--output-format",
                       "jsonl", "--model", model_copy), "is in the model directory")
    assert (model_copy / "vocab.txt").read_bytes() == vocabulary
    one_line_error(run("export", "--model", model_copy, "--output", model_copy / "exported"),
                   "is in the model directory")
    pytest.importorskip("matplotlib")
    metrics = (model_copy / "metrics.json").read_bytes()
    one_line_error(run("evaluate", "--model", model_copy, "--test", source, "--report",
                       model_copy), "is in the model directory")
    assert (model_copy / "metrics.json").read_bytes() == metrics
    assert sorted(p.name for p in model_copy.iterdir()) == [
        "config.json", "metrics.json", "model.keras", "vocab.txt"]


def test_evaluate_report_problems_are_found_before_the_model_loads(tmp_path, model_copy):
    pytest.importorskip("matplotlib")
    texts, labels = make_reviews(5)
    source = write_labelled_csv(tmp_path / "in.csv", texts, labels)
    (tmp_path / "report" / "roc.png").mkdir(parents=True)
    one_line_error(run("evaluate", "--model", tmp_path / "no-model", "--test", source,
                       "--report", tmp_path / "report"), "roc.png is a directory")
    assert sorted(p.name for p in (tmp_path / "report").iterdir()) == ["roc.png"]
    one_line_error(run("evaluate", "--model", tmp_path / "no-model", "--test", source,
                       "--report", "/proc/sentiment-report"), "cannot write in /proc")


def test_forecast_predict_refuses_one_path_for_the_forecast_and_the_plot(tmp_path):
    history = tmp_path / "h.csv"
    history.write_text("date,x\n2020-01-01,1\n")
    one_line_error(run("forecast", "predict", "--model", tmp_path / "m", "--data", history,
                       "-o", tmp_path / "same.png", "--plot", tmp_path / "sub/../same.png"),
                   "-o and --plot name the same file")
