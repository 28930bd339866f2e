"""Numeric time series for the seq2seq forecasters: reading, splitting, normalizing, windowing.

numpy, pandas and pyarrow (no TensorFlow import), so the CLI can check data before importing
TensorFlow.

* :mod:`sentiment.timeseries.data`: :class:`TimeSeries`, reading CSV/TSV/JSON Lines/Parquet
  (through :mod:`sentiment.io`), the ETTh1 standard split (Zhou et al., "Informer", AAAI
  2021), z-normalization with train statistics, and resampling a scored text file into a
  sentiment index.
* :mod:`sentiment.timeseries.cells`: numbers and timestamps from table cells (pandas).
* :mod:`sentiment.timeseries.windows`: lookback/horizon windows, NaN masks, left padding of
  short histories, calendar features.
"""

from .data import (
    ETTH1_COLUMNS,
    SeriesSplits,
    TimeSeries,
    Normalizer,
    load_etth1,
    read_series,
    read_series_csv,
    resample_scores,
    split_series,
)
from .windows import Windows, calendar_features, make_windows, pad_history

__all__ = [
    "ETTH1_COLUMNS",
    "Normalizer",
    "SeriesSplits",
    "TimeSeries",
    "Windows",
    "calendar_features",
    "load_etth1",
    "make_windows",
    "pad_history",
    "read_series",
    "read_series_csv",
    "resample_scores",
    "split_series",
]
