"""Reading series, splits (ETTh1 and 70/10/20), z-normalization, resampling, gap filling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import require_data
from sentiment.errors import DataError
from sentiment.timeseries.data import (
    ETTH1_BORDERS,
    Normalizer,
    TimeSeries,
    fill_gaps,
    infer_frequency,
    load_etth1,
    parse_rule,
    read_series_csv,
    resample_scores,
    split_series,
)
from sentiment.timeseries.windows import make_windows


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def index_series(n: int, columns=("a", "b")) -> TimeSeries:
    """Column j holds ``row + 1000 * j``, so a value names its row; hourly from 2020-01-01."""
    values = np.arange(n, dtype=np.float32)[:, None] + 1000 * np.arange(len(columns))
    stamps = np.datetime64("2020-01-01T00:00:00") + np.arange(n) * np.timedelta64(1, "h")
    return TimeSeries(values, columns, stamps, "index")


def test_read_csv_values_timestamps_and_missing_cells(tmp_path):
    path = write(tmp_path / "s.csv", "date,x,y,note\n2020-01-01 00:00:00,1.5,2,a\n"
                 "2020-01-01 01:00:00,,NA,b\n2020-01-01 02:00:00,3,4e1,c\n")
    series = read_series_csv(path, "date")
    assert series.columns == ("x", "y")  # the text column is not numeric, so not read
    assert series.values.dtype == np.float32
    np.testing.assert_array_equal(series.values[[0, 2]], [[1.5, 2], [3, 40]])
    assert np.isnan(series.values[1]).all()
    assert series.timestamps[2] == np.datetime64("2020-01-01T02:00:00")
    assert series.frequency() == 3600


def test_read_csv_errors_name_file_column_and_line(tmp_path):
    with pytest.raises(DataError, match="nope.csv"):
        read_series_csv(tmp_path / "nope.csv")
    path = write(tmp_path / "s.csv", "date,x\n2020-01-01,1\n2020-01-02,oops\n")
    with pytest.raises(DataError, match=r"column 'x' is not numeric: line 3 holds 'oops'"):
        read_series_csv(path, "date", ["x"])
    with pytest.raises(DataError, match=r"no column 'z'"):
        read_series_csv(path, "date", ["z"])
    with pytest.raises(DataError, match=r"no date column 'when'"):
        read_series_csv(path, "when", ["x"])
    bad_date = write(tmp_path / "d.csv", "date,x\n2020-01-01,1\nyesterday,2\n")
    with pytest.raises(DataError, match=r"line 3: 'yesterday' is not an ISO 8601"):
        read_series_csv(bad_date, "date")
    unordered = write(tmp_path / "u.csv", "date,x\n2020-01-02,1\n2020-01-01,2\n")
    with pytest.raises(DataError, match=r"strictly increasing \(column 'date'\): line 3 "
                                        r"\(2020-01-01T00:00:00\) does not come after line 2"):
        read_series_csv(unordered, "date")


def test_a_bad_cell_in_a_numeric_column_is_an_error_not_a_dropped_column(tmp_path):
    rows = "".join(f"2020-01-{day:02d},{day},{day * 2}\n" for day in range(1, 29))
    path = write(tmp_path / "s.csv", "date,HUFL,HULL\n" + rows.replace(",20,40", ",20,abc"))
    # no --targets: every numeric column is read, and "abc" (line 21) is reported
    with pytest.raises(DataError, match=r"s.csv: column 'HULL' is not numeric: line 21 "
                                        r"holds 'abc'"):
        read_series_csv(path, "date")
    # a text column (mostly non-numbers) is still left out, not reported
    texts = write(tmp_path / "t.csv", "date,x,note\n2020-01-01,1,hello\n2020-01-02,2,3\n"
                                      "2020-01-03,3,bye\n")
    assert read_series_csv(texts, "date").columns == ("x",)


def test_in_memory_series_count_rows_from_one():
    stamps = np.array(["2020-01-01", "2020-01-02", "2020-01-02"], dtype="datetime64[s]")
    with pytest.raises(DataError, match=r"row 3 \(2020-01-02T00:00:00\) does not come after "
                                        r"row 2 "):
        TimeSeries(np.zeros((3, 1)), ("x",), stamps)


def test_ratio_split_borders_and_no_test_value_in_training_windows():
    series = index_series(1000)
    lookback, horizon = 24, 12
    splits = split_series(series, lookback, horizon, "ratio")
    assert splits.borders == ((0, 700), (700 - lookback, 800), (800 - lookback, 1000))
    train = make_windows(splits.train.values, lookback, horizon, [0])
    test = make_windows(splits.test.values, lookback, horizon, [0])
    validation = make_windows(splits.validation.values, lookback, horizon, [0])
    # Values are row numbers: every value a training window sees precedes the validation
    # and test targets.
    assert max(train.past[..., 0].max(), train.targets.max()) < 700
    assert validation.targets.min() == 700 and validation.targets.max() == 799
    assert test.targets.min() == 800 and test.targets.max() == 999
    assert test.past[..., 0].min() == 800 - lookback  # history reaches back into validation only


def test_etth1_split_borders_on_a_synthetic_series():
    series = index_series(ETTH1_BORDERS[2] + 100)
    splits = split_series(series, 96, 24, "etth1")
    assert splits.borders == ((0, 8640), (8544, 11520), (11424, 14400))
    assert splits.train.values[:, 0].max() == 8639
    assert len(splits.test) == 2880 + 96


def test_too_short_series_raises_with_numbers():
    with pytest.raises(DataError, match=r"too short: 50 rows.*lookback 24 \+ horizon 12"):
        split_series(index_series(50), 24, 12, "ratio")
    with pytest.raises(DataError, match="needs 14400 rows"):
        split_series(index_series(500), 24, 12, "etth1")


def test_normalizer_uses_training_statistics_and_round_trips():
    series = index_series(100)
    normalizer = Normalizer.fit(series.slice(0, 70))
    assert normalizer.mean[0] == pytest.approx(34.5)
    assert normalizer.std[0] == pytest.approx(np.std(np.arange(70)))
    z = normalizer.normalize(series.values)
    assert z[:70, 0].mean() == pytest.approx(0, abs=1e-6)
    assert z[70:, 0].mean() > 1  # later values are not used for the statistics
    np.testing.assert_allclose(normalizer.denormalize(z), series.values, atol=1e-4)
    np.testing.assert_allclose(normalizer.denormalize(z[:, 1:], [1]), series.values[:, 1:],
                               atol=1e-4)
    constant = TimeSeries(np.ones((5, 1)), ("c",))
    assert Normalizer.fit(constant).std == (1.0,)
    with pytest.raises(DataError, match="column 'm' has no observed value"):
        Normalizer.fit(TimeSeries(np.full((5, 1), np.nan), ("m",)))


def test_resample_scores_mean_and_count_per_day(tmp_path):
    path = write(tmp_path / "scored.csv",
                 "text,score,created\n"
                 "\"good, really\",0.9,2021-03-01T08:00:00\n"
                 "bad,0.1,2021-03-01 20:00:00\n"
                 "meh,0.5,2021-03-03T10:00:00Z\n")
    series = resample_scores(path, "created", "score", "1D")
    assert series.columns == ("score", "count")
    assert [str(t) for t in series.timestamps] == ["2021-03-01T00:00:00", "2021-03-02T00:00:00",
                                                    "2021-03-03T00:00:00"]
    np.testing.assert_allclose(series.values[[0, 2]], [[0.5, 2], [0.5, 1]])
    assert np.isnan(series.values[1, 0]) and series.values[1, 1] == 0  # empty day: masked
    assert parse_rule("6H") == 6 * 3600 and parse_rule("1W") == 7 * 86400
    with pytest.raises(DataError, match="not understood"):
        parse_rule("fortnightly")
    with pytest.raises(DataError, match="no column 'stars'"):
        resample_scores(path, "created", "stars", "1D")


def test_fill_gaps_inserts_missing_rows():
    stamps = np.array(["2020-01-01T00", "2020-01-01T01", "2020-01-01T04"], dtype="datetime64[s]")
    series = TimeSeries(np.array([[1.0], [2.0], [3.0]]), ("x",), stamps)
    assert infer_frequency(stamps) == 3600
    filled, inserted = fill_gaps(series)
    assert inserted == 2 and len(filled) == 5
    np.testing.assert_array_equal(np.isnan(filled.values[:, 0]), [0, 0, 1, 1, 0])


def test_real_etth1_split(monkeypatch):
    path = require_data("ett/ETTh1.csv") / "ett" / "ETTh1.csv"
    monkeypatch.setenv("SENTIMENT_DATA_DIR", str(path.parent.parent))
    series = load_etth1()
    assert len(series) == 17420 and series.columns[-1] == "OT"
    assert series.timestamps[0] == np.datetime64("2016-07-01T00:00:00")
    splits = split_series(series, 336, 96, "etth1")
    assert splits.train.timestamps[-1] < splits.test.timestamps[336]  # first test target
    assert splits.test.timestamps[336] == series.timestamps[11520]
