"""Scoring on Apache Beam (local runner, no network): the same rows and predictions as
``sentiment score``, bad rows with ``error``, file patterns, and the SavedModel handler."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import read_shards

beam = pytest.importorskip("apache_beam", reason="Apache Beam is not installed "
                                                  "(pip install 'sentiment[beam]')")

from apache_beam.testing import test_pipeline  # noqa: E402  (a module: pytest would collect the TestPipeline class)
from apache_beam.testing.util import assert_that  # noqa: E402

from sentiment.cli import main  # noqa: E402

TEXTS = ["a wonderful and brilliant film", "awful boring film", "great fun", "dull",
         "the plot was dull and tedious " * 30, "superb"]


def records():
    rows = [{"id": f"r{i}", "text": text} for i, text in enumerate(TEXTS)]
    rows += [{"id": "missing"}, {"id": "empty", "text": "  "}, {"id": "number", "text": 7}]
    return rows


def expected_scores(predictor):
    probabilities = predictor.predict_proba(TEXTS)
    return {f"r{i}": float(row.max()) for i, row in enumerate(probabilities)}


def test_score_texts_in_a_test_pipeline(tiny_model_dir, tiny_predictor):
    from sentiment.beam import ScoreTexts

    expected = expected_scores(tiny_predictor)

    def check(outputs):
        by_id = {row["id"]: row for row in outputs}
        assert sorted(by_id) == sorted(row["id"] for row in records())
        for key, score in expected.items():
            assert by_id[key]["predicted_score"] == pytest.approx(score, abs=1e-6)
            assert by_id[key]["error"] is None
            assert by_id[key]["predicted_label"] in ("neg", "pos")
            probabilities = [by_id[key]["prob_neg"], by_id[key]["prob_pos"]]
            assert max(probabilities) == pytest.approx(score, abs=1e-6)
        assert by_id["missing"]["error"] == "missing text"
        assert by_id["empty"]["error"] == "empty text"
        assert by_id["number"]["error"] == "text is int, not a string"
        assert by_id["number"]["text"] == 7  # every input field kept
        for key in ("missing", "empty", "number"):
            assert by_id[key]["predicted_label"] is None
            assert by_id[key]["predicted_score"] is None

    with test_pipeline.TestPipeline() as pipeline:
        scored = (pipeline | beam.Create(records())
                  | ScoreTexts(str(tiny_model_dir), probabilities=True, min_batch_size=1,
                               max_batch_size=4, batch_size=2))
        assert_that(scored, check)


def test_the_savedmodel_handler_equals_the_model_directory_handler(tiny_model_dir, tmp_path):
    from sentiment.beam import SentimentModelHandler
    from sentiment.export import export_saved_model

    export = export_saved_model(tiny_model_dir, tmp_path / "export")
    rows = records()
    outputs = []
    for model_dir in (tiny_model_dir, export):
        handler = SentimentModelHandler(model_dir, probabilities=True)
        outputs.append(list(handler.run_inference(rows, handler.load_model())))
    directory, saved = outputs
    for a, b in zip(directory, saved):
        assert a["id"] == b["id"] and a["error"] == b["error"]
        assert a["predicted_label"] == b["predicted_label"]
        if a["error"] is None:
            assert a["prob_pos"] == pytest.approx(b["prob_pos"], abs=1e-6)


def write_inputs(tmp_path):
    """The same rows as two Parquet files and one JSON Lines file (with a bad line)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"id": f"r{i}", "text": text} for i, text in enumerate(TEXTS)]
    rows.append({"id": "empty", "text": ""})
    parts = tmp_path / "parts"
    parts.mkdir()
    pq.write_table(pa.Table.from_pylist(rows[:4]), parts / "part-0.parquet")
    pq.write_table(pa.Table.from_pylist(rows[4:]), parts / "part-1.parquet")
    jsonl = tmp_path / "rows.jsonl"
    jsonl.write_text("\n".join([json.dumps(row) for row in rows] + ["{not json"]) + "\n",
                     encoding="utf-8")
    return rows, parts, jsonl


def local_scores(runner, model_dir, path, tmp_path):
    """``sentiment score`` (local engine) on ``path``: id -> predicted_score."""
    out = tmp_path / f"local-{path.stem}.jsonl"
    result = runner.invoke(main, ["score", str(path), "-o", str(out), "--model",
                                  str(model_dir), "--quiet"])
    assert result.exit_code == 0, result.output
    return {row["id"]: row["predicted_score"]
            for row in map(json.loads, out.read_text(encoding="utf-8").splitlines())}


