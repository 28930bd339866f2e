"""Ensembles of different classifiers: one model directory whose probabilities are the
weighted mean of its members' (which may differ in architecture, tokenizer, vocabulary and
pretraining; their labels must match).

    texts (n,) str -> member k's own text pipeline and model, its calibrated probabilities
                        (n, classes) float32, for k = 1..K
                   -> sum_k weights[k] * p_k                        (n, classes) float32
                   -> the ensemble's decision rule (argmax / two-class threshold /
                      multi-label thresholds tuned for the mean)

The directory (:data:`ENSEMBLE_ARTIFACT`):

    DIR/config.json    {"ensemble": EnsembleConfig, "files": size and SHA-256 of every file
                        below, "versions": ...}
    DIR/members/0/     a copy of each member's model directory (config.json, model.keras,
    DIR/members/1/     vocab.txt, metrics.json), read with ``Predictor.load``
    DIR/metrics.json   the members' and the ensemble's validation figures, when validation
                       data was given

``Predictor.load(DIR)`` returns an :class:`EnsemblePredictor`, so predict, score, evaluate,
export (one SavedModel over raw strings), explain and serve take an ensemble like any model.

Weights: ``equal`` (1/K each), explicit numbers, or ``validation``: the weights maximizing
the likelihood of the validation labels under the mixture ``sum_k w_k p_k``, found by EM for
mixture proportions with fixed components (Dempster, Laird & Rubin 1977), which keeps them on
the simplex and never lowers the likelihood; for a multi-label ensemble each (row, label) cell
is one binary observation.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .artifacts import atomic_directory, check_not_inside, check_replaceable, locks_output
from .config import (CLASSIFIER_ARTIFACT, CONFIG_FILE, ENSEMBLE_ARTIFACT, MEMBERS_DIR,
                     METRICS_FILE, WEIGHTINGS, EnsembleConfig, write_json)
from .errors import ConfigError, ModelError

def parse_weights(spec: str, members: int) -> str | tuple[float, ...]:
    """``--weights``: ``equal``, ``validation``, or ``members`` comma-separated numbers >= 0
    (normalized to sum to 1).

    Raises:
        ConfigError: naming the value, when it is none of these.
    """
    if spec in WEIGHTINGS:
        return spec
    try:
        values = tuple(float(part) for part in spec.split(","))
    except ValueError:
        raise ConfigError(f"--weights must be {' or '.join(WEIGHTINGS)} or {members} "
                          f"comma-separated numbers; received {spec!r}") from None
    if len(values) != members or any(not np.isfinite(v) or v < 0 for v in values) \
            or not 0 < sum(values) < float("inf"):
        raise ConfigError(f"--weights needs {members} numbers >= 0 (one per model, not all "
                          f"zero); received {spec!r}")
    return tuple(v / sum(values) for v in values)


def fit_weights(likelihoods: np.ndarray, iterations: int = 10000,
                tolerance: float = 1e-10) -> np.ndarray:
    """Mixture weights maximizing the mean log-likelihood ``mean_i log(sum_k w_k L[i, k])``
    over the simplex, by EM (Dempster, Laird & Rubin 1977: ``w_k <- mean_i w_k L[i, k] /
    sum_j w_j L[i, j]``), from equal weights. Each step raises the likelihood; the fit stops
    when a step gains less than ``tolerance`` nats per observation (members that predict
    alike leave the likelihood flat along the weights between them, so their weights may
    stay near equal there: any such weights fit the data as well).

    Args:
        likelihoods: ``(observations, members)`` float: member k's probability of the
            observed outcome of observation i (its probability of the true class; for a
            multi-label cell, ``p`` or ``1 - p``).
        iterations: at most this many EM steps.
        tolerance: the smallest gain in mean log-likelihood (nats) worth another step.

    Returns:
        ``(members,) float64`` weights, >= 0, summing to 1.

    Raises:
        ValueError: when ``likelihoods`` is not a non-empty 2-D array.
    """
    values = np.maximum(np.asarray(likelihoods, dtype=np.float64), 1e-12)
    if values.ndim != 2 or values.size == 0:
        raise ValueError(f"likelihoods must be a non-empty (observations, members) array; "
                         f"received shape {values.shape}")
    weights = np.full(values.shape[1], 1.0 / values.shape[1])
    mixed = values @ weights  # (observations,)
    previous = np.log(mixed).mean()
    for _ in range(iterations):
        weights = (values * weights / mixed[:, None]).mean(axis=0)
        weights /= weights.sum()
        mixed = values @ weights
        current = np.log(mixed).mean()
        if current - previous < tolerance:
            break
        previous = current
    return weights


def outcome_likelihoods(y_true: np.ndarray, member_probabilities: Sequence[np.ndarray],
                        multi_label: bool) -> np.ndarray:
    """``(observations, members)``: each member's probability of each observed outcome, for
    :func:`fit_weights`.

    Args:
        y_true: ``(n,)`` class indices, or ``(n, labels)`` multi-hot for ``multi_label``.
        member_probabilities: one ``(n, classes)`` array per member.
    """
    y_true = np.asarray(y_true)
    columns = []
    for probabilities in member_probabilities:
        probabilities = np.asarray(probabilities, dtype=np.float64)
        if multi_label:
            columns.append(np.where(y_true.astype(bool), probabilities,
                                    1.0 - probabilities).ravel())
        else:
            columns.append(probabilities[np.arange(len(y_true)), y_true])
    return np.stack(columns, axis=1)


def _member_config(directory: Path):
    """``(saved, config)``: the whole ``config.json`` of a member directory and its
    :class:`ClassifierConfig`, its files checked (no TensorFlow).

    Raises:
        ModelError: when it is not a classifier model directory (an ensemble included).
    """
    from .config import ClassifierConfig, read_config_file
    from .models.saving import read_model_config

    saved = read_config_file(directory)
    if isinstance(saved, dict) and "ensemble" in saved:
        raise ModelError(f"{directory} is an ensemble; give its members' model directories "
                         "instead (an ensemble member is one classifier)")
    saved, config = read_model_config(directory, "classifier", ClassifierConfig.from_dict)
    if config.regression:
        raise ModelError(f"{directory} is a regression model; an ensemble averages the "
                         "probabilities of classifiers")
    return saved, config


def _check_members(model_dirs: Sequence[Path]):
    """The members' ``(saved, config)`` (:func:`_member_config`), after checking that their
    labels match.

    Raises:
        ConfigError: for no member, the same directory twice, or labels (or multi-label
            modes) that differ, naming both directories.
        ModelError: when a directory is not a classifier model directory.
    """
    if not model_dirs:
        raise ConfigError("an ensemble needs at least one model directory")
    resolved = [path.resolve() for path in model_dirs]
    for index, path in enumerate(resolved):
        if path in resolved[:index]:
            raise ConfigError(f"model directory {str(model_dirs[index])!r} is given twice")
    members = [_member_config(path) for path in model_dirs]
    configs = [config for _, config in members]
    first = configs[0]
    for path, config in zip(model_dirs[1:], configs[1:]):
        if (config.labels, config.label_values) != (first.labels, first.label_values):
            raise ConfigError(f"the members' labels must match: {model_dirs[0]} has "
                              f"{list(first.labels)}, {path} has {list(config.labels)}")
        if config.multi_label and config.if_no_label != first.if_no_label:
            raise ConfigError(f"the members decide a text with no label differently: "
                              f"{model_dirs[0]} gives {first.if_no_label!r}, {path} "
                              f"{config.if_no_label!r} (--if-no-label)")
        if config.multi_label != first.multi_label:
            raise ConfigError(f"{model_dirs[0]} is {'' if first.multi_label else 'not '}"
                              f"multi-label but {path} is{'' if config.multi_label else ' not'};"
                              " an ensemble's members are all one or the other")
    return members


def _check_holdout(paths: Sequence[Path], saved: Sequence[dict[str, Any]]) -> None:
    """Refuse members whose training held out another part of a named data set's training
    split than the default one the ensemble validates on; ``saved``: each member's
    ``config.json``.

    Raises:
        ConfigError: naming the member and its validation fraction and seed.
    """
    from .config import TrainingConfig

    defaults = TrainingConfig()
    for path, member in zip(paths, saved):
        training = member.get("training") or {}
        fraction = training.get("validation_fraction", defaults.validation_fraction)
        seed = training.get("seed", defaults.seed)
        if (fraction, seed) != (defaults.validation_fraction, defaults.seed):
            raise ConfigError(
                f"{path} was trained with validation fraction {fraction} and seed {seed}, so "
                f"the default held-out split ({defaults.validation_fraction}, seed "
                f"{defaults.seed}) holds rows it was trained on; give --validation FILE")


def _validation_figures(rule, y_true, probabilities) -> dict:
    from .evaluation import decision_report
    from .metrics import binary_log_loss, log_loss

    report = decision_report(rule, y_true, probabilities)
    report["log_loss"] = (binary_log_loss(y_true, probabilities) if rule.multi_label
                          else log_loss(y_true, probabilities))
    return report


@locks_output("output_dir")
def build_ensemble(model_dirs: Sequence[str | Path], output_dir: str | Path, *,
                   weights: str | Sequence[float] = "equal", validation=None,
                   tune_thresholds: bool = True, dataset_holdout: bool = False,
                   batch_size: int | None = None) -> tuple[Path, dict[str, Any]]:
    """Combine classifier model directories into one ensemble model directory.

    Args:
        model_dirs: the members' model directories (``sentiment train`` outputs; labels and
            multi-label mode must match). Each is copied into ``output_dir``.
        output_dir: the ensemble directory to write (atomically; an existing one must be
            empty or an earlier ensemble).
        weights: ``"equal"``, ``"validation"`` (EM on ``validation``, :func:`fit_weights`)
            or one number >= 0 per member (normalized).
        validation: :class:`~sentiment.data.LabelledTexts` to fit the weights on (needed by
            ``"validation"``) and, for a multi-label ensemble, to tune one threshold per
            label for F1 on the mean probabilities; its figures, each member's and the
            ensemble's, go to ``metrics.json``. Without it a multi-label ensemble takes the
            weighted mean of its members' thresholds.
        tune_thresholds: multi-label with ``validation``: tune the thresholds (else the
            weighted mean of the members'). A two-class ensemble of members with tuned
            thresholds takes the weighted mean of theirs (0.5 for a member without one);
            else the argmax.
        dataset_holdout: ``validation`` is the part of a named data set's training split
            that ``sentiment train`` holds out by default (:func:`ensemble_validation`):
            refuse members trained with another validation fraction or seed, for which it
            holds rows they were trained on.
        batch_size: texts per model call (default ``INFERENCE_BATCH_SIZE``).

    Returns:
        ``(output_dir, metrics)``: the directory, ``~`` expanded and absolute, and what
        ``metrics.json`` holds (``{}`` without validation data).

    Raises:
        ConfigError: as :func:`_check_members`, for ``"validation"`` without validation data,
            weights that do not fit the members, or an ``output_dir`` that may not be
            replaced (a member's own directory included).
        ModelError: when a member directory is missing, corrupted or not a classifier.
        DataError: when the validation data holds a label the members do not know.
    """
    from .config import INFERENCE_BATCH_SIZE
    from .decisions import DecisionRule
    from .evaluation import true_labels
    from .fingerprints import FILES_KEY, fingerprint_files
    from .predictor import Predictor
    from .thresholds import tune_label_thresholds
    from .versions import library_versions

    output_dir = check_replaceable(output_dir, ENSEMBLE_ARTIFACT)
    paths = [Path(path).expanduser() for path in model_dirs]
    members = _check_members(paths)
    configs = [config for _, config in members]
    for path in paths:  # neither inside the other
        check_not_inside(path, output_dir, "the ensemble's output directory")
        check_not_inside(output_dir, path, "the member model directory")
    if validation is not None and dataset_holdout:
        _check_holdout(paths, [saved for saved, _ in members])
    first = configs[0]
    if isinstance(weights, str):
        weights = parse_weights(weights, len(paths))
    if isinstance(weights, str) and weights == "validation" and validation is None:
        raise ConfigError("--weights validation needs validation data (--validation FILE or "
                          "--dataset NAME)")
    batch_size = batch_size or INFERENCE_BATCH_SIZE
    metrics: dict[str, Any] = {}
    member_probabilities = y_true = None
    if validation is not None:
        predictors = [Predictor.load(path) for path in paths]
        y_true = true_labels(validation, first)
        member_probabilities = [predictor.predict_proba(validation.texts, batch_size)
                                for predictor in predictors]
    if isinstance(weights, str) and weights == "validation":
        weighting = "validation"
        chosen = fit_weights(outcome_likelihoods(y_true, member_probabilities,
                                                 first.multi_label))
    elif isinstance(weights, str):  # "equal"
        weighting, chosen = "equal", np.full(len(paths), 1.0 / len(paths))
    else:
        chosen = np.asarray(weights, dtype=np.float64)
        if chosen.shape != (len(paths),) or (chosen < 0).any() or not chosen.sum() > 0:
            raise ConfigError(f"weights: one number >= 0 per model ({len(paths)}), not all "
                              f"zero; received {list(chosen.ravel())}")
        weighting = "given"
    chosen = chosen / chosen.sum()
    mean = (None if member_probabilities is None  # (n, classes): the ensemble's validation
            else sum(w * p for w, p in zip(chosen, member_probabilities)))
    thresholds: tuple[float, ...] = ()
    if first.multi_label:
        if mean is not None and tune_thresholds:
            thresholds = tuple(float(t) for t in tune_label_thresholds(y_true, mean, "f1"))
        else:
            saved = [np.asarray(DecisionRule.for_config(config).label_thresholds(),
                                dtype=np.float64) for config in configs]
            thresholds = tuple(float(np.float32(t))
                               for t in sum(w * t for w, t in zip(chosen, saved)))
    threshold = None
    saved_thresholds = [getattr(config, "threshold", None) for config in configs]
    if not first.multi_label and any(t is not None for t in saved_thresholds):
        # members with a tuned two-class threshold: the weighted mean of theirs (0.5, the
        # argmax of two classes, for a member without one)
        threshold = float(np.float32(sum(w * (0.5 if t is None else t)
                                         for w, t in zip(chosen, saved_thresholds))))
    config = EnsembleConfig(
        members=tuple(f"{MEMBERS_DIR}/{index}" for index in range(len(paths))),
        sources=tuple(str(path) for path in paths),
        weights=tuple(float(w) for w in chosen), weighting=weighting,
        labels=first.labels, label_values=first.label_values, multi_label=first.multi_label,
        threshold=threshold, thresholds=thresholds, if_no_label=first.if_no_label,
        max_length=max(config.max_length for config in configs))
    if mean is not None:
        rule = DecisionRule.for_config(config)
        metrics = {"validation": {
            "source": validation.source, "examples": len(validation),
            "note": "in-sample: the weights (with --weights validation) and the multi-label "
                    "thresholds were fitted on these rows",
            "ensemble": _validation_figures(rule, y_true, mean),
            "members": [{"source": str(path), "weight": float(w),
                         **_validation_figures(DecisionRule.for_config(c), y_true, p)}
                        for path, c, w, p in zip(paths, configs, chosen,
                                                 member_probabilities)]}}
    with atomic_directory(output_dir, ENSEMBLE_ARTIFACT) as tmp:
        written = []
        for member, path in zip(config.members, paths):
            (tmp / member).mkdir(parents=True)
            for name in CLASSIFIER_ARTIFACT.allowed:
                if (path / name).is_file():
                    shutil.copy2(path / name, tmp / member / name)
                    written.append(f"{member}/{name}")
        if metrics:
            write_json(tmp / METRICS_FILE, metrics)
        write_json(tmp / CONFIG_FILE, {
            "ensemble": config.to_dict(), FILES_KEY: fingerprint_files(tmp, written),
            "versions": library_versions("tensorflow_text")})
    return output_dir, metrics


def ensemble_validation(model_dir: str | Path, *, validation_file: str | Path | None = None,
                        dataset: str | None = None, text_column: str = "text",
                        label_column: str = "label", keep_label_strings: bool = False,
                        label_delimiter: str = ",", label_names_file: str | Path | None = None):
    """The validation data of ``sentiment ensemble``: a labelled file read as
    ``model_dir``'s classifier reads its labels (multi-label or not), or a named data set's
    validation split, else the part of its training split that ``sentiment train`` holds
    out by default (``TrainingConfig().validation_fraction``, seed ``TrainingConfig().seed``:
    members trained with the default settings and without ``--limit`` never saw it).

    Returns:
        ``(data, holdout)``: the :class:`~sentiment.data.LabelledTexts` (``None`` when
        neither is given) and whether it is that held-out part (``build_ensemble``'s
        ``dataset_holdout``).

    Raises:
        DataError: as :func:`sentiment.data.load_labelled_file`.
        ModelError: when ``model_dir`` is not a classifier model directory.
    """
    from .config import TrainingConfig
    from .data import load_label_names, load_labelled_file, load_named_dataset
    from .labels import split_validation

    if validation_file is None and dataset is None:
        return None, False
    if validation_file is not None:
        multi_label = _member_config(Path(model_dir).expanduser())[1].multi_label
        names = load_label_names(label_names_file) if label_names_file else None
        return load_labelled_file(validation_file, text_column, label_column,
                                  keep_label_strings=keep_label_strings,
                                  multi_label=multi_label, label_delimiter=label_delimiter,
                                  label_names=names), False
    splits = load_named_dataset(dataset)
    if splits.validation is not None:
        return splits.validation, False
    defaults = TrainingConfig()
    return split_validation(splits.train, defaults.validation_fraction, defaults.seed)[1], True
