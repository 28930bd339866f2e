"""Beam scoring of models over sequences of vectors and of regression models: the same rows,
columns, values and error cells as the local engine (``sentiment score``), from model
directories and from ``sentiment export`` SavedModels, and the launch-time column checks."""

import glob
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from conftest import make_sequences, read_shards

pytest.importorskip("apache_beam", reason="Apache Beam is not installed "
                                          "(pip install 'sentiment[beam]')")

from sentiment.cli import main  # noqa: E402

#: the fixtures' models read 3 features per frame
BAD_ROWS = {"two-features": [[1.0, 2.0], [3.0, 4.0]],  # another feature count
            "one-feature": [1.0, 2.0, 3.0],            # a list of numbers: one feature
            "no-frames": [],
            "missing": None}


def sequence_rows(parquet: bool = False):
    """Twelve good sequences (3 to 12 frames of 3 features) and the bad ones, with ids
    (for Parquet, whose list column has one nesting depth, not the list of numbers)."""
    rows = [{"id": f"s{i}", "frames": frames.tolist()}
            for i, frames in enumerate(make_sequences(12, seed=5).sequences)]
    return rows + [{"id": key, "frames": value} for key, value in BAD_ROWS.items()
                   if not (parquet and key == "one-feature")]


def read_local(path):
    if path.suffix == ".parquet":
        return pq.read_table(path).to_pylist()
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def score_both(model_dir, source, tmp_path, *options):
    """Score ``source`` with ``--engine beam`` and with the local engine; the Beam rows by
    id, the local rows in input order, and the Beam run's summary line."""
    runner = CliRunner()
    prefix = tmp_path / "beam" / "scored"
    result = runner.invoke(main, ["score", str(source), "-o", str(prefix), "--engine", "beam",
                                  "--model", str(model_dir), *options])
    assert result.exit_code == 0, result.output
    local = tmp_path / f"local{source.suffix}"
    done = runner.invoke(main, ["score", str(source), "-o", str(local), "--model",
                                str(model_dir), "--quiet", *options])
    assert done.exit_code == 0, done.output
    beam_rows = read_shards(prefix, source.suffix)
    assert len(beam_rows) == len({row["id"] for row in beam_rows})  # one row per input row
    return {row["id"]: row for row in beam_rows}, read_local(local), result.output


def assert_same_rows(by_id, local_rows, added):
    """The Beam rows equal the local engine's, row for row: the same columns in the same
    order, the input cells unchanged, the same errors, the numbers within 1e-6."""
    assert sorted(by_id) == sorted(row["id"] for row in local_rows)
    for expected in local_rows:
        got = by_id[expected["id"]]
        assert list(got) == list(expected), (list(got), list(expected))
        assert list(expected)[-len(added):] == added
        for column, value in expected.items():
            if isinstance(value, float):
                assert got[column] == pytest.approx(value, rel=1e-6, abs=1e-6), column
            else:
                assert got[column] == value, (expected["id"], column)


def test_a_sequence_classifier_on_parquet_equals_the_local_engine(sequence_model_dir,
                                                                 tmp_path):
    source = tmp_path / "frames.parquet"
    pq.write_table(pa.Table.from_pylist(sequence_rows(parquet=True)), source)
    by_id, local, summary = score_both(sequence_model_dir, source, tmp_path,
                                       "--probabilities")
    assert f"scored {len(local)} rows, {len(BAD_ROWS) - 1} with errors" in summary
    assert_same_rows(by_id, local, ["predicted_label", "predicted_score", "prob_down",
                                    "prob_up", "error"])
    assert by_id["two-features"]["error"] == \
        "sequence: 2 features per frame; the model takes 3"
    assert by_id["two-features"]["predicted_label"] is None
    assert by_id["no-frames"]["error"] and by_id["missing"]["error"]
    assert all(by_id[f"s{i}"]["error"] is None for i in range(12))
    assert {by_id[f"s{i}"]["predicted_label"] for i in range(12)} <= {"down", "up"}
    schema = pq.read_schema(glob.glob(str(tmp_path / "beam" / "scored-*.parquet"))[0])
    assert schema.field("frames").type == pq.read_schema(source).field("frames").type
    assert schema.field("predicted_score").type == pa.float32()


