"""Numeric targets from text (``sentiment train --task regression``): targets standardized
and restored, every command, errors."""

import csv
import json

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import ratings, write_labelled_csv

from sentiment.cli import main
from sentiment.errors import ConfigError, ModelError


def test_regression_learns_the_ratings_in_their_units(rated_model_dir):
    from sentiment import Predictor

    predictor = Predictor.load(rated_model_dir)
    config = predictor.config
    assert predictor.task == "regression" and predictor.labels == ()
    assert 4 < config.target_mean < 7 and 2 < config.target_std < 5
    metrics = json.loads((rated_model_dir / "metrics.json").read_text())["test"]
    assert metrics["task"] == "regression" and metrics["spearman"] > 0.5
    assert metrics["mae"] < 2.0  # predicting the mean would be off by about 3
    values = predictor.predict_values(["great wonderful superb", "awful boring dull"])
    assert values[0] > values[1] and 1 <= values.min() and values.max() <= 10
    standardized = np.asarray(predictor.model(
        np.array(predictor.encode_ids(["great wonderful superb"]))))[0, 0]
    assert values[0] == pytest.approx(np.clip(standardized * config.target_std
                                              + config.target_mean, 1, 10), rel=1e-5)
    assert predictor.predict("great film") == {"value": pytest.approx(
        predictor.predict_values(["great film"])[0])}
    with pytest.raises(ConfigError, match="use predict_values"):
        predictor.predict_proba(["x"])
    with pytest.raises(ConfigError, match="regression model gives numbers"):
        Predictor.load(rated_model_dir, threshold=0.5)
    with pytest.raises(ConfigError, match="explanations are for classifiers"):
        predictor.explain("great film")


def test_the_export_gives_the_same_values(rated_model_dir, tmp_path):
    import tensorflow as tf

    from sentiment import Predictor
    from sentiment.export import export_saved_model, load_export

    texts = ["great wonderful superb", "awful boring dull", "", "the plot was a story"]
    exported = load_export(export_saved_model(rated_model_dir, tmp_path / "export"))
    np.testing.assert_allclose(exported.serve(tf.constant(texts))["value"].numpy(),
                               Predictor.load(rated_model_dir).predict_values(texts), rtol=1e-5)


def test_commands_with_a_regression_model(rated_model_dir, tmp_path):
    runner = CliRunner()
    texts, targets = ratings(60, seed=3)
    rows = write_labelled_csv(tmp_path / "rated.csv", texts, targets)
    result = runner.invoke(main, ["predict", "--model", str(rated_model_dir), "great film"])
    assert result.exit_code == 0 and 1 <= float(result.output) <= 10, result.output
    result = runner.invoke(main, ["evaluate", "--model", str(rated_model_dir), "--test",
                                  str(rows), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["examples"] == 60 and {"mae", "rmse", "r2", "spearman"} <= set(report)
    result = runner.invoke(main, ["score", str(rows), "-o", str(tmp_path / "scored.csv"),
                                  "--model", str(rated_model_dir), "--quiet"])
    assert result.exit_code == 0, result.output
    scored = list(csv.DictReader((tmp_path / "scored.csv").open()))
    assert len(scored) == 60 and set(scored[0]) == {"text", "label", "predicted_value", "error"}
    assert all(1 <= float(row["predicted_value"]) <= 10 for row in scored)
    result = runner.invoke(main, ["evaluate", "--model", str(rated_model_dir), "--test",
                                  str(rows), "--report", str(tmp_path / "report")])
    assert result.exit_code == 2 and "--report is for classifiers" in result.output


def test_regression_from_the_command_line_and_its_errors(tmp_path):
    runner = CliRunner()
    texts, targets = ratings(80, seed=4)
    rows = write_labelled_csv(tmp_path / "train.csv", texts, targets)
    result = runner.invoke(main, [
        "train", "--train", str(rows), "--task", "regression", "--regression-loss", "huber",
        "--clip-range", "1,10", "--embedding-dim", "8", "--units", "4", "--epochs", "1",
        "--vocab-size", "100", "--min-frequency", "1", "--output", str(tmp_path / "m"),
        "--quiet"])
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "m" / "config.json").read_text())
    assert saved["classifier"]["clip_range"] == [1.0, 10.0]
    assert saved["training"]["regression_loss"] == "huber"
    bad = write_labelled_csv(tmp_path / "bad.csv", texts[:3], ["7", "high", "2"])
    result = runner.invoke(main, ["train", "--train", str(bad), "--task", "regression",
                                  "--output", str(tmp_path / "n")])
    assert result.exit_code == 2
    assert "row 2: a regression target must be a number; received 'high'" in result.output
    for arguments, message in ((["--clip-range", "1,10"], "need --task regression"),
                               (["--task", "regression", "--multi-label"], "exclude each other"),
                               (["--task", "regression", "--adversarial", "1"],
                                "not with multi-label data, --adversarial"),
                               (["--task", "regression", "--class-weight", "balanced"],
                                "--class-weight or --tune-threshold")):
        result = runner.invoke(main, ["train", "--train", str(rows), *arguments,
                                      "--output", str(tmp_path / "o")])
        assert result.exit_code == 2 and message in result.output, result.output
    assert not (tmp_path / "n").exists() and not (tmp_path / "o").exists()


def test_ensembles_refuse_regression_models(rated_model_dir, tiny_model_dir, tmp_path):
    from sentiment.ensemble import build_ensemble

    with pytest.raises(ModelError, match="an ensemble averages the probabilities"):
        build_ensemble([tiny_model_dir, rated_model_dir], tmp_path / "ensemble")
