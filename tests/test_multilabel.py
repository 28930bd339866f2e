"""Multi-label classifiers end to end: training tunes and saves a threshold per label, and the
Predictor, the SavedModel, scoring (each format), evaluation and the CLI give the same labels."""

import json

import numpy as np
import pyarrow as pa
import pyarrow.json  # noqa: F401
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from sentiment.cli import main
from sentiment.config import read_config_file

TEXTS = ["i am so happy and glad", "the film was scary and i was afraid", "the plot",
         "furious and delighted"]


@pytest.fixture(scope="module")
def predictor(multilabel_model_dir):
    from sentiment.predictor import Predictor

    return Predictor.load(multilabel_model_dir)


def test_training_saves_a_threshold_per_label_and_multi_label_metrics(multilabel_model_dir):
    config = read_config_file(multilabel_model_dir)["classifier"]
    assert config["multi_label"] is True
    assert config["labels"] == ["anger", "fear", "joy"]
    assert len(config["thresholds"]) == 3 and all(0 < t < 1 for t in config["thresholds"])
    metrics = json.loads((multilabel_model_dir / "metrics.json").read_text())
    test = metrics["test"]
    assert test["multi_label"] and test["examples"] == 300
    # the cue words decide the labels exactly: a small GRU learns them
    assert test["micro_f1"] > 0.9 and test["macro_f1"] > 0.9
    assert set(test["per_label"]) == {"anger", "fear", "joy"}
    assert metrics["threshold"]["metric"] == "f1"
    assert metrics["threshold"]["thresholds"] == dict(zip(config["labels"],
                                                          config["thresholds"]))
    assert metrics["calibration"]["validation"]["log_loss_after"] <= \
        metrics["calibration"]["validation"]["log_loss_before"] + 1e-9


def test_predictor_returns_the_labels_above_their_thresholds(predictor):
    results = predictor.predict(TEXTS)
    probabilities = predictor.predict_proba(TEXTS)
    thresholds = np.asarray(predictor.config.thresholds)
    for result, row in zip(results, probabilities):
        assert set(result) == {"labels", "scores"}
        expected = [name for name, p, t in zip(predictor.labels, row, thresholds) if p >= t]
        assert result["labels"] == expected
        assert result["scores"] == pytest.approx(dict(zip(predictor.labels, row.tolist())))
    assert results[0]["labels"] == ["joy"]
    assert results[1]["labels"] == ["fear"]
    assert results[2]["labels"] == []
    assert results[3]["labels"] == ["anger", "joy"]
    # probabilities of a multi-label model need not sum to 1
    assert not np.allclose(probabilities.sum(axis=1), 1.0)


def test_the_saved_model_gives_the_predictors_probabilities_and_labels(
        multilabel_model_dir, predictor, tmp_path):
    import tensorflow as tf

    from sentiment.export import export_saved_model, load_export

    exported = load_export(export_saved_model(multilabel_model_dir, tmp_path / "export"))
    out = exported.serve(tf.constant(TEXTS))
    np.testing.assert_allclose(out["probabilities"].numpy(), predictor.predict_proba(TEXTS),
                               atol=1e-5)
    np.testing.assert_allclose(out["thresholds"].numpy(),
                               np.tile(predictor.config.thresholds, (len(TEXTS), 1)), rtol=1e-6)
    assert (out["predicted"].numpy()
            == predictor.decision.label_sets(predictor.predict_proba(TEXTS))).all()


