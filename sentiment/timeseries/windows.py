"""Lookback/horizon windows over a time series, with NaN masks, left padding and calendar
features.

A window starting at row ``s`` has the history ``values[s : s + lookback]`` (all input
columns) and the targets ``values[s + lookback : s + lookback + horizon]`` (target columns).
Missing observations stay ``NaN`` here; the model zero-fills them, adds an observed/missing
indicator per input column and masks time steps where every input is missing
(:mod:`sentiment.models.seq2seq`). Pure numpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..errors import ConfigError, DataError

#: Calendar features (Informer's ``timeF`` encoding, Zhou et al. 2021), each in [-0.5, 0.5].
CALENDAR_FEATURES = ("hour_of_day", "day_of_week", "day_of_month", "day_of_year")


def calendar_names_for(frequency: int | None) -> tuple[str, ...]:
    """The calendar features that vary at a sampling interval of ``frequency`` seconds:
    all four below a day, no hour for daily to weekly data, day of year only above a week,
    none without timestamps."""
    if frequency is None:
        return ()
    if frequency < 86400:
        return CALENDAR_FEATURES
    if frequency < 7 * 86400:
        return CALENDAR_FEATURES[1:]
    return CALENDAR_FEATURES[3:]


def calendar_features(timestamps: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """Calendar features of ``timestamps`` ``(time,) datetime64``.

    Returns:
        ``(time, len(names)) float32``, each feature scaled to [-0.5, 0.5]: hour / 23,
        weekday (Monday 0) / 6, (day of month - 1) / 30, (day of year - 1) / 365, minus 0.5.

    Raises:
        ConfigError: for an unknown feature name.
    """
    stamps = np.asarray(timestamps).astype("datetime64[s]")
    days = stamps.astype("datetime64[D]")
    columns = []
    for name in names:
        if name == "hour_of_day":
            value = (stamps - days).astype(np.int64) // 3600 / 23.0
        elif name == "day_of_week":
            value = (days.astype(np.int64) + 3) % 7 / 6.0  # 1970-01-01 was a Thursday
        elif name == "day_of_month":
            value = (days - days.astype("datetime64[M]")).astype(np.int64) / 30.0
        elif name == "day_of_year":
            value = (days - days.astype("datetime64[Y]")).astype(np.int64) / 365.0
        else:
            raise ConfigError(f"unknown calendar feature {name!r}; use "
                              f"{', '.join(CALENDAR_FEATURES)}")
        columns.append(value - 0.5)
    if not columns:
        return np.zeros((len(stamps), 0), dtype=np.float32)
    return np.stack(columns, axis=1).astype(np.float32)


def future_timestamps(last: np.datetime64, frequency: int, horizon: int) -> np.ndarray:
    """``(horizon,) datetime64[s]``: the ``horizon`` steps after ``last``, ``frequency``
    seconds apart."""
    return (np.datetime64(last, "s")
            + np.arange(1, horizon + 1, dtype=np.int64) * np.timedelta64(int(frequency), "s"))


def pad_history(values: np.ndarray, lookback: int, timestamps: np.ndarray | None = None,
                frequency: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """The last ``lookback`` rows of ``values`` ``(time, columns)``, left-padded with ``NaN``
    rows (masked by the model) when the series is shorter.

    Timestamps of padded rows continue backwards at ``frequency`` seconds (their calendar
    features are masked with the rest of the step).

    Returns:
        ``((lookback, columns) float32, (lookback,) datetime64[s] or None)``.

    Raises:
        DataError: when ``values`` has no row.
    """
    values = np.asarray(values, dtype=np.float32)
    if values.shape[0] == 0:
        raise DataError("the history is empty; at least one row is needed to forecast")
    tail = values[-lookback:]
    missing = lookback - tail.shape[0]
    stamps = None
    if timestamps is not None:
        stamps = np.asarray(timestamps).astype("datetime64[s]")[-lookback:]
    if missing > 0:
        tail = np.concatenate([np.full((missing, values.shape[1]), np.nan, np.float32), tail])
        if stamps is not None:
            step = np.timedelta64(int(frequency or 1), "s")
            before = stamps[0] - np.arange(missing, 0, -1, dtype=np.int64) * step
            stamps = np.concatenate([before, stamps])
    return tail, stamps


@dataclass(frozen=True)
class Windows:
    """Supervised windows of a series.

    Attributes:
        past: ``(windows, lookback, inputs) float32`` history of every input column; ``NaN``
            where missing (including left padding).
        targets: ``(windows, horizon, targets) float32``; ``NaN`` where missing.
        past_calendar: ``(windows, lookback, calendar) float32``.
        future_calendar: ``(windows, horizon, calendar) float32`` (known in advance).
        target_start: ``(windows,) int64`` row of each window's first target, in the series
            given to :func:`make_windows` (before any padding).
        skipped: windows dropped because every target value was missing.
    """

    past: np.ndarray
    targets: np.ndarray
    past_calendar: np.ndarray
    future_calendar: np.ndarray
    target_start: np.ndarray
    skipped: int = 0

    def __len__(self) -> int:
        return self.past.shape[0]

    def inputs(self) -> dict[str, np.ndarray]:
        """The model inputs: ``{"past", "past_calendar", "future_calendar"}``, or only
        ``{"past"}`` when there are no calendar features (a model without calendar inputs)."""
        if self.past_calendar.shape[-1] == 0:
            return {"past": self.past}
        return {"past": self.past, "past_calendar": self.past_calendar,
                "future_calendar": self.future_calendar}


def make_windows(values: np.ndarray, lookback: int, horizon: int,
                 target_indices: Sequence[int], timestamps: np.ndarray | None = None,
                 calendar: Sequence[str] = (), stride: int = 1, min_history: int | None = None,
                 drop_empty: bool = True) -> Windows:
    """Cut ``values`` ``(time, inputs)`` into lookback/horizon windows.

    Args:
        values: ``(time, inputs) float32``, normalized; ``NaN`` where missing.
        lookback: history length ``L`` in rows.
        horizon: forecast length ``H`` in rows.
        target_indices: input columns that are forecast, in output order.
        timestamps: ``(time,) datetime64`` for calendar features (required when ``calendar``).
        calendar: calendar feature names (:data:`CALENDAR_FEATURES`).
        stride: rows between consecutive window starts.
        min_history: when set, also make the windows whose history starts before row 0, as
            long as at least ``min_history`` history rows exist; the rest is left-padded with
            ``NaN`` (variable-length histories). ``None``: full histories only.
        drop_empty: skip windows whose targets are all missing (counted in ``skipped``).

    Raises:
        ConfigError: for non-positive lookback, horizon or stride.
        DataError: when the series is too short for a single window.
    """
    for name, value in (("lookback", lookback), ("horizon", horizon), ("stride", stride)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ConfigError(f"{name} must be an integer >= 1; received {value!r}")
    values = np.asarray(values, dtype=np.float32)
    if values.ndim != 2:
        raise DataError(f"values must be (time, inputs); got shape {values.shape}")
    if calendar and timestamps is None:
        raise DataError("calendar features need timestamps")
    pad = 0
    if min_history is not None:
        pad = max(0, lookback - max(1, int(min_history)))
    n_rows = values.shape[0]
    if pad:
        values = np.concatenate([np.full((pad, values.shape[1]), np.nan, np.float32), values])
        if timestamps is not None:
            stamps = np.asarray(timestamps).astype("datetime64[s]")
            step = np.median(np.diff(stamps).astype(np.int64)) if len(stamps) > 1 else 1
            before = stamps[0] - np.arange(pad, 0, -1, dtype=np.int64) * np.timedelta64(
                int(step), "s")
            timestamps = np.concatenate([before, stamps])
    count = values.shape[0] - lookback - horizon + 1
    if count < 1:
        raise DataError(f"series too short: {n_rows} rows, but one window needs lookback "
                        f"{lookback} + horizon {horizon} = {lookback + horizon} rows")
    starts = np.arange(0, count, stride)
    view = np.lib.stride_tricks.sliding_window_view(values, lookback + horizon, axis=0)
    view = np.moveaxis(view, -1, 1)  # (count, L + H, inputs)
    past = view[starts, :lookback]
    targets = view[starts, lookback:][:, :, list(target_indices)]
    if calendar:
        cal = calendar_features(timestamps, calendar)
        cal_view = np.moveaxis(
            np.lib.stride_tricks.sliding_window_view(cal, lookback + horizon, axis=0), -1, 1)
        past_cal = cal_view[starts, :lookback]
        future_cal = cal_view[starts, lookback:]
    else:
        past_cal = np.zeros((len(starts), lookback, 0), np.float32)
        future_cal = np.zeros((len(starts), horizon, 0), np.float32)
    skipped = 0
    if drop_empty:
        keep = ~np.isnan(targets).all(axis=(1, 2))
        skipped = int((~keep).sum())
        if skipped:
            starts, past, targets = starts[keep], past[keep], targets[keep]
            past_cal, future_cal = past_cal[keep], future_cal[keep]
    return Windows(np.ascontiguousarray(past), np.ascontiguousarray(targets),
                   np.ascontiguousarray(past_cal), np.ascontiguousarray(future_cal),
                   (starts + lookback - pad).astype(np.int64), skipped)