def test_a_sequence_classifier_on_json_lines_equals_the_local_engine(sequence_model_dir,
                                                                    tmp_path):
    source = tmp_path / "frames.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in sequence_rows()),
                      encoding="utf-8")
    by_id, local, _ = score_both(sequence_model_dir, source, tmp_path)
    assert_same_rows(by_id, local, ["predicted_label", "predicted_score", "error"])
    assert by_id["one-feature"]["error"] == \
        "sequence: 1 features per frame; the model takes 3"
    assert by_id["s0"]["frames"] == sequence_rows()[0]["frames"]  # passed through


def test_a_text_regression_model_writes_the_local_predicted_value(rated_model_dir,
                                                                  tmp_path):
    texts = ["great wonderful superb", "awful boring dull", "the plot", "fine", ""]
    source = tmp_path / "reviews.parquet"
    pq.write_table(pa.table({"id": [f"r{i}" for i in range(len(texts))], "text": texts}),
                   source)
    by_id, local, summary = score_both(rated_model_dir, source, tmp_path)
    assert "scored 5 rows, 1 with errors" in summary
    assert_same_rows(by_id, local, ["predicted_value", "error"])
    assert by_id["r4"]["error"] == "empty text" and by_id["r4"]["predicted_value"] is None
    assert by_id["r0"]["predicted_value"] > by_id["r1"]["predicted_value"]
    assert all(1 <= by_id[f"r{i}"]["predicted_value"] <= 10 for i in range(4))
    schema = pq.read_schema(glob.glob(str(tmp_path / "beam" / "scored-*.parquet"))[0])
    assert schema.names == ["id", "text", "predicted_value", "error"]
    assert schema.field("predicted_value").type == pa.float64()


def test_a_sequence_regression_model_in_a_pipeline(regression_model_dir):
    import apache_beam as beam
    from apache_beam.testing import test_pipeline
    from apache_beam.testing.util import assert_that

    from sentiment import Predictor
    from sentiment.beam import ScoreTexts

    rows = sequence_rows()
    good = [row for row in rows if row["id"] not in BAD_ROWS]
    expected = dict(zip((row["id"] for row in good), Predictor.load(
        regression_model_dir).predict_values([row["frames"] for row in good])))

    def check(outputs):
        by_id = {row["id"]: row for row in outputs}
        assert sorted(by_id) == sorted(row["id"] for row in rows)
        for key, value in expected.items():
            assert by_id[key]["predicted_value"] == pytest.approx(value, rel=1e-6)
            assert by_id[key]["error"] is None
            assert "predicted_label" not in by_id[key]
        for key in BAD_ROWS:
            assert by_id[key]["error"] and by_id[key]["predicted_value"] is None

    with test_pipeline.TestPipeline() as pipeline:  # the column: the model's own (frames)
        scored = (pipeline | beam.Create(rows)
                  | ScoreTexts(str(regression_model_dir), min_batch_size=1, max_batch_size=5,
                               batch_size=2))
        assert_that(scored, check)


@pytest.mark.parametrize("fixture", ["sequence_model_dir", "regression_model_dir",
                                     "rated_model_dir"])
def test_the_savedmodel_handler_equals_the_model_directory_handler(fixture, request,
                                                                  tmp_path):
    from sentiment.beam import SentimentModelHandler
    from sentiment.export import export_saved_model

    model_dir = request.getfixturevalue(fixture)
    export = export_saved_model(model_dir, tmp_path / "export")
    if fixture == "rated_model_dir":
        rows = [{"id": f"r{i}", "text": text} for i, text in
                enumerate(["great wonderful superb", "awful boring dull", "the plot", " "])]
        rows.append({"id": "number", "text": 7})
    else:
        rows = sequence_rows()
    outputs = []
    for directory in (model_dir, export):
        handler = SentimentModelHandler(directory, probabilities=True, batch_size=3)
        outputs.append(list(handler.run_inference(rows, handler.load_model())))
    from_directory, from_export = outputs
    assert len(from_export) == len(rows)
    for a, b in zip(from_directory, from_export):
        assert list(a) == list(b)
        assert a["id"] == b["id"] and a["error"] == b["error"]
        for column, value in a.items():
            if isinstance(value, float):
                assert b[column] == pytest.approx(value, rel=1e-5, abs=1e-5), column
            else:
                assert b[column] == value, column
    assert sum(row["error"] is not None for row in from_export) == (
        2 if fixture == "rated_model_dir" else len(BAD_ROWS))