def test_cli_parquet_pattern_over_several_files(tiny_model_dir, tmp_path):
    runner = CliRunner()
    rows, parts, _ = write_inputs(tmp_path)
    prefix = tmp_path / "out" / "scored"
    result = runner.invoke(main, ["score", str(parts / "part-*.parquet"), "-o", str(prefix),
                                  "--engine", "beam", "--model", str(tiny_model_dir),
                                  "--probabilities"])
    assert result.exit_code == 0, result.output
    assert f"scored {len(rows)} rows, 1 with errors" in result.output
    scored = read_shards(prefix, ".parquet")
    assert len(scored) == len(rows)
    assert sorted(row["id"] for row in scored) == sorted(row["id"] for row in rows)
    local = {}
    for part in sorted(parts.iterdir()):
        local.update(local_scores(runner, tiny_model_dir, part, tmp_path))
    for row in scored:
        if row["id"] == "empty":
            assert row["error"] == "empty text" and row["predicted_score"] is None
        else:
            assert row["error"] is None
            assert row["predicted_score"] == pytest.approx(local[row["id"]], abs=1e-6)
            assert row["prob_pos"] + row["prob_neg"] == pytest.approx(1.0, abs=1e-5)


def test_cli_json_lines_with_a_bad_line(tiny_model_dir, tmp_path):
    runner = CliRunner()
    rows, _, jsonl = write_inputs(tmp_path)
    prefix = tmp_path / "out" / "scored"
    result = runner.invoke(main, ["score", str(jsonl), "-o", str(prefix), "--engine", "beam",
                                  "--model", str(tiny_model_dir), "--num-shards", "2"])
    assert result.exit_code == 0, result.output
    scored = read_shards(prefix, ".jsonl")
    assert len(scored) == len(rows) + 1  # the bad line is a row too
    bad = [row for row in scored if "id" not in row]
    assert len(bad) == 1 and bad[0]["error"].startswith("the line is not valid JSON")
    local = local_scores(runner, tiny_model_dir,
                         _without_last_line(jsonl, tmp_path / "good.jsonl"), tmp_path)
    for row in scored:
        if row.get("id") and row["id"] != "empty":
            assert row["predicted_score"] == pytest.approx(local[row["id"]], abs=1e-6)


def _without_last_line(path, target):
    target.write_text("\n".join(path.read_text(encoding="utf-8").splitlines()[:-1]) + "\n",
                      encoding="utf-8")
    return target


