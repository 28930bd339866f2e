"""Training and predicting with models over sequences (sentiment.sequences.training,
sentiment.sequences.predictor): saved statistics, errors naming the sequence, regression in
the targets' units, export parity."""

import json

import numpy as np
import pytest
from conftest import make_sequences

from sentiment.errors import ConfigError, DataError


def test_the_model_directory_records_the_training_statistics(sequence_model_dir):
    from sentiment.sequences.data import split_validation

    saved = json.loads((sequence_model_dir / "config.json").read_text())["sequence_model"]
    train, _ = split_validation(make_sequences(120), 0.1, 0)  # the split training made
    frames = np.concatenate(train.sequences)
    np.testing.assert_allclose(saved["feature_mean"], frames.mean(0), rtol=1e-5)
    np.testing.assert_allclose(saved["feature_std"], frames.std(0), rtol=1e-5)
    assert saved["features"] == 3 and saved["labels"] == ["down", "up"]
    metrics = json.loads((sequence_model_dir / "metrics.json").read_text())
    assert metrics["test"]["examples"] == 40 and 0 <= metrics["test"]["accuracy"] <= 1


def test_the_predictor_standardizes_with_the_saved_statistics(sequence_model_dir):
    from sentiment import Predictor
    from sentiment.sequences.data import pad_sequences
    from sentiment.sequences.predictor import SequencePredictor

    predictor = Predictor.load(sequence_model_dir)
    assert isinstance(predictor, SequencePredictor)
    data = make_sequences(5, seed=4)
    config = predictor.config
    standardized = [(s - np.array(config.feature_mean)) / np.array(config.feature_std)
                    for s in data.sequences]
    values, lengths = pad_sequences([s.astype(np.float32) for s in standardized])
    expected = np.asarray(predictor.model({"values": values, "lengths": lengths}))
    np.testing.assert_allclose(predictor.predict_proba(data.sequences), expected, atol=1e-6)
    one = predictor.predict(data.sequences[0].tolist())  # nested lists: one sequence
    assert one["label"] in ("down", "up") and set(one["scores"]) == {"down", "up"}
    assert len(predictor.predict(data.sequences)) == 5


def test_bad_sequences_are_errors_naming_their_index(sequence_model_dir):
    from sentiment import Predictor

    predictor = Predictor.load(sequence_model_dir)
    good = np.zeros((4, 3), np.float32)
    for bad, message in ((np.zeros((4, 2)), r"sequences\[1\]: 2 features per frame; the model "
                                            "takes 3"),
                         ([[0.0, float("nan"), 0.0]], r"sequences\[1\]: frame 0 holds NaN"),
                         ([], r"sequences\[1\]: the sequence has no frames")):
        with pytest.raises(DataError, match=message):
            predictor.predict_proba([good, bad])
    assert "NaN" in predictor.input_problem([[0.0, float("nan"), 0.0]])
    assert predictor.input_problem(good) is None
    with pytest.raises(ConfigError, match="use predict_proba"):
        predictor.predict_values([good])


def test_regression_predicts_in_the_targets_units(regression_model_dir):
    from sentiment import Predictor
    from sentiment.sequences.data import pad_sequences

    predictor = Predictor.load(regression_model_dir)
    config = predictor.config
    train = make_sequences(120, regression=True)
    assert config.task == "regression" and config.labels == ()
    assert 95 < config.target_mean < 105 and 3 < config.target_std < 8  # not standardized
    data = make_sequences(30, seed=5, regression=True)
    values = predictor.predict_values(data.sequences)
    standardized = [((s - np.array(config.feature_mean)) / np.array(config.feature_std))
                    .astype(np.float32) for s in data.sequences]
    padded, lengths = pad_sequences(standardized)
    raw = np.asarray(predictor.model({"values": padded, "lengths": lengths}))[:, 0]
    np.testing.assert_allclose(values, np.clip(raw * config.target_std + config.target_mean,
                                               92, 108), rtol=1e-5)
    assert values.min() >= 92 and values.max() <= 108
    result = predictor.predict(data.sequences[0])
    assert set(result) == {"value"} and result["value"] == pytest.approx(values[0], rel=1e-5)
    metrics = json.loads((regression_model_dir / "metrics.json").read_text())["validation"]
    assert {"mae", "rmse", "r2", "spearman"} <= set(metrics)
    assert metrics["mae"] < np.abs(train.targets - train.targets.mean()).mean() * 3
    with pytest.raises(ConfigError, match="regression model gives numbers"):
        Predictor.load(regression_model_dir, threshold=0.5)


def test_training_refuses_what_it_cannot_learn(tmp_path):
    from sentiment.config.sequence import SequenceModelConfig, SequenceTrainingConfig
    from sentiment.sequences.data import LabelledSequences
    from sentiment.sequences.training import train_sequence_model

    one_class = LabelledSequences([np.zeros((2, 1), np.float32)] * 4, ("a",) * 4, "one")
    with pytest.raises(DataError, match="one class only"):
        train_sequence_model(one_class, SequenceModelConfig(), SequenceTrainingConfig(),
                             tmp_path / "m", verbose=0)
    labels = LabelledSequences([np.zeros((2, 1), np.float32)] * 4, ("a", "b") * 2, "labels")
    with pytest.raises(DataError, match="regression needs numeric targets"):
        train_sequence_model(labels, SequenceModelConfig(task="regression"),
                             SequenceTrainingConfig(), tmp_path / "m", verbose=0)
    other = LabelledSequences([np.zeros((2, 2), np.float32)] * 2, ("a", "b"), "test.parquet")
    with pytest.raises(DataError, match="test.parquet: sequence 0 has 2 features"):
        train_sequence_model(labels, SequenceModelConfig(), SequenceTrainingConfig(),
                             tmp_path / "m", test=other, verbose=0)
    assert not (tmp_path / "m").exists()
    with pytest.raises(ConfigError, match="clip_range is for --task regression"):
        SequenceModelConfig(clip_range=(1, 10))


@pytest.mark.parametrize("model", ["sequence_model_dir", "regression_model_dir"])
def test_the_export_matches_the_predictor(model, request, tmp_path):
    import tensorflow as tf

    from sentiment import Predictor
    from sentiment.export import export_saved_model, load_export
    from sentiment.sequences.data import pad_sequences

    model_dir = request.getfixturevalue(model)
    predictor = Predictor.load(model_dir)
    exported = load_export(export_saved_model(model_dir, tmp_path / "export"))
    data = make_sequences(12, seed=6)
    ragged = tf.ragged.constant([s.tolist() for s in data.sequences], dtype=tf.float32,
                                ragged_rank=1)
    values, lengths = pad_sequences(data.sequences)
    values[0, lengths[0]:] = 9.0  # any padding value
    for outputs in (exported.serve_ragged(ragged), exported.serve(values, lengths)):
        if predictor.task == "regression":
            np.testing.assert_allclose(outputs["value"].numpy(),
                                       predictor.predict_values(data.sequences), rtol=1e-5)
        else:
            probabilities = predictor.predict_proba(data.sequences)
            np.testing.assert_allclose(outputs["probabilities"].numpy(), probabilities,
                                       atol=1e-6)
            assert [x.decode() for x in outputs["label"].numpy()] == [
                predictor.labels[i] for i in probabilities.argmax(1)]
    info = json.loads((tmp_path / "export" / "sentiment_export.json").read_text())
    assert info["ragged_endpoint"] == "serve_ragged" and "lengths" in info["input"]
