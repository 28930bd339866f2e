"""``sentiment ensemble``: classifiers of any kind combined into one model directory."""

from __future__ import annotations

import click

from .options import (inference_batch_size_option, keep_label_strings_option,
                      label_column_option, multi_label_data_options, quiet_tensorflow,
                      text_column_option, translate_errors)


@click.command()
@click.argument("model_dirs", nargs=-1, required=True,
                type=click.Path(file_okay=False, exists=True))
@click.option("--output", "output_dir", type=click.Path(file_okay=False), required=True,
              help="Ensemble model directory to write; an existing one is replaced only if "
              "it is empty or an earlier ensemble holding nothing else.")
@click.option("--weights", default="equal", show_default=True,
              help="equal, validation (fit on the validation data: the mixture weights that "
              "maximize its likelihood), or one number per model, comma-separated.")
@click.option("--validation", "validation_file", type=click.Path(dir_okay=False),
              default=None, help="Labelled file (CSV, TSV, JSON Lines, Parquet) for "
              "--weights validation, the multi-label thresholds and metrics.json.")
@click.option("--dataset", type=click.Choice(("imdb", "sst2", "goemotions")), default=None,
              help="Validation data from a named data set: its validation split, or the 10% "
              "of its training split that `sentiment train` holds out by default (members "
              "must have been trained with the default seed and validation fraction).")
@text_column_option
@label_column_option
@keep_label_strings_option
@multi_label_data_options
@inference_batch_size_option
@translate_errors
def ensemble(model_dirs, output_dir, weights, validation_file, dataset, text_column,
             label_column, keep_label_strings, label_delimiter, label_names_file, batch_size):
    """Combine model directories into one whose probabilities are the weighted mean of
    theirs. The models may differ in architecture, tokenizer, vocabulary and pretraining;
    their labels must match. predict, score, evaluate, export, explain and serve take the
    result like any model.

    \b
      sentiment ensemble models/gru models/fasttext --output models/both
      sentiment ensemble models/a models/b --weights validation --validation dev.csv --output models/ab
    """
    from ..config import WEIGHTINGS
    from ..ensemble import parse_weights

    if validation_file and dataset:
        raise click.UsageError("give either --validation or --dataset, not both")
    parsed = parse_weights(weights, len(model_dirs))  # ConfigError -> exit 2, before loading
    if parsed == "validation" and not (validation_file or dataset):
        raise click.UsageError(f"--weights validation needs --validation FILE or --dataset "
                               f"NAME (or --weights {WEIGHTINGS[0]})")
    from ..artifacts import check_replaceable, output_lock
    from ..config import ENSEMBLE_ARTIFACT

    click.get_current_context().with_resource(output_lock(output_dir))
    check_replaceable(output_dir, ENSEMBLE_ARTIFACT)  # before any model or data loads
    quiet_tensorflow()
    from ..ensemble import build_ensemble, ensemble_validation

    validation, holdout = ensemble_validation(
        model_dirs[0], validation_file=validation_file, dataset=dataset,
        text_column=text_column, label_column=label_column,
        keep_label_strings=keep_label_strings, label_delimiter=label_delimiter,
        label_names_file=label_names_file)
    written, metrics = build_ensemble(model_dirs, output_dir, weights=parsed,
                                      validation=validation, dataset_holdout=holdout,
                                      batch_size=batch_size)
    figures = metrics.get("validation")
    if figures:
        key = "macro_f1" if figures["ensemble"].get("multi_label") else "accuracy"
        for member in figures["members"]:
            click.echo(f"{member['source']}\tweight {member['weight']:.3f}\tvalidation "
                       f"{key.replace('_', ' ')} {member[key]:.4f}")
        click.echo(f"ensemble\tvalidation {key.replace('_', ' ')} "
                   f"{figures['ensemble'][key]:.4f}  log loss "
                   f"{figures['ensemble']['log_loss']:.4f}")
    click.echo(f"ensemble of {len(model_dirs)} models saved to {written}")
