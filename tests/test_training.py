import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest

from sentiment.config import ClassifierConfig, TrainingConfig
from sentiment.data import LabelledTexts
from sentiment.errors import ConfigError, DataError
from sentiment.labels import split_validation
from sentiment.text.pipeline import build_vocabulary
from sentiment.training import learning_rate, train_classifier


def test_model_directory_holds_everything_serving_needs(tiny_model_dir):
    assert sorted(p.name for p in tiny_model_dir.iterdir()) == [
        "config.json", "metrics.json", "model.keras", "vocab.txt"]
    saved = json.loads((tiny_model_dir / "config.json").read_text())
    config = ClassifierConfig.from_dict(saved["classifier"])
    assert config.labels == ("neg", "pos") and config.max_length == 64
    assert saved["training"]["epochs"] == 3
    assert {"tensorflow", "tensorflow_text", "keras", "sentiment"} <= set(saved["versions"])
    metrics = json.loads((tiny_model_dir / "metrics.json").read_text())
    assert metrics["test"]["examples"] == 200
    assert metrics["test"]["accuracy"] > 0.9  # the synthetic task is easy
    assert metrics["training"]["examples_per_second"] > 0
    # no temporary directories are left beside the model
    assert [p.name for p in tiny_model_dir.parent.iterdir()] == ["tiny"]


