"""Training seq2seq forecasters, and reading the series they train on.

``train_forecaster``: series -> chronological split (ETTh1 12/4/4 months, Zhou et al., AAAI
2021; else 70/10/20) -> z-normalization with train statistics -> lookback/horizon windows ->
``model.fit`` with early stopping on validation loss (best weights restored) -> test metrics
beside the ``repeat_last`` and ``seasonal_naive`` baselines -> model directory
(``model.keras``, ``config.json``, ``metrics.json``) written atomically.

The configurations are in :mod:`sentiment.config`, the :class:`~sentiment.forecaster.Forecaster`
that loads a model directory and forecasts in :mod:`sentiment.forecaster`, the error metrics
and baselines in :mod:`sentiment.metrics`, the CSV and plot of a forecast in
:mod:`sentiment.reports`; the first two are importable from here too. TensorFlow is imported
only when a model is built.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .artifacts import check_replaceable, locks_output
from .config import FORECASTER_ARTIFACT, ForecasterConfig, ForecastTrainingConfig
from .errors import ConfigError, DataError
from .forecaster import Forecast, Forecaster, prepare_series, series_windows
from .metrics import default_season, error_report
from .timeseries.data import (
    Normalizer,
    TimeSeries,
    load_etth1,
    read_series_csv,
    resample_scores,
    split_series,
)
from .timeseries.windows import Windows, calendar_names_for

__all__ = ["Forecast", "ForecastResult", "Forecaster", "ForecasterConfig",
           "ForecastTrainingConfig", "load_series", "resolve_columns", "train_forecaster"]


# ----------------------------------------------------------------------------- data


def resolve_columns(series: TimeSeries, targets: Sequence[str] | None,
                    features: Sequence[str] | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The target and input columns from the user's choice.

    ``targets`` ``None`` or ``["all"]``: every column of ``series``. ``features`` ``None``:
    the targets only; ``["all"]``: every column; else the targets plus these columns.

    Returns:
        ``(targets, inputs)``, inputs starting with the targets.

    Raises:
        DataError: naming a column the series lacks.
    """
    targets = list(series.columns) if not targets or list(targets) == ["all"] else list(targets)
    series.column_indices(targets)
    if features is None:
        extra: list[str] = []
    elif list(features) == ["all"]:
        extra = list(series.columns)
    else:
        extra = list(features)
        series.column_indices(extra)
    inputs = targets + [c for c in dict.fromkeys(extra) if c not in targets]
    return tuple(targets), tuple(inputs)


def load_series(dataset: str | None = None, data: str | Path | None = None,
                date_column: str | None = "date", resample: str | None = None,
                score_column: str | None = None, columns: Sequence[str] | None = None
                ) -> TimeSeries:
    """Read the series to train on or forecast from.

    Args:
        dataset: ``etth1`` for the named data set, or ``None``.
        data: a CSV/TSV/JSON Lines/Parquet file, when ``dataset`` is ``None``.
        date_column: the timestamp column of ``data``.
        resample: aggregate ``data`` (a scored text file) per period (``1D``...), giving the
            columns ``<score column used>`` (mean) and ``count``
            (:func:`sentiment.timeseries.data.resample_scores`).
        score_column: the score column to average when resampling; ``None`` picks the
            positive class's probability (``prob_positive``...) of a two-class scored file
            (:func:`sentiment.timeseries.data.score_column_for`); the series' first column is
            named after the column used. ``predicted_score`` is refused (not a polarity).
        columns: numeric columns to read from ``data`` (every cell must parse; errors name
            the line); ``None`` reads every numeric column.

    Raises:
        DataError: when the data cannot be read (see :func:`read_series_csv`).
        ConfigError: when neither or both of ``dataset`` and ``data`` are given.
    """
    if bool(dataset) == bool(data):
        raise ConfigError("give exactly one of a named data set or a data file")
    if dataset:
        if dataset != "etth1":
            raise ConfigError(f"unknown data set {dataset!r}; the named data set is etth1")
        return load_etth1(columns)
    if resample:
        series = resample_scores(data, date_column or "date", score_column, resample)
        return series.select(columns) if columns else series
    return read_series_csv(data, date_column, columns)


# ----------------------------------------------------------------------------- training


@dataclass
class ForecastResult:
    """What :func:`train_forecaster` returns: the forecaster, its metrics (as in
    ``metrics.json``) and the Keras history (per-epoch ``loss``, ``val_loss``...; of the
    first member for an ensemble)."""

    output_dir: Path
    forecaster: Forecaster
    metrics: dict[str, Any]
    history: dict[str, list[float]] = field(default_factory=dict)


def _thin(windows: Windows, count: int | None) -> Windows:
    if count is None or len(windows) <= count:
        return windows
    keep = np.unique(np.linspace(0, len(windows) - 1, count).round().astype(int))
    return Windows(windows.past[keep], windows.targets[keep], windows.past_calendar[keep],
                   windows.future_calendar[keep], windows.target_start[keep], windows.skipped)


