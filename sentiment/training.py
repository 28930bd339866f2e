"""Training a text classifier end to end and writing its model directory.

    texts, labels -> label indices, validation split
      -> Tokenizer -> Vocabulary.build (training split only) -> TextEncoder
      [--pretrained: tokenizer and vocabulary of the language model instead]
      -> tf.data batches (bucketed by length) -> build_classifier -> model.fit
         [--pretrained: embedding and recurrent weights copied from the language model;
          --freeze-epochs of the new layers alone first; discriminative learning rates]
      -> early stopping on validation loss (best weights restored)
      [-> once per member of an ensemble, seeds seed, seed + 1, ...; their mean]
      -> temperature scaling fitted on the validation split (sentiment.calibration)
      -> decision thresholds tuned on the validation split (sentiment.thresholds)
      -> test metrics -> model.keras + vocab.txt + config.json + metrics.json (atomic)
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .artifacts import check_replaceable, locks_output
from .config import CLASSIFIER_ARTIFACT, VOCAB_FILE, ClassifierConfig, TrainingConfig
from .data import LabelledTexts
from .errors import DataError
from .labels import (class_weights, label_set, multilabel_class_weights,
                     split_validation)


@dataclass(frozen=True)
class TrainResult:
    """What :func:`train_classifier` produced.

    Attributes:
        model_dir: the written model directory.
        config: the saved :class:`ClassifierConfig` (labels filled in).
        metrics: the content of ``metrics.json`` (``validation``, ``test`` when given,
            ``training`` with ``examples_per_second`` and ``seconds``, ``calibration`` with
            the temperature and the log loss and ECE before and after it).
        history: Keras history, metric name -> one value per epoch (the first member's for
            an ensemble).
    """

    model_dir: Path
    config: ClassifierConfig
    metrics: dict[str, Any]
    history: dict[str, list[float]]


@contextlib.contextmanager
def dtype_policy(mixed_precision: bool):
    """Set Keras' global dtype policy for the block: ``mixed_float16`` when a GPU is visible,
    ``mixed_bfloat16`` on CPU, ``float32`` when ``mixed_precision`` is false; restored after."""
    import keras
    import tensorflow as tf

    previous = keras.mixed_precision.global_policy().name
    if not mixed_precision:
        name = "float32"
    elif tf.config.list_physical_devices("GPU"):
        name = "mixed_float16"
    else:
        name = "mixed_bfloat16"
    keras.mixed_precision.set_global_policy(name)
    try:
        yield name
    finally:
        keras.mixed_precision.set_global_policy(previous)


def learning_rate(training: TrainingConfig, examples: int):
    """Adam's learning rate: a float for ``constant``, a ``keras.optimizers.schedules.
    CosineDecay`` over ``epochs * ceil(examples / batch_size)`` steps for ``cosine``.

    With bucketing an epoch has a few more (partial) batches than that estimate; the rate then
    stays at its floor (5% of the peak) for those last steps.
    """
    import keras

    if training.learning_rate_schedule == "constant":
        return training.learning_rate
    steps = training.epochs * max(1, math.ceil(examples / training.batch_size))
    return keras.optimizers.schedules.CosineDecay(training.learning_rate, steps, alpha=0.05)


@locks_output("output_dir")  # the whole run holds .NAME.lock beside the output
def train_classifier(train: LabelledTexts, config: ClassifierConfig, training: TrainingConfig,
                     output_dir: str | Path, *, validation: LabelledTexts | None = None,
                     test: LabelledTexts | None = None,
                     label_names: dict[str, str] | None = None,
                     label_order: Sequence[str] | None = None, vocabulary=None,
                     unlabelled: Sequence[str] | None = None,
                     callbacks: Sequence[Any] = (), verbose: int = 1) -> TrainResult:
    """Train a classifier on ``train`` and write its model directory atomically.

    Args:
        train: training texts and raw labels. The vocabulary is built from these only.
        config: preprocessing and model settings; its ``labels`` are filled in from the data.
        training: epochs, batch size, learning rate, optimizer, early stopping, precision,
            seed.
        output_dir: the model directory to write (replaced only once complete).
        validation: validation data; carved from ``train`` when ``None``.
        test: test data, evaluated after training when given.
        label_names: display names of raw label values (``{"0": "negative"}``).
        label_order: the classes in output order (a data set's or a ``--label-names``
            file's), in place of the sorted label values; every training label must be one.
        vocabulary: a vocabulary from :func:`sentiment.text.pipeline.build_vocabulary` to
            use instead of learning one from ``train`` (from the same training texts); not
            with ``training.pretrained``, whose vocabulary is the language model's.
        unlabelled: unlabelled texts for ``training.virtual_adversarial`` (default: the
            training texts).
        callbacks: extra ``keras.callbacks.Callback`` objects for ``model.fit`` (after the
            weight averaging and the early stopping, which restores the best weights); each
            member of an ensemble is fitted with them in turn.
        verbose: 1 for a Keras progress bar per epoch, 0 for silence.

    Returns:
        A :class:`TrainResult`.

    With ``config.task == "regression"`` the labels are numbers (a rating): one linear
    output trained with ``training.regression_loss`` on targets standardized with the
    training split's mean and standard deviation (saved; predictions are restored to the
    targets' units); ``metrics.json`` reports MAE, RMSE, R² and Spearman; no calibration or
    thresholds.

    Multi-label data (``train.multi_label``) train a multi-label model (sigmoid outputs,
    binary cross-entropy, per-label class weights, thresholds tuned per label); the
    configuration's ``multi_label`` must then be set or is set.

    With ``training.pretrained`` the tokenizer, vocabulary, embedding and recurrent layers
    come from that language model directory (:func:`sentiment.pretraining.adopt_pretrained`:
    settings of ``config`` at their defaults take its values; others must agree with it),
    and the pooling and output layers are new.

    Raises:
        DataError: empty data, a single class, validation/test labels unknown to ``train``,
            single-label data for ``config.multi_label``, or a regression label that is
            not a number (naming its row).
        ModelError: ``training.pretrained`` is not a readable language model directory.
        ConfigError: a setting of ``config`` contradicts ``training.pretrained``, or
            ``vocabulary`` is given with it; ``vocabulary`` is not of the kind
            ``config.tokenizer`` uses, a
            threshold to tune for a single-label model of more than two classes,
            ``if_no_label`` or ``label_thresholds`` other than the defaults for single-label
            data, ``unlabelled`` without ``training.virtual_adversarial``, or
            ``output_dir`` is not a directory a classifier may replace
            (:func:`sentiment.artifacts.check_replaceable`, checked before training).
    """
    check_replaceable(output_dir, CLASSIFIER_ARTIFACT)
    import keras
    import tensorflow as tf

    from .calibration import apply_temperature, calibrate, calibration_change
    from .decisions import DecisionRule
    from .errors import ConfigError
    from .evaluation import decision_report, true_labels
    from .models.adversarial import AdversarialTraining, VirtualAdversarialTraining
    from .models.losses import WeightedBinaryCrossentropy, regression_loss
    from .models.classifier import build_classifier, classifier_members
    from .models.language_model import recurrent_layer_names
    from .models.optimizers import make_optimizer
    from .models.weight_averaging import WeightAveraging
    from .predictor import Predictor
    from .text.batching import bucketed_fit_warnings_ignored, training_dataset
    from .text.pipeline import build_vocabulary, encode_texts, text_encoder

    if len(train) == 0:
        raise DataError(f"{train.source}: the training data set is empty")
    multi_label = bool(train.multi_label)
    if config.multi_label and not multi_label:
        raise DataError(f"{train.source}: --multi-label is set but the data hold one label "
                        "per row (read them with load_labelled_file(multi_label=True))")
    if not multi_label and (config.if_no_label != "empty"
                            or training.label_thresholds != "per_label"):
        given = (f"--if-no-label {config.if_no_label}" if config.if_no_label != "empty"
                 else f"--label-thresholds {training.label_thresholds}")
        raise ConfigError(f"{given} is for multi-label models; {train.source} holds one label "
                          "per row (give --multi-label for several)")
    regression = config.regression
    if regression and (multi_label or training.virtual_adversarial or training.adversarial
                       or training.class_weight != "none"
                       or training.tune_threshold not in ("auto", "none")):
        raise ConfigError("--task regression trains one number per text: not with "
                          "multi-label data, --adversarial, --virtual-adversarial, "
                          "--class-weight or --tune-threshold")
    if unlabelled is not None and not training.virtual_adversarial:
        raise ConfigError("unlabelled texts are read by virtual adversarial training; set "
                          "--virtual-adversarial EPSILON")
    language_model = None
    if training.pretrained:
        from .pretraining import adopt_pretrained, load_language_model

        if vocabulary is not None:
            raise ConfigError("vocabulary= cannot be given with a pretrained model: the "
                              "vocabulary is the language model's")
        language_model = load_language_model(training.pretrained)
        config = adopt_pretrained(config, language_model.config, source=training.pretrained)
        vocabulary = language_model.vocabulary
    values = () if regression else label_set(train, order=label_order or None)
    tuning = training.tune_threshold
    if tuning == "auto" or regression:
        tuning = "f1" if multi_label else "none"
    if tuning != "none" and not multi_label and len(values) != 2:
        raise ConfigError(f"--tune-threshold {tuning} needs two classes or multi-label data; "
                          f"{train.source} has {len(values)} classes")
    names = tuple((label_names or {}).get(v, v) for v in values)
    if validation is None:
        train, validation = split_validation(train, training.validation_fraction, training.seed)
    keras.utils.set_random_seed(training.seed)

    with dtype_policy(training.mixed_precision) as policy:
        # a configuration read from an earlier model keeps no temperature or thresholds:
        # they are fitted anew
        config = config.replace(labels=names, label_values=values, dtype_policy=policy,
                                temperature=1.0, multi_label=multi_label, threshold=None,
                                thresholds=())
        if regression:  # targets standardized with the training split's statistics
            from .evaluation import regression_targets
            from .sequences.data import TargetScaler

            scaler = TargetScaler.fit(regression_targets(train))
            config = config.replace(target_mean=scaler.mean, target_std=scaler.std)
        # (n,) class indices, (n, labels) multi-hot rows, or (n,) standardized targets
        y_train, y_validation, y_test = (
            None if data is None else scaler.transform(regression_targets(data)) if regression
            else true_labels(data, config) for data in (train, validation, test))
        if regression:
            label_weights = weights = None
            loss = regression_loss(training.regression_loss)
        elif multi_label:
            label_weights = multilabel_class_weights(training.class_weight, y_train, config)
            weights = None  # Keras' class_weight weighs whole examples: in the loss instead
            loss = (WeightedBinaryCrossentropy(label_weights) if label_weights is not None
                    else keras.losses.BinaryCrossentropy())
        else:
            label_weights = None
            weights = class_weights(training.class_weight, y_train, config)
            loss = keras.losses.SparseCategoricalCrossentropy()

        if vocabulary is None:
            vocabulary = build_vocabulary(train.texts, config)
        encoder = text_encoder(config, vocabulary)
        train_ids = encode_texts(encoder, train.texts)
        validation_ids = encode_texts(encoder, validation.texts)
        validation_batches = training_dataset(
            validation_ids, y_validation, training.batch_size, bucketing=training.bucketing,
            shuffle=False, max_length=config.max_length)
        unlabelled_batches = None
        if training.virtual_adversarial:
            unlabelled_texts = train.texts if unlabelled is None else unlabelled
            if not len(unlabelled_texts):
                raise DataError("--unlabelled: the unlabelled texts are empty")
            unlabelled_ids = encode_texts(encoder, unlabelled_texts)
            unlabelled_batches = training_dataset(
                unlabelled_ids, np.zeros(len(unlabelled_texts), np.int32), training.batch_size,
                bucketing=training.bucketing, seed=training.seed + 7919,
                max_length=config.max_length).map(lambda ids, _: ids).repeat()

        members, fits = [], []  # fits: per member, its history, epochs and kept weights
        started = time.perf_counter()
        for member in range(config.ensemble):
            seed = training.seed + member
            if member:  # the first member's seed was set before the vocabulary
                keras.utils.set_random_seed(seed)
            if verbose and config.ensemble > 1:
                print(f"ensemble member {member + 1}/{config.ensemble} (seed {seed})")
            train_batches = training_dataset(
                train_ids, y_train, training.batch_size, bucketing=training.bucketing,
                seed=seed, max_length=config.max_length)
            model = build_classifier(config.replace(ensemble=1), vocabulary.vocabulary_size(),
                                     name=f"member_{member}" if config.ensemble > 1 else None)

            def metric():  # a fresh metric object for each compile
                if regression:
                    return keras.metrics.MeanAbsoluteError(name="mae")
                return (keras.metrics.BinaryAccuracy(name="accuracy") if multi_label
                        else "accuracy")

            frozen_history: dict[str, list] = {}
            pretrained_names: list[str] = []
            if language_model is not None:
                from .pretraining import copy_pretrained

                pretrained_names = copy_pretrained(model, language_model.model, config)
                if training.freeze_epochs:
                    frozen_history = _fit_new_layers(
                        model, pretrained_names, train_batches, validation_batches, training,
                        loss, metric, weights, verbose)
            trained = model  # the network fitted: the model, or its twin for VAT
            if training.virtual_adversarial:
                # the twin takes a perturbation of the embeddings as a second input; its
                # weights go back into the model after fitting
                trained = build_classifier(config.replace(ensemble=1),
                                           vocabulary.vocabulary_size(), name=model.name,
                                           perturbation=True)
                trained.set_weights(model.get_weights())
                fitted = VirtualAdversarialTraining(trained, training.virtual_adversarial,
                                                    training.adversarial, multi_label)
                train_batches = _with_unlabelled(train_batches, unlabelled_batches)
            elif training.adversarial:
                # adversarial training fits a wrapper that shares the model's weights
                fitted = AdversarialTraining(model, training.adversarial)
            else:
                fitted = model
            rates = (_discriminative_rates(trained, pretrained_names,
                                           training.discriminative_decay)
                     if pretrained_names else [])
            fitted.compile(optimizer=make_optimizer(training.optimizer,
                                                   learning_rate(training, len(train)),
                                                   rate_multipliers=rates),
                           loss=loss, metrics=[metric()])
            # validates the average and the raw weights and keeps the better of the two for
            # early stopping to monitor and restore
            averaging = ([WeightAveraging(training.ema_momentum,
                                          validation_data=validation_batches)]
                         if training.ema_momentum else [])
            early_stopping = keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=training.patience, restore_best_weights=True)
            with bucketed_fit_warnings_ignored():
                history = fitted.fit(train_batches, validation_data=validation_batches,
                                     epochs=training.epochs, class_weight=weights,
                                     callbacks=[*averaging, early_stopping, *callbacks],
                                     verbose=verbose)
            best_epoch = int(np.argmin(history.history["val_loss"])) + 1
            if trained is not model:
                model.set_weights(trained.get_weights())
            members.append(model)
            fits.append({
                "seed": seed, "epochs_run": len(history.history["loss"]),
                "best_epoch": best_epoch,
                # the weights saved: the moving average or the last step's (raw) weights
                "weights": averaging[0].kept[best_epoch - 1] if averaging else "raw",
                **({"freeze_epochs": training.freeze_epochs,
                    "frozen_val_loss": [float(x) for x in frozen_history["val_loss"]]}
                   if frozen_history else {}),
                "history": history.history})
        seconds = time.perf_counter() - started
        model = members[0]
        if len(members) > 1:
            # the trained weights go into fresh, uncompiled members: a compiled member would
            # save its optimizer too, which loading would then have to rebuild
            model = build_classifier(config, vocabulary.vocabulary_size())
            for fresh, trained in zip(classifier_members(model), members):
                fresh.set_weights(trained.get_weights())

    if regression:
        return _save_regression(model, vocabulary, encoder, config, training, output_dir,
                                validation, test, fits, len(train), seconds, policy)
    raw_predictor = Predictor(model, encoder, config)  # config.temperature is 1.0 here
    validation_probabilities = raw_predictor.predict_proba(validation.texts)
    calibration = None
    if training.calibration:
        calibration = calibrate(y_validation, validation_probabilities,
                                multi_label=multi_label)
        config = config.replace(temperature=calibration["temperature"])
        validation_probabilities = apply_temperature(
            validation_probabilities, config.temperature, multi_label=multi_label)
    threshold_record = None
    if tuning != "none":  # on the calibrated probabilities, as the Predictor will see them
        config, threshold_record = _tune_thresholds(config, training, tuning, y_validation,
                                                    validation_probabilities)
    rule = DecisionRule.for_config(config)
    epochs_run = sum(fit["epochs_run"] for fit in fits)
    metrics: dict[str, Any] = {
        "training": {
            # epochs_run, best_epoch and weights: the first member's for an ensemble
            **{key: fits[0][key] for key in ("epochs_run", "best_epoch", "weights")},
            "examples": len(train), "seconds": round(seconds, 2),
            # over all members' epochs
            "examples_per_second": round(len(train) * epochs_run / seconds, 1),
            "vocabulary_size": vocabulary.vocabulary_size(), "dtype_policy": policy,
            "device": "GPU" if tf.config.list_physical_devices("GPU") else "CPU",
            "class_weight": (
                {name: {"negative": w[0], "positive": w[1]}
                 for name, w in zip(config.labels, label_weights.tolist())}
                if label_weights is not None
                else {config.labels[k]: w for k, w in sorted(weights.items())} if weights
                else None),
            **({"members": [{key: value for key, value in fit.items() if key != "history"}
                            for fit in fits]} if len(fits) > 1 else {}),
        },
        "validation": decision_report(rule, y_validation, validation_probabilities),
    }
    if language_model is not None:
        metrics["training"]["pretrained"] = {
            "language_model": str(training.pretrained),
            "layers": recurrent_layer_names(config),
            "discriminative_decay": training.discriminative_decay,
            "freeze_epochs": training.freeze_epochs,
            **({"frozen_val_loss": fits[0]["frozen_val_loss"]}
               if "frozen_val_loss" in fits[0] else {})}
    if test is not None:
        raw_test = raw_predictor.predict_proba(test.texts)
        test_probabilities = apply_temperature(raw_test, config.temperature,
                                               multi_label=multi_label)
        metrics["test"] = decision_report(rule, y_test, test_probabilities)
        if calibration is not None:
            calibration["test"] = calibration_change(y_test, raw_test, config.temperature,
                                                     multi_label=multi_label)
    if calibration is not None:
        metrics["calibration"] = calibration
    if threshold_record is not None:
        metrics["threshold"] = threshold_record
    _write_model_directory(output_dir, model, vocabulary, config, training, metrics)
    return TrainResult(Path(output_dir), config, metrics,
                       {k: [float(v) for v in vs] for k, vs in fits[0]["history"].items()})


def _save_regression(model, vocabulary, encoder, config, training, output_dir, validation,
                     test, fits, examples: int, seconds: float, policy: str) -> TrainResult:
    """The validation and test reports (MAE, RMSE, R², Spearman in the targets' units) of a
    regression model, and its model directory, written atomically."""
    import tensorflow as tf

    from .evaluation import regression_targets
    from .metrics import regression_report
    from .predictor import Predictor

    predictor = Predictor(model, encoder, config)
    epochs_run = sum(fit["epochs_run"] for fit in fits)
    metrics: dict[str, Any] = {
        "training": {
            **{key: fits[0][key] for key in ("epochs_run", "best_epoch", "weights")},
            "examples": examples, "seconds": round(seconds, 2),
            "examples_per_second": round(examples * epochs_run / seconds, 1),
            "vocabulary_size": vocabulary.vocabulary_size(), "dtype_policy": policy,
            "device": "GPU" if tf.config.list_physical_devices("GPU") else "CPU",
            "target_mean": config.target_mean, "target_std": config.target_std},
        "validation": regression_report(regression_targets(validation),
                                        predictor.predict_values(validation.texts))}
    if test is not None:
        metrics["test"] = regression_report(regression_targets(test),
                                            predictor.predict_values(test.texts))
    _write_model_directory(output_dir, model, vocabulary, config, training, metrics)
    return TrainResult(Path(output_dir), config, metrics,
                       {k: [float(v) for v in vs] for k, vs in fits[0]["history"].items()})


def _write_model_directory(output_dir, model, vocabulary, config, training, metrics) -> None:
    """``model.keras``, ``vocab.txt``, ``config.json`` (with the files' digests) and
    ``metrics.json``, written atomically."""
    from .models.saving import save_model_directory

    save_model_directory(output_dir, CLASSIFIER_ARTIFACT, model, "classifier", config,
                         training, metrics, extra={VOCAB_FILE: vocabulary.save},
                         versions=("tensorflow_text",))


def _tune_thresholds(config: ClassifierConfig, training: TrainingConfig, metric: str,
                     y_validation: np.ndarray, probabilities: np.ndarray
                     ) -> tuple[ClassifierConfig, dict[str, Any]]:
    """The configuration with the decision threshold(s) tuned on the validation split for
    ``metric`` (``f1`` or ``accuracy``), and what ``metrics.json`` records of it: the
    threshold(s) and the validation metric at the default decision and at the tuned one."""
    from .decisions import DecisionRule
    from .evaluation import decision_report
    from .thresholds import tune_global_threshold, tune_label_thresholds, tune_threshold

    default = decision_report(DecisionRule.for_config(config), y_validation, probabilities)
    if config.multi_label:
        if training.label_thresholds == "global":
            config = config.replace(threshold=tune_global_threshold(
                y_validation, probabilities, metric))
        else:
            config = config.replace(thresholds=tuple(
                tune_label_thresholds(y_validation, probabilities, metric).tolist()))
        keys = ("micro_f1", "macro_f1")
    else:
        config = config.replace(threshold=tune_threshold(y_validation == 1,
                                                         probabilities[:, 1], metric))
        keys = ("accuracy", "macro_f1")
    tuned = decision_report(DecisionRule.for_config(config), y_validation, probabilities)
    record: dict[str, Any] = {"metric": metric}
    if config.multi_label and config.threshold is None:
        record["thresholds"] = dict(zip(config.labels, config.thresholds))
    else:
        record["threshold"] = config.threshold
    if not config.multi_label:
        record["positive_label"] = config.labels[1]
        keys += ("f1_" + config.labels[1],)
        for report in (default, tuned):
            report["f1_" + config.labels[1]] = report["per_class"][config.labels[1]]["f1"]
    record["validation"] = {key: {"default": default[key], "tuned": tuned[key]}
                            for key in keys}
    return config, record


def _discriminative_rates(model, pretrained_names: Sequence[str], decay: float) -> list:
    """``(variable, factor)`` pairs of discriminative fine-tuning (Howard & Ruder 2018,
    ULMFiT): the new layers keep the learning rate, the top pretrained recurrent layer gets
    ``1 / decay`` of it, the one below ``1 / decay**2``, ..., the embedding the smallest;
    ``[]`` for ``decay == 1``."""
    if decay == 1.0:
        return []
    rates = []
    for depth, name in enumerate(reversed(pretrained_names), start=1):  # top first
        rates += [(variable, decay ** -depth)
                  for variable in model.get_layer(name).trainable_variables]
    return rates


def _fit_new_layers(model, pretrained_names, train_batches, validation_batches,
                    training: TrainingConfig, loss, metric, weights, verbose: int
                    ) -> dict[str, list]:
    """Train only the layers that are not pretrained (pooling, output) for
    ``training.freeze_epochs`` epochs, then make every layer trainable again; the history of
    those epochs (ULMFiT's gradual unfreezing, in two stages); ``metric`` makes the
    accuracy metric."""
    from .models.optimizers import make_optimizer
    from .text.batching import bucketed_fit_warnings_ignored

    layers = [model.get_layer(name) for name in pretrained_names]
    for layer in layers:
        layer.trainable = False
    try:
        model.compile(optimizer=make_optimizer(training.optimizer, training.learning_rate),
                      loss=loss, metrics=[metric()])
        if verbose:
            print(f"training the new layers alone for {training.freeze_epochs} epoch(s)")
        with bucketed_fit_warnings_ignored():
            history = model.fit(train_batches, validation_data=validation_batches,
                                epochs=training.freeze_epochs, class_weight=weights,
                                verbose=verbose)
    finally:
        for layer in layers:
            layer.trainable = True
    return history.history


def _with_unlabelled(labelled, unlabelled):
    """``((ids, unlabelled_ids), labels)`` batches: each labelled batch beside the next
    unlabelled one (``unlabelled`` repeats, so the labelled batches set the epoch)."""
    import tensorflow as tf

    return tf.data.Dataset.zip((labelled, unlabelled)).map(
        lambda pair, extra: ((pair[0], extra), pair[1]))