def test_cli_csv_keeps_every_column(tiny_model_dir, tmp_path):
    import csv

    source = tmp_path / "reviews.csv"
    with open(source, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text", "stars"])
        writer.writerows([["a", "great fun, really", "5"], ["b", "dull\nand long", "1"],
                          ["c", "", "3"]])
    prefix = tmp_path / "out" / "scored"
    result = CliRunner().invoke(main, ["score", str(source), "-o", str(prefix), "--engine",
                                       "beam", "--model", str(tiny_model_dir)])
    assert result.exit_code == 0, result.output
    import glob

    rows = [row for path in sorted(glob.glob(f"{prefix}-*.csv"))
            for row in csv.DictReader(open(path, newline="", encoding="utf-8"))]
    assert sorted(row["id"] for row in rows) == ["a", "b", "c"]
    assert list(rows[0]) == ["id", "text", "stars", "predicted_label", "predicted_score",
                             "error"]
    by_id = {row["id"]: row for row in rows}
    assert by_id["b"]["text"] == "dull\nand long" and by_id["b"]["error"] == ""
    assert by_id["c"]["error"] == "empty text" and by_id["c"]["predicted_label"] == ""


def test_usage_errors(tiny_model_dir, tmp_path):
    runner = CliRunner()
    _, parts, jsonl = write_inputs(tmp_path)
    cases = [
        (["score", str(jsonl), "-o", str(tmp_path / "x.jsonl"), "--runner", "FlinkRunner"],
         "need --engine beam"),
        (["score", str(jsonl), "--engine", "beam"], "needs -o PREFIX"),
        (["score", str(jsonl), "-o", str(tmp_path / "p"), "--engine", "beam", "--resume"],
         "--resume is for --engine local"),
        (["score", str(tmp_path / "none-*.parquet"), "-o", str(tmp_path / "p"), "--engine",
          "beam", "--model", str(tiny_model_dir)], "no file matches"),
        (["score", str(jsonl), "-o", str(tmp_path / "p"), "--engine", "beam",
          "--output-format", "parquet", "--model", str(tiny_model_dir)],
         "writes Parquet from Parquet input only"),
        (["score", str(jsonl), "-o", str(tmp_path / "p"), "--engine", "beam",
          "--beam-option", "--project=x", "--model", str(tiny_model_dir)],
         "--beam-option must be KEY=VALUE"),
    ]
    clash = tmp_path / "clash.jsonl"
    clash.write_text(json.dumps({"id": 1, "text": "fine", "predicted_label": "x"}) + "\n",
                     encoding="utf-8")
    import pyarrow as pa
    import pyarrow.parquet as pq

    mixed = tmp_path / "mixed"
    mixed.mkdir()
    pq.write_table(pa.table({"id": ["a"], "text": ["great"]}), mixed / "part-0.parquet")
    pq.write_table(pa.table({"id": [1], "text": ["dull"]}), mixed / "part-1.parquet")
    (tmp_path / "done-00000-of-00001.jsonl").write_text("{}\n", encoding="utf-8")
    model = ["--model", str(tiny_model_dir)]
    cases += [
        (["score", str(jsonl), "-o", str(tmp_path / "p"), "--engine", "beam",
          "--text-column", "body", *model], "no column 'body'"),
        (["score", str(clash), "-o", str(tmp_path / "p"), "--engine", "beam", *model],
         "already has the column(s) 'predicted_label'"),
        (["score", str(mixed / "part-*.parquet"), "-o", str(tmp_path / "p"), "--engine",
          "beam", *model], "files scored together must share one schema"),
        (["score", str(jsonl), "-o", str(tmp_path / "done"), "--engine", "beam", *model],
         "1 output shard(s) already exist"),
        (["score", str(jsonl), "-o", str(tmp_path / "p"), "--engine", "beam", "--runner",
          "NoSuchRunner", *model], "--runner 'NoSuchRunner'"),
        (["score", str(jsonl), "-o", str(tmp_path / "p"), "--engine", "beam", "--model",
          str(tmp_path / "no-model")], "does not exist"),
    ]
    for args, message in cases:
        result = runner.invoke(main, args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output, (args, result.output)
        assert "Traceback" not in result.output


def test_tsv_is_read_and_written_without_quoting(tiny_model_dir, tmp_path):
    """TSV has no quoting (as the local engine reads it): a text starting with a quote is
    scored verbatim, and the output holds it unchanged."""
    source = tmp_path / "reviews.tsv"
    texts = ['"Dead Man Walking" is one great film', "dull and long"]
    source.write_text("id\ttext\n" + "".join(f"r{i}\t{t}\n" for i, t in enumerate(texts)),
                      encoding="utf-8")
    prefix = tmp_path / "out" / "scored"
    runner = CliRunner()
    result = runner.invoke(main, ["score", str(source), "-o", str(prefix), "--engine", "beam",
                                  "--model", str(tiny_model_dir)])
    assert result.exit_code == 0, result.output
    import glob

    lines = [line.rstrip("\n").split("\t") for path in sorted(glob.glob(f"{prefix}-*.tsv"))
             for line in open(path, encoding="utf-8")]
    header, rows = lines[0], {row[0]: dict(zip(lines[0], row)) for row in lines[1:]}
    assert header == ["id", "text", "predicted_label", "predicted_score", "error"]
    assert rows["r0"]["text"] == texts[0]
    local = local_scores(runner, tiny_model_dir, source, tmp_path)
    for key, row in rows.items():
        assert float(row["predicted_score"]) == pytest.approx(local[key], abs=1e-6)


def test_pipeline_options():
    from sentiment.beam import pipeline_options

    local = pipeline_options(num_workers=3).get_all_options()
    assert local["direct_num_workers"] == 3
    assert local["direct_running_mode"] == "multi_threading"
    chosen = pipeline_options(None, ["direct_num_workers=1", "direct_running_mode=in_memory"],
                              num_workers=3).get_all_options()
    assert chosen["direct_num_workers"] == 1 and chosen["direct_running_mode"] == "in_memory"
    remote = pipeline_options("DataflowRunner", ["project=p", "region=europe-west1"])
    options = remote.get_all_options()
    assert options["project"] == "p" and options["region"] == "europe-west1"


def test_a_multi_label_model_writes_its_label_lists(multilabel_model_dir, tmp_path):
    runner = CliRunner()
    rows = [{"id": f"r{i}", "text": text} for i, text in
            enumerate(["i am so happy", "furious and scared", "the plot"])]
    rows.append({"id": "empty", "text": ""})
    source = tmp_path / "rows.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    prefix = tmp_path / "out" / "scored"
    result = runner.invoke(main, ["score", str(source), "-o", str(prefix), "--engine", "beam",
                                  "--model", str(multilabel_model_dir)])
    assert result.exit_code == 0, result.output
    scored = {row["id"]: row for row in read_shards(prefix, ".jsonl")}
    local = tmp_path / "local.jsonl"
    assert runner.invoke(main, ["score", str(source), "-o", str(local), "--model",
                                str(multilabel_model_dir), "--quiet"]).exit_code == 0
    for row in map(json.loads, local.read_text(encoding="utf-8").splitlines()):
        assert scored[row["id"]]["predicted_labels"] == row["predicted_labels"]
        assert scored[row["id"]]["prob_joy"] == pytest.approx(row["prob_joy"], abs=1e-6)
    assert scored["r0"]["predicted_labels"] == ["joy"]
    assert scored["empty"]["predicted_labels"] is None and scored["empty"]["error"]