def test_launch_time_checks_of_the_input_column(sequence_model_dir, tiny_model_dir,
                                                tmp_path):
    runner = CliRunner()
    numbers = tmp_path / "numbers.parquet"
    pq.write_table(pa.table({"id": ["a"], "frames": [3]}), numbers)
    frames = tmp_path / "frames.parquet"
    pq.write_table(pa.Table.from_pylist(sequence_rows()[:2]), frames)
    lines = tmp_path / "lines.txt"
    lines.write_text("not a sequence\n", encoding="utf-8")
    cases = [
        (numbers, sequence_model_dir, [], "column 'frames' holds int64, and this model reads "
                                          "sequences of vectors"),
        (frames, sequence_model_dir, ["--sequence-column", "mfcc"], "no column 'mfcc'"),
        (frames, tiny_model_dir, ["--text-column", "frames"], "column 'frames' holds list<"),
        (frames, tiny_model_dir, ["--text-column", "frames"], "not texts (strings)"),
        (frames, tiny_model_dir, ["--sequence-column", "frames"],
         "--sequence-column is for models over sequences"),
        (lines, sequence_model_dir, [], "text lines hold texts"),
    ]
    for source, model_dir, options, message in cases:
        result = runner.invoke(main, ["score", str(source), "-o", str(tmp_path / "out" / "p"),
                                      "--engine", "beam", "--model", str(model_dir),
                                      *options])
        assert result.exit_code == 2, (source, result.output)
        assert message in result.output, (source, result.output)
        assert str(source) in result.output or "--sequence-column" in message
        assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_json_text_in_csv_is_scored_and_parquet_lists_are_written_as_json_in_csv(
        sequence_model_dir, tmp_path):
    """CSV holds a sequence as JSON text (as the local engine reads it); a Parquet list
    column written to CSV becomes JSON text that reads back."""
    import csv

    rows = sequence_rows()[:3] + [{"id": "two-features", "frames": BAD_ROWS["two-features"]}]
    source = tmp_path / "frames.csv"
    with open(source, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "frames"])
        writer.writerows([[row["id"], json.dumps(row["frames"])] for row in rows])
    prefix = tmp_path / "beam" / "scored"
    result = CliRunner().invoke(main, ["score", str(source), "-o", str(prefix), "--engine",
                                       "beam", "--model", str(sequence_model_dir)])
    assert result.exit_code == 0, result.output
    scored = {row["id"]: row for path in glob.glob(f"{prefix}-*.csv")
              for row in csv.DictReader(open(path, newline="", encoding="utf-8"))}
    assert scored["two-features"]["error"] == \
        "sequence: 2 features per frame; the model takes 3"
    assert scored["s0"]["error"] == "" and scored["s0"]["predicted_label"] in ("down", "up")

    parquet = tmp_path / "frames.parquet"
    pq.write_table(pa.Table.from_pylist(rows), parquet)
    prefix = tmp_path / "beam-csv" / "scored"
    result = CliRunner().invoke(main, ["score", str(parquet), "-o", str(prefix), "--engine",
                                       "beam", "--model", str(sequence_model_dir),
                                       "--output-format", "csv"])
    assert result.exit_code == 0, result.output
    written = {row["id"]: row for path in glob.glob(f"{prefix}-*.csv")
               for row in csv.DictReader(open(path, newline="", encoding="utf-8"))}
    assert np.allclose(json.loads(written["s1"]["frames"]), rows[1]["frames"])
    assert written["s1"]["predicted_label"] == scored["s1"]["predicted_label"]


def test_a_text_export_given_a_sequence_column_is_refused_at_launch(tiny_model_dir,
                                                                    tmp_path):
    from sentiment.export import export_saved_model

    export = export_saved_model(tiny_model_dir, tmp_path / "export")
    frames = tmp_path / "frames.parquet"
    pq.write_table(pa.Table.from_pylist(sequence_rows()[:2]), frames)
    result = CliRunner().invoke(main, ["score", str(frames), "-o", str(tmp_path / "out" / "p"),
                                       "--engine", "beam", "--model", str(export),
                                       "--sequence-column", "frames"])
    assert result.exit_code == 2, result.output
    assert "--sequence-column 'frames': the model" in result.output
    assert "reads texts; name its column with --text-column" in " ".join(result.output.split())
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()