def _input(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("text\n" + "\n".join(TEXTS) + '\n""\n', encoding="utf-8")
    return path


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_score_writes_the_labels_given_and_every_probability(multilabel_model_dir,
                                                              predictor, tmp_path, fmt):
    out = tmp_path / f"out.{fmt}"
    result = CliRunner().invoke(main, ["score", str(_input(tmp_path)), "-o", str(out),
                                       "--model", str(multilabel_model_dir), "--quiet"])
    assert result.exit_code == 0, result.output
    if fmt == "csv":
        table = pa.csv.read_csv(out, convert_options=pa.csv.ConvertOptions(
            strings_can_be_null=True))
    elif fmt == "jsonl":
        table = pa.json.read_json(out)
    else:
        table = pq.read_table(out)
    rows = table.to_pylist()
    assert table.column_names == ["text", "predicted_labels", "prob_anger", "prob_fear",
                                  "prob_joy", "error"]
    assert len(rows) == len(TEXTS) + 1  # the empty text is a row with an error
    expected = [r["labels"] for r in predictor.predict(TEXTS)]
    given = [row["predicted_labels"] for row in rows[:-1]]
    if fmt == "csv":  # a delimited string in CSV and TSV
        given = [value.split(",") if value else [] for value in given]
    assert given == expected
    assert rows[0]["prob_joy"] == pytest.approx(predictor.predict_proba(TEXTS[:1])[0, 2],
                                                abs=1e-6)
    assert rows[-1]["error"] == "empty text" and rows[-1]["predicted_labels"] is None


def test_evaluate_reads_the_model_as_multi_label_and_reports_f1(multilabel_model_dir,
                                                                 emotions_data, tmp_path):
    _, test = emotions_data
    path = tmp_path / "test.tsv"
    lines = ["text\ttags"] + [f"{text}\t{'|'.join(labels)}"
                              for text, labels in zip(test.texts, test.labels)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    args = ["evaluate", "--model", str(multilabel_model_dir), "--test", str(path),
            "--label-column", "tags", "--label-delimiter", "|"]
    result = CliRunner().invoke(main, args + ["--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    metrics = json.loads((multilabel_model_dir / "metrics.json").read_text())["test"]
    for key in ("micro_f1", "macro_f1", "hamming_loss", "subset_accuracy"):
        assert report[key] == pytest.approx(metrics[key], abs=1e-6)
    text = CliRunner().invoke(main, args).output
    assert "micro F1" in text and "Hamming loss" in text and "joy" in text
    # one threshold for every label, at prediction time
    strict = json.loads(CliRunner().invoke(main, args + ["--json", "--threshold", "0.99"]
                                           ).output)
    assert strict["decision"]["thresholds"] == {"anger": 0.99, "fear": 0.99, "joy": 0.99}
    assert strict["label_cardinality"]["predicted"] < report["label_cardinality"]["predicted"]
    refused = CliRunner().invoke(main, args + ["--abstain-below", "0.5"])
    assert refused.exit_code == 2 and "abstain_below applies to single-label" in refused.output


def test_predict_prints_each_label_given(multilabel_model_dir):
    result = CliRunner().invoke(main, ["predict", "--model", str(multilabel_model_dir),
                                       TEXTS[3], TEXTS[2]])
    assert result.exit_code == 0, result.output
    first, second = result.output.splitlines()
    assert first.startswith("anger ") and "\tjoy " in first
    assert second == "(no label)"
    explained = CliRunner().invoke(main, ["predict", "--model", str(multilabel_model_dir),
                                          "--explain", "--json", "--target", "joy",
                                          TEXTS[3]])
    explanation = json.loads(explained.output)
    assert explanation["target"] == "joy" and explanation["labels"] == ["anger", "joy"]
    assert len(explanation["attributions"]) == len(explanation["tokens"])


def test_training_reads_a_delimited_multi_label_file(tmp_path, emotions_data):
    train, _ = emotions_data
    path = tmp_path / "train.csv"
    import csv

    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "tags"])
        writer.writerows((text, ";".join(labels)) for text, labels in
                         zip(train.texts[:300], train.labels[:300]))
    output = tmp_path / "model"
    result = CliRunner().invoke(main, [
        "train", "--train", str(path), "--label-column", "tags", "--multi-label",
        "--label-delimiter", ";", "--epochs", "1", "--units", "4", "--embedding-dim", "4",
        "--vocab-size", "100", "--min-frequency", "1", "--class-weight", "balanced",
        "--label-thresholds", "global", "--output", str(output), "--quiet"])
    assert result.exit_code == 0, result.output
    config = read_config_file(output)["classifier"]
    assert config["multi_label"] and config["thresholds"] == []
    assert 0 <= config["threshold"] <= 1  # one threshold for every label
    weights = json.loads((output / "metrics.json").read_text())["training"]["class_weight"]
    assert set(weights) == {"anger", "fear", "joy"}
    assert weights["joy"]["positive"] > 1 > weights["joy"]["negative"]


def test_evaluate_report_of_a_multi_label_model(multilabel_model_dir, emotions_data, tmp_path):
    pytest.importorskip("matplotlib")
    import csv

    from sentiment.reports import MULTILABEL_REPORT_FILES

    _, test = emotions_data
    path = tmp_path / "test.jsonl"
    path.write_text("".join(json.dumps({"text": text, "label": list(labels)}) + "\n"
                            for text, labels in zip(test.texts, test.labels)))
    report_dir = tmp_path / "report"
    result = CliRunner().invoke(main, ["evaluate", "--model", str(multilabel_model_dir),
                                       "--test", str(path), "--report", str(report_dir)])
    assert result.exit_code == 0, result.output
    assert "micro F1" in result.output and "ECE" in result.output
    assert sorted(p.name for p in report_dir.iterdir()) == sorted(MULTILABEL_REPORT_FILES)
    metrics = json.loads((report_dir / "metrics.json").read_text())
    saved = json.loads((multilabel_model_dir / "metrics.json").read_text())["test"]
    assert metrics["macro_f1"] == pytest.approx(saved["macro_f1"], abs=1e-6)
    assert 0 <= metrics["expected_calibration_error"] <= 1
    assert sum(metrics["calibration"]["count"]) == 3 * len(test)
    with open(report_dir / "errors.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == metrics["misclassified"]
    assert metrics["misclassified"] == round((1 - metrics["subset_accuracy"]) * len(test))
    for row in rows:
        assert row["labels"] != row["predicted_labels"]
        assert row["missed"] or row["extra"]
