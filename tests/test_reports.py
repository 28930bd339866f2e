"""Evaluation reports (sentiment.reports) and the metrics they add (log loss, ECE, ROC curve)."""

from __future__ import annotations

import csv
import json
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import make_reviews, write_labelled_csv
from sentiment.cli import main
from sentiment.errors import ConfigError
from sentiment.metrics import expected_calibration_error, log_loss
from sentiment.reports import REPORT_FILES, report_metrics, write_report

# four rows, two classes; P(class 1) per row. Predictions: 0, 0, 0, 1 -> row 3 is wrong.
Y = np.array([0, 0, 1, 1])
P1 = np.array([0.1, 0.4, 0.35, 0.8])
PROBS = np.c_[1 - P1, P1]


def test_report_metrics_by_hand():
    metrics = report_metrics(Y, PROBS, ["neg", "pos"])
    assert metrics["accuracy"] == 0.75
    # neg: predicted 3 times, 2 right (precision 2/3), recall 2/2; pos: precision 1/1, recall 1/2
    assert metrics["per_class"]["neg"]["precision"] == pytest.approx(2 / 3)
    assert metrics["per_class"]["neg"]["recall"] == 1.0
    assert metrics["per_class"]["pos"]["recall"] == 0.5
    f1_neg, f1_pos = 2 * (2 / 3) / (2 / 3 + 1), 2 * 0.5 / 1.5
    assert metrics["macro_f1"] == pytest.approx((f1_neg + f1_pos) / 2)
    assert metrics["roc_auc"] == 0.75
    assert metrics["log_loss"] == pytest.approx(log_loss(Y, PROBS))
    assert metrics["confusion_matrix"] == [[2, 0], [1, 1]]
    json.dumps(metrics, allow_nan=False)  # plain JSON, no NaN


def test_report_metrics_three_classes_one_vs_rest_auc():
    y = np.array([0, 1, 2, 2])
    probs = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7], [0.5, 0.1, 0.4]])
    metrics = report_metrics(y, probs, ["a", "b", "c"])
    assert metrics["roc_auc_per_class"] == {"a": pytest.approx(1.0), "b": 1.0, "c": 1.0}
    assert metrics["roc_auc"] == pytest.approx(1.0)


def test_write_report_files_and_errors_worst_first(tmp_path):
    pytest.importorskip("matplotlib")
    from matplotlib.image import imread

    texts = ["a", "b", "c", "d", "e"]
    y = np.array([0, 0, 1, 1, 0])
    p1 = np.array([0.2, 0.7, 0.45, 0.9, 0.95])  # rows 2, 3 and 5 are wrong
    write_report(tmp_path / "report", texts, y, np.c_[1 - p1, p1], ["neg", "pos"],
                 raw_labels=["0", "0", "1", "1", "0"], source="hand")
    directory = tmp_path / "report"
    assert sorted(p.name for p in directory.iterdir()) == sorted(REPORT_FILES)
    metrics = json.loads((directory / "metrics.json").read_text())
    assert metrics["accuracy"] == pytest.approx(2 / 5) and metrics["misclassified"] == 3
    assert metrics["source"] == "hand"
    for name in ("confusion_matrix.png", "roc.png", "calibration.png"):
        image = imread(directory / name)
        assert image.shape[0] >= 400 and image.shape[1] >= 400
        assert image[..., :3].std() > 0.05  # not a blank canvas
    with open(directory / "errors.csv", newline="") as handle:
        errors = list(csv.DictReader(handle))
    # worst first: the true class got 0.05 (row 5), 0.3 (row 2), 0.45 (row 3)
    assert [row["row"] for row in errors] == ["5", "2", "3"]
    assert [row["text"] for row in errors] == ["e", "b", "c"]
    assert [row["label"] for row in errors] == ["0", "0", "1"]
    assert [row["predicted_label"] for row in errors] == ["pos", "pos", "neg"]
    assert [float(row["true_label_score"]) for row in errors] == pytest.approx([0.05, 0.3, 0.45])
    assert float(errors[0]["prob_pos"]) == pytest.approx(0.95)


def test_missing_matplotlib_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ConfigError, match=r"pip install 'sentiment\[plot\]'"):
        write_report(tmp_path / "r", ["a"], [0], [[0.9, 0.1]], ["neg", "pos"])
    assert not (tmp_path / "r").exists()