def test_empty_training_data_is_an_error(tmp_path):
    with pytest.raises(DataError, match="empty"):
        train_classifier(LabelledTexts((), (), "empty.csv"), ClassifierConfig(),
                         TrainingConfig(), tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_an_empty_vocabulary_says_to_lower_min_frequency(tmp_path):
    data = LabelledTexts(("good film", "bad plot", "fine cast", "dull score"),
                         ("pos", "neg", "pos", "neg"), "two.csv")
    with pytest.raises(ConfigError, match=r"the vocabulary is empty: lower --min-frequency "
                                          r"\(no token occurs 3 times in the training texts; "
                                          r"the most frequent occurs 1 time\)"):
        train_classifier(data, ClassifierConfig(min_frequency=3), TrainingConfig(),
                         tmp_path / "m", verbose=0)
    assert not (tmp_path / "m").exists()
    blank = LabelledTexts(("", " ", "", " "), ("pos", "neg", "pos", "neg"), "blank.csv")
    with pytest.raises(ConfigError, match="the training texts hold no tokens"):
        train_classifier(blank, ClassifierConfig(tokenizer="wordpiece"), TrainingConfig(),
                         tmp_path / "m", verbose=0)


def test_an_output_that_is_not_a_model_directory_is_refused_before_training(
        tmp_path, tiny_data, tiny_model_dir, monkeypatch):
    import keras

    def no_training(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(keras.Model, "fit", no_training)
    train, _ = tiny_data
    project = tmp_path / "project"
    project.mkdir()
    for name in ("config.json", "model.keras", "vocab.txt", "notes.txt"):
        (project / name).write_text("the user's")  # model-like names do not make it a model
    with pytest.raises(ConfigError, match=r"not a classifier model directory \(it holds "
                                          r"notes.txt\)"):
        train_classifier(train, ClassifierConfig(), TrainingConfig(), project)
    assert (project / "notes.txt").read_text() == "the user's"
    forecaster = tmp_path / "forecaster"  # what `sentiment forecast train` writes
    forecaster.mkdir()
    for name in ("config.json", "model.keras", "metrics.json"):
        (forecaster / name).write_text("{}")
    with pytest.raises(ConfigError, match=r"\(it lacks vocab.txt\)"):
        train_classifier(train, ClassifierConfig(), TrainingConfig(), forecaster)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["forecaster", "project"]


def test_interrupted_training_leaves_no_model_directory(tmp_path, tiny_data, monkeypatch):
    import keras

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(keras.Model, "save", interrupt)
    train, _ = tiny_data
    with pytest.raises(KeyboardInterrupt):
        train_classifier(train.head(100), ClassifierConfig(units=4, embedding_dim=4),
                         TrainingConfig(epochs=1), tmp_path / "m", verbose=0)
    assert list(tmp_path.iterdir()) == []


def test_string_and_integer_labels_are_kept_by_name(tmp_path, tiny_data):
    import keras

    from sentiment.predictor import Predictor

    class EpochsSeen(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.epochs = []

        def on_epoch_end(self, epoch, logs=None):
            self.epochs.append((epoch, {"loss", "val_loss", "val_accuracy"} <= set(logs)))

    train, _ = tiny_data
    three = ("3", "7", "10")
    numeric = LabelledTexts(train.texts[:210], tuple(three[i % 3] for i in range(210)), "n")
    seen = EpochsSeen()
    result = train_classifier(numeric, ClassifierConfig(units=4, embedding_dim=8, max_length=32),
                              TrainingConfig(epochs=1, bucketing=False), tmp_path / "m",
                              label_names={"3": "bad", "10": "great"}, callbacks=[seen],
                              verbose=0)
    # extra callbacks see each epoch, with the validation metrics
    assert seen.epochs == [(0, True)]
    assert result.config.labels == ("bad", "7", "great")
    assert result.config.label_values == ("3", "7", "10")
    predictor = Predictor.load(tmp_path / "m")
    assert predictor.labels == ("bad", "7", "great")
    assert predictor.predict_proba(["fun"]).shape == (1, 3)
    assert len(result.history["loss"]) == 1


def test_a_vocabulary_learned_once_serves_several_trainings(tmp_path, tiny_data):
    train, validation = split_validation(tiny_data[0].head(200), 0.1, seed=0)
    config = ClassifierConfig(units=4, embedding_dim=4, vocab_size=40, min_frequency=2)
    training = TrainingConfig(epochs=1)
    vocabulary = build_vocabulary(train.texts, config)
    train_classifier(train, config, training, tmp_path / "learned", validation=validation,
                     verbose=0)
    train_classifier(train, config.replace(arch="lstm"), training, tmp_path / "given",
                     validation=validation, vocabulary=vocabulary, verbose=0)
    learned = (tmp_path / "learned" / "vocab.txt").read_text(encoding="utf-8")
    assert (tmp_path / "given" / "vocab.txt").read_text(encoding="utf-8") == learned
    assert len(learned.splitlines()) == vocabulary.vocabulary_size() > 2
    with pytest.raises(ConfigError, match="vocabulary: a Vocabulary does not go with "
                                          "tokenizer 'wordpiece'"):
        train_classifier(train, config.replace(tokenizer="wordpiece"), training,
                         tmp_path / "wrong", validation=validation, vocabulary=vocabulary,
                         verbose=0)
    assert not (tmp_path / "wrong").exists()


def test_an_ensemble_is_its_members_trained_from_consecutive_seeds(tmp_path, tiny_data):
    """Member i is the model a single training with seed ``seed + i`` gives (same vocabulary
    and validation split); the saved ensemble predicts their mean."""
    from sentiment.predictor import Predictor

    train, validation = split_validation(tiny_data[0].head(240), 0.2, seed=0)
    config = ClassifierConfig(units=4, embedding_dim=8, vocab_size=60, min_frequency=1,
                              max_length=32)
    # without calibration: each model's own temperature would scale it differently
    training = TrainingConfig(epochs=2, batch_size=32, seed=7, calibration=False)
    result = train_classifier(train, config.replace(ensemble=2), training, tmp_path / "both",
                              validation=validation, verbose=0)
    singles = [train_classifier(train, config, dataclasses.replace(training, seed=seed),
                                tmp_path / str(seed), validation=validation, verbose=0)
               for seed in (7, 8)]
    members = result.metrics["training"]["members"]
    assert [m["seed"] for m in members] == [7, 8]
    assert [m["epochs_run"] for m in members] == [s.metrics["training"]["epochs_run"]
                                                  for s in singles]
    assert result.metrics["training"]["epochs_run"] == members[0]["epochs_run"]
    assert result.history == singles[0].history
    texts = list(tiny_data[1].texts[:50])
    single_probabilities = [Predictor.load(tmp_path / str(seed)).predict_proba(texts)
                            for seed in (7, 8)]
    assert np.abs(single_probabilities[0] - single_probabilities[1]).max() > 1e-3
    ensemble = Predictor.load(tmp_path / "both")
    assert ensemble.config.ensemble == 2
    expected = np.mean(single_probabilities, axis=0)
    np.testing.assert_allclose(ensemble.predict_proba(texts), expected, atol=1e-5)
    # a fresh process, which has not imported the training code, loads it too
    code = ("import json, sys; from sentiment.predictor import Predictor; "
            "p = Predictor.load(sys.argv[1]); "
            "print(json.dumps(p.predict_proba(json.loads(sys.stdin.read())).tolist()))")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "both")],
                         input=json.dumps(texts), capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    np.testing.assert_allclose(json.loads(out.stdout.strip().splitlines()[-1]), expected,
                               atol=1e-5)


def test_mixed_precision_on_cpu_trains_in_bfloat16(tmp_path, tiny_data):
    import keras

    from sentiment.predictor import Predictor

    train, test = tiny_data
    result = train_classifier(train.head(200), ClassifierConfig(units=4, embedding_dim=8),
                              TrainingConfig(epochs=1, mixed_precision=True), tmp_path / "m",
                              test=test.head(50), verbose=0)
    assert result.config.dtype_policy == "mixed_bfloat16"
    assert result.metrics["training"]["dtype_policy"] == "mixed_bfloat16"
    saved = json.loads((tmp_path / "m" / "config.json").read_text())
    assert saved["classifier"]["dtype_policy"] == "mixed_bfloat16"
    assert saved["training"]["mixed_precision"] is True  # the request; the policy is above
    assert "mixed_precision" not in saved["classifier"]
    assert {"sentiment", "tensorflow", "tensorflow_text", "keras", "numpy",
            "python"} == set(saved["versions"])
    assert keras.mixed_precision.global_policy().name == "float32"  # restored afterwards
    probabilities = Predictor.load(tmp_path / "m").predict_proba(["fun", ""])
    assert probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-3)


