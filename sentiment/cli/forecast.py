"""``sentiment forecast``: train, evaluate and apply seq2seq forecasters.

Registered on the main group in ``sentiment.cli``. Nothing heavy is imported at module
level: TensorFlow is imported inside the commands that need it, so ``sentiment --help`` and
option errors answer at once. The model and training options come from the settings of
``ForecasterConfig`` and ``ForecastTrainingConfig``.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..config import FORECAST_DATASETS, ForecasterConfig, ForecastTrainingConfig
from .dataclass_options import config_from_options, config_options
from ..paths import default_forecast_dir
from .options import json_option, quiet_option, quiet_tensorflow, translate_errors


def _columns(values: tuple[str, ...]) -> list[str] | None:
    """Column lists given as repeated options and/or comma-separated: ``--targets a,b``."""
    names = [name.strip() for value in values for name in value.split(",") if name.strip()]
    return names or None


def _data_options(func):
    options = [
        click.option("--dataset", type=click.Choice(FORECAST_DATASETS), default=None,
                     help="Named data set: etth1 ($SENTIMENT_DATA_DIR/ett/ETTh1.csv, else the "
                     "Hugging Face hub), split 12/4/4 months."),
        click.option("--data", "data_file", type=click.Path(dir_okay=False), default=None,
                     help="CSV/TSV/JSON Lines/Parquet file, one row per time step (split "
                     "70/10/20)."),
        click.option("--date-column", default=None,
                     help="Timestamp column of --data (default: date, or the model's)."),
        click.option("--resample", default=None, metavar="PERIOD",
                     help="Aggregate a scored text file per period (1D, 6H, 1W): mean of "
                     "--score-column and row count."),
        click.option("--score-column", default=None,
                     help="Score column averaged by --resample (default: the positive class's "
                     "prob_<label> column of a scored file)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _load(dataset, data_file, date_column, resample, score_column, columns=None):
    from ..forecasting import load_series

    if bool(dataset) == bool(data_file):
        raise click.UsageError("give exactly one of --dataset or --data")
    if resample and not data_file:
        raise click.UsageError("--resample needs --data (a scored file with a timestamp column)")
    return load_series(dataset, data_file, date_column or "date", resample, score_column,
                       columns)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def forecast():
    """Seq2seq forecasters (GRU/LSTM encoder-decoder) for numeric time series.

    \b
      sentiment forecast train --dataset etth1 --lookback 96 --horizon 96 --output m
      sentiment forecast evaluate --model m --dataset etth1
      sentiment forecast predict --model m --data series.csv -o forecast.csv --plot f.png
    """


@forecast.command()
@_data_options
@click.option("--targets", multiple=True, metavar="COL[,COL...]",
              help="Columns to forecast (repeat or comma-separate; default: every numeric "
              "column, or the score when resampling).")
@click.option("--features", multiple=True, metavar="COL[,COL...]|all",
              help="Extra input columns (default: the targets only; all: every numeric "
              "column).")
@config_options(ForecasterConfig, overrides={"lookback": {"required": True, "default": None},
                                            "horizon": {"required": True, "default": None}})
@config_options(ForecastTrainingConfig)
@click.option("--output", "output_dir", type=click.Path(file_okay=False), default=None,
              help="Model directory to write (default: $SENTIMENT_FORECAST_MODEL_DIR or "
              "~/.sentiment/models/forecast); an existing one is replaced only if it is empty "
              "or a forecaster model directory holding nothing else.")
@quiet_option
@translate_errors
def train(dataset, data_file, date_column, resample, score_column, targets, features,
          output_dir, quiet, **settings):
    """Train a forecaster and save it as one model directory; prints test MSE/MAE."""
    from ..artifacts import check_replaceable, output_lock
    from ..config import FORECASTER_ARTIFACT

    output = Path(output_dir) if output_dir else default_forecast_dir()
    # held from before the data loads until the model is saved (click exits it after the command)
    click.get_current_context().with_resource(output_lock(output))
    check_replaceable(output, FORECASTER_ARTIFACT)  # before loading the data
    target_names, feature_names = _columns(targets), _columns(features)
    wanted = None
    if target_names and target_names != ["all"] and feature_names != ["all"]:
        wanted = list(dict.fromkeys(target_names + (feature_names or [])))
    series = _load(dataset, data_file, date_column, resample, score_column, wanted)
    if resample:
        click.echo(f"index: the mean of column {series.columns[0]!r} and the row count per "
                   f"{resample} period")
    quiet_tensorflow()
    from ..forecasting import resolve_columns, train_forecaster

    if resample and not target_names:
        target_names = [series.columns[0]]
    target_names, inputs = resolve_columns(series, target_names, feature_names)
    config = config_from_options(
        ForecasterConfig, settings, targets=target_names, inputs=inputs,
        date_column=date_column or "date", split="etth1" if dataset == "etth1" else "ratio",
        dataset=dataset, resample=resample,
        score_column=series.columns[0] if resample else None)  # the column the index averages
    training = config_from_options(ForecastTrainingConfig, settings)
    result = train_forecaster(series, config, training, output, verbose=0 if quiet else 2)
    click.echo(_format_report(result.metrics["test"], brief=True))
    skipped = result.metrics["training"]["skipped_windows"]
    if any(skipped.values()):
        click.echo(f"skipped windows without observed target: {skipped['training']} training, "
                   f"{skipped['validation']} validation")
    click.echo(f"model saved to {output}")


def _format_report(report: dict, brief: bool = False) -> str:
    lines = [f"test windows {report['windows']} (lookback {report['lookback']}, horizon "
             f"{report['horizon']}, targets {', '.join(report['targets'])}; normalized units)",
             f"{'':16}{'MSE':>9}{'MAE':>9}",
             f"{'model':16}{report['mse']:9.4f}{report['mae']:9.4f}"]
    for name, baseline in report["baselines"].items():
        if baseline is None:
            lines.append(f"{name:16}{'n/a (lookback < season)':>18}")
        else:
            lines.append(f"{name:16}{baseline['mse']:9.4f}{baseline['mae']:9.4f}")
    if not brief:
        horizon = report["horizon"]
        steps = sorted({1, *range(max(1, horizon // 8), horizon + 1, max(1, horizon // 8)),
                        horizon})
        lines.append("per horizon step (model MSE / MAE):")
        for step in steps:
            mse, mae = report["per_step"]["mse"][step - 1], report["per_step"]["mae"][step - 1]
            lines.append(f"  step {step:4d}" + (f"{mse:9.4f}{mae:9.4f}" if mse is not None
                                                else "  no observed target"))
        if report.get("skipped"):
            lines.append(f"skipped {report['skipped']} windows without observed target")
    return "\n".join(lines)


def _load_forecaster(model_dir):
    quiet_tensorflow()
    from ..forecaster import Forecaster

    return Forecaster.load(Path(model_dir) if model_dir else default_forecast_dir())


model_option = click.option(
    "--model", "model_dir", type=click.Path(file_okay=False), default=None,
    help="Model directory written by `sentiment forecast train` (default: "
    "$SENTIMENT_FORECAST_MODEL_DIR or ~/.sentiment/models/forecast).")


@forecast.command()
@model_option
@_data_options
@json_option
@translate_errors
def evaluate(model_dir, dataset, data_file, date_column, resample, score_column, as_json):
    """MSE and MAE on the normalized test windows, per horizon step and overall, beside the
    repeat_last and seasonal_naive baselines."""
    forecaster = _load_forecaster(model_dir)
    config = forecaster.config
    series = _load(dataset, data_file, date_column or config.date_column, resample
                   or config.resample, score_column or config.score_column, config.inputs)
    report = forecaster.evaluate(series)
    click.echo(json.dumps(report, indent=2) if as_json else _format_report(report))


@forecast.command()
@model_option
@click.option("--data", "data_file", type=click.Path(dir_okay=False), required=True,
              help="The history: CSV/TSV/JSON Lines/Parquet with the model's columns (the "
              "last lookback rows are used).")
@click.option("--date-column", default=None, help="Timestamp column (default: the model's).")
@click.option("-o", "--output", "output_file", type=click.Path(dir_okay=False), default=None,
              help="Write the forecast CSV here (default: standard output).")
@click.option("--plot", "plot_file", type=click.Path(dir_okay=False), default=None,
              help="Save a PNG of history and forecast (needs matplotlib: pip install "
              "'sentiment[plot]').")
@translate_errors
def predict(model_dir, data_file, date_column, output_file, plot_file):
    """Forecast the horizon steps after the last row of --data, in original units."""
    from ..artifacts import check_not_input, check_not_inside

    if output_file and plot_file and (
            Path(output_file).expanduser().resolve() == Path(plot_file).expanduser().resolve()):
        raise click.UsageError(f"-o and --plot name the same file {output_file!r}; the plot "
                               "would replace the forecast")
    for written in (output_file, plot_file):
        if written:  # before the model loads
            check_not_input(written, data_file)
            check_not_inside(written, model_dir or default_forecast_dir())
    if plot_file:
        from ..reports import require_matplotlib

        require_matplotlib("--plot")  # before the model loads
    forecaster = _load_forecaster(model_dir)
    config = forecaster.config
    from ..forecasting import load_series
    from ..reports import write_forecast_csv

    series = load_series(None, data_file, date_column or config.date_column or "date",
                         config.resample, config.score_column, config.inputs)
    result = forecaster.predict(series)
    text = write_forecast_csv(result, output_file, date_column or config.date_column or "date")
    if output_file:
        click.echo(f"forecast of {len(result.values)} steps written to {output_file}")
    else:
        click.echo(text, nl=False)
    if plot_file:
        from ..reports import plot_forecast

        plot_forecast(result, plot_file, title=f"{Path(data_file).name}: forecast")
        click.echo(f"plot written to {plot_file}")
