"""Reading numeric time series and splitting them for forecasting.

* :func:`read_series` (also :func:`read_series_csv`) reads a CSV, TSV, JSON Lines or Parquet
  file with a timestamp column into a :class:`TimeSeries` (``(time, columns) float32``,
  ``NaN`` for missing cells), naming the file, column and line of any cell that is not a
  number. Files are read through :mod:`sentiment.io` (as every command reads them), numbers
  and ISO 8601 timestamps parsed by pandas (:mod:`sentiment.timeseries.cells`).
* :func:`load_etth1` reads ETTh1 (Zhou et al., "Informer", AAAI 2021) from
  ``$SENTIMENT_DATA_DIR/ett/ETTh1.csv``, else from the Hugging Face hub.
* :func:`split_series` cuts the standard chronological splits: ETTh1's 12/4/4 months
  (8,640 / 2,880 / 2,880 hourly rows), or 70/10/20 for any other series; each later split
  starts ``lookback`` rows earlier so that its first window has a full history, as in the
  Informer code base (``Dataset_ETT_hour``, ``Dataset_Custom``).
* :class:`Normalizer`: z-normalization with the statistics of the training split only.
* :func:`resample_scores` turns a scored text file into a regular sentiment index (mean score
  and row count per period, with pandas); :func:`fill_gaps` puts a series on a regular grid.

numpy, pandas and pyarrow: no TensorFlow import.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import DataError
from ..io.formats import PROBABILITY_PREFIX, SCORE_COLUMN
from ..io.tables import read_table
from ..paths import DATA_DIR_ENV, data_dir
from .cells import numeric_values, parse_numbers, table_cells, timestamp_values

#: The columns of ETTh1 besides ``date``, in file order; ``OT`` (oil temperature) is the
#: univariate target of the benchmark.
ETTH1_COLUMNS = ("HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT")
#: Hub data set holding an unmodified copy of ``ETTh1.csv``, used when no local copy exists.
ETTH1_HUB_FILE = "hf://datasets/pkr7098/etth1/ETTh1.csv"
#: ETTh1 split borders in rows (Zhou et al., 2021): 12 months train, 4 validation, 4 test.
ETTH1_BORDERS = (12 * 30 * 24, 12 * 30 * 24 + 4 * 30 * 24, 12 * 30 * 24 + 8 * 30 * 24)

#: Class names taken for the positive class when a scored file's index column is chosen.
POSITIVE_LABELS = ("positive", "pos", "1", "true", "yes")
#: The negative class that must go with each positive label above: ``positive`` and ``pos``
#: against ``negative``/``neg``; ``1`` only against ``0`` or ``-1`` (so star ratings 1/5 are
#: never read as a polarity), ``true`` against ``false``, ``yes`` against ``no``.
NEGATIVE_LABELS = {"positive": ("negative", "neg"), "pos": ("negative", "neg"),
                   "1": ("0", "-1"), "true": ("false",), "yes": ("no",)}
_WEEK = 7 * 86400
_RULE = re.compile(r"^\s*(\d+)?\s*(s|sec|min|t|h|d|w)\s*$", re.IGNORECASE)
_RULE_SECONDS = {"s": 1, "sec": 1, "min": 60, "t": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


@dataclass(frozen=True)
class TimeSeries:
    """A regular multivariate time series.

    Attributes:
        values: ``(time, columns) float32``; ``NaN`` marks a missing observation.
        columns: the column names, aligned with the last axis of ``values``.
        timestamps: ``(time,) datetime64[s]``, strictly increasing, or ``None`` when the series
            has no time axis (then no calendar features and no forecast timestamps).
        source: where the rows came from (a path, ``etth1``), for error messages.
    """

    values: np.ndarray
    columns: tuple[str, ...]
    timestamps: np.ndarray | None = None
    source: str = "<memory>"

    def __post_init__(self):
        values = np.asarray(self.values, dtype=np.float32)
        if values.ndim == 1:
            values = values[:, None]
        if values.ndim != 2:
            raise DataError(f"{self.source}: values must be (time, columns); got shape "
                            f"{values.shape}")
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "columns", tuple(str(c) for c in self.columns))
        if len(self.columns) != values.shape[1]:
            raise DataError(f"{self.source}: {len(self.columns)} column names for "
                            f"{values.shape[1]} columns")
        if len(set(self.columns)) != len(self.columns):
            raise DataError(f"{self.source}: duplicate column names in {list(self.columns)}")
        if self.timestamps is not None:
            stamps = np.asarray(self.timestamps).astype("datetime64[s]")
            if stamps.shape != (values.shape[0],):
                raise DataError(f"{self.source}: {stamps.shape[0]} timestamps for "
                                f"{values.shape[0]} rows")
            later = first_unordered(stamps)
            if later is not None:  # rows counted from 1
                raise DataError(f"{self.source}: timestamps must be strictly increasing; row "
                                f"{later + 1} ({stamps[later]}) does not come after row "
                                f"{later} ({stamps[later - 1]})")
            object.__setattr__(self, "timestamps", stamps)

    def __len__(self) -> int:
        return self.values.shape[0]

    def column_indices(self, names: Iterable[str]) -> list[int]:
        """Positions of ``names`` among :attr:`columns`.

        Raises:
            DataError: naming the first column the series lacks.
        """
        index = {name: i for i, name in enumerate(self.columns)}
        result = []
        for name in names:
            if name not in index:
                raise DataError(f"{self.source}: no column {name!r}; columns are "
                                f"{', '.join(self.columns)}")
            result.append(index[name])
        return result

    def select(self, names: Sequence[str]) -> "TimeSeries":
        """The series restricted to ``names``, in that order."""
        return TimeSeries(self.values[:, self.column_indices(names)], tuple(names),
                          self.timestamps, self.source)

    def slice(self, start: int, stop: int) -> "TimeSeries":
        """Rows ``start:stop``."""
        return TimeSeries(self.values[start:stop], self.columns,
                          None if self.timestamps is None else self.timestamps[start:stop],
                          self.source)

    def frequency(self) -> int | None:
        """The sampling interval in seconds (the most common step), or ``None`` without
        timestamps or with fewer than two rows."""
        return infer_frequency(self.timestamps) if self.timestamps is not None else None


@dataclass(frozen=True)
class SeriesSplits:
    """Chronological train / validation / test parts of one series.

    ``validation`` and ``test`` begin ``lookback`` rows before their first target row, so their
    first window's history is the end of the previous split (targets never overlap).
    ``borders`` gives each part's ``(start, stop)`` rows in the full series.
    """

    train: TimeSeries
    validation: TimeSeries
    test: TimeSeries
    borders: tuple[tuple[int, int], tuple[int, int], tuple[int, int]]


def first_unordered(timestamps: np.ndarray) -> int | None:
    """The 0-based index of the first of ``timestamps`` ``(time,) datetime64`` that is not
    later than the one before it, or ``None`` when they strictly increase."""
    steps = np.diff(np.asarray(timestamps).astype("datetime64[s]")).astype(np.int64)
    if steps.size and steps.min() <= 0:
        return int(np.argmin(steps > 0)) + 1
    return None


def infer_frequency(timestamps: np.ndarray | None) -> int | None:
    """The most common step of ``timestamps`` ``(time,) datetime64`` in seconds, or ``None``."""
    if timestamps is None or len(timestamps) < 2:
        return None
    steps = np.diff(np.asarray(timestamps).astype("datetime64[s]")).astype(np.int64)
    values, counts = np.unique(steps, return_counts=True)
    return int(values[np.argmax(counts)])


def _build_series(cells: Mapping[str, pd.Series], date_column: str | None,
                  columns: Sequence[str] | None, source: str, where: Callable[[int], str]
                  ) -> TimeSeries:
    available = list(cells)
    if date_column is not None and date_column not in cells:
        raise DataError(f"{source}: no date column {date_column!r}; columns are "
                        f"{', '.join(available)} (pass --date-column)")
    parsed = {}
    if columns is None:
        for name in available:
            if name != date_column:
                values, bad = parsed[name] = parse_numbers(cells[name])
                if (~bad & ~np.isnan(values)).sum() <= bad.sum():  # mostly not numbers
                    del parsed[name]
        columns = list(parsed)
        if not columns:
            raise DataError(f"{source}: no numeric column besides {date_column!r}")
    for name in columns:
        if name not in cells:
            raise DataError(f"{source}: no column {name!r}; columns are {', '.join(available)}")
    if not available or len(cells[available[0]]) == 0:
        raise DataError(f"{source}: no data rows")
    values = np.stack([numeric_values(cells[name], name, source, where, parsed.get(name))
                       for name in columns], axis=1)
    timestamps = None
    if date_column is not None:
        timestamps = timestamp_values(cells[date_column], date_column, source, where)
        later = first_unordered(timestamps)
        if later is not None:
            raise DataError(
                f"{source}: timestamps must be strictly increasing (column {date_column!r}): "
                f"{where(later)} ({timestamps[later]}) does not come after {where(later - 1)} "
                f"({timestamps[later - 1]})")
    return TimeSeries(values, tuple(columns), timestamps, str(source))


def series_from_columns(data: Mapping[str, Sequence[Any]], date_column: str | None,
                        columns: Sequence[str] | None = None, source: str = "<memory>",
                        first_line: int = 2) -> TimeSeries:
    """Build a :class:`TimeSeries` from column lists (cells as strings or numbers).

    Args:
        data: column name -> cells, all the same length.
        date_column: the timestamp column, or ``None`` for a series without time axis.
        columns: numeric columns to keep; ``None`` keeps every column (besides the date column)
            most of whose non-missing cells are numbers (a cell in it that is not a number is
            then an error, so a typo never drops a column).
        source: file name for error messages.
        first_line: file line number of the first cell, for error messages (every message
            names 1-based lines of the file).

    Raises:
        DataError: for a missing column, a non-numeric cell, an unparseable or out-of-order
            timestamp (naming the file, column and line), or no rows.
    """
    cells = {name: pd.Series(list(values), dtype=object) for name, values in data.items()}
    return _build_series(cells, date_column, columns, source,
                         lambda row: f"line {row + first_line}")


def read_series(path: str | Path, date_column: str | None = "date",
                columns: Sequence[str] | None = None, input_format: str | None = None
                ) -> TimeSeries:
    """Read a CSV, TSV, JSON Lines or Parquet file into a :class:`TimeSeries`.

    Args:
        path: the file; one row per time step, in increasing time order.
        date_column: the timestamp column (ISO 8601 text, or a Parquet timestamp), or
            ``None``.
        columns: numeric columns to read; ``None`` reads every numeric column.
        input_format: the file's format; ``None`` tells it from the suffix.

    Returns:
        The series, values ``(time, columns) float32`` in file units, ``NaN`` for empty,
        null or ``NA``/``NaN``/``null`` cells.

    Raises:
        DataError: missing or unreadable file, missing column, non-numeric cell,
            unparseable or non-increasing timestamp (naming the file, column and line; the
            row, from 1, for Parquet).
    """
    path = Path(path).expanduser()

    def wanted(names: list[str]) -> list[str] | None:
        if date_column is not None and date_column not in names:
            raise DataError(f"{path}: no date column {date_column!r}; columns are "
                            f"{', '.join(names)} (pass --date-column)")
        for name in columns or ():
            if name not in names:
                raise DataError(f"{path}: no column {name!r}; columns are {', '.join(names)}")
        return None if columns is None else [date_column, *columns] if date_column else columns

    table = read_table(path, input_format, columns=wanted)
    if not table.column_names:  # a JSON Lines file without rows
        raise DataError(f"{path}: no data rows")
    cells = {name: table_cells(table, name) for name in table.column_names}
    return _build_series(cells, date_column, columns, str(path), table.where)


#: The earlier name of :func:`read_series`, from when it read CSV only.
read_series_csv = read_series


def load_etth1(columns: Sequence[str] | None = None) -> TimeSeries:
    """ETTh1, hourly, 17,420 rows from 2016-07-01 00:00 (Zhou et al., AAAI 2021).

    Reads ``$SENTIMENT_DATA_DIR/ett/ETTh1.csv`` when present, else the copy on the Hugging
    Face hub (:data:`ETTH1_HUB_FILE`) through ``datasets.load_dataset``.

    Args:
        columns: columns to keep (default all seven, :data:`ETTH1_COLUMNS`).

    Raises:
        DataError: when neither the local file nor the hub can be read.
    """
    columns = list(columns) if columns else list(ETTH1_COLUMNS)
    root = data_dir()
    if root is not None and (root / "ett" / "ETTh1.csv").is_file():
        series = read_series(root / "ett" / "ETTh1.csv", "date", columns)
        return TimeSeries(series.values, series.columns, series.timestamps, "etth1")
    try:
        import datasets

        table = datasets.load_dataset("csv", data_files=ETTH1_HUB_FILE, split="train")
        data = table.to_dict()
    except Exception as error:  # noqa: BLE001  any network or hub failure
        where = (f"{root / 'ett' / 'ETTh1.csv'} does not exist" if root is not None
                 else f"${DATA_DIR_ENV} is not set")
        raise DataError(f"cannot load ETTh1: {where}, and the Hugging Face hub copy "
                        f"{ETTH1_HUB_FILE} failed ({type(error).__name__}: "
                        f"{str(error)[:200]}); set {DATA_DIR_ENV} to a directory holding "
                        "ett/ETTh1.csv") from None
    return series_from_columns(data, "date", columns, source="etth1")


def split_series(series: TimeSeries, lookback: int, horizon: int,
                 scheme: str = "ratio") -> SeriesSplits:
    """Chronological train / validation / test splits.

    Args:
        series: the full series.
        lookback: input window length in rows; later splits start this many rows earlier.
        horizon: forecast length in rows; each split must hold at least one full window.
        scheme: ``etth1``: rows ``[0, 8640)``, ``[8640 - L, 11520)``, ``[11520 - L, 14400)``
            (12/4/4 months of 30 days; rows after 14,400 are unused, as in Zhou et al. 2021);
            ``ratio``: 70 % / 10 % / 20 % of the rows (Informer's ``Dataset_Custom``).

    Raises:
        DataError: when the series is too short for one window per split.
        ConfigError: for an unknown scheme.
    """
    n = len(series)
    if scheme == "etth1":
        a, b, c = ETTH1_BORDERS
        if n < c:
            raise DataError(f"{series.source}: the ETTh1 split needs {c} rows; the series has "
                            f"{n}")
    elif scheme == "ratio":
        a = int(n * 0.7)
        c = n
        b = n - int(n * 0.2)
    else:
        from ..errors import ConfigError

        raise ConfigError(f"split must be etth1 or ratio; received {scheme!r}")
    need = lookback + horizon
    if a < need or b - a < horizon or c - b < horizon:
        minimum = max(math.ceil(need / 0.7), math.ceil(horizon / 0.1) + 1,
                      math.ceil(horizon / 0.2)) if scheme == "ratio" else None
        raise DataError(
            f"{series.source}: series too short: {n} rows give train/validation/test parts of "
            f"{a}/{b - a}/{c - b} rows, but lookback {lookback} + horizon {horizon} needs "
            f"{need} training rows and {horizon} rows in each later part"
            + (f" (about {minimum} rows in all)" if minimum else ""))
    borders = ((0, a), (a - lookback, b), (b - lookback, c))
    return SeriesSplits(*(series.slice(s, e) for s, e in borders), borders=borders)


@dataclass(frozen=True)
class Normalizer:
    """Per-column z-normalization ``(x - mean) / std`` with training statistics.

    Attributes:
        mean: per-column mean in file units, ``(columns,)``.
        std: per-column standard deviation (population, ``ddof=0``) in file units; a constant
            column gets 1 so it is only centred.
    """

    mean: tuple[float, ...]
    std: tuple[float, ...]

    @classmethod
    def fit(cls, series: TimeSeries) -> "Normalizer":
        """Statistics of ``series`` (normally the training split), ignoring ``NaN``.

        Raises:
            DataError: when a column has no observed value.
        """
        values = series.values.astype(np.float64)
        observed = ~np.isnan(values)
        for j, name in enumerate(series.columns):
            if not observed[:, j].any():
                raise DataError(f"{series.source}: column {name!r} has no observed value in "
                                "the training split")
        mean = np.nanmean(values, axis=0)
        std = np.nanstd(values, axis=0)
        std = np.where(std > 1e-8, std, 1.0)
        return cls(tuple(float(x) for x in mean), tuple(float(x) for x in std))

    def normalize(self, values: np.ndarray, indices: Sequence[int] | None = None) -> np.ndarray:
        """``(..., columns) float32`` in file units -> z-scores (``NaN`` stays ``NaN``).
        ``indices`` selects the statistics of a subset of columns."""
        mean, std = self._stats(indices)
        return ((np.asarray(values, dtype=np.float64) - mean) / std).astype(np.float32)

    def denormalize(self, values: np.ndarray, indices: Sequence[int] | None = None) -> np.ndarray:
        """Inverse of :meth:`normalize`: z-scores -> file units, ``float32``."""
        mean, std = self._stats(indices)
        return (np.asarray(values, dtype=np.float64) * std + mean).astype(np.float32)

    def _stats(self, indices):
        mean, std = np.asarray(self.mean), np.asarray(self.std)
        if indices is not None:
            mean, std = mean[list(indices)], std[list(indices)]
        return mean, std


def parse_rule(rule: str) -> int:
    """A resampling period such as ``1D``, ``6H``, ``15min``, ``1W`` in seconds.

    Raises:
        DataError: for anything else.
    """
    match = _RULE.match(str(rule))
    if not match:
        raise DataError(f"resample period {rule!r} is not understood; use e.g. 1D, 6H, 15min, "
                        "1W, 30s")
    count = int(match.group(1) or 1)
    if count < 1:
        raise DataError(f"resample period {rule!r} must be positive")
    return count * _RULE_SECONDS[match.group(2).lower()]


def score_column_for(columns: Sequence[str], score_column: str | None = None,
                     source: str = "<memory>") -> str:
    """The column of a scored file whose mean per period is the sentiment index.

    ``score_column`` when given (it must exist, and must not be ``predicted_score``: that is
    the confidence of whichever class was predicted, not a polarity). Without it, the
    positive class's probability: of exactly two ``prob_<label>`` columns (``sentiment score
    --probabilities`` of a two-class model), the one whose label is one of
    :data:`POSITIVE_LABELS` while the other is its negative in :data:`NEGATIVE_LABELS` (any
    case; star ratings ``1``/``5`` are refused); a file without ``prob_`` columns but with a
    ``score`` column (the earlier default) uses that.

    Raises:
        DataError: for ``predicted_score``, a missing column, or when no positive class can
            be told apart (no ``prob_`` columns, more than two classes, no positive label);
            the message lists the ``prob_`` columns.
    """
    if score_column == SCORE_COLUMN:
        raise DataError(f"{source}: {SCORE_COLUMN!r} is the confidence of whichever class was "
                        "predicted, not a polarity, so its mean is no sentiment index; score "
                        f"with --probabilities and average {PROBABILITY_PREFIX}<label> (by "
                        "default the positive class's), or pass another --score-column")
    if score_column is not None:
        if score_column not in columns:
            raise DataError(f"{source}: no column {score_column!r}; columns are "
                            f"{', '.join(columns)}")
        return score_column
    probabilities = [name for name in columns if name.startswith(PROBABILITY_PREFIX)]
    if not probabilities and "score" in columns:
        return "score"
    if len(probabilities) == 2:
        first, second = (name[len(PROBABILITY_PREFIX):].strip().lower()
                         for name in probabilities)
        for index, (label, other) in enumerate(((first, second), (second, first))):
            if label in POSITIVE_LABELS and other in NEGATIVE_LABELS[label]:
                return probabilities[index]
    found = ", ".join(probabilities) if probabilities else "none"
    raise DataError(f"{source}: cannot tell which column holds the positive class's probability "
                    f"(prob_ columns: {found}); the index needs a file scored with "
                    "--probabilities by a two-class model labelled positive/negative, "
                    "pos/neg, 1/0, true/false or yes/no, or pass --score-column")


def resample_scores(path: str | Path, date_column: str, score_column: str | None = None,
                    rule: str = "1D", input_format: str | None = None) -> TimeSeries:
    """Aggregate a scored text file into a regular sentiment index.

    Rows are binned into periods of ``rule`` (aligned to 1970-01-01 00:00 UTC; weeks start on
    Monday); each period gets the mean of the score column and the number of rows. Periods
    without rows have ``NaN`` mean (masked by the forecaster) and count 0. A row without a
    score (a null or empty cell: a row ``sentiment score`` could not score) is left out of the
    mean but counted: the count is the period's number of texts, so a period whose texts all
    failed has a count and a ``NaN`` mean.

    Args:
        path: CSV, TSV, JSON Lines or Parquet file with a timestamp column and a numeric score
            column (for example the output of ``sentiment score --probabilities``); rows in
            any order.
        date_column: the timestamp column (ISO 8601 text, or a Parquet timestamp).
        score_column: the numeric column to average; ``None`` picks the positive class's
            probability (:func:`score_column_for`).
        rule: the period, e.g. ``1D``, ``6H``, ``1W``.
        input_format: the file's format; ``None`` tells it from the suffix.

    Returns:
        A :class:`TimeSeries` with columns ``(score column used, "count")``, timestamps at the
        start of each period.

    Raises:
        DataError: missing file or column, ``predicted_score`` as the score column, no
            positive class to pick, non-numeric score, bad timestamp (naming the line).
    """
    step = parse_rule(rule)
    path = Path(path).expanduser()
    chosen: list[str] = []

    def wanted(names: list[str]) -> list[str]:
        if date_column not in names:
            raise DataError(f"{path}: no column {date_column!r}; columns are {', '.join(names)}")
        chosen.append(score_column_for(names, score_column, str(path)))
        return [date_column, chosen[-1]]

    table = read_table(path, input_format, columns=wanted)
    if table.num_rows == 0:
        raise DataError(f"{path}: no data rows")
    score = chosen[-1]
    # as float32 first: a scored file's probabilities are float32, written in their
    # shortest decimal form, so this recovers the very values the model gave
    scores = numeric_values(table_cells(table, score), score, path, table.where
                            ).astype(np.float32).astype(np.float64)
    stamps = timestamp_values(table_cells(table, date_column), date_column, path, table.where)
    origin = pd.Timestamp("1970-01-05") if step % _WEEK == 0 else pd.Timestamp(0)  # a Monday
    bins = pd.Series(scores, index=pd.DatetimeIndex(stamps)).sort_index(kind="stable").resample(
        pd.Timedelta(seconds=step), origin=origin, closed="left", label="left")
    means, counts = bins.mean(), bins.size()
    values = np.stack([means.to_numpy(dtype=np.float64), counts.to_numpy(dtype=np.float64)],
                      axis=1)
    timestamps = means.index.to_numpy().astype("datetime64[s]")
    return TimeSeries(values, (score, "count"), timestamps, f"{path} resampled {rule}")


def fill_gaps(series: TimeSeries, frequency: int | None = None) -> tuple[TimeSeries, int]:
    """Insert ``NaN`` rows where timestamps skip whole steps, so the series is regular.

    Args:
        series: a series with timestamps (returned unchanged without).
        frequency: the step in seconds (default: the most common step).

    Returns:
        The regular series and the number of rows inserted. When some step is not a whole
        multiple of ``frequency`` (e.g. calendar months), the series is returned unchanged.
    """
    if series.timestamps is None or len(series) < 2:
        return series, 0
    frequency = frequency or infer_frequency(series.timestamps)
    index = pd.DatetimeIndex(series.timestamps)
    grid = pd.date_range(index[0], index[-1], freq=pd.Timedelta(seconds=int(frequency)),
                         unit="s")
    if len(grid) == len(series) or not index.isin(grid).all():
        return series, 0
    values = pd.DataFrame(series.values, index=index).reindex(grid).to_numpy(dtype=np.float32)
    stamps = grid.to_numpy().astype("datetime64[s]")
    return TimeSeries(values, series.columns, stamps, series.source), len(grid) - len(series)
