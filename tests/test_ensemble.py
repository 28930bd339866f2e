"""Ensembles of different classifiers (``sentiment ensemble``, sentiment.ensemble)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import make_emotions, make_reviews, write_labelled_csv

TEXTS = ["a wonderful, moving film", "dull and far too long.", "",
         " ".join(["plot"] * 80) + " great"]


# ---------------------------------------------------------------- weights (numpy only)

def test_em_weights_favour_the_better_member_and_maximize_the_likelihood():
    from sentiment.ensemble import fit_weights

    rng = np.random.default_rng(0)
    good = rng.uniform(0.6, 0.99, 500)  # member 0: its probability of the true class
    noisy = rng.uniform(0.05, 0.95, 500)
    likelihoods = np.stack([good, noisy], axis=1)
    weights = fit_weights(likelihoods)
    assert weights.shape == (2,) and abs(weights.sum() - 1) < 1e-9 and (weights >= 0).all()
    assert weights[0] > weights[1]

    def log_likelihood(w0):
        return np.log(likelihoods @ np.array([w0, 1 - w0])).sum()

    grid = np.linspace(0, 1, 2001)
    best = grid[np.argmax([log_likelihood(w) for w in grid])]
    assert abs(weights[0] - best) < 2e-3 and weights[0] > 0.6  # far from where EM starts


def test_a_member_that_is_never_better_gets_no_weight():
    from sentiment.ensemble import fit_weights

    likelihoods = np.array([[0.9, 0.5], [0.8, 0.5], [0.7, 0.5]])
    assert fit_weights(likelihoods, iterations=5000)[1] < 1e-3


def test_outcome_likelihoods_single_and_multi_label():
    from sentiment.ensemble import outcome_likelihoods

    p = np.array([[0.2, 0.8], [0.6, 0.4]])
    single = outcome_likelihoods(np.array([1, 0]), [p, 1 - p], multi_label=False)
    np.testing.assert_allclose(single, [[0.8, 0.2], [0.6, 0.4]])
    multi = outcome_likelihoods(np.array([[1, 0], [0, 0]]), [p], multi_label=True)
    np.testing.assert_allclose(multi[:, 0], [0.2, 0.2, 0.4, 0.6])


def test_parse_weights():
    from sentiment.ensemble import parse_weights
    from sentiment.errors import ConfigError

    assert parse_weights("equal", 3) == "equal"
    assert parse_weights("validation", 2) == "validation"
    assert parse_weights("3,1", 2) == (0.75, 0.25)
    for bad in ("3", "1,x", "-1,2", "0,0", "best", "1e308,1e308", "nan,1"):
        with pytest.raises(ConfigError, match="--weights"):
            parse_weights(bad, 2)


def test_ensemble_config_checks_its_weights():
    from sentiment.config import EnsembleConfig
    from sentiment.errors import ConfigError

    with pytest.raises(ConfigError, match="one per member"):
        EnsembleConfig(members=("members/0",), weights=(0.5, 0.5), labels=("a", "b"))
    with pytest.raises(ConfigError, match="sum to 1"):
        EnsembleConfig(members=("members/0", "members/1"), weights=(0.5, 0.6))
    for members in (("../elsewhere",), ("/abs",), (".",)):  # outside its fingerprints
        with pytest.raises(ConfigError, match="members must be"):
            EnsembleConfig(members=members, weights=(1.0,))
    with pytest.raises(ConfigError, match="one per label"):
        EnsembleConfig(members=("members/0",), weights=(1.0,), labels=("a", "b"),
                       multi_label=True, thresholds=(0.5,))
    config = EnsembleConfig(members=["members/0"], weights=[1.0], labels=["a", "b"])
    assert EnsembleConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


# ---------------------------------------------------------------- building and predicting

def test_probabilities_are_the_weighted_mean_of_the_members(mixed_ensemble_dir, tiny_model_dir,
                                                            bigram_model_dir):
    from sentiment.predictor import EnsemblePredictor, Predictor

    ensemble = Predictor.load(mixed_ensemble_dir)
    assert isinstance(ensemble, EnsemblePredictor)
    assert ensemble.config.weights == (0.75, 0.25) and ensemble.config.weighting == "given"
    gru, bigrams = Predictor.load(tiny_model_dir), Predictor.load(bigram_model_dir)
    expected = 0.75 * gru.predict_proba(TEXTS) + 0.25 * bigrams.predict_proba(TEXTS)
    np.testing.assert_allclose(ensemble.predict_proba(TEXTS), expected, atol=1e-6)
    result = ensemble.predict(TEXTS[0])
    assert set(result) == {"label", "score", "scores"} and result["label"] in ("neg", "pos")
    # padding never changes a prediction: alone or in a batch with a long text
    alone = np.concatenate([ensemble.predict_proba([text]) for text in TEXTS])
    np.testing.assert_allclose(alone, ensemble.predict_proba(TEXTS), atol=1e-5)
    assert ensemble.stepper() is None
    with pytest.raises(TypeError, match="own tokenizer"):
        ensemble.encode_ids(TEXTS)


def test_the_members_are_copied_and_checked(mixed_ensemble_dir, tmp_path):
    import shutil

    from sentiment.errors import ModelError
    from sentiment.predictor import Predictor

    saved = json.loads((mixed_ensemble_dir / "config.json").read_text())
    assert saved["ensemble"]["members"] == ["members/0", "members/1"]
    assert "members/1/model.keras" in saved["files"]
    copy = tmp_path / "copy"
    shutil.copytree(mixed_ensemble_dir, copy)
    with open(copy / "members" / "1" / "vocab.txt", "a", encoding="utf-8") as handle:
        handle.write("extra\n")
    with pytest.raises(ModelError, match="vocab.txt"):
        Predictor.load(copy)


def test_decision_options_apply_to_the_ensemble(mixed_ensemble_dir):
    from sentiment.predictor import Predictor

    strict = Predictor.load(mixed_ensemble_dir, threshold=0.999)
    assert all(row["label"] == "neg" for row in strict.predict(TEXTS[:2]))
    abstaining = Predictor.load(mixed_ensemble_dir, abstain_below=1.0, abstain_label="unsure")
    assert {row["label"] for row in abstaining.predict(TEXTS)} == {"unsure"}


def test_validation_weights_and_metrics(tiny_model_dir, bigram_model_dir, tiny_data, tmp_path):
    from sentiment.ensemble import build_ensemble

    output, metrics = build_ensemble([tiny_model_dir, bigram_model_dir], tmp_path / "ens",
                                     weights="validation", validation=tiny_data[1])
    config = json.loads((output / "config.json").read_text())["ensemble"]
    assert config["weighting"] == "validation" and abs(sum(config["weights"]) - 1) < 1e-9
    assert json.loads((output / "metrics.json").read_text()) == metrics
    figures = metrics["validation"]
    assert figures["examples"] == len(tiny_data[1]) and len(figures["members"]) == 2
    assert [m["weight"] for m in figures["members"]] == config["weights"]
    # EM maximizes the likelihood of the mixture: never worse than either member alone, and
    # no better at any other weights
    members_loss = min(m["log_loss"] for m in figures["members"])
    assert figures["ensemble"]["log_loss"] <= members_loss + 1e-6
    from sentiment.metrics import log_loss
    from sentiment.predictor import Predictor

    probabilities = [Predictor.load(d).predict_proba(tiny_data[1].texts)
                     for d in (tiny_model_dir, bigram_model_dir)]
    y = np.array([("neg", "pos").index(label) for label in tiny_data[1].labels])
    fitted = log_loss(y, sum(w * p for w, p in zip(config["weights"], probabilities)))
    for w0 in (0.0, 0.25, 0.5, 0.75, 1.0):
        assert fitted <= log_loss(y, w0 * probabilities[0] + (1 - w0) * probabilities[1]) \
            + 1e-4


def test_bad_member_sets_are_refused(tiny_model_dir, multilabel_model_dir, mixed_ensemble_dir,
                                     tmp_path):
    from sentiment.ensemble import build_ensemble
    from sentiment.errors import ConfigError, ModelError

    with pytest.raises(ConfigError, match="labels must match"):
        build_ensemble([tiny_model_dir, multilabel_model_dir], tmp_path / "a")
    with pytest.raises(ConfigError, match="given twice"):
        build_ensemble([tiny_model_dir, tiny_model_dir], tmp_path / "b")
    with pytest.raises(ModelError, match="is an ensemble"):
        build_ensemble([tiny_model_dir, mixed_ensemble_dir], tmp_path / "c")
    with pytest.raises(ConfigError, match="needs validation data"):
        build_ensemble([tiny_model_dir], tmp_path / "d", weights="validation")
    with pytest.raises(ConfigError, match="model.keras"):  # never over a classifier
        build_ensemble([tiny_model_dir], tiny_model_dir)
    with pytest.raises(ConfigError, match="in the member model directory"):
        build_ensemble([tiny_model_dir], tiny_model_dir / "ensemble")
    assert not (tmp_path / "a").exists() and not (tmp_path / "d").exists()
    assert not (tiny_model_dir / "ensemble").exists()


def test_the_default_holdout_refuses_members_trained_on_it(tiny_model_dir, tiny_data,
                                                         tmp_path):
    import shutil

    from sentiment.ensemble import build_ensemble
    from sentiment.errors import ConfigError

    other = tmp_path / "other-seed"
    shutil.copytree(tiny_model_dir, other)
    saved = json.loads((other / "config.json").read_text())
    saved["training"]["seed"] = 7  # as if trained with --seed 7 (files untouched)
    (other / "config.json").write_text(json.dumps(saved))
    with pytest.raises(ConfigError, match="seed 7"):
        build_ensemble([other], tmp_path / "ens", validation=tiny_data[1],
                       dataset_holdout=True)


def test_train_refuses_to_overwrite_an_ensemble(mixed_ensemble_dir, tiny_data):
    from sentiment.config import ClassifierConfig, TrainingConfig
    from sentiment.errors import ConfigError
    from sentiment.training import train_classifier

    before = sorted(p.name for p in mixed_ensemble_dir.iterdir())
    with pytest.raises(ConfigError, match="members"):
        train_classifier(tiny_data[0], ClassifierConfig(), TrainingConfig(epochs=1),
                         mixed_ensemble_dir, verbose=0)
    assert sorted(p.name for p in mixed_ensemble_dir.iterdir()) == before


def test_export_matches_the_ensemble(mixed_ensemble_dir, tmp_path):
    import tensorflow as tf

    from sentiment.export import export_saved_model, load_export
    from sentiment.predictor import Predictor

    export_saved_model(mixed_ensemble_dir, tmp_path / "exported")
    loaded = load_export(tmp_path / "exported")
    outputs = loaded.serve(tf.constant(TEXTS))
    predictor = Predictor.load(mixed_ensemble_dir)
    np.testing.assert_allclose(outputs["probabilities"].numpy(),
                               predictor.predict_proba(TEXTS), atol=1e-5)
    assert [label.decode() for label in outputs["label"].numpy()] == \
        [row["label"] for row in predictor.predict(TEXTS)]
    info = json.loads((tmp_path / "exported" / "sentiment_export.json").read_text())
    assert info["ensemble"]["weights"] == [0.75, 0.25] and len(info["members"]) == 2


def test_explain_combines_the_members(mixed_ensemble_dir):
    from sentiment.errors import ConfigError
    from sentiment.predictor import Predictor

    predictor = Predictor.load(mixed_ensemble_dir)
    explained = predictor.explain("a wonderful film", steps=16)
    assert explained["method"] == "integrated_gradients"
    assert explained["target"] == explained["label"]
    assert [m["weight"] for m in explained["members"]] == [0.75, 0.25]
    first = explained["members"][0]
    assert explained["tokens"] == first["tokens"]
    assert len(explained["attributions"]) == len(explained["tokens"])
    # the bigram member tokenizes differently, so the top level is the first member's share
    np.testing.assert_allclose(explained["attributions"],
                               0.75 * np.asarray(first["attributions"]), atol=1e-6)
    with pytest.raises(ConfigError, match="integrated gradients"):
        predictor.explain("a wonderful film", method="attention")


def test_explain_sums_members_that_share_a_tokenization(tiny_model_dir, tiny_ensemble_dir,
                                                        tmp_path):
    from sentiment.ensemble import build_ensemble
    from sentiment.predictor import Predictor

    output, _ = build_ensemble([tiny_model_dir, tiny_ensemble_dir], tmp_path / "ens",
                               weights=(1.0, 3.0))
    explained = Predictor.load(output).explain("a wonderful film", steps=16)
    first, second = explained["members"]
    assert first["tokens"] == second["tokens"] == explained["tokens"]
    np.testing.assert_allclose(
        explained["attributions"],
        0.25 * np.asarray(first["attributions"]) + 0.75 * np.asarray(second["attributions"]),
        atol=1e-6)


def test_a_multi_label_ensemble_tunes_thresholds_and_exports_them(multilabel_model_dir,
                                                                  emotions_data, tmp_path):
    import tensorflow as tf

    from sentiment.config import ClassifierConfig, TrainingConfig
    from sentiment.ensemble import build_ensemble
    from sentiment.export import export_saved_model, load_export
    from sentiment.predictor import Predictor
    from sentiment.training import train_classifier

    train, test = emotions_data
    train_classifier(
        train, ClassifierConfig(arch="fasttext", ngrams=2, embedding_dim=16, max_length=32,
                                vocab_size=2000, min_frequency=1, multi_label=True),
        TrainingConfig(epochs=3, batch_size=32, learning_rate=1e-2), tmp_path / "bigrams",
        verbose=0)
    output, metrics = build_ensemble([multilabel_model_dir, tmp_path / "bigrams"],
                                     tmp_path / "ens", validation=test)
    predictor = Predictor.load(output)
    assert predictor.multi_label and len(predictor.config.thresholds) == 3
    assert metrics["validation"]["ensemble"]["multi_label"]
    texts, _ = make_emotions(40, seed=5)
    predicted = predictor.decide(predictor.predict_proba(texts))
    export_saved_model(output, tmp_path / "exported")
    loaded = load_export(tmp_path / "exported")  # held: its variables live as long as it
    outputs = loaded.serve(tf.constant(texts))
    exported = [[name for name, on in zip(predictor.labels, row) if on]
                for row in outputs["predicted"].numpy()]
    assert exported == [list(labels) for labels in predicted]


def test_score_file_writes_a_row_for_every_input_row(mixed_ensemble_dir, tmp_path):
    from sentiment.predictor import Predictor
    from sentiment.scoring import score_file

    source = tmp_path / "in.csv"
    source.write_text("text\n" + "\n".join(f'"{t}"' for t in TEXTS) + "\n", encoding="utf-8")
    score_file(Predictor.load(mixed_ensemble_dir), source, tmp_path / "out.csv")
    import pandas as pd

    written = pd.read_csv(tmp_path / "out.csv", keep_default_na=False)
    assert len(written) == len(TEXTS)
    expected = Predictor.load(mixed_ensemble_dir).predict(TEXTS)
    assert written["predicted_label"].tolist()[:2] == [row["label"] for row in expected[:2]]
    assert written["error"].tolist()[2] == "empty text"  # a defined output for it


# ---------------------------------------------------------------- command line

def test_cli_builds_and_predicts(tiny_model_dir, bigram_model_dir, tmp_path):
    from sentiment.cli import main

    texts, labels = make_reviews(120, seed=9)
    validation = write_labelled_csv(tmp_path / "dev.csv", texts, labels)
    runner = CliRunner()
    built = runner.invoke(main, ["ensemble", str(tiny_model_dir), str(bigram_model_dir),
                                 "--weights", "validation", "--validation", str(validation),
                                 "--output", str(tmp_path / "ens")])
    assert built.exit_code == 0, built.output
    assert "weight" in built.output and "saved to" in built.output
    predicted = runner.invoke(main, ["predict", "--model", str(tmp_path / "ens"), "--json",
                                     "a wonderful film"])
    assert predicted.exit_code == 0, predicted.output
    assert json.loads(predicted.output.splitlines()[-1])["label"] in ("neg", "pos")
    evaluated = runner.invoke(main, ["evaluate", "--model", str(tmp_path / "ens"), "--test",
                                     str(validation), "--json"])
    assert evaluated.exit_code == 0, evaluated.output


@pytest.mark.parametrize("args, message", [
    (["--weights", "validation"], "needs --validation"),
    (["--weights", "1,2,3"], "--weights"),
    (["--validation", "x.csv", "--dataset", "imdb"], "not both"),
])
def test_cli_option_errors(tiny_model_dir, bigram_model_dir, tmp_path, args, message):
    from sentiment.cli import main

    result = CliRunner().invoke(main, ["ensemble", str(tiny_model_dir), str(bigram_model_dir),
                                       "--output", str(tmp_path / "ens"), *args])
    assert result.exit_code == 2 and message in result.output, result.output
    assert not (tmp_path / "ens").exists()


def test_ensemble_help_lists_the_weights():  # without TensorFlow: tests/test_cli.py
    from sentiment.cli import main

    result = CliRunner().invoke(main, ["ensemble", "--help"])
    assert result.exit_code == 0 and "--weights" in result.output