def test_evaluate_cli_report(tmp_path, tiny_model_dir, tiny_predictor):
    pytest.importorskip("matplotlib")
    texts, labels = make_reviews(60, seed=11)
    texts[0], labels[0] = "awful dull terrible tedious", "pos"  # a sure error
    test_file = write_labelled_csv(tmp_path / "test.csv", texts, labels)
    report_dir = tmp_path / "report"
    result = CliRunner().invoke(main, ["evaluate", "--model", str(tiny_model_dir), "--test",
                                       str(test_file), "--report", str(report_dir)])
    assert result.exit_code == 0, result.output
    assert f"report written to {report_dir}" in result.output
    assert sorted(p.name for p in report_dir.iterdir()) == sorted(REPORT_FILES)
    metrics = json.loads((report_dir / "metrics.json").read_text())
    probabilities = tiny_predictor.predict_proba(texts)
    y = np.array([tiny_predictor.labels.index(label) for label in labels])
    assert metrics["accuracy"] == pytest.approx(float((probabilities.argmax(1) == y).mean()))
    assert metrics["log_loss"] == pytest.approx(log_loss(y, probabilities), rel=1e-4)
    assert metrics["expected_calibration_error"] == pytest.approx(
        expected_calibration_error(y, probabilities), abs=1e-5)
    with open(report_dir / "errors.csv", newline="") as handle:
        errors = list(csv.DictReader(handle))
    assert len(errors) == metrics["misclassified"] == int((probabilities.argmax(1) != y).sum())
    assert errors[0]["row"] == "1"  # the planted error is the most confident one


def test_a_report_file_that_is_the_test_input_is_refused(tmp_path, monkeypatch):
    """``--test report/errors.csv --report report`` (here also through a symbolic link and a
    hard link) would overwrite the data being evaluated: refused before the model loads."""
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    texts, labels = make_reviews(6, seed=2)
    (tmp_path / "report").mkdir()
    data = write_labelled_csv(tmp_path / "report" / "errors.csv", texts, labels)
    original = data.read_bytes()
    (tmp_path / "linked").symlink_to(tmp_path / "report", target_is_directory=True)
    (tmp_path / "hard").mkdir()
    (tmp_path / "hard" / "errors.csv").hardlink_to(data)
    for report_dir in ("report", "linked", "hard"):
        result = CliRunner().invoke(main, ["evaluate", "--model", "missing", "--test",
                                           "report/errors.csv", "--report", report_dir])
        assert result.exit_code == 2, result.output
        assert result.output == (f"Error: output '{report_dir}/errors.csv' would replace the "
                                 "input 'report/errors.csv' (the same path); choose another "
                                 "output path\n")
    with pytest.raises(ConfigError, match="would replace the input"):
        write_report("linked", texts, [0] * 6, np.full((6, 2), 0.5), ["neg", "pos"],
                     source="report/errors.csv")
    assert data.read_bytes() == original
    assert sorted(p.name for p in (tmp_path / "report").iterdir()) == ["errors.csv"]


def test_a_calibrated_models_report_shows_before_and_after(tmp_path):
    pytest.importorskip("matplotlib")
    from sentiment.calibration import apply_temperature
    from sentiment.reports import write_report

    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 300)
    raw = np.where(y[:, None] == np.arange(2), 0.97, 0.03)  # over-confident
    flip = rng.random(300) < 0.2
    raw[flip] = raw[flip][:, ::-1]
    calibrated = apply_temperature(raw, 2.5)
    metrics = write_report(tmp_path / "r", [f"t{i}" for i in range(300)], y, calibrated,
                           ["neg", "pos"], temperature=2.5)
    assert metrics["temperature"] == 2.5
    before = metrics["uncalibrated"]
    assert before["log_loss"] == pytest.approx(log_loss(y, raw), rel=1e-5)
    assert before["expected_calibration_error"] == pytest.approx(
        expected_calibration_error(y, raw), abs=1e-6)
    assert before["expected_calibration_error"] > metrics["expected_calibration_error"]
    assert (tmp_path / "r" / "calibration.png").stat().st_size > 0
    plain = write_report(tmp_path / "p", ["a", "b"], [0, 1], np.eye(2) * 0.8 + 0.1,
                         ["neg", "pos"])
    assert "uncalibrated" not in plain and "temperature" not in plain
