"""Forecasting end to end: choosing columns, training, loading (``sentiment.forecaster``),
prediction timestamps, evaluation, and the ``sentiment forecast`` commands. The baselines and
error metrics are tested in test_metrics.py, the configurations in test_config.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import require_data
from sentiment.errors import DataError
from sentiment.forecasting import resolve_columns
from sentiment.timeseries.data import TimeSeries


def hourly_csv(path: Path, n: int = 240, nan_rows: tuple[int, ...] = ()) -> Path:
    """A daily-periodic hourly series (``load``, ``temp``) from 2021-01-01 00:00."""
    t = np.arange(n)
    load = 10 + 3 * np.sin(2 * np.pi * t / 24) + 0.01 * t
    temp = 20 + np.cos(2 * np.pi * t / 24)
    stamps = np.datetime64("2021-01-01T00:00") + t * np.timedelta64(1, "h")
    lines = ["timestamp,load,temp,comment"]
    for i in range(n):
        value = "" if i in nan_rows else f"{load[i]:.4f}"
        lines.append(f"{str(stamps[i]).replace('T', ' ')},{value},{temp[i]:.4f},ok")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_resolve_columns():
    series = TimeSeries(np.zeros((3, 3)), ("a", "b", "c"))
    assert resolve_columns(series, ["c"], None) == (("c",), ("c",))
    assert resolve_columns(series, ["c"], ["all"]) == (("c",), ("c", "a", "b"))
    assert resolve_columns(series, None, None) == (("a", "b", "c"), ("a", "b", "c"))
    with pytest.raises(DataError, match="no column 'x'"):
        resolve_columns(series, ["x"], None)


# ----------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny GRU forecaster (an ensemble of two) trained for 2 epochs on 240 hourly rows;
    (model dir, csv)."""
    root = tmp_path_factory.mktemp("forecast")
    csv = hourly_csv(root / "series.csv", nan_rows=(30, 31, 100))
    from sentiment.cli import main

    result = CliRunner().invoke(main, [
        "forecast", "train", "--data", str(csv), "--date-column", "timestamp",
        "--targets", "load", "--features", "temp", "--lookback", "24", "--horizon", "6",
        "--units", "8", "--epochs", "2", "--batch-size", "32", "--conv-filters", "4",
        "--highway", "12", "--ensemble", "2", "--output", str(root / "model"), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "model saved to" in result.output and "repeat_last" in result.output
    return root / "model", csv


def test_model_directory_and_config(trained):
    model_dir, _ = trained
    assert {p.name for p in model_dir.iterdir()} == {"model.keras", "config.json",
                                                      "metrics.json"}
    saved = json.loads((model_dir / "config.json").read_text())["forecaster"]
    assert saved["targets"] == ["load"] and saved["inputs"] == ["load", "temp"]
    assert saved["lookback"] == 24 and saved["horizon"] == 6 and saved["frequency"] == 3600
    assert saved["season"] == 24 and saved["split"] == "ratio" and saved["highway"] == 12
    assert saved["ensemble"] == 2
    assert len(saved["mean"]) == 2 and saved["std"][0] > 0
    assert not list(model_dir.parent.glob(".model.tmp-*"))  # atomic write left nothing behind


def test_forecaster_load_and_predict_timestamps(trained):
    from sentiment.forecaster import Forecaster
    from sentiment.timeseries.data import read_series_csv

    model_dir, csv = trained
    forecaster = Forecaster.load(model_dir)
    series = read_series_csv(csv, "timestamp")
    forecast = forecaster.predict(series)
    assert forecast.values.shape == (6, 1) and forecast.columns == ("load",)
    assert np.isfinite(forecast.values).all()
    # 240 hourly rows from 2021-01-01 00:00 end at 2021-01-10 23:00.
    assert [str(t) for t in forecast.timestamps[:2]] == ["2021-01-11T00:00:00",
                                                         "2021-01-11T01:00:00"]
    assert str(forecast.timestamps[-1]) == "2021-01-11T05:00:00"
    # Original units: the series lives around 10-15, not around 0.
    assert 5 < float(forecast.values.mean()) < 20
    # A history shorter than the lookback is left-padded and still forecast.
    short = forecaster.predict(series.slice(230, 240))
    assert np.isfinite(short.values).all() and np.isnan(short.history_values[:14]).all()


def test_missing_model_directory_is_a_model_error(tmp_path):
    from sentiment.errors import ModelError
    from sentiment.forecaster import Forecaster

    with pytest.raises(ModelError, match="does not exist"):
        Forecaster.load(tmp_path / "none")
    (tmp_path / "clf").mkdir()
    (tmp_path / "clf" / "config.json").write_text('{"classifier": {}}')
    with pytest.raises(ModelError, match="holds no forecaster"):
        Forecaster.load(tmp_path / "clf")


def test_a_changed_forecaster_directory_is_refused(trained, tmp_path):
    import shutil

    from sentiment.errors import ModelError
    from sentiment.forecaster import Forecaster

    model_dir, _ = trained
    recorded = json.loads((model_dir / "config.json").read_text())["files"]
    assert set(recorded) == {"model.keras"}
    copy = tmp_path / "copy"
    shutil.copytree(model_dir, copy)
    with open(copy / "model.keras", "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(ModelError, match="copy/model.keras does not match the model"):
        Forecaster.load(copy)
    # a configuration whose horizon is not the model's (digests removed: an older model)
    shutil.copy(model_dir / "model.keras", copy / "model.keras")
    config = json.loads((copy / "config.json").read_text())
    del config["files"]
    config["forecaster"]["horizon"] = 12
    (copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match=r"copy/config.json describes a forecast of 12 steps x "
                                         r"1 targets \(load\) but the model outputs \(6, 1\)"):
        Forecaster.load(copy)
    config["forecaster"]["horizon"] = 6
    (copy / "config.json").write_text(json.dumps(config))
    (copy / "model.keras").write_bytes(b"random bytes, not an archive")
    with pytest.raises(ModelError, match="model.keras is not a valid Keras archive"):
        Forecaster.load(copy)


def test_cli_evaluate_json(trained):
    from sentiment.cli import main

    model_dir, csv = trained
    result = CliRunner().invoke(main, ["forecast", "evaluate", "--model", str(model_dir),
                                       "--data", str(csv), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert set(report["baselines"]) == {"repeat_last", "seasonal_naive"}
    for entry in (report, *report["baselines"].values()):
        assert entry["mse"] >= 0 and entry["mae"] >= 0
    assert len(report["per_step"]["mse"]) == 6
    # 20 % of 240 rows = 48 test rows -> 48 - 6 + 1 windows of stride 1.
    assert report["windows"] == 43
    text = CliRunner().invoke(main, ["forecast", "evaluate", "--model", str(model_dir),
                                     "--data", str(csv)])
    assert text.exit_code == 0 and "seasonal_naive" in text.output and "step" in text.output


def test_cli_predict_csv_and_plot(trained, tmp_path):
    pytest.importorskip("matplotlib")
    from sentiment.cli import main

    model_dir, csv = trained
    out, png = tmp_path / "f.csv", tmp_path / "f.png"
    result = CliRunner().invoke(main, ["forecast", "predict", "--model", str(model_dir),
                                       "--data", str(csv), "-o", str(out), "--plot", str(png)])
    assert result.exit_code == 0, result.output
    lines = out.read_text().splitlines()
    assert lines[0] == "timestamp,load" and len(lines) == 7
    assert lines[1].startswith("2021-01-11 00:00:00,")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    stdout = CliRunner().invoke(main, ["forecast", "predict", "--model", str(model_dir),
                                       "--data", str(csv)])
    assert stdout.output.splitlines()[:2] == lines[:2]


@pytest.mark.parametrize("args, message", [
    (["--data", "missing.csv"], "missing.csv"),
    (["--data", "{csv}", "--date-column", "timestamp", "--targets", "nope"], "no column 'nope'"),
    (["--data", "{csv}", "--date-column", "timestamp", "--targets", "comment"],
     "column 'comment' is not numeric: line 2"),
    (["--data", "{csv}", "--date-column", "when"], "no date column 'when'"),
    (["--data", "{short}", "--date-column", "timestamp"], "series too short"),
])
def test_cli_bad_input_is_one_line_with_status_2(tmp_path, args, message):
    from sentiment.cli import main

    csv = hourly_csv(tmp_path / "s.csv")
    short = hourly_csv(tmp_path / "short.csv", n=30)
    args = [a.format(csv=csv, short=short) for a in args]
    result = CliRunner().invoke(main, ["forecast", "train", *args, "--lookback", "24",
                                       "--horizon", "6", "--output", str(tmp_path / "m")])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "m").exists()


def test_cli_refuses_an_output_that_is_not_a_forecaster_directory(tmp_path, tiny_model_dir):
    from sentiment.cli import main

    csv = hourly_csv(tmp_path / "s.csv")
    classifier_files = sorted(p.name for p in tiny_model_dir.iterdir())
    for output, holds in ((tmp_path, "s.csv"), (tiny_model_dir, "vocab.txt")):
        result = CliRunner().invoke(main, [
            "forecast", "train", "--data", str(csv), "--date-column", "timestamp",
            "--lookback", "24", "--horizon", "6", "--output", str(output)])
        assert result.exit_code == 2, result.output
        assert f"not a forecaster model directory (it holds {holds})" in result.output
        assert "Traceback" not in result.output
    assert [p.name for p in tmp_path.iterdir()] == ["s.csv"]
    assert sorted(p.name for p in tiny_model_dir.iterdir()) == classifier_files


def test_resampled_scores_train_a_sentiment_index(tmp_path):
    from sentiment.cli import main

    rng = np.random.default_rng(0)
    lines = ["text,score,created"]
    for day in range(120):
        for k in range(int(rng.integers(0, 4))):  # some days have no texts at all
            stamp = np.datetime64("2022-01-01") + np.timedelta64(day, "D") \
                + np.timedelta64(int(k * 5), "h")
            lines.append(f"t{day}-{k},{rng.uniform():.3f},{stamp}")
    scored = tmp_path / "scored.csv"
    scored.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(main, [
        "forecast", "train", "--data", str(scored), "--date-column", "created",
        "--resample", "1D", "--features", "count", "--lookback", "14", "--horizon", "7",
        "--units", "4", "--epochs", "1", "--output", str(tmp_path / "m"), "--quiet"])
    assert result.exit_code == 0, result.output
    # without --score-column, a file without prob_ columns averages its score column
    assert "index: the mean of column 'score' and the row count per 1D period" in result.output
    saved = json.loads((tmp_path / "m" / "config.json").read_text())["forecaster"]
    assert saved["resample"] == "1D" and saved["score_column"] == "score"  # the column used
    predicted = CliRunner().invoke(main, ["forecast", "predict", "--model", str(tmp_path / "m"),
                                          "--data", str(scored)])
    assert predicted.exit_code == 0, predicted.output
    rows = predicted.output.splitlines()
    assert rows[0] == "created,score" and len(rows) == 8
    last_day = max(np.datetime64(line.rsplit(",", 1)[1]) for line in lines[1:])
    assert rows[1].startswith(str(last_day.astype("datetime64[D]") + np.timedelta64(1, "D")))


def test_the_index_of_a_scored_file_averages_the_positive_probability(tmp_path):
    from sentiment.cli import main

    rng = np.random.default_rng(1)
    lines = ["text,predicted_label,predicted_score,prob_neg,prob_pos,error,created"]
    for day in range(60):
        p = float(rng.uniform())
        stamp = np.datetime64("2022-01-01") + np.timedelta64(day, "D")
        lines.append(f"t{day},{'pos' if p > 0.5 else 'neg'},{max(p, 1 - p):.4f},{1 - p:.4f},"
                     f"{p:.4f},,{stamp}")
    scored = tmp_path / "scored.csv"
    scored.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(main, [
        "forecast", "train", "--data", str(scored), "--date-column", "created",
        "--resample", "1D", "--lookback", "7", "--horizon", "2", "--units", "4",
        "--epochs", "1", "--output", str(tmp_path / "m"), "--quiet"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("index: the mean of column 'prob_pos' and the row count "
                                    "per 1D period\n")
    saved = json.loads((tmp_path / "m" / "config.json").read_text())["forecaster"]
    assert saved["targets"] == ["prob_pos"] and saved["score_column"] == "prob_pos"
    predicted = CliRunner().invoke(main, ["forecast", "predict", "--model", str(tmp_path / "m"),
                                          "--data", str(scored)])
    assert predicted.exit_code == 0, predicted.output
    assert predicted.output.splitlines()[0] == "created,prob_pos"


def test_help_does_not_import_tensorflow():
    code = ("import sys; from click.testing import CliRunner; from sentiment.cli import main; "
            "r = CliRunner().invoke(main, ['forecast', '--help']); assert r.exit_code == 0; "
            "print('tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_etth1_cli_on_a_small_slice(tmp_path, monkeypatch):
    root = require_data("ett/ETTh1.csv")
    monkeypatch.setenv("SENTIMENT_DATA_DIR", str(root))
    from sentiment.cli import main

    result = CliRunner().invoke(main, [
        "forecast", "train", "--dataset", "etth1", "--targets", "OT", "--lookback", "48",
        "--horizon", "24", "--units", "8", "--segment", "12", "--epochs", "1",
        "--max-windows", "256", "--batch-size", "64", "--output", str(tmp_path / "m"),
        "--quiet"])
    assert result.exit_code == 0, result.output
    report = json.loads(CliRunner().invoke(main, [
        "forecast", "evaluate", "--model", str(tmp_path / "m"), "--dataset", "etth1",
        "--json"]).output)
    # Test targets are rows 11520..14399 (2016-07-01 + 480 days = 2017-10-24).
    assert report["windows"] == 2880 - 24 + 1
    assert report["test_targets"][0] == "2017-10-24T00:00:00"
    assert report["test_targets"][1] == "2018-02-20T23:00:00"
    assert report["baselines"]["seasonal_naive"]["season"] == 24


def test_ensemble_forecasts_the_mean_of_its_members_and_reloads(tmp_path):
    from sentiment.config import ForecasterConfig, ForecastTrainingConfig
    from sentiment.forecaster import Forecaster
    from sentiment.forecasting import train_forecaster
    from sentiment.timeseries.data import read_series_csv

    series = read_series_csv(hourly_csv(tmp_path / "series.csv"), "timestamp")
    config = ForecasterConfig(lookback=24, horizon=6, targets=("load",), inputs=("load",),
                              units=8, ensemble=2, date_column="timestamp")
    result = train_forecaster(series, config, ForecastTrainingConfig(epochs=1, batch_size=32),
                              tmp_path / "model")
    members = result.forecaster.model.members
    assert len(members) == 2 and len(result.metrics["training"]["members"]) == 2
    inputs = members[0].example_inputs(3)
    inputs["past"] = np.random.default_rng(0).normal(size=inputs["past"].shape).astype("float32")
    first, second = (np.asarray(m(inputs)) for m in members)
    assert np.abs(first - second).max() > 1e-4  # different seeds, different members
    ensemble = np.asarray(result.forecaster.model(inputs))
    np.testing.assert_allclose(ensemble, (first + second) / 2, atol=1e-6)
    loaded = Forecaster.load(tmp_path / "model")
    np.testing.assert_allclose(np.asarray(loaded.model(inputs)), ensemble, atol=1e-6)
    assert loaded.config.ensemble == 2
    assert loaded.evaluate(series)["mse"] == pytest.approx(result.metrics["test"]["mse"])
