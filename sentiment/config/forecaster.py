"""The forecaster's configurations: :class:`ForecasterConfig` (saved with the model: columns,
window, normalization, architecture) and :class:`ForecastTrainingConfig`, with the choices of
their settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import ConfigError
from .fields import ENSEMBLE_HELP, SEED_HELP, ConfigBase, check_settings, setting

if TYPE_CHECKING:
    from ..timeseries.data import Normalizer

FORECASTER_ARCHITECTURES = ("gru", "lstm", "linear")
DECODERS = ("direct", "autoregressive")
#: ``etth1``: the standard 12/4/4-month split; ``ratio``: chronological 70/10/20.
SPLITS = ("etth1", "ratio")
BASELINES = ("repeat_last", "seasonal_naive")
#: Named data sets of ``sentiment forecast --dataset``.
FORECAST_DATASETS = ("etth1",)


@dataclass(frozen=True)
class ForecasterConfig(ConfigBase):
    """Everything needed to rebuild a forecaster's inputs and model; saved as ``config.json``.

    Attributes:
        lookback: history length in time steps.
        horizon: forecast length in time steps.
        arch: ``gru``, ``lstm`` (encoder-decoder) or ``linear`` (baseline).
        decoder: ``direct`` or ``autoregressive`` (teacher forcing in training).
        layers: stacked encoder layers.
        units: recurrent units per layer.
        conv_filters: filters of the causal Conv1D front end (0: none).
        kernel_size: Conv1D kernel width in steps.
        segment: time steps per recurrent step: the encoder reads the lookback as patches of
            ``segment`` steps and the decoder emits ``segment`` steps at a time (cf. SegRNN,
            Lin et al. 2023); 1 is step by step.
        channel_independent: forecast each target column as its own univariate series with
            shared weights (Nie et al., PatchTST, ICLR 2023); needs inputs == targets.
        revin: reversible instance normalization (Kim et al., ICLR 2022).
        calendar: calendar features used as known inputs; ``None`` (default) picks them from
            the sampling frequency at training time, ``()`` uses none.
        dropout: dropout on the context vector, in [0, 1).
        highway: steps of each target's recent history fed to a linear map added to the
            forecast (LSTNet's highway, Lai et al., SIGIR 2018); 0 (default) disables it.
        ensemble: members trained independently (seeds ``seed``, ``seed + 1``, ...), each
            with its own early stopping; the model forecasts their mean (as N-BEATS, Oreshkin
            et al., ICLR 2020). 1 (default) trains a single model; training time grows in
            proportion.
        targets: forecast columns.
        inputs: input columns, the targets first, then the extra features.
        mean, std: z-normalization statistics of the inputs on the training split, in file
            units (filled in by :func:`sentiment.forecasting.train_forecaster`).
        date_column: the timestamp column of the data files (``None``: no time axis).
        frequency: sampling interval in seconds (``None`` without timestamps).
        season: seasonal period in steps for the ``seasonal_naive`` baseline; ``None``
            (default) picks it from the frequency (24 for hourly data).
        split: ``etth1`` (12/4/4 months) or ``ratio`` (70/10/20).
        dataset: ``etth1`` when trained on the named data set, else ``None``.
        resample: period (``1D``...) when the data are a scored file aggregated per period.
        score_column: the averaged score column when ``resample`` is set (``None``: the one
            the library picks in a scored file).

    Raises:
        ConfigError: on construction, when a value is out of range or inconsistent.
    """

    lookback: int = setting(96, min=1, help="History length in time steps.")
    horizon: int = setting(24, min=1, help="Forecast length in time steps.")
    arch: str = setting("gru", choices=FORECASTER_ARCHITECTURES,
                        help="Recurrent encoder-decoder, or the linear baseline.")
    decoder: str = setting(
        "direct", choices=DECODERS,
        help="direct (all steps from the encoder state) or autoregressive (feeds back its "
        "predictions; teacher forcing in training).")
    layers: int = setting(1, min=1, help="Stacked encoder layers.")
    units: int = setting(64, min=1, help="Recurrent units per layer.")
    conv_filters: int = setting(0, min=0, help="Filters of a causal Conv1D front end (0: none).")
    kernel_size: int = setting(3, min=1, help="Conv1D kernel width in time steps.")
    segment: int = setting(
        1, min=1, help="Time steps per recurrent step (patches of this length in and out).")
    channel_independent: bool = setting(
        False, negative="--channel-mixing",
        help="Forecast each target as its own series with shared weights.")
    revin: bool = setting(True, help="Reversible instance normalization of each window.")
    calendar: tuple[str, ...] | None = setting(
        None, flag_values=(None, ()),
        help="Calendar features (hour, weekday, day of month/year) as known inputs.")
    dropout: float = setting(0.0, min=0.0, max=1.0, max_open=True)
    highway: int = setting(0, min=0, help="Add a linear map of each target's last N steps to "
                           "the forecast (LSTNet's highway; 0: none).")
    ensemble: int = setting(1, min=1, help=ENSEMBLE_HELP)
    targets: tuple[str, ...] = ()
    inputs: tuple[str, ...] = ()
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    date_column: str | None = "date"
    frequency: int | None = None
    season: int | None = setting(None, min=1, cli=False)
    split: str = setting("ratio", choices=SPLITS, cli=False)
    dataset: str | None = None
    resample: str | None = None
    score_column: str | None = None

    def __post_init__(self):
        check_settings(self)
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
    def normalizer(self) -> "Normalizer":
        """The z-normalization of the inputs (training statistics).

        Raises:
            ConfigError: before the statistics are filled in.
        """
        if not self.mean:
            raise ConfigError("the configuration has no normalization statistics yet")
        from ..timeseries.data import Normalizer  # numpy: imported when first needed

        return Normalizer(self.mean, self.std)


@dataclass(frozen=True)
class ForecastTrainingConfig(ConfigBase):
    """How a forecaster is trained (saved for the record).

    Attributes:
        epochs: maximum passes over the training windows.
        batch_size: windows per batch.
        learning_rate: Adam step size.
        patience: epochs without improvement of validation loss before early stopping (best
            weights restored).
        stride: rows between training window starts (validation and test use 1).
        max_train_windows: when set, keep this many evenly spaced training windows (quick
            trials; the split borders are unchanged).
        seed: seed of weight initialisation and shuffling.
    """

    epochs: int = setting(20, min=1)
    batch_size: int = setting(64, min=1, help="Windows per batch.")
    learning_rate: float = setting(1e-3, min=0, min_open=True)
    patience: int = setting(
        3, min=0, help="Epochs without improvement of validation loss before stopping.")
    stride: int = setting(1, min=1, help="Rows between training windows.")
    max_train_windows: int | None = setting(
        None, min=1, option="--max-windows",
        help="Use at most this many (evenly spaced) training windows (quick trials).")
    seed: int = setting(1337, help=SEED_HELP)

    def __post_init__(self):
        check_settings(self)
