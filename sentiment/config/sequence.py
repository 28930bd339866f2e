"""The configurations of models over sequences of vectors (issue 24):
:class:`SequenceModelConfig` (saved with the model as the ``sequence_model`` section of
``config.json`` and read back when serving) and :class:`SequenceTrainingConfig`.

The encoder settings share their names, meanings and command-line options with
:class:`~sentiment.config.ClassifierConfig` (``--arch``, ``--units``, ``--pooling`` ...); only
the settings below marked as sequence settings add options to ``sentiment train``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError
from .fields import SEED_HELP, ConfigBase, check_settings, setting

#: Encoders of a sequence model: recurrent, Kim-style Conv1D, Conv1D front end + recurrent.
SEQUENCE_ARCHITECTURES = ("lstm", "gru", "bilstm", "bigru", "cnn", "cnn-lstm", "cnn-gru")
#: What a model predicts: one class of ``labels``, or one number.
TASKS = ("classification", "regression")
#: Losses of a regression model: mean squared error or Huber (delta 1 on standardized targets).
REGRESSION_LOSSES = ("mse", "huber", "mae")
#: The named data sets of sequences (``$SENTIMENT_DATA_DIR/<name>/{train,test}.parquet``).
SEQUENCE_DATASETS = ("japanese_vowels",)


def parse_clip_range(value: str | None) -> tuple[float, float] | None:
    """``"1,10"`` -> ``(1.0, 10.0)``; ``None`` -> ``None``.

    Raises:
        ConfigError: not two comma-separated numbers with the first below the second.
    """
    if value is None:
        return None
    try:
        low, high = (float(part) for part in str(value).split(","))
    except ValueError:
        raise ConfigError(f"clip_range must be two comma-separated numbers LOW,HIGH; received "
                          f"{value!r}") from None
    if not low < high:
        raise ConfigError(f"clip_range: LOW must be below HIGH; received {value!r}")
    return low, high


@dataclass(frozen=True)
class SequenceModelConfig(ConfigBase):
    """Every preprocessing and model setting of a many-to-one model over variable-length
    sequences of vectors ``(time, features)``.

    Attributes:
        arch: ``lstm``, ``gru``, ``bilstm``, ``bigru`` (stacked ``layers`` deep), ``cnn``
            (one ``Conv1D`` per kernel width, masked max over time) or ``cnn-lstm`` /
            ``cnn-gru`` (``Conv1D`` + ``MaxPooling1D(pool_size)`` front end, the mask pooled
            with the steps, then the recurrent layers).
        units, layers, filters, kernel_sizes, pool_size, dropout: as in
            :class:`~sentiment.config.ClassifierConfig` (kernel sizes in frames).
        pooling: ``last``, ``mean``, ``max`` or ``attention`` over the unmasked steps;
            ``None`` resolves to ``max``.
        frame_units: width of a per-frame ``Dense(frame_units, relu)`` projection before
            the encoder (the same weights on every frame, as ``TimeDistributed(Dense)``);
            0 (default): none.
        task: ``classification`` (a softmax over ``labels``) or ``regression`` (one linear
            float32 output, trained on standardized targets and restored to their units).
        clip_range: regression: ``(low, high)`` the predicted values are clipped to;
            ``None``: not clipped.
        sequence_column: the column training read the sequences from (``score``'s default).
        features: the number of features per frame (filled in by training).
        feature_mean, feature_std: ``(features,)`` per-feature statistics of the training
            frames; inputs are standardized with them (filled in by training).
        target_mean, target_std: regression: the training targets' mean and standard
            deviation (filled in by training).
        labels, label_values: classification: class names in output order and the raw
            label values they stand for.

    Raises:
        ConfigError: on construction, when a value is out of range or the settings disagree.
    """

    arch: str = setting("gru", choices=SEQUENCE_ARCHITECTURES)
    units: int = setting(64, min=1)
    layers: int = setting(1, min=1)
    filters: int = setting(64, min=1)
    kernel_sizes: tuple[int, ...] = setting((3, 5), min=1, item="kernel size")
    pool_size: int = setting(2, min=1)
    pooling: str | None = setting(None, choices=("last", "mean", "max", "attention"))
    dropout: float = setting(0.2, min=0.0, max=1.0, max_open=True)
    frame_units: int = setting(
        0, min=0, help="Sequences: a per-frame Dense(N, relu) projection (TimeDistributed) "
        "before the encoder (0: none).")
    task: str = setting("classification", choices=TASKS,
                        help="Predict a class (classification) or a number (regression: a "
                        "linear output on standardized targets).")
    clip_range: tuple[float, float] | None = setting(
        None, cli=False)  # parsed from --clip-range LOW,HIGH by the command line
    sequence_column: str = setting("frames", cli=False)
    features: int = setting(1, min=1, cli=False)
    feature_mean: tuple[float, ...] = setting((), cli=False)
    feature_std: tuple[float, ...] = setting((), cli=False)
    target_mean: float = setting(0.0, cli=False)
    target_std: float = setting(1.0, min=0.0, min_open=True, cli=False)
    labels: tuple[str, ...] = ()
    label_values: tuple[str, ...] = ()

    def __post_init__(self):
        if self.pooling is None:
            object.__setattr__(self, "pooling", "max")
        check_settings(self)
        if self.arch == "cnn" and self.pooling != "max":
            raise ConfigError(f"arch cnn pools with max over time; pooling must be max, "
                              f"received {self.pooling!r}")
        if self.clip_range is not None:
            clip = tuple(float(x) for x in self.clip_range)
            if len(clip) != 2 or not clip[0] < clip[1]:
                raise ConfigError(f"clip_range must be (low, high) with low < high; received "
                                  f"{self.clip_range!r}")
            if self.task != "regression":
                raise ConfigError("clip_range is for --task regression")
            object.__setattr__(self, "clip_range", clip)
        for name in ("labels", "label_values"):
            object.__setattr__(self, name, tuple(str(x) for x in getattr(self, name)))
        for name in ("feature_mean", "feature_std"):
            object.__setattr__(self, name, tuple(float(x) for x in getattr(self, name)))
        if self.feature_mean and len(self.feature_mean) != self.features:
            raise ConfigError(f"feature_mean has {len(self.feature_mean)} values for "
                              f"{self.features} features")
        if len(self.feature_std) != len(self.feature_mean) or min(self.feature_std,
                                                                  default=1.0) <= 0:
            raise ConfigError("feature_std must hold one positive value per feature_mean")
        if self.task == "regression" and self.labels:
            raise ConfigError("a regression model has no labels")

    @property
    def num_outputs(self) -> int:
        """The width of the model's output: the classes, or 1 for regression."""
        return 1 if self.task == "regression" else len(self.labels)

    @property
    def regression(self) -> bool:
        return self.task == "regression"


@dataclass(frozen=True)
class SequenceTrainingConfig(ConfigBase):
    """How a sequence model is trained (saved for the record).

    Attributes:
        epochs: maximum passes over the training sequences.
        batch_size: sequences per batch.
        learning_rate: Adam's step size.
        validation_fraction: share of the training sequences held out for early stopping
            when no validation file is given.
        patience: epochs without a lower validation loss before stopping (the best weights
            are restored).
        bucketing: batch sequences of similar length together.
        regression_loss: ``mse``, ``huber`` (Huber with delta 1 on the standardized
            targets, less swayed by outliers) or ``mae`` (mean absolute error: the median).
        seed: shuffling, the validation split and the initial weights.
    """

    epochs: int = setting(200, min=1)
    batch_size: int = setting(32, min=1)
    learning_rate: float = setting(3e-3, min=0.0, min_open=True)
    validation_fraction: float = setting(0.1, min=0.0, max=1.0, min_open=True, max_open=True)
    patience: int = setting(20, min=1)
    bucketing: bool = setting(True)
    regression_loss: str = setting("mse", choices=REGRESSION_LOSSES,
                                   help="Regression loss: mean squared error, Huber, or "
                                   "mean absolute error (the median: lowest MAE).")
    seed: int = setting(0, min=0, help=SEED_HELP)
