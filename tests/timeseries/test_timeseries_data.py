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


def test_read_parquet_with_timestamps_or_text_dates(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from sentiment.timeseries.data import read_series

    # instants in UTC, shown in another zone: read as UTC
    stamps = pa.array(np.array(["2020-01-01T00:00", "2020-01-01T01:00", "2020-01-01T02:00"],
                               "datetime64[ms]"), pa.timestamp("ms", tz="+01:00"))
    pq.write_table(pa.table({"date": stamps, "x": [1.5, None, 3.0],
                             "n": pa.array([1, 2, 3], pa.int16()), "note": ["a", "b", "c"]}),
                   tmp_path / "s.parquet")
    series = read_series(tmp_path / "s.parquet", "date")
    assert series.columns == ("x", "n") and series.frequency() == 3600
    np.testing.assert_array_equal(series.values[[0, 2]], [[1.5, 1], [3, 3]])
    assert np.isnan(series.values[1, 0])
    assert str(series.timestamps[0]) == "2020-01-01T00:00:00"
    assert read_series_csv is read_series  # the earlier name
    pq.write_table(pa.table({"date": ["2020-01-01", "2020-01-02", "later"], "x": [1, 2, 3]}),
                   tmp_path / "t.parquet")
    with pytest.raises(DataError, match=r"t.parquet: column 'date' row 3: 'later' is not an "
                                        "ISO 8601"):
        read_series(tmp_path / "t.parquet", "date")


def test_json_lines_errors_name_the_file_line(tmp_path):
    path = write(tmp_path / "s.jsonl", '{"date": "2020-01-01", "x": 1}\n\n'
                 '{"date": "2020-01-02", "x": "bad"}\n{"date": "2020-01-03", "x": 3}\n'
                 '{"date": "2020-01-04", "x": null}\n')
    with pytest.raises(DataError, match=r"column 'x' is not numeric: line 3 holds 'bad'"):
        read_series_csv(path, "date", ["x"])
    with pytest.raises(DataError, match=r"s.csv: row 2 \(line 3\): expected 2 fields, found 3"):
        read_series_csv(write(tmp_path / "s.csv", "date,x\n2020-01-01,1\n2020-01-02,2,3\n"))


def scored_rows(days=3):
    """Rows as ``sentiment score --probabilities`` writes them for a two-class model; the
    second text of each day could not be scored (null probabilities)."""
    rows = []
    for day in range(days):
        for k, positive in enumerate((0.9, None, 0.5)):
            rows.append({"text": f"t{day}{k}", "created": f"2021-03-0{day + 1}T0{k}:00:00Z",
                         "predicted_label": None if positive is None else "positive",
                         "predicted_score": None if positive is None else max(positive,
                                                                              1 - positive),
                         "prob_negative": None if positive is None else 1 - positive,
                         "prob_positive": positive,
                         "error": "empty text" if positive is None else None})
    return rows


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_resample_a_scored_file_picks_the_positive_class(tmp_path, fmt):
    import json

    import pyarrow as pa
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    rows = scored_rows()
    path = tmp_path / f"scored.{fmt}"
    table = pa.Table.from_pylist(rows).cast(pa.schema(
        [("text", pa.string()), ("created", pa.string()), ("predicted_label", pa.string()),
         ("predicted_score", pa.float32()), ("prob_negative", pa.float32()),
         ("prob_positive", pa.float32()), ("error", pa.string())]))
    if fmt == "parquet":
        pq.write_table(table, path)
    elif fmt == "csv":
        pa_csv.write_csv(table, path)
    else:
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    series = resample_scores(path, "created", None, "1D")
    assert series.columns == ("prob_positive", "count")
    # the unscored row is left out of the mean but counted
    np.testing.assert_allclose(series.values, [[0.7, 3]] * 3, rtol=1e-6)
    explicit = resample_scores(path, "created", "prob_negative", "1D")
    assert explicit.columns == ("prob_negative", "count")
    np.testing.assert_allclose(explicit.values[:, 0], [0.3] * 3, rtol=1e-6)


def test_resample_refuses_predicted_score_and_unclear_classes(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = scored_rows(1)
    path = tmp_path / "scored.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    with pytest.raises(DataError, match="'predicted_score' is the confidence of whichever class "
                                        "was predicted, not a polarity"):
        resample_scores(path, "created", "predicted_score", "1D")
    for drop, found in ((["prob_negative", "prob_positive"], "none"),
                        (["prob_positive"], "prob_negative")):
        pq.write_table(pa.Table.from_pylist(rows).drop_columns(drop), path)
        with pytest.raises(DataError, match=rf"scored.parquet: cannot tell which column holds "
                                            rf"the positive class's probability \(prob_ "
                                            rf"columns: {found}\).*--probabilities.*"
                                            "--score-column"):
            resample_scores(path, "created", None, "1D")
    three = [dict(row, prob_neutral=0.1) for row in rows]
    pq.write_table(pa.Table.from_pylist(three), path)
    with pytest.raises(DataError, match="prob_ columns: prob_negative, prob_positive, "
                                        "prob_neutral"):
        resample_scores(path, "created", None, "1D")
    stars = [{"created": row["created"], "prob_1star": 0.2, "prob_5star": 0.8} for row in rows]
    pq.write_table(pa.Table.from_pylist(stars), path)
    with pytest.raises(DataError, match="prob_ columns: prob_1star, prob_5star"):
        resample_scores(path, "created", None, "1D")
    assert resample_scores(path, "created", "prob_5star", "1D").columns[0] == "prob_5star"
    # star ratings 1 and 5: "1" is not the positive class of a 1-to-5 scale
    ratings = [{"created": row["created"], "prob_1": 0.2, "prob_5": 0.8} for row in rows]
    pq.write_table(pa.Table.from_pylist(ratings), path)
    with pytest.raises(DataError, match="prob_ columns: prob_1, prob_5"):
        resample_scores(path, "created", None, "1D")
    for negative, positive in (("0", "1"), ("neg", "pos"), ("False", "True"), ("no", "yes")):
        pairs = [{"created": row["created"], f"prob_{negative}": 0.3,
                  f"prob_{positive}": 0.7} for row in rows]
        pq.write_table(pa.Table.from_pylist(pairs), path)
        assert resample_scores(path, "created", None, "1D").columns[0] == f"prob_{positive}"


def test_score_column_for_labels_by_name():
    from sentiment.timeseries.data import score_column_for

    for label, other in (("positive", "negative"), ("POS", "neg"), ("1", "0"), ("1", "-1"),
                         ("True", "false"), ("yes", "No")):
        assert score_column_for(["x", f"prob_{other}", f"prob_{label}"]) == f"prob_{label}"
    with pytest.raises(DataError, match="cannot tell"):
        score_column_for(["prob_0", "prob_positive"])  # not one pair of names
    assert score_column_for(["created", "score"]) == "score"  # a file without prob_ columns
    with pytest.raises(DataError, match="cannot tell"):
        score_column_for(["prob_pos", "prob_positive"])  # two positive names: ambiguous
