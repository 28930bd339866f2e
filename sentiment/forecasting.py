"""Training, evaluating and serving seq2seq forecasters.

``train_forecaster``: series -> chronological split (ETTh1 12/4/4 months, Zhou et al., AAAI
2021; else 70/10/20) -> z-normalization with train statistics -> lookback/horizon windows ->
``model.fit`` with early stopping on validation loss (best weights restored) -> test metrics
beside the ``repeat_last`` and ``seasonal_naive`` baselines -> model directory
(``model.keras``, ``config.json``, ``metrics.json``) written atomically.

``Forecaster.load(dir)`` reads it back; :meth:`Forecaster.predict` forecasts the ``horizon``
steps after the end of a series in original units, :meth:`Forecaster.evaluate` reports MSE
and MAE on normalized test windows. TensorFlow is imported only when a model is built or
loaded.
"""

from __future__ import annotations

import dataclasses
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .artifacts import atomic_directory, check_replaceable, locks_output
from .config import (CONFIG_FILE, FORECASTER_ARTIFACT, METRICS_FILE, MODEL_FILE, read_config_file,
                     write_json)
from .errors import ConfigError, DataError, ModelError
from .fingerprints import FILES_KEY, fingerprint_files
from .timeseries.data import (
    Normalizer,
    TimeSeries,
    fill_gaps,
    infer_frequency,
    load_etth1,
    read_series_csv,
    resample_scores,
    split_series,
)
from .timeseries.windows import (
    Windows,
    calendar_features,
    calendar_names_for,
    future_timestamps,
    make_windows,
    pad_history,
)

ARCHITECTURES = ("gru", "lstm", "linear")
DECODERS = ("direct", "autoregressive")
SPLITS = ("etth1", "ratio")
BASELINES = ("repeat_last", "seasonal_naive")


def _positive(name: str, value: Any, minimum: int = 1) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}; received {value!r}")


def default_season(frequency: int | None) -> int:
    """Seasonal period in steps for ``seasonal_naive``: one day for sub-daily data (24 for
    hourly: "same hour a day earlier"), one week (7) for daily data, else 1 (repeat last)."""
    if not frequency:
        return 1
    if frequency < 86400 and 86400 % frequency == 0:
        return 86400 // frequency
    if frequency == 86400:
        return 7
    return 1


