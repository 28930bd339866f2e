"""The Forecaster: a series in, the forecast of the next ``horizon`` steps out.

It owns the preparation of a series (the model's columns on a regular grid, z-normalized
with the training statistics, calendar features) and turns the model's output back into
original units, as :class:`~sentiment.predictor.Predictor` does for texts.

    >>> from sentiment.forecaster import Forecaster
    >>> from sentiment.timeseries import read_series_csv
    >>> forecast = Forecaster.load("models/etth1-96").predict(read_series_csv("h.csv", "date"))
    >>> forecast.timestamps, forecast.values   # (96,) datetime64[s], (96, 7) float32

:meth:`Forecaster.evaluate` reports MSE and MAE on the normalized test windows beside the
baselines. TensorFlow is imported only when a model is loaded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .config import CONFIG_FILE, METRICS_FILE, ForecasterConfig
from .errors import DataError, ModelError
from .metrics import baseline_reports, error_report
from .timeseries.data import TimeSeries, fill_gaps, split_series
from .timeseries.windows import (
    Windows,
    calendar_features,
    future_timestamps,
    make_windows,
    pad_history,
)


def prepare_series(series: TimeSeries, config: ForecasterConfig) -> tuple[TimeSeries, int]:
    """The input columns of ``series`` on a regular time grid (gaps become ``NaN`` rows);
    also the number of rows inserted."""
    series = series.select(config.inputs)
    return fill_gaps(series, config.frequency)


def series_windows(series: TimeSeries, config: ForecasterConfig, stride: int = 1) -> Windows:
    """The lookback/horizon windows of ``series`` (prepared), z-normalized with the training
    statistics, with the configured calendar features."""
    values = config.normalizer.normalize(series.values)
    return make_windows(values, config.lookback, config.horizon,
                        list(range(len(config.targets))), series.timestamps, config.calendar,
                        stride=stride)


def _read_config(data: dict[str, Any]) -> ForecasterConfig:
    """The saved configuration, which must hold the normalization statistics."""
    config = ForecasterConfig.from_dict(data)
    config.normalizer  # noqa: B018  raises ConfigError without the statistics
    return config


@dataclass(frozen=True)
class Forecast:
    """A forecast in original units.

    Attributes:
        timestamps: ``(horizon,) datetime64[s]`` (``None`` for a series without time axis).
        values: ``(horizon, targets) float32``.
        columns: the target names.
        history_timestamps, history_values: the rows the forecast was made from
            (``(lookback,)`` / ``(lookback, targets)``, ``NaN`` where missing or padded).
    """

    timestamps: np.ndarray | None
    values: np.ndarray
    columns: tuple[str, ...]
    history_timestamps: np.ndarray | None
    history_values: np.ndarray


class Forecaster:
    """A trained forecaster: the Keras model and its :class:`ForecasterConfig`.

    Use :meth:`load` for a model directory written by
    :func:`sentiment.forecasting.train_forecaster`.
    """

    def __init__(self, model, config: ForecasterConfig, metrics: dict | None = None):
        self.model = model
        self.config = config
        self.metrics = metrics or {}

    @classmethod
    def load(cls, model_dir: str | Path) -> "Forecaster":
        """Load ``model.keras`` and ``config.json`` from ``model_dir``.

        The size and SHA-256 that ``config.json`` records for ``model.keras`` are checked,
        and that the model outputs ``(horizon, targets)`` as configured.

        Raises:
            ModelError: when the directory is missing, incomplete, corrupted or holds a
                classifier, when ``model.keras`` differs from the one recorded at training
                time, or when the configuration does not fit the model (naming the file).
        """
        from .models import seq2seq  # noqa: F401  registers the custom layers
        from .models.saving import load_model_directory, output_shape

        loaded = load_model_directory(model_dir, "forecaster", _read_config)
        config, model = loaded.config, loaded.model
        # the forecasters are subclassed models: run them once on zero inputs of their shape
        shape = (tuple(model(model.example_inputs(1)).shape) if hasattr(model, "example_inputs")
                 else output_shape(model))
        expected = (config.horizon, len(config.targets))
        if shape is not None and tuple(shape[1:]) != expected:
            raise ModelError(
                f"{loaded.path / CONFIG_FILE} describes a forecast of {expected[0]} steps x "
                f"{expected[1]} targets ({', '.join(config.targets)}) but the model outputs "
                f"{tuple(shape[1:])}; the configuration does not belong to this model")
        metrics = {}
        if (loaded.path / METRICS_FILE).is_file():
            try:
                metrics = json.loads((loaded.path / METRICS_FILE).read_text(encoding="utf-8"))
            except ValueError:
                metrics = {}
        return cls(model, config, metrics)

    def predict_windows(self, windows: Windows, batch_size: int = 256) -> np.ndarray:
        """Forecasts of ``windows`` (normalized inputs): ``(windows, horizon, targets)
        float32`` in z-normalized units."""
        forecasts = self.model.predict(windows.inputs(), batch_size=batch_size, verbose=0)
        return np.asarray(forecasts, dtype=np.float32)

    def evaluate(self, series: TimeSeries, batch_size: int = 256) -> dict[str, Any]:
        """MSE and MAE on the normalized test windows (stride 1) of ``series``, split as in
        training, beside the ``repeat_last`` and ``seasonal_naive`` baselines.

        Returns:
            :func:`error_report` of the model plus ``baselines``, ``windows``, ``skipped``,
            ``lookback``, ``horizon``, ``targets``, ``split``, ``test_rows`` (first and last
            target timestamp or row).

        Raises:
            DataError: when ``series`` lacks a column or is too short for the split.
        """
        config = self.config
        series, _ = prepare_series(series, config)
        test = split_series(series, config.lookback, config.horizon, config.split).test
        windows = series_windows(test, config)
        report = error_report(windows.targets, self.predict_windows(windows, batch_size))
        report["baselines"] = baseline_reports(windows, len(config.targets), config.season or 1)
        first, last = windows.target_start[0], windows.target_start[-1] + config.horizon - 1
        if test.timestamps is not None:
            first, last = str(test.timestamps[first]), str(test.timestamps[last])
        report.update({"windows": len(windows), "skipped": windows.skipped,
                       "lookback": config.lookback, "horizon": config.horizon,
                       "targets": list(config.targets), "split": config.split,
                       "test_targets": [first if isinstance(first, str) else int(first),
                                        last if isinstance(last, str) else int(last)]})
        return report

    def predict(self, series: TimeSeries) -> Forecast:
        """Forecast the ``horizon`` steps after the last row of ``series``.

        The last ``lookback`` rows are used (left-padded and masked when the series is
        shorter); timestamps continue at the training frequency.

        Args:
            series: a series with (at least) the model's input columns, in original units.

        Returns:
            A :class:`Forecast` in original units.

        Raises:
            DataError: when a column is missing, the series is empty or its frequency differs
                from the training data's.
        """
        config = self.config
        frequency = series.frequency()
        if frequency and config.frequency and frequency != config.frequency:
            raise DataError(f"{series.source} is sampled every {frequency} s but the model was "
                            f"trained on data sampled every {config.frequency} s")
        series, _ = prepare_series(series, config)
        normalizer = config.normalizer
        history, stamps = pad_history(series.values, config.lookback, series.timestamps,
                                      config.frequency)
        inputs = {"past": normalizer.normalize(history)[None]}
        future = None
        if series.timestamps is not None and config.frequency:
            future = future_timestamps(series.timestamps[-1], config.frequency, config.horizon)
        if config.calendar:
            inputs["past_calendar"] = calendar_features(stamps, config.calendar)[None]
            inputs["future_calendar"] = calendar_features(future, config.calendar)[None]
        output = np.asarray(self.model.predict(inputs, verbose=0), np.float32)[0]
        targets = list(range(len(config.targets)))
        values = normalizer.denormalize(output, targets)
        return Forecast(future, values, config.targets, stamps, history[:, targets])