def test_adversarial_training_saves_a_plain_model(tmp_path, tiny_data):
    """--adversarial changes the training (same seed, other weights), also for an ensemble
    under mixed precision, and the saved model is the plain classifier."""
    from sentiment.predictor import Predictor

    train, test = tiny_data
    config = ClassifierConfig(units=4, embedding_dim=8, vocab_size=60, ensemble=2)
    runs = {epsilon: train_classifier(
                train.head(200), config, TrainingConfig(epochs=1, adversarial=epsilon,
                                                        mixed_precision=True),
                tmp_path / str(epsilon), test=test.head(50), verbose=0)
            for epsilon in (0.0, 1.0)}
    saved = json.loads((tmp_path / "1.0" / "config.json").read_text())
    assert saved["training"]["adversarial"] == 1.0
    assert runs[1.0].metrics["training"]["dtype_policy"] == "mixed_bfloat16"
    texts = list(test.texts[:20])
    plain, adversarial = (Predictor.load(tmp_path / name) for name in ("0.0", "1.0"))
    assert [layer.name for layer in adversarial.model.layers] == [
        layer.name for layer in plain.model.layers]
    assert np.abs(adversarial.predict_proba(texts) - plain.predict_proba(texts)).max() > 1e-4


def test_cosine_schedule_decays_from_the_peak_to_its_floor_over_the_planned_steps():
    training = TrainingConfig(epochs=2, batch_size=10, learning_rate=1e-2,
                              learning_rate_schedule="cosine")
    schedule = learning_rate(training, examples=95)  # 10 batches per epoch, 20 steps
    assert float(schedule(0)) == pytest.approx(1e-2)
    assert float(schedule(10)) == pytest.approx(0.5 * 1e-2 * (1 + 0.05), rel=1e-5)
    assert float(schedule(20)) == pytest.approx(0.05 * 1e-2)
    assert float(schedule(25)) == pytest.approx(0.05 * 1e-2)  # extra bucketed batches
    constant = TrainingConfig(learning_rate=3e-3)
    assert learning_rate(constant, examples=95) == 3e-3


def test_fasttext_trains_with_lazy_adam_by_default_under_mixed_precision(tmp_path, tiny_data):
    import json

    from sentiment.predictor import Predictor

    train, test = tiny_data
    result = train_classifier(train.head(200),
                              ClassifierConfig(arch="fasttext", ngrams=2, embedding_dim=8),
                              TrainingConfig(epochs=2, mixed_precision=True),
                              tmp_path / "m", test=test.head(50), verbose=0)
    assert result.history["loss"][-1] < result.history["loss"][0]
    saved = json.loads((tmp_path / "m" / "config.json").read_text())
    assert saved["training"]["optimizer"] == "lazy_adam"  # the default
    probabilities = Predictor.load(tmp_path / "m").predict_proba(["fun", ""])
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-3)


