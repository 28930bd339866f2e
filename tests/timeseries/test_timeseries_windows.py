"""Window construction: contents, stride, NaN handling, left padding, calendar features."""

from __future__ import annotations

import numpy as np
import pytest

from sentiment.errors import ConfigError, DataError
from sentiment.timeseries.windows import (
    calendar_features,
    calendar_names_for,
    future_timestamps,
    make_windows,
    pad_history,
)


def rows(n: int, columns: int = 2) -> np.ndarray:
    return np.arange(n, dtype=np.float32)[:, None] + 100 * np.arange(columns)


def test_windows_hold_history_and_following_targets():
    windows = make_windows(rows(10), lookback=3, horizon=2, target_indices=[1])
    assert len(windows) == 10 - 3 - 2 + 1
    assert windows.past.shape == (6, 3, 2) and windows.past.dtype == np.float32
    assert windows.targets.shape == (6, 2, 1)
    np.testing.assert_array_equal(windows.past[2, :, 0], [2, 3, 4])
    np.testing.assert_array_equal(windows.targets[2, :, 0], [105, 106])
    np.testing.assert_array_equal(windows.target_start, [3, 4, 5, 6, 7, 8])
    assert windows.past_calendar.shape == (6, 3, 0)


def test_stride_and_too_short_series():
    windows = make_windows(rows(10), 3, 2, [0], stride=2)
    np.testing.assert_array_equal(windows.target_start, [3, 5, 7])
    with pytest.raises(DataError, match="4 rows, but one window needs lookback 3 \\+ horizon 2"):
        make_windows(rows(4), 3, 2, [0])
    with pytest.raises(ConfigError, match="lookback"):
        make_windows(rows(4), 0, 2, [0])


def test_missing_values_stay_nan_and_windows_without_targets_are_skipped():
    values = rows(10, 1)
    values[5:8] = np.nan
    windows = make_windows(values, 2, 3, [0])
    assert windows.skipped == 1  # the window whose targets are rows 5, 6, 7
    assert 5 not in windows.target_start
    assert np.isnan(windows.past).any()  # inputs keep NaN for the model to mask
    kept = make_windows(values, 2, 3, [0], drop_empty=False)
    assert len(kept) == len(windows) + 1 and kept.skipped == 0


def test_short_histories_are_left_padded():
    windows = make_windows(rows(6, 1), lookback=4, horizon=2, target_indices=[0],
                           min_history=1)
    np.testing.assert_array_equal(windows.target_start, [1, 2, 3, 4])
    first = windows.past[0, :, 0]
    assert np.isnan(first[:3]).all() and first[3] == 0
    history, stamps = pad_history(rows(2, 1), 4, np.array(["2020-01-01T10", "2020-01-01T11"],
                                                          dtype="datetime64[s]"), 3600)
    assert np.isnan(history[:2]).all() and history[2:, 0].tolist() == [0, 1]
    assert str(stamps[0]) == "2020-01-01T08:00:00"
    with pytest.raises(DataError, match="empty"):
        pad_history(np.zeros((0, 1)), 4)


def test_calendar_features_and_future_timestamps():
    stamps = np.array(["2016-07-01T00:00", "2016-07-04T23:00"], dtype="datetime64[s]")
    cal = calendar_features(stamps, ("hour_of_day", "day_of_week", "day_of_month",
                                     "day_of_year"))
    # 2016-07-01 is a Friday (weekday 4), the 183rd day of a leap year.
    np.testing.assert_allclose(cal[0], [-0.5, 4 / 6 - 0.5, -0.5, 182 / 365 - 0.5], atol=1e-6)
    np.testing.assert_allclose(cal[1, :2], [0.5, -0.5], atol=1e-6)  # 23:00 on a Monday
    assert calendar_names_for(3600) == ("hour_of_day", "day_of_week", "day_of_month",
                                        "day_of_year")
    assert calendar_names_for(86400)[0] == "day_of_week" and calendar_names_for(None) == ()
    future = future_timestamps(np.datetime64("2016-12-31T23:00"), 3600, 3)
    assert [str(t) for t in future] == ["2017-01-01T00:00:00", "2017-01-01T01:00:00",
                                        "2017-01-01T02:00:00"]
    windows = make_windows(rows(30, 1), 4, 2, [0], timestamps=np.datetime64("2020-01-01")
                           + np.arange(30) * np.timedelta64(1, "h"), calendar=("hour_of_day",))
    np.testing.assert_allclose(windows.future_calendar[0, :, 0], np.array([4, 5]) / 23 - 0.5)


def test_inputs_carry_the_calendar_only_when_there_is_one():
    values = np.arange(40, dtype=np.float32).reshape(20, 2)
    stamps = np.datetime64("2021-01-01T00:00") + np.arange(20) * np.timedelta64(1, "h")
    plain = make_windows(values, 4, 2, [0], stamps)
    assert set(plain.inputs()) == {"past"}
    with_calendar = make_windows(values, 4, 2, [0], stamps, calendar=("hour_of_day",))
    inputs = with_calendar.inputs()
    assert set(inputs) == {"past", "past_calendar", "future_calendar"}
    assert inputs["past_calendar"].shape == (len(with_calendar), 4, 1)
    assert inputs["future_calendar"].shape == (len(with_calendar), 2, 1)