@dataclass(frozen=True)
class ForecasterConfig:
    """Everything needed to rebuild a forecaster's inputs and model; saved as ``config.json``.

    Attributes:
        lookback: history length in time steps.
        horizon: forecast length in time steps.
        targets: forecast columns.
        inputs: input columns, the targets first, then the extra features.
        arch: ``gru``, ``lstm`` (encoder-decoder) or ``linear`` (baseline).
        decoder: ``direct`` or ``autoregressive`` (teacher forcing in training).
        units: recurrent units per layer.
        layers: stacked encoder layers.
        conv_filters: filters of the causal Conv1D front end (0: none).
        kernel_size: Conv1D kernel width in steps.
        dropout: dropout on the context vector, in [0, 1).
        revin: reversible instance normalization (Kim et al., ICLR 2022).
        segment: time steps per recurrent step: the encoder reads the lookback as patches of
            ``segment`` steps and the decoder emits ``segment`` steps at a time (cf. SegRNN,
            Lin et al. 2023); 1 is step by step.
        channel_independent: forecast each target column as its own univariate series with
            shared weights (Nie et al., PatchTST, ICLR 2023); needs inputs == targets.
        highway: steps of each target's recent history fed to a linear map added to the
            forecast (LSTNet's highway, Lai et al., SIGIR 2018); 0 (default) disables it.
        ensemble: members trained independently (seeds ``seed``, ``seed + 1``, ...), each
            with its own early stopping; the model forecasts their mean (as N-BEATS, Oreshkin
            et al., ICLR 2020). 1 (default) trains a single model; training time grows in
            proportion.
        calendar: calendar features used as known inputs; ``None`` (default) picks them from
            the sampling frequency at training time, ``()`` uses none.
        mean, std: z-normalization statistics of the inputs on the training split, in file
            units (filled in by :func:`train_forecaster`).
        date_column: the timestamp column of the data files (``None``: no time axis).
        frequency: sampling interval in seconds (``None`` without timestamps).
        season: seasonal period in steps for the ``seasonal_naive`` baseline; ``None``
            (default) picks it from the frequency (24 for hourly data).
        split: ``etth1`` (12/4/4 months) or ``ratio`` (70/10/20).
        dataset: ``etth1`` when trained on the named data set, else ``None``.
        resample: period (``1D``...) when the data are a scored file aggregated per period.
        score_column: the averaged score column when ``resample`` is set.

    Raises:
        ConfigError: on construction, when a value is out of range or inconsistent.
    """

    lookback: int = 96
    horizon: int = 24
    targets: tuple[str, ...] = ()
    inputs: tuple[str, ...] = ()
    arch: str = "gru"
    decoder: str = "direct"
    units: int = 64
    layers: int = 1
    conv_filters: int = 0
    kernel_size: int = 3
    dropout: float = 0.0
    revin: bool = True
    segment: int = 1
    channel_independent: bool = False
    highway: int = 0
    ensemble: int = 1
    calendar: tuple[str, ...] | None = None
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    date_column: str | None = "date"
    frequency: int | None = None
    season: int | None = None
    split: str = "ratio"
    dataset: str | None = None
    resample: str | None = None
    score_column: str | None = None

    def __post_init__(self):
        for name in ("lookback", "horizon", "units", "layers", "kernel_size", "segment",
                     "ensemble"):
            _positive(name, getattr(self, name))
        if self.season is not None:
            _positive("season", self.season)
        _positive("conv_filters", self.conv_filters, minimum=0)
        _positive("highway", self.highway, minimum=0)
        for name, choices in (("arch", ARCHITECTURES), ("decoder", DECODERS),
                              ("split", SPLITS)):
            if getattr(self, name) not in choices:
                raise ConfigError(f"{name} must be one of {', '.join(choices)}; received "
                                  f"{getattr(self, name)!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1); received {self.dropout!r}")
        for name in ("targets", "inputs", "calendar"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, tuple(str(x) for x in getattr(self, name)))
        for name in ("mean", "std"):
            object.__setattr__(self, name, tuple(float(x) for x in getattr(self, name)))
        if self.inputs[:len(self.targets)] != self.targets:
            raise ConfigError(f"inputs must start with the targets {list(self.targets)}; "
                              f"received {list(self.inputs)}")
        if self.segment > self.lookback:
            raise ConfigError(f"segment ({self.segment}) must not exceed lookback "
                              f"({self.lookback})")
        if self.highway > self.lookback:
            raise ConfigError(f"highway ({self.highway}) must not exceed lookback "
                              f"({self.lookback})")
        if self.channel_independent and self.inputs != self.targets:
            raise ConfigError("channel_independent forecasts each target from its own history; "
                              "extra input features cannot be used with it")
        if len(set(self.inputs)) != len(self.inputs):
            raise ConfigError(f"duplicate input columns in {list(self.inputs)}")
        if self.mean and not (len(self.mean) == len(self.std) == len(self.inputs)):
            raise ConfigError("mean and std need one value per input column")

    @property
    def normalizer(self) -> Normalizer:
        """The z-normalization of the inputs (training statistics).

        Raises:
            ConfigError: before the statistics are filled in.
        """
        if not self.mean:
            raise ConfigError("the configuration has no normalization statistics yet")
        return Normalizer(self.mean, self.std)

    def replace(self, **changes: Any) -> "ForecasterConfig":
        """A copy with ``changes`` applied (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        for name in ("targets", "inputs", "calendar", "mean", "std"):
            if getattr(self, name) is not None:
                data[name] = list(getattr(self, name))
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ForecasterConfig":
        """Build from a dict, ignoring unknown keys written by newer versions."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class ForecastTrainingConfig:
    """How a forecaster is trained (saved for the record).

    Attributes:
        epochs: maximum passes over the training windows.
        batch_size: windows per batch.
        learning_rate: Adam step size.
        patience: epochs without improvement of validation loss before early stopping (best
            weights restored).
        stride: rows between training window starts (validation and test use 1).
        seed: seed of weight initialisation and shuffling.
        max_train_windows: when set, keep this many evenly spaced training windows (quick
            trials; the split borders are unchanged).
    """

    epochs: int = 20
    batch_size: int = 64
    learning_rate: float = 1e-3
    patience: int = 3
    stride: int = 1
    seed: int = 1337
    max_train_windows: int | None = None

    def __post_init__(self):
        for name in ("epochs", "batch_size", "stride"):
            _positive(name, getattr(self, name))
        _positive("patience", self.patience, minimum=0)
        if self.max_train_windows is not None:
            _positive("max_train_windows", self.max_train_windows)
        if not self.learning_rate > 0:
            raise ConfigError(f"learning_rate must be > 0; received {self.learning_rate!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


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
                score_column: str = "score", columns: Sequence[str] | None = None
                ) -> TimeSeries:
    """Read the series to train on or forecast from.

    Args:
        dataset: ``etth1`` for the named data set, or ``None``.
        data: a CSV/TSV/JSON Lines file, when ``dataset`` is ``None``.
        date_column: the timestamp column of ``data``.
        resample: aggregate ``data`` (a scored text file) per period (``1D``...), giving the
            columns ``score_column`` (mean) and ``count``.
        score_column: the score column to average when resampling.
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


def _prepare(series: TimeSeries, config: ForecasterConfig) -> tuple[TimeSeries, int]:
    """The input columns of ``series`` on a regular time grid (gaps become ``NaN`` rows)."""
    series = series.select(config.inputs)
    return fill_gaps(series, config.frequency)


def _windows(series: TimeSeries, config: ForecasterConfig, stride: int = 1) -> Windows:
    values = config.normalizer.normalize(series.values)
    return make_windows(values, config.lookback, config.horizon,
                        list(range(len(config.targets))), series.timestamps, config.calendar,
                        stride=stride)


# ----------------------------------------------------------------------------- metrics


def repeat_last(past: np.ndarray, targets: int) -> np.ndarray:
    """The ``repeat_last`` baseline: each target's last observed value in the window.

    Args:
        past: ``(windows, lookback, inputs) float32``, targets first, ``NaN`` where missing.
        targets: number of target columns.

    Returns:
        ``(windows, 1, targets) float32`` (broadcasts over the horizon); 0 (the training
        mean) where a target was never observed in the window.
    """
    values = past[:, :, :targets]
    observed = ~np.isnan(values)
    last = values.shape[1] - 1 - np.argmax(observed[:, ::-1], axis=1)  # (windows, targets)
    picked = np.take_along_axis(values, last[:, None, :], axis=1)
    return np.where(np.isnan(picked), 0.0, picked).astype(np.float32)


def seasonal_naive(past: np.ndarray, targets: int, season: int, horizon: int) -> np.ndarray:
    """The ``seasonal_naive`` baseline: the value one season earlier (for hourly data with
    ``season=24``, the same hour a day earlier); beyond one season the last observed season
    repeats: ``y[T + h] = x[T + h - season * ceil(h / season)]``, ``h = 1..horizon``.

    Args:
        past: ``(windows, lookback, inputs) float32``, targets first; ``lookback >= season``.
        targets: number of target columns.
        season: period in steps.
        horizon: forecast length.

    Returns:
        ``(windows, horizon, targets) float32``; missing seasonal values fall back to
        :func:`repeat_last`.

    Raises:
        ConfigError: when the lookback is shorter than the season.
    """
    lookback = past.shape[1]
    if season > lookback:
        raise ConfigError(f"seasonal_naive needs lookback >= season ({season}); lookback is "
                          f"{lookback}")
    steps = np.arange(1, horizon + 1)
    index = lookback - 1 + steps - season * np.ceil(steps / season).astype(int)
    forecast = past[:, index, :targets]
    return np.where(np.isnan(forecast), repeat_last(past, targets), forecast).astype(np.float32)


def error_report(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, Any]:
    """MSE and MAE over observed targets, overall, per horizon step and per target column.

    Args:
        y_true: ``(windows, horizon, targets)``, ``NaN`` where missing.
        y_pred: the same shape (or broadcastable), no ``NaN``.

    Returns:
        ``{"mse", "mae", "per_step": {"mse": [H], "mae": [H]}, "per_target": {"mse": [T],
        "mae": [T]}}`` (floats; ``None`` where nothing was observed).
    """
    y_true = np.asarray(y_true, np.float64)
    y_pred = np.broadcast_to(np.asarray(y_pred, np.float64), y_true.shape)
    observed = ~np.isnan(y_true)
    err = np.where(observed, y_pred - np.where(observed, y_true, 0.0), 0.0)

    def mean(values, axis):
        count = observed.sum(axis=axis)
        total = values.sum(axis=axis)
        with np.errstate(invalid="ignore", divide="ignore"):
            result = np.where(count > 0, total / np.maximum(count, 1), np.nan)
        if np.ndim(result) == 0:
            return None if np.isnan(result) else float(result)
        return [None if np.isnan(x) else float(x) for x in result]

    sq, ab = err ** 2, np.abs(err)
    return {"mse": mean(sq, None), "mae": mean(ab, None),
            "per_step": {"mse": mean(sq, (0, 2)), "mae": mean(ab, (0, 2))},
            "per_target": {"mse": mean(sq, (0, 1)), "mae": mean(ab, (0, 1))}}


def baseline_reports(windows: Windows, targets: int, season: int) -> dict[str, Any]:
    """:func:`error_report` of ``repeat_last`` and ``seasonal_naive`` on ``windows`` (the
    latter ``None`` when the lookback is shorter than the season)."""
    horizon = windows.targets.shape[1]
    reports: dict[str, Any] = {
        "repeat_last": error_report(windows.targets, repeat_last(windows.past, targets))}
    try:
        reports["seasonal_naive"] = error_report(
            windows.targets, seasonal_naive(windows.past, targets, season, horizon))
        reports["seasonal_naive"]["season"] = season
    except ConfigError:
        reports["seasonal_naive"] = None
    return reports


# ----------------------------------------------------------------------------- serving


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

    Use :meth:`load` for a model directory written by :func:`train_forecaster`.
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
        from .fingerprints import verify_files
        from .models import seq2seq  # noqa: F401  registers the custom layers
        from .models.saving import load_keras_model, output_shape

        model_dir = Path(model_dir).expanduser()
        saved = read_config_file(model_dir)
        if "forecaster" not in saved:
            raise ModelError(f"{model_dir} holds no forecaster (its config.json has no "
                             "'forecaster' entry); train one with `sentiment forecast train`")
        try:
            config = ForecasterConfig.from_dict(saved["forecaster"])
            config.normalizer  # noqa: B018  checks the statistics are present
        except (TypeError, ConfigError) as error:
            raise ModelError(f"{model_dir / CONFIG_FILE} is not a valid forecaster "
                             f"configuration ({error}); train the model again") from None
        verify_files(model_dir, saved.get(FILES_KEY), CONFIG_FILE)
        model = load_keras_model(model_dir / MODEL_FILE)
        # the forecasters are subclassed models: run them once on zero inputs of their shape
        shape = (tuple(model(model.example_inputs(1)).shape) if hasattr(model, "example_inputs")
                 else output_shape(model))
        expected = (config.horizon, len(config.targets))
        if shape is not None and tuple(shape[1:]) != expected:
            raise ModelError(
                f"{model_dir / CONFIG_FILE} describes a forecast of {expected[0]} steps x "
                f"{expected[1]} targets ({', '.join(config.targets)}) but the model outputs "
                f"{tuple(shape[1:])}; the configuration does not belong to this model")
        metrics = {}
        if (model_dir / METRICS_FILE).is_file():
            import json

            try:
                metrics = json.loads((model_dir / METRICS_FILE).read_text(encoding="utf-8"))
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
        series, _ = _prepare(series, config)
        test = split_series(series, config.lookback, config.horizon, config.split).test
        windows = _windows(test, config)
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
        series, _ = _prepare(series, config)
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


def library_versions() -> dict[str, str]:
    """Versions of the libraries that define a saved model's behaviour."""
    import keras
    import tensorflow as tf

    from . import __version__

    return {"sentiment": __version__, "tensorflow": tf.__version__, "keras": keras.__version__,
            "numpy": np.__version__, "python": platform.python_version()}


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
    series, inserted = _prepare(series, config)
    splits = split_series(series, config.lookback, config.horizon, config.split)
    config = config.replace(**dataclasses.asdict(Normalizer.fit(splits.train)))
    train_windows = _thin(_windows(splits.train, config, training.stride),
                          training.max_train_windows)
    validation_windows = _windows(splits.validation, config)
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
        with atomic_directory(output_dir, FORECASTER_ARTIFACT) as tmp:
            model.save(tmp / MODEL_FILE)
            write_json(tmp / CONFIG_FILE, {"forecaster": config.to_dict(),
                                           "training": training.to_dict(),
                                           "versions": library_versions(),
                                           FILES_KEY: fingerprint_files(tmp, (MODEL_FILE,))})
            write_json(tmp / METRICS_FILE, metrics)
    return ForecastResult(Path(output_dir) if output_dir else None, forecaster, metrics,
                          {k: [float(v) for v in vs] for k, vs in histories[0].items()})