@locks_output("output_dir")  # the whole run holds .NAME.lock beside the output
def train_forecaster(series: TimeSeries, config: ForecasterConfig,
                     training: ForecastTrainingConfig | None = None,
                     output_dir: str | Path | None = None, verbose: int = 0) -> ForecastResult:
    """Train a forecaster on ``series`` and (when ``output_dir`` is given) write its model
    directory atomically.

    Args:
        series: the full series in original units, with every column of ``config.inputs``.
        config: model settings with ``lookback``, ``horizon``, ``targets``, ``inputs`` and
            ``split``; the normalization statistics, frequency, calendar features and season
            are filled in from the training split.
        training: epochs, batch size, learning rate, patience, stride, seed.
        output_dir: model directory to write (``model.keras``, ``config.json``,
            ``metrics.json``); ``None`` writes nothing.
        verbose: Keras progress output (0 silent, 1 progress bar, 2 one line per epoch).

    Returns:
        A :class:`ForecastResult`; ``metrics["test"]`` is :meth:`Forecaster.evaluate`'s report.

    Raises:
        DataError: missing column, too short series, a split without a usable window.
        ConfigError: inconsistent settings, or ``output_dir`` is not a directory a
            forecaster may replace (:func:`sentiment.artifacts.check_replaceable`, checked
            before training).
    """
    if output_dir is not None:
        check_replaceable(output_dir, FORECASTER_ARTIFACT)
    import keras

    from .models.seq2seq import ForecastEnsemble, build_forecaster, masked_mae, masked_mse

    training = training or ForecastTrainingConfig()
    frequency = series.frequency()
    config = config.replace(
        frequency=frequency,
        calendar=calendar_names_for(frequency) if config.calendar is None else config.calendar,
        season=default_season(frequency) if config.season is None else config.season)
    series, inserted = prepare_series(series, config)
    splits = split_series(series, config.lookback, config.horizon, config.split)
    config = config.replace(**dataclasses.asdict(Normalizer.fit(splits.train)))
    train_windows = _thin(series_windows(splits.train, config, training.stride),
                          training.max_train_windows)
    validation_windows = series_windows(splits.validation, config)
    for name, windows in (("training", train_windows), ("validation", validation_windows)):
        if len(windows) == 0:
            raise DataError(f"{series.source}: the {name} split has no window with an observed "
                            "target")

    members, histories = [], []
    start = time.perf_counter()
    for member in range(config.ensemble):
        keras.utils.set_random_seed(training.seed + member)
        model = build_forecaster(
            lookback=config.lookback, horizon=config.horizon, inputs=len(config.inputs),
            targets=len(config.targets), calendar=len(config.calendar), arch=config.arch,
            decoder=config.decoder, units=config.units, layers=config.layers,
            conv_filters=config.conv_filters, kernel_size=config.kernel_size,
            dropout=config.dropout, revin=config.revin, segment=config.segment,
            channel_independent=config.channel_independent, highway=config.highway,
            name=f"member_{member}" if config.ensemble > 1 else None)
        model.compile(optimizer=keras.optimizers.Adam(training.learning_rate, clipnorm=1.0),
                      loss=masked_mse, metrics=[masked_mae])
        history = model.fit(
            train_windows.inputs(), train_windows.targets,
            validation_data=(validation_windows.inputs(), validation_windows.targets),
            epochs=training.epochs, batch_size=training.batch_size, shuffle=True,
            verbose=verbose,
            callbacks=[keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=training.patience, restore_best_weights=True)])
        members.append(model)
        histories.append(history.history)
    seconds = time.perf_counter() - start
    model = members[0] if len(members) == 1 else ForecastEnsemble(members, name="ensemble")
    forecaster = Forecaster(model, config)
    val_losses = [h["val_loss"] for h in histories]
    # an ensemble's validation MSE is that of its mean forecast, not of any member
    best_val_mse = float(np.min(val_losses[0])) if len(members) == 1 else error_report(
        validation_windows.targets, forecaster.predict_windows(validation_windows))["mse"]
    metrics: dict[str, Any] = {
        "training": {
            "windows": len(train_windows), "validation_windows": len(validation_windows),
            "skipped_windows": {"training": train_windows.skipped,
                                "validation": validation_windows.skipped},
            "rows_inserted_for_gaps": inserted, "borders": [list(b) for b in splits.borders],
            "epochs_run": len(val_losses[0]), "best_epoch": int(np.argmin(val_losses[0])) + 1,
            "best_val_mse": best_val_mse, "seconds": round(seconds, 2),
            "parameters": int(model.count_params()),
            **({"members": [{"epochs_run": len(v), "best_epoch": int(np.argmin(v)) + 1,
                             "best_val_mse": float(np.min(v))} for v in val_losses]}
               if len(members) > 1 else {}),
        },
        "test": forecaster.evaluate(series),
    }
    forecaster.metrics = metrics
    if output_dir is not None:
        from .models.saving import save_model_directory

        save_model_directory(output_dir, FORECASTER_ARTIFACT, model, "forecaster", config,
                             training, metrics)
    return ForecastResult(Path(output_dir) if output_dir else None, forecaster, metrics,
                          {k: [float(v) for v in vs] for k, vs in histories[0].items()})
