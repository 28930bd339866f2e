"""The ``sentiment`` command line: a thin layer over the library.

Each command parses its options and calls one library function; the library raises
:mod:`sentiment.errors` exceptions and :func:`translate_errors` turns them into one-line
messages with exit status 2. TensorFlow is imported only inside commands that need it, so
``sentiment --help`` and option errors answer without it.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..config import EXPLAIN_METHODS, ClassifierConfig, TrainingConfig
from ..config.sequence import SEQUENCE_DATASETS, SequenceModelConfig, SequenceTrainingConfig
from .dataclass_options import config_from_options, config_options
from .ensemble import ensemble
from .export import export
from .forecast import forecast
from .pretrain import pretrain
from .options import (
    CliError,
    decision_options,
    inference_batch_size_option,
    json_option,
    keep_label_strings_option,
    label_column_option,
    model_option,
    multi_label_data_options,
    quiet_option,
    inference_tensorflow,
    quiet_tensorflow,
    sequence_column_option,
    text_column_option,
    translate_errors,
)
from .score import score
from .sequences import (SHARED_MODEL_SETTINGS, SHARED_TRAINING_SETTINGS,
                        evaluate_sequences_command, format_regression,
                        format_sequence_summary, predict_sequences, train_sequences)
from .serve import serve

NAMED_DATASETS = ("imdb", "sst2", "goemotions")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sentiment")
def main():
    """Train and serve sentiment classifiers and seq2seq forecasters.

    \b
      sentiment train                      # default model on IMDB
      sentiment predict "what a wonderful film"
      sentiment evaluate --dataset imdb
    """


@main.command()
@click.option("--dataset", type=click.Choice(NAMED_DATASETS + SEQUENCE_DATASETS), default=None,
              help="Named data set (default imdb when no --train is given; japanese_vowels: "
              "sequences of 12-dim frames, 9 speakers).")
@click.option("--train", "train_file", type=click.Path(dir_okay=False), default=None,
              help="Training file: CSV, TSV, JSON Lines or Parquet.")
@click.option("--validation", "validation_file", type=click.Path(dir_okay=False), default=None,
              help="Validation file (default: carved from the training data).")
@click.option("--test", "test_file", type=click.Path(dir_okay=False), default=None,
              help="Test file, evaluated after training.")
@text_column_option
@label_column_option
@keep_label_strings_option
@multi_label_data_options
@config_options(ClassifierConfig)
@config_options(TrainingConfig)
@sequence_column_option
@config_options(SequenceModelConfig, exclude=SHARED_MODEL_SETTINGS)
@config_options(SequenceTrainingConfig, exclude=SHARED_TRAINING_SETTINGS)
@click.option("--clip-range", default=None, metavar="LOW,HIGH",
              help="Regression: clip predictions to this range (e.g. 1,10).")
@click.option("--unlabelled", "unlabelled_files", multiple=True,
              type=click.Path(dir_okay=False),
              help="Unlabelled texts for --virtual-adversarial (one per line of a .txt file, "
              "or the --text-column of a table); repeat for several.")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Train on a seeded random sample of N examples (quick trials).")
@click.option("--output", "output_dir", type=click.Path(file_okay=False), default=None,
              help="Model directory to write (default: $SENTIMENT_MODEL_DIR or "
              "~/.sentiment/models/default); an existing one is replaced only if it is empty "
              "or a classifier model directory holding nothing else.")
@quiet_option
@translate_errors
def train(dataset, train_file, validation_file, test_file, text_column, label_column,
          keep_label_strings, label_delimiter, label_names_file, sequence_column, clip_range,
          unlabelled_files, limit, output_dir, quiet, **settings):
    """Train a classifier and save it as one model directory.

    \b
      sentiment train                                  # IMDB, two classes
      sentiment train --train reviews.csv --test held_out.csv
      sentiment train --train tickets.jsonl --multi-label --label-column tags
      sentiment train --dataset goemotions             # 28 labels, multi-label
      sentiment train --pretrained models/imdb-lm --freeze-epochs 1   # after `pretrain`
      sentiment train --dataset japanese_vowels --output models/vowels  # sequences
      sentiment train --train frames.parquet --sequence-column frames --task regression
    """
    if dataset and train_file:
        raise click.UsageError("give either --dataset or --train, not both")
    if sequence_column or dataset in SEQUENCE_DATASETS:
        if unlabelled_files or label_names_file:
            raise click.UsageError("--unlabelled and --label-names are for text models")
        if sequence_column is None and train_file:
            raise click.UsageError("--train with sequences needs --sequence-column")
        if dataset in SEQUENCE_DATASETS and sequence_column:
            raise click.UsageError(f"--dataset {dataset} has its own columns; --sequence-"
                                   "column is for --train files")
        from ..paths import default_model_dir

        output = Path(output_dir) if output_dir else default_model_dir()
        return train_sequences(dataset, train_file, validation_file, test_file,
                               sequence_column, label_column, limit, output, settings,
                               clip_range, quiet)
    if click.get_current_context().get_parameter_source(
            "frame_units") is not click.core.ParameterSource.DEFAULT:
        raise click.UsageError("--frame-units: for models over sequences (--sequence-column)")
    task, regression_loss = settings.pop("task"), settings.pop("regression_loss")
    settings.pop("frame_units")
    if task != "regression" and (clip_range or regression_loss != "mse"):
        raise click.UsageError("--clip-range and --regression-loss need --task regression")
    if task == "regression" and settings.get("multi_label"):
        raise click.UsageError("--task regression and --multi-label exclude each other")
    multi_label_read = settings.get("multi_label") or False
    if label_names_file and not multi_label_read:
        raise click.UsageError("--label-names needs --multi-label")
    _check_label_file_options(train_file, "--train")
    if not train_file and (validation_file or test_file):
        raise click.UsageError("--validation and --test need --train")
    # settings are checked (ConfigError -> exit 2) before any data or TensorFlow is loaded
    from ..config.sequence import parse_clip_range

    model_config = config_from_options(ClassifierConfig, settings, task=task,
                                       clip_range=parse_clip_range(clip_range))
    training_config = config_from_options(TrainingConfig, settings,
                                          regression_loss=regression_loss)
    if unlabelled_files and not training_config.virtual_adversarial:
        raise click.UsageError("--unlabelled is read by --virtual-adversarial EPSILON; give "
                               "it too")
    if training_config.pretrained:
        model_config = _adopt_pretrained(model_config, training_config.pretrained)
    from ..artifacts import check_replaceable, output_lock
    from ..config import CLASSIFIER_ARTIFACT
    from ..paths import default_model_dir

    output = Path(output_dir) if output_dir else default_model_dir()
    # held from before the data loads until the model is saved (click exits it after the command)
    click.get_current_context().with_resource(output_lock(output))
    check_replaceable(output, CLASSIFIER_ARTIFACT)  # before minutes of data loading
    quiet_tensorflow()
    from ..data import load_label_names, load_labelled_file, load_named_dataset
    from ..training import train_classifier

    if train_file:
        names = load_label_names(label_names_file) if label_names_file else None

        def read(path):
            return load_labelled_file(path, text_column, label_column,
                                      keep_label_strings=keep_label_strings,
                                      multi_label=multi_label_read,
                                      label_delimiter=label_delimiter, label_names=names)

        train_data = read(train_file)
        validation_data = read(validation_file) if validation_file else None
        test_data = read(test_file) if test_file else None
        label_names, label_order = None, names
    else:
        splits = load_named_dataset(dataset or "imdb")
        train_data, validation_data, test_data = splits.train, splits.validation, splits.test
        label_names, label_order = splits.label_names, splits.label_order or None
    if limit:
        train_data = train_data.sample(limit, training_config.seed)
    unlabelled = None
    if unlabelled_files:
        from ..data import load_texts

        unlabelled = [text for path in unlabelled_files
                      for text in load_texts(path, text_column)]

    result = train_classifier(
        train_data, model_config, training_config, output,
        validation=validation_data, test=test_data, label_names=label_names,
        label_order=label_order, unlabelled=unlabelled, verbose=0 if quiet else 1,
    )
    metrics = result.metrics
    if "test" in metrics:
        test_metrics = metrics["test"]
        if test_metrics.get("task") == "regression":
            click.echo(format_sequence_summary(test_metrics))
        elif test_metrics.get("multi_label"):
            click.echo(f"test micro F1 {test_metrics['micro_f1']:.4f}  macro F1 "
                       f"{test_metrics['macro_f1']:.4f}  subset accuracy "
                       f"{test_metrics['subset_accuracy']:.4f}")
        else:
            click.echo(f"test accuracy {test_metrics['accuracy']:.4f}  macro F1 "
                       f"{test_metrics['macro_f1']:.4f}"
                       + (f"  ROC-AUC {test_metrics['roc_auc']:.4f}"
                          if test_metrics.get("roc_auc") is not None else ""))
    threshold = metrics.get("threshold")
    if threshold and "threshold" in threshold:
        click.echo(f"threshold {threshold['threshold']:.4f} (tuned on validation for "
                   f"{threshold['metric']})")
    elif threshold:
        click.echo(f"thresholds per label tuned on validation for {threshold['metric']} "
                   f"(config.json)")
    calibration = metrics.get("calibration")
    if calibration:
        split = "test" if "test" in calibration else "validation"
        change = calibration[split]
        click.echo(f"temperature {calibration['temperature']:.3f}  {split} ECE "
                   f"{change['ece_before']:.4f} -> {change['ece_after']:.4f}  log loss "
                   f"{change['log_loss_before']:.4f} -> {change['log_loss_after']:.4f}"
                   + (f"  ({calibration['skipped']})" if "skipped" in calibration else ""))
    click.echo(f"model saved to {output}")


def _adopt_pretrained(model_config, language_model_dir):
    """``model_config`` with the language model's settings; a usage error naming both options
    where one given on the command line contradicts the model (before TensorFlow loads)."""
    from ..config import PRETRAINED_SETTINGS
    from ..errors import ConfigError, ModelError
    from ..pretraining import adopt_pretrained, read_language_model_config

    context = click.get_current_context()
    explicit = [name for name in PRETRAINED_SETTINGS
                if context.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT]
    try:
        language_model = read_language_model_config(language_model_dir)
    except ModelError as error:
        raise ModelError(f"--pretrained {language_model_dir}: {error}") from None
    try:
        return adopt_pretrained(model_config, language_model, source=language_model_dir,
                                explicit=explicit)
    except ConfigError as error:
        raise click.UsageError(str(error)) from None


def _check_label_file_options(file, option):
    """``--label-delimiter`` and ``--label-names`` read a file: a usage error without one."""
    context = click.get_current_context()
    given = [name for name, param in (("--label-delimiter", "label_delimiter"),
                                      ("--label-names", "label_names_file"))
             if context.get_parameter_source(param) is not click.core.ParameterSource.DEFAULT]
    if given and not file:
        raise click.UsageError(f"{' and '.join(given)} {'reads' if len(given) == 1 else 'read'}"
                               f" the labels of a {option} file, not of a named data set")


def _load_predictor(model_dir, decision=None):
    inference_tensorflow()
    from ..paths import default_model_dir
    from ..predictor import Predictor

    return Predictor.load(Path(model_dir) if model_dir else default_model_dir(),
                          **(decision or {}))


@main.command()
@model_option
@json_option
@inference_batch_size_option
@decision_options
@click.option("--explain", is_flag=True,
              help="Also show per-token attributions (integrated gradients, or attention "
              "weights where the model has them), one text at a time.")
@click.option("--method", "explain_method", type=click.Choice(EXPLAIN_METHODS), default="auto",
              show_default=True,
              help="With --explain: auto is attention weights for models trained with "
              "--pooling attention over a recurrent encoder, else integrated gradients.")
@click.option("--target", default=None,
              help="With --explain: the class to explain (default: the predicted one).")
@click.option("--steps", type=click.IntRange(min=1), default=50, show_default=True,
              help="With --explain: integration steps of integrated gradients.")
@click.argument("texts", nargs=-1, required=True)
@click.pass_context
@translate_errors
def predict(ctx, model_dir, as_json, batch_size, decision, explain, explain_method, target,
            steps, texts):
    """Print the label and probability of each TEXT, one line each (a model over sequences:
    each TEXT is one sequence as JSON, '[[0.1, 0.2], [0.3, 0.4]]'; a regression model
    prints the predicted number)."""
    given = [option for name, option in (("explain_method", "--method"),
                                         ("target", "--target"), ("steps", "--steps"))
             if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT]
    if given and not explain:
        raise click.UsageError(f"{' and '.join(given)} {'needs' if len(given) == 1 else 'need'} "
                               "--explain")
    predictor = _load_predictor(model_dir, decision)
    if predictor.inputs == "sequences":  # a model over sequences: JSON arguments
        if explain:
            raise click.UsageError("--explain is for text models")
        for result in predict_sequences(predictor, texts, batch_size):
            click.echo(json.dumps(result) if as_json
                       else f"{result['value']:.4f}" if "value" in result
                       else f"{result['label']}\t{result['score']:.4f}")
        return
    if explain:
        from ..explain import format_explanation

        for text in texts:
            explanation = predictor.explain(text, method=explain_method, target=target,
                                            steps=steps)
            click.echo(json.dumps(explanation, ensure_ascii=False) if as_json
                       else format_explanation(explanation))
        return
    for result in predictor.predict(list(texts), batch_size=batch_size):
        if as_json:
            click.echo(json.dumps(result, ensure_ascii=False))
        elif "value" in result:  # regression
            click.echo(f"{result['value']:.4f}")
        elif "labels" in result:  # multi-label: each label given, with its probability
            click.echo("\t".join(f"{name} {result['scores'][name]:.4f}"
                                 for name in result["labels"]) or "(no label)")
        else:
            click.echo(f"{result['label']}\t{result['score']:.4f}")


@main.command()
@model_option
@click.option("--dataset", type=click.Choice(NAMED_DATASETS + SEQUENCE_DATASETS), default=None,
              help="Evaluate on the test split of a named data set.")
@click.option("--test", "test_file", type=click.Path(dir_okay=False), default=None,
              help="Labelled file: CSV, TSV, JSON Lines or Parquet.")
@text_column_option
@sequence_column_option
@label_column_option
@keep_label_strings_option
@multi_label_data_options
@inference_batch_size_option
@decision_options
@json_option
@click.option("--report", "report_dir", type=click.Path(file_okay=False), default=None,
              help="Also write metrics.json, confusion_matrix.png, roc.png, calibration.png "
              "and errors.csv into this directory (multi-label models: per_label_f1.png in "
              "place of the confusion matrix and ROC curves; needs matplotlib).")
@translate_errors
def evaluate(model_dir, dataset, test_file, text_column, sequence_column, label_column,
             keep_label_strings, label_delimiter, label_names_file, batch_size, decision,
             as_json, report_dir):
    """Report accuracy, macro F1, ROC-AUC and the confusion matrix on labelled data (micro and
    macro F1, Hamming loss and per-label figures for a multi-label model; MAE, RMSE, R² and
    Spearman's rank correlation for a regression model)."""
    if bool(dataset) == bool(test_file):
        raise click.UsageError("give exactly one of --dataset or --test")
    _check_label_file_options(test_file, "--test")
    if report_dir:
        from ..reports import check_report_paths, require_matplotlib

        from ..paths import default_model_dir

        require_matplotlib()  # fail before the model loads
        check_report_paths(report_dir, test_file, model_dir or default_model_dir())
    predictor = _load_predictor(model_dir, decision)
    from ..evaluation import evaluate_predictor, format_report

    if predictor.inputs == "sequences":  # a model over sequences
        if report_dir:
            raise click.UsageError("--report is for text models")
        if dataset and dataset not in SEQUENCE_DATASETS:
            raise click.UsageError(f"--dataset {dataset} holds texts; this model reads "
                                   "sequences")
        report = evaluate_sequences_command(predictor, dataset, test_file, sequence_column,
                                            label_column, batch_size)
        click.echo(json.dumps(report, indent=2) if as_json
                   else format_regression(report) if report.get("task") == "regression"
                   else format_report(report))
        return
    if sequence_column or dataset in SEQUENCE_DATASETS:
        raise click.UsageError("--sequence-column and data sets of sequences are for models "
                               "over sequences; this model reads texts")
    from ..data import load_label_names, load_labelled_file, load_named_dataset

    if label_names_file and not predictor.multi_label:
        raise click.UsageError("--label-names is for multi-label models")
    data = (load_labelled_file(test_file, text_column, label_column,
                               keep_label_strings=keep_label_strings,
                               multi_label=predictor.multi_label,
                               label_delimiter=label_delimiter,
                               label_names=(load_label_names(label_names_file)
                                            if label_names_file else None))
            if test_file else load_named_dataset(dataset).test)
    if predictor.task == "regression":
        if report_dir:
            raise click.UsageError("--report is for classifiers; this is a regression model")
        from ..evaluation import evaluate_regression

        report = evaluate_regression(predictor, data, batch_size=batch_size)
        click.echo(json.dumps(report, indent=2) if as_json else format_regression(report))
        return
    if report_dir:
        from ..reports import evaluate_with_report

        report = evaluate_with_report(predictor, data, report_dir, batch_size=batch_size)
    else:
        report = evaluate_predictor(predictor, data, batch_size=batch_size)
    click.echo(json.dumps(report, indent=2) if as_json else format_report(report))
    if report_dir and not as_json:
        before = report.get("uncalibrated")
        click.echo(f"\nlog loss   {report['log_loss']:.4f}"
                   + (f" ({before['log_loss']:.4f} before temperature scaling)"
                      if before else "")
                   + f"\nECE        {report['expected_calibration_error']:.4f}"
                   + (f" ({before['expected_calibration_error']:.4f} before temperature "
                      "scaling)" if before else "")
                   + f"\nreport written to {report_dir}")


main.add_command(score)
main.add_command(forecast)
main.add_command(export)
main.add_command(serve)
main.add_command(ensemble)
main.add_command(pretrain)

__all__ = ["main", "CliError"]
