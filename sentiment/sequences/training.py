"""Training a model over sequences of vectors and writing its model directory.

    sequences, targets -> validation split (stratified by label)
      -> FeatureNormalizer.fit (training frames only)        saved in config.json
      [-> regression: TargetScaler.fit (training targets)    saved; restored on output]
      -> tf.data batches: {"values": (batch, time, features) float32,
                           "lengths": (batch,) int32}, bucketed by length
      -> build_sequence_model -> model.fit, early stopping on validation loss
      -> validation and test metrics -> model.keras + config.json + metrics.json (atomic)
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..artifacts import check_replaceable, locks_output
from ..config import SEQUENCE_ARTIFACT
from ..config.sequence import SequenceModelConfig, SequenceTrainingConfig
from ..errors import DataError
from .data import FeatureNormalizer, LabelledSequences, TargetScaler, split_validation


@dataclass(frozen=True)
class SequenceTrainResult:
    """What :func:`train_sequence_model` produced: the directory, the saved configuration,
    ``metrics.json``'s content and the Keras history."""

    model_dir: Path
    config: SequenceModelConfig
    metrics: dict[str, Any]
    history: dict[str, list[float]]


def sequence_dataset(frames: Sequence[np.ndarray], targets: np.ndarray, batch_size: int, *,
                     bucketing: bool = True, shuffle: bool = True, seed: int = 0):
    """A ``tf.data.Dataset`` of ``({"values": (batch, time, features) float32, "lengths":
    (batch,) int32}, targets)``, right-padded with zeros to each batch's longest sequence.

    Args:
        frames: ``n`` standardized ``(time, features) float32`` arrays.
        targets: ``(n,)`` int32 class indices or float32 standardized values.
        bucketing: batches of sequences of similar length
            (:func:`sentiment.text.batching.bucket_boundaries` from 8 frames).
        shuffle: reshuffle every epoch (``seed`` makes it repeatable).
    """
    import tensorflow as tf

    from ..text.batching import bucket_boundaries, bucketed_batch_count

    lengths = np.array([len(f) for f in frames], np.int32)
    flat = tf.constant(np.concatenate(frames).astype(np.float32))  # (sum of times, features)
    splits = tf.constant(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64))
    targets = tf.constant(targets)
    features = int(frames[0].shape[1])
    dataset = tf.data.Dataset.range(len(lengths))
    if shuffle:
        dataset = dataset.shuffle(len(lengths), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.map(
        lambda i: ({"values": flat[splits[i]:splits[i + 1]],
                    "lengths": tf.cast(splits[i + 1] - splits[i], tf.int32)}, targets[i]),
        num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    shapes = ({"values": [None, features], "lengths": []}, [])
    if bucketing and lengths.max() > 8:
        boundaries = bucket_boundaries(int(lengths.max()), smallest=8)
        dataset = dataset.bucket_by_sequence_length(
            element_length_func=lambda x, y: x["lengths"], bucket_boundaries=boundaries,
            bucket_batch_sizes=[batch_size] * (len(boundaries) + 1), padded_shapes=shapes)
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(
            bucketed_batch_count(lengths, boundaries, batch_size)))
    else:
        dataset = dataset.padded_batch(batch_size, padded_shapes=shapes)
    return dataset.prefetch(tf.data.AUTOTUNE)


def _targets(data: LabelledSequences, config: SequenceModelConfig, scaler) -> np.ndarray:
    """``(n,)`` int32 class indices, or float32 standardized values.

    Raises:
        DataError: a label the model does not know, or labels for a regression model.
    """
    if config.regression:
        if not isinstance(data.targets, np.ndarray):
            raise DataError(f"{data.source}: regression needs numeric targets")
        return scaler.transform(data.targets)
    index = {value: i for i, value in enumerate(config.label_values)}
    unknown = [(row, v) for row, v in enumerate(data.targets) if v not in index]
    if unknown:
        row, value = unknown[0]
        raise DataError(f"{data.source}: row {row + 1} has the label {value!r}, which the "
                        f"training data do not have ({', '.join(config.label_values)})")
    return np.array([index[v] for v in data.targets], np.int32)


def evaluate_sequences(predictor, data: LabelledSequences,
                       batch_size: int | None = None) -> dict[str, Any]:
    """The metrics of ``predictor`` (a :class:`~sentiment.sequences.predictor.
    SequencePredictor`) on ``data``: :func:`sentiment.evaluation.decision_report` for
    classification, :func:`sentiment.metrics.regression_report` (MAE, RMSE, R²,
    Spearman) in the targets' units for regression.

    Raises:
        DataError: empty data, unknown labels, non-numeric targets for regression, or a bad
            sequence (naming its index).
    """
    from ..config import INFERENCE_BATCH_SIZE
    from ..evaluation import decision_report
    from ..metrics import regression_report

    if len(data) == 0:
        raise DataError(f"{data.source}: no rows to evaluate")
    batch_size = batch_size or INFERENCE_BATCH_SIZE
    config = predictor.config
    if config.regression:
        if not isinstance(data.targets, np.ndarray):
            raise DataError(f"{data.source}: a regression model needs numeric targets")
        report = regression_report(data.targets,
                                   predictor.predict_values(data.sequences, batch_size))
    else:
        y_true = _targets(data, config, None)
        report = decision_report(predictor.decision, y_true,
                                 predictor.predict_proba(data.sequences, batch_size))
    report["source"] = data.source
    return report


@locks_output("output_dir")  # the whole run holds .NAME.lock beside the output
def train_sequence_model(train: LabelledSequences, config: SequenceModelConfig,
                         training: SequenceTrainingConfig, output_dir: str | Path, *,
                         validation: LabelledSequences | None = None,
                         test: LabelledSequences | None = None,
                         callbacks: Sequence[Any] = (), verbose: int = 1
                         ) -> SequenceTrainResult:
    """Train a model over sequences of vectors and write its model directory atomically.

    Args:
        train: training sequences ``(time, features)`` and their targets (label strings,
            or numbers for ``config.task == "regression"``). Normalization statistics (and
            a regression's target statistics) come from these only.
        config: encoder settings and the task; ``features``, statistics and labels are
            filled in from the data.
        training: epochs, batch size, learning rate, early stopping, loss, seed.
        output_dir: the model directory to write (replaced only once complete).
        validation: sequences for early stopping; carved from ``train`` when ``None``.
        test: evaluated after training when given.
        callbacks: extra ``keras.callbacks.Callback`` objects for ``model.fit``.
        verbose: 1 for a Keras progress bar per epoch, 0 for silence.

    Returns:
        A :class:`SequenceTrainResult`.

    Raises:
        DataError: empty data, one class only, labels or feature counts of the validation or
            test data that differ from the training data's, non-numeric regression targets.
        ConfigError: ``output_dir`` is not a directory a sequence model may replace
            (checked before training).
    """
    check_replaceable(output_dir, SEQUENCE_ARTIFACT)
    import keras
    import tensorflow as tf

    from ..models.losses import regression_loss
    from ..models.saving import save_model_directory
    from ..models.sequence import build_sequence_model
    from ..text.batching import bucketed_fit_warnings_ignored
    from .data import check_features
    from .predictor import SequencePredictor

    if len(train) == 0:
        raise DataError(f"{train.source}: the training data set is empty")
    features = train.features
    for data in (validation, test):
        if data is not None:
            if len(data) == 0:
                raise DataError(f"{data.source}: no sequences")
            check_features(data.sequences, features, data.source)
    if validation is None:
        train, validation = split_validation(train, training.validation_fraction, training.seed)
    normalizer = FeatureNormalizer.fit(train.sequences)
    scaler = None
    changes: dict[str, Any] = {"features": features, "feature_mean": normalizer.mean,
                               "feature_std": normalizer.std}
    if config.regression:
        if not isinstance(train.targets, np.ndarray):
            raise DataError(f"{train.source}: --task regression needs numeric targets")
        scaler = TargetScaler.fit(train.targets)
        changes.update(target_mean=scaler.mean, target_std=scaler.std, labels=(),
                       label_values=())
        loss = regression_loss(training.regression_loss)
        metrics = [keras.metrics.MeanAbsoluteError(name="mae")]
    else:
        values = tuple(sorted(set(train.targets), key=_label_key))
        if len(values) < 2:
            raise DataError(f"{train.source}: the training data hold one class only "
                            f"({values[0]!r}); a classifier needs two or more")
        changes.update(labels=values, label_values=values)
        loss = keras.losses.SparseCategoricalCrossentropy()
        metrics = ["accuracy"]
    config = config.replace(**changes)
    y_train, y_validation = (_targets(d, config, scaler) for d in (train, validation))

    keras.utils.set_random_seed(training.seed)

    def batches(data, targets, shuffle):
        return sequence_dataset([normalizer.transform(f) for f in data.sequences], targets,
                                training.batch_size, bucketing=training.bucketing,
                                shuffle=shuffle, seed=training.seed)

    train_batches = batches(train, y_train, True)
    validation_batches = batches(validation, y_validation, False)
    model = build_sequence_model(config)
    model.compile(optimizer=keras.optimizers.Adam(training.learning_rate), loss=loss,
                  metrics=metrics)
    early_stopping = keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=training.patience, restore_best_weights=True)
    started = time.perf_counter()
    with bucketed_fit_warnings_ignored():
        history = model.fit(train_batches, validation_data=validation_batches,
                            epochs=training.epochs, callbacks=[early_stopping, *callbacks],
                            verbose=verbose)
    seconds = time.perf_counter() - started
    epochs_run = len(history.history["loss"])
    fresh = build_sequence_model(config)  # uncompiled: no optimizer state in model.keras
    fresh.set_weights(model.get_weights())
    predictor = SequencePredictor(fresh, config)
    report: dict[str, Any] = {
        "training": {
            "epochs_run": epochs_run,
            "best_epoch": int(np.argmin(history.history["val_loss"])) + 1,
            "examples": len(train), "seconds": round(seconds, 2),
            "examples_per_second": round(len(train) * epochs_run / seconds, 1),
            "device": "GPU" if tf.config.list_physical_devices("GPU") else "CPU"},
        "validation": evaluate_sequences(predictor, validation),
    }
    if test is not None:
        report["test"] = evaluate_sequences(predictor, test)
    save_model_directory(output_dir, SEQUENCE_ARTIFACT, fresh, "sequence_model", config,
                         training, report)
    return SequenceTrainResult(Path(output_dir), config, report,
                               {k: [float(v) for v in vs] for k, vs in history.history.items()})


def _label_key(value: str):
    """Numeric labels in numeric order ("2" before "10"), then the others."""
    try:
        return (0, float(value), value)
    except ValueError:
        return (1, 0.0, value)