def test_the_saved_model_holds_the_weights_validation_kept(tmp_path, tiny_data):
    from conftest import moving_average, raw_weights_recorder

    from sentiment.predictor import Predictor

    raw = raw_weights_recorder()
    config = ClassifierConfig(units=4, embedding_dim=4, vocab_size=40, min_frequency=2)
    result = train_classifier(tiny_data[0].head(200), config, TrainingConfig(epochs=1),
                              tmp_path / "m", callbacks=[raw], verbose=0)
    kept = result.metrics["training"]["weights"]
    expected = {"average": moving_average(raw.after_batch, TrainingConfig().ema_momentum),
                "raw": raw.after_batch[-1]}[kept]
    saved = Predictor.load(tmp_path / "m").model.trainable_weights
    assert len(saved) == len(expected)
    for weight, value in zip(saved, expected):
        np.testing.assert_allclose(weight.numpy(), value, rtol=1e-4, atol=1e-6)
    off = train_classifier(tiny_data[0].head(200), config,
                           TrainingConfig(epochs=1, ema_momentum=0.0), tmp_path / "off",
                           verbose=0)
    assert off.metrics["training"]["weights"] == "raw"


def test_training_fits_a_temperature_that_every_prediction_applies(tmp_path, tiny_data):
    from sentiment.calibration import apply_temperature
    from sentiment.predictor import Predictor

    texts, labels = tiny_data[0].texts[:300], list(tiny_data[0].labels[:300])
    for i in range(0, 300, 6):  # label noise: a validation split with errors to learn from
        labels[i] = "pos" if labels[i] == "neg" else "neg"
    noisy = LabelledTexts(tuple(texts), tuple(labels), "noisy")
    model_dir = tmp_path / "m"
    train_classifier(noisy, ClassifierConfig(units=4, embedding_dim=8, vocab_size=80,
                                             min_frequency=1, max_length=32),
                     TrainingConfig(epochs=2, batch_size=32), model_dir,
                     validation=noisy, test=tiny_data[1], verbose=0)
    saved = json.loads((model_dir / "config.json").read_text())
    metrics = json.loads((model_dir / "metrics.json").read_text())
    temperature = saved["classifier"]["temperature"]
    assert metrics["calibration"]["temperature"] == temperature
    assert temperature != 1.0  # a fitted value, not the default
    validation = metrics["calibration"]["validation"]
    assert validation["log_loss_after"] <= validation["log_loss_before"] + 1e-9
    assert set(metrics["calibration"]["test"]) == {"log_loss_before", "log_loss_after",
                                                   "ece_before", "ece_after"}
    predictor = Predictor.load(model_dir)
    assert predictor.temperature == temperature
    raw = Predictor(predictor.model, predictor.encoder,
                    predictor.config.replace(temperature=1.0))
    texts = list(tiny_data[1].texts[:40])
    calibrated, uncalibrated = predictor.predict_proba(texts), raw.predict_proba(texts)
    np.testing.assert_allclose(calibrated, apply_temperature(uncalibrated, temperature),
                               atol=1e-6)
    np.testing.assert_array_equal(calibrated.argmax(axis=1), uncalibrated.argmax(axis=1))
    assert not np.allclose(calibrated, uncalibrated, atol=1e-3)


def test_no_calibration_keeps_the_models_probabilities(tmp_path, tiny_data):
    config = ClassifierConfig(units=4, embedding_dim=4, vocab_size=40, min_frequency=2)
    result = train_classifier(tiny_data[0].head(200), config,
                              TrainingConfig(epochs=1, calibration=False), tmp_path / "m",
                              verbose=0)
    assert result.config.temperature == 1.0 and "calibration" not in result.metrics
    saved = json.loads((tmp_path / "m" / "config.json").read_text())
    assert saved["classifier"]["temperature"] == 1.0
    assert saved["training"]["calibration"] is False


