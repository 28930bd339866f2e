"""The commands with models over sequences: train --sequence-column, predict, evaluate,
score and export, and their usage errors."""

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from conftest import make_sequences, write_sequence_parquet

from sentiment.cli import main


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sequence-files")
    train = write_sequence_parquet(folder / "train.parquet", make_sequences(80), "mfcc")
    test = write_sequence_parquet(folder / "test.parquet", make_sequences(20, seed=1), "mfcc")
    ratings = write_sequence_parquet(folder / "ratings.parquet",
                                     make_sequences(80, regression=True), "mfcc", "rating")
    return folder, train, test, ratings


def test_train_predict_evaluate_score_export(files, tmp_path):
    folder, train, test, _ = files
    runner = CliRunner()
    model = tmp_path / "model"
    result = runner.invoke(main, ["train", "--train", str(train), "--test", str(test),
                                  "--sequence-column", "mfcc", "--units", "8", "--epochs", "2",
                                  "--frame-units", "4", "--output", str(model), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "test accuracy" in result.output
    saved = json.loads((model / "config.json").read_text())["sequence_model"]
    assert (saved["units"], saved["frame_units"], saved["sequence_column"]) == (8, 4, "mfcc")
    assert json.loads((model / "config.json").read_text())["training"]["epochs"] == 2

    sequence = json.dumps(make_sequences(1, seed=3).sequences[0].tolist())
    result = runner.invoke(main, ["predict", "--model", str(model), "--json", sequence,
                                  sequence])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert len(rows) == 2 and rows[0]["label"] in ("down", "up")
    result = runner.invoke(main, ["predict", "--model", str(model), "[[1, 2]]"])
    assert result.exit_code == 2 and "2 features per frame; the model takes 3" in result.output
    result = runner.invoke(main, ["predict", "--model", str(model), "not json"])
    assert result.exit_code == 2 and "argument 1 is not a JSON list" in result.output

    result = runner.invoke(main, ["evaluate", "--model", str(model), "--test", str(test),
                                  "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["examples"] == 20

    table = pq.read_table(test).to_pydict()
    table["mfcc"][3] = [[1.0, float("nan"), 0.0]]
    table["mfcc"][5] = None
    pq.write_table(pa.table(table), tmp_path / "with_errors.parquet")
    result = runner.invoke(main, ["score", str(tmp_path / "with_errors.parquet"), "-o",
                                  str(tmp_path / "scored.parquet"), "--model", str(model),
                                  "--probabilities", "--quiet"])
    assert result.exit_code == 0, result.output
    scored = pq.read_table(tmp_path / "scored.parquet").to_pydict()
    assert len(scored["predicted_label"]) == 20  # one output row per input row
    assert "NaN" in scored["error"][3] and "missing" in scored["error"][5]
    assert scored["predicted_label"][3] is None and scored["predicted_label"][0] in ("down", "up")
    kept = [row for row in range(20) if row != 3]  # (NaN != NaN)
    assert [scored["mfcc"][r] for r in kept] == [table["mfcc"][r] for r in kept]  # unchanged

    result = runner.invoke(main, ["export", "--model", str(model), "--output",
                                  str(tmp_path / "export")])
    assert result.exit_code == 0, result.output
    assert "serve_ragged" in result.output


def test_regression_from_the_command_line(files, tmp_path):
    folder, _, _, ratings = files
    runner = CliRunner()
    model = tmp_path / "regression"
    result = runner.invoke(main, ["train", "--train", str(ratings), "--sequence-column", "mfcc",
                                  "--label-column", "rating", "--task", "regression",
                                  "--regression-loss", "mae", "--clip-range", "90,110",
                                  "--units", "8", "--epochs", "2", "--output", str(model),
                                  "--quiet"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(main, ["score", str(ratings), "-o", str(tmp_path / "s.csv"),
                                  "--model", str(model), "--quiet"])
    assert result.exit_code == 0, result.output
    import csv

    header, *lines = list(csv.reader((tmp_path / "s.csv").open()))
    assert header[-2:] == ["predicted_value", "error"] and len(lines) == 80
    values = [float(line[-2]) for line in lines]
    assert min(values) >= 90 and max(values) <= 110
    result = runner.invoke(main, ["evaluate", "--model", str(model), "--test", str(ratings),
                                  "--label-column", "rating"])
    assert result.exit_code == 0, result.output
    assert "MAE" in result.output and "Spearman" in result.output
    result = runner.invoke(main, ["predict", "--model", str(model), "[[0, 1, 2], [1, 2, 3]]"])
    assert result.exit_code == 0 and 90 <= float(result.output) <= 110


@pytest.mark.parametrize("arguments,message", [
    (["--sequence-column", "mfcc", "--train", "x.parquet", "--tokenizer", "whitespace"],
     "--tokenizer: for text models"),
    (["--sequence-column", "mfcc", "--train", "x.parquet", "--text-column", "body"],
     "--text-column: for text models"),
    (["--train", "x.csv", "--regression-loss", "huber"], "need --task regression"),
    (["--train", "x.csv", "--frame-units", "4"], "--frame-units: for models over sequences"),
    (["--dataset", "japanese_vowels", "--sequence-column", "frames"], "has its own columns"),
    (["--sequence-column", "frames", "--clip-range", "5,1", "--train", "x.parquet"],
     "LOW must be below HIGH"),
    (["--sequence-column", "frames", "--arch", "fasttext", "--train", "x.parquet"],
     "arch must be one of"),
])
def test_usage_errors(arguments, message, tmp_path):
    result = CliRunner().invoke(main, ["train", *arguments, "--output", str(tmp_path / "m")])
    assert result.exit_code == 2 and message in result.output, result.output


def test_score_sequence_column_needs_a_sequence_model(tiny_model_dir, files, tmp_path):
    _, _, test, _ = files
    result = CliRunner().invoke(main, ["score", str(test), "-o", str(tmp_path / "o.csv"),
                                       "--model", str(tiny_model_dir), "--sequence-column",
                                       "mfcc"])
    assert result.exit_code == 2 and "for models over sequences" in result.output
