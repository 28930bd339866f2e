"""A small model trained on real data (a slice of SST-2) behind evaluate and predict."""

import pytest

from sentiment.data import load_labelled_file
from sentiment.evaluation import evaluate_predictor, format_report
from sentiment.predictor import Predictor

from conftest import require_data


@pytest.fixture(scope="module")
def sst2_predictor(sst2_model_dir):
    return Predictor.load(sst2_model_dir)


def test_sst2_model_learns_sentiment(sst2_predictor):
    root = require_data("sst2/dev.tsv")
    report = evaluate_predictor(sst2_predictor, load_labelled_file(root / "sst2" / "dev.tsv",
                                                                   "sentence"))
    assert report["examples"] == 872
    assert report["accuracy"] > 0.70  # well above chance after 8,000 phrases, 2 epochs
    assert report["roc_auc"] > 0.75
    assert sum(map(sum, report["confusion_matrix"])) == 872
    assert "positive" in format_report(report)


def test_sst2_model_reads_plain_sentiment(sst2_predictor):
    good, bad = sst2_predictor.predict(["what a wonderful film", "a dull , tedious mess"])
    assert good["label"] == "positive" and bad["label"] == "negative"