def test_balanced_class_weights_are_used_and_recorded(tmp_path, tiny_data):
    train = tiny_data[0].head(200)
    keep = [i for i, label in enumerate(train.labels) if label == "neg" or i % 4 == 0]
    skewed = LabelledTexts(tuple(train.texts[i] for i in keep),
                           tuple(train.labels[i] for i in keep), "skewed")
    config = ClassifierConfig(units=4, embedding_dim=4, vocab_size=40, min_frequency=2)
    result = train_classifier(skewed, config,
                              TrainingConfig(epochs=1, class_weight="balanced"),
                              tmp_path / "m", verbose=0)
    weights = result.metrics["training"]["class_weight"]
    assert set(weights) == {"neg", "pos"} and weights["pos"] > 1.5 > 1.0 > weights["neg"]
    plain = train_classifier(skewed, config, TrainingConfig(epochs=1), tmp_path / "p",
                             verbose=0)
    assert plain.metrics["training"]["class_weight"] is None
    assert result.history["loss"] != plain.history["loss"]  # same seed: the weights count


def test_a_tuned_threshold_is_saved_and_decides_every_prediction(tmp_path, tiny_data):
    from sentiment.predictor import Predictor
    from sentiment.thresholds import tune_threshold

    texts, labels = tiny_data[0].texts[:300], list(tiny_data[0].labels[:300])
    for i in range(0, 300, 5):  # label noise, so the best threshold is not trivially 0.5
        labels[i] = "pos" if labels[i] == "neg" else "neg"
    noisy = LabelledTexts(tuple(texts), tuple(labels), "noisy")
    config = ClassifierConfig(units=4, embedding_dim=8, vocab_size=80, min_frequency=1,
                              max_length=32)
    result = train_classifier(noisy, config, TrainingConfig(epochs=2, tune_threshold="f1"),
                              tmp_path / "m", validation=noisy, test=tiny_data[1], verbose=0)
    threshold = result.config.threshold
    saved = json.loads((tmp_path / "m" / "config.json").read_text())["classifier"]
    assert saved["threshold"] == threshold and 0 < threshold < 1
    record = result.metrics["threshold"]
    assert record["metric"] == "f1" and record["threshold"] == threshold
    assert record["positive_label"] == "pos"
    tuned, default = record["validation"]["f1_pos"]["tuned"], \
        record["validation"]["f1_pos"]["default"]
    assert tuned >= default
    predictor = Predictor.load(tmp_path / "m")
    probabilities = predictor.predict_proba(list(noisy.texts))
    # the threshold is the best on the validation rows (calibrated probabilities)
    y = np.array([label == "pos" for label in noisy.labels])
    assert threshold == pytest.approx(tune_threshold(y, probabilities[:, 1], "f1"))
    given = [r["label"] for r in predictor.predict(list(noisy.texts))]
    assert given == ["pos" if p >= threshold else "neg" for p in probabilities[:, 1]]
    assert result.metrics["validation"]["decision"] == {"threshold": threshold,
                                                        "positive_label": "pos"}
    # without tuning, none is saved: the argmax
    plain = train_classifier(noisy.head(100), config, TrainingConfig(epochs=1),
                             tmp_path / "p", verbose=0)
    assert plain.config.threshold is None and "threshold" not in plain.metrics


def test_a_threshold_needs_two_classes_before_any_training(tmp_path, tiny_data):
    from sentiment.errors import ConfigError

    train = tiny_data[0]
    three = LabelledTexts(train.texts[:90], tuple("abc"[i % 3] for i in range(90)), "three")
    with pytest.raises(ConfigError, match="--tune-threshold accuracy needs two classes or "
                                          "multi-label data; three has 3 classes"):
        train_classifier(three, ClassifierConfig(units=4, embedding_dim=4),
                         TrainingConfig(tune_threshold="accuracy"), tmp_path / "m", verbose=0)
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("model, training, given", [
    ({"if_no_label": "top"}, {}, "--if-no-label top"),
    ({}, {"label_thresholds": "global"}, "--label-thresholds global"),
])
def test_multi_label_options_on_single_label_data_are_refused(tmp_path, tiny_data, model,
                                                              training, given):
    with pytest.raises(ConfigError, match=f"{given} is for multi-label models; tiny:train"):
        train_classifier(tiny_data[0], ClassifierConfig(units=4, embedding_dim=4, **model),
                         TrainingConfig(**training), tmp_path / "m", verbose=0)
    assert not (tmp_path / "m").exists()