# ----------------------------------------------------------------------------- output


def format_timestamp(stamp: np.datetime64) -> str:
    """``2016-07-01 13:00:00``, or ``2016-07-01`` at midnight of a daily or coarser series."""
    return str(np.datetime64(stamp, "s")).replace("T", " ")


def write_forecast_csv(forecast: Forecast, path: str | Path | None = None,
                       date_column: str = "date") -> str:
    """The forecast as CSV text (timestamp column, then one column per target, original
    units); also written to ``path`` when given. Returns the text."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    daily = (forecast.timestamps is not None and len(forecast.timestamps)
             and not np.any((forecast.timestamps.astype(np.int64)) % 86400))
    header = ([date_column] if forecast.timestamps is not None else ["step"]) \
        + list(forecast.columns)
    writer.writerow(header)
    for i, row in enumerate(forecast.values):
        if forecast.timestamps is None:
            key = str(i + 1)
        elif daily:
            key = str(forecast.timestamps[i].astype("datetime64[D]"))
        else:
            key = format_timestamp(forecast.timestamps[i])
        writer.writerow([key] + [f"{float(v):.6g}" for v in row])
    text = buffer.getvalue()
    if path is not None:
        Path(path).expanduser().write_text(text, encoding="utf-8")
    return text


def plot_forecast(forecast: Forecast, path: str | Path, title: str | None = None) -> None:
    """Save a PNG with one panel per target: the history (solid) and the forecast (dashed).

    Raises:
        ConfigError: when matplotlib is not installed (``pip install 'sentiment[plot]'``).
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ConfigError("plotting needs matplotlib: pip install 'sentiment[plot]'") from None
    n = len(forecast.columns)
    fig, axes = plt.subplots(n, 1, figsize=(10, 2.6 * n + 0.6), sharex=True, squeeze=False)
    history_x = (forecast.history_timestamps if forecast.history_timestamps is not None
                 else np.arange(-len(forecast.history_values) + 1, 1))
    future_x = (forecast.timestamps if forecast.timestamps is not None
                else np.arange(1, len(forecast.values) + 1))
    for j, name in enumerate(forecast.columns):
        ax = axes[j, 0]
        ax.plot(history_x, forecast.history_values[:, j], color="tab:blue", label="history")
        ax.plot(future_x, forecast.values[:, j], color="tab:orange", linestyle="--",
                label="forecast")
        ax.axvline(history_x[-1], color="grey", linewidth=0.8)
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(loc="upper left")
    if title:
        axes[0, 0].set_title(title)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(Path(path).expanduser(), dpi=100)
    plt.close(fig)
