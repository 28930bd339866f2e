"""The sequence-model side of ``sentiment train``, ``predict`` and ``evaluate``: models over
sequences of vectors (``--sequence-column``, ``--dataset japanese_vowels``), classification
or regression. Parsing only; the work is in :mod:`sentiment.sequences`."""

from __future__ import annotations

import json

import click

from ..config import ClassifierConfig, TrainingConfig
from ..config.sequence import SequenceModelConfig, SequenceTrainingConfig, parse_clip_range
from .dataclass_options import cli_settings

#: Settings of ``train`` that a sequence model has too (same names and meanings).
SHARED_MODEL_SETTINGS = tuple(f.name for f in cli_settings(SequenceModelConfig)
                              if f.name in {g.name for g in cli_settings(ClassifierConfig)})
SHARED_TRAINING_SETTINGS = tuple(f.name for f in cli_settings(SequenceTrainingConfig)
                                 if f.name in {g.name for g in cli_settings(TrainingConfig)})
#: The sequence models' own options of ``train``.
SEQUENCE_ONLY = tuple(f.name for f in cli_settings(SequenceModelConfig)
                      if f.name not in SHARED_MODEL_SETTINGS) + tuple(
    f.name for f in cli_settings(SequenceTrainingConfig)
    if f.name not in SHARED_TRAINING_SETTINGS)


def _given(names) -> list[str]:
    """The options among ``names`` (parameter names) given on the command line."""
    context = click.get_current_context()
    return [name for name in names
            if context.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT]


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


def sequence_configs(settings: dict, clip_range: str | None
                     ) -> tuple[SequenceModelConfig, SequenceTrainingConfig]:
    """The sequence model's configurations from ``train``'s parsed options: the shared
    settings only where given (a sequence model has its own defaults), its own options.

    Raises:
        click.UsageError: a text-only option given (naming it).
        ConfigError: an invalid value.
    """
    shared = set(SHARED_MODEL_SETTINGS) | set(SHARED_TRAINING_SETTINGS) | set(SEQUENCE_ONLY)
    text_only = [name for name in [*_given(settings), *_given(("text_column",
                                                               "keep_label_strings"))]
                 if name not in shared]
    if text_only:
        raise click.UsageError(
            f"{', '.join(_option(n) for n in text_only)}: for text models, not for "
            "--sequence-column / a data set of sequences")
    given = set(_given(settings)) | {"task", "frame_units", "regression_loss"}
    model = SequenceModelConfig(
        **{n: settings[n] for n in (*SHARED_MODEL_SETTINGS, "frame_units", "task")
           if n in given}, clip_range=parse_clip_range(clip_range))
    training = SequenceTrainingConfig(
        **{n: settings[n] for n in (*SHARED_TRAINING_SETTINGS, "regression_loss")
           if n in given})
    return model, training


def train_sequences(dataset, train_file, validation_file, test_file, sequence_column,
                    label_column, limit, output, settings, clip_range, quiet) -> None:
    """``sentiment train`` for a model over sequences of vectors."""
    from ..artifacts import check_replaceable, output_lock
    from ..config import SEQUENCE_ARTIFACT

    model_config, training_config = sequence_configs(settings, clip_range)
    if sequence_column:
        model_config = model_config.replace(sequence_column=sequence_column)
    click.get_current_context().with_resource(output_lock(output))
    check_replaceable(output, SEQUENCE_ARTIFACT)
    from .options import quiet_tensorflow

    quiet_tensorflow()
    from ..sequences.data import load_sequence_dataset, load_sequence_file
    from ..sequences.training import train_sequence_model

    task = model_config.task
    if train_file:
        def read(path):
            return load_sequence_file(path, model_config.sequence_column, label_column, task)

        train_data = read(train_file)
        validation_data = read(validation_file) if validation_file else None
        test_data = read(test_file) if test_file else None
    else:
        train_data, test_data = load_sequence_dataset(dataset, task)
        validation_data = None
    if limit and limit < len(train_data):
        import numpy as np

        rows = np.sort(np.random.default_rng(training_config.seed).permutation(
            len(train_data))[:limit])
        train_data = train_data.subset(rows)
    result = train_sequence_model(train_data, model_config, training_config, output,
                                  validation=validation_data, test=test_data,
                                  verbose=0 if quiet else 1)
    if "test" in result.metrics:
        click.echo(format_sequence_summary(result.metrics["test"]))
    click.echo(f"model saved to {output}")


def format_sequence_summary(report: dict) -> str:
    """One line: test accuracy and macro F1, or MAE, RMSE, R² and Spearman."""
    if report.get("task") == "regression":
        return "test " + "  ".join(
            f"{name} {'-' if report[key] is None else format(report[key], '.4f')}"
            for name, key in (("MAE", "mae"), ("RMSE", "rmse"), ("R2", "r2"),
                              ("Spearman", "spearman")))
    return f"test accuracy {report['accuracy']:.4f}  macro F1 {report['macro_f1']:.4f}"


def parse_sequence_arguments(texts) -> list:
    """``predict``'s arguments for a sequence model: each one JSON list (of frames, or of
    numbers).

    Raises:
        click.UsageError: an argument that is not JSON (naming it by position).
    """
    sequences = []
    for index, text in enumerate(texts, start=1):
        try:
            sequences.append(json.loads(text))
        except ValueError:
            raise click.UsageError(
                f"argument {index} is not a JSON list of frames ({text[:40]!r}); a sequence "
                "model reads sequences such as '[[0.1, 0.2], [0.3, 0.4]]'") from None
    return sequences


def predict_sequences(predictor, texts, batch_size: int) -> list[dict]:
    """The predictions of ``predict``'s arguments (:func:`parse_sequence_arguments`), one
    dict per argument."""
    sequences = parse_sequence_arguments(texts)
    if predictor.task == "regression":
        return [{"value": float(v)} for v in predictor.predict_values(sequences, batch_size)]
    return [predictor.postprocess(row) for row in predictor.predict_proba(sequences, batch_size)]


def evaluate_sequences_command(predictor, dataset, test_file, sequence_column, label_column,
                               batch_size) -> dict:
    """``evaluate``'s report for a sequence model."""
    from ..sequences.data import load_sequence_dataset, load_sequence_file
    from ..sequences.training import evaluate_sequences

    task = predictor.config.task
    if test_file:
        data = load_sequence_file(test_file, sequence_column or predictor.config.sequence_column,
                                  label_column, task)
    else:
        data = load_sequence_dataset(dataset, task)[1]
    return evaluate_sequences(predictor, data, batch_size)


def format_regression(report: dict) -> str:
    """A regression report, one figure per line."""
    def number(value):
        return "-" if value is None else f"{value:.4f}"

    return "\n".join([f"examples   {report['examples']}",
                      f"MAE        {number(report['mae'])}",
                      f"RMSE       {number(report['rmse'])}",
                      f"R2         {number(report['r2'])}",
                      f"Spearman   {number(report['spearman'])}"])
