"""sentiment.scoring: streaming batch scoring of files, row for row, atomic and resumable.

The readers, writers and format detection it uses are tested in tests/io/."""

from __future__ import annotations

import csv
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import make_reviews
from sentiment.errors import ConfigError, DataError
from sentiment.io.formats import OUTPUT_FORMATS
from sentiment.scoring import predict_chunk, score_file, state_paths

COLUMNS = ["predicted_label", "predicted_score", "error"]


def write_input(path, fmt, rows: list[dict]) -> None:
    """Write ``rows`` (dicts of str) with independent writers (csv module, json, pyarrow)."""
    if fmt in ("csv", "tsv"):
        with open(path, "w", newline="", encoding="utf-8") as handle:
            if fmt == "csv":
                writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            else:
                writer = csv.DictWriter(handle, fieldnames=list(rows[0]), delimiter="\t",
                                        quoting=csv.QUOTE_NONE, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
    elif fmt == "jsonl":
        with open(path, "w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    elif fmt == "parquet":
        pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=10)
    elif fmt == "txt":
        with open(path, "w", encoding="utf-8") as handle:
            handle.writelines(row["text"] + "\n" for row in rows)


def read_output(path, fmt) -> list[dict]:
    """Rows of an output file as dicts; CSV/TSV cells are strings ("" for empty)."""
    if fmt == "csv":
        with open(path, newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))
    if fmt == "tsv":
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().split("\n")
        assert lines[-1] == ""
        header = lines[0].split("\t")
        return [dict(zip(header, line.split("\t"), strict=True)) for line in lines[1:-1]]
    if fmt == "jsonl":
        with open(path, encoding="utf-8") as handle:
            return [json.loads(line) for line in handle]
    if fmt == "parquet":
        return pq.read_table(path).to_pylist()
    raise AssertionError(fmt)


def as_float(value):
    return None if value in (None, "") else float(value)


@pytest.fixture(scope="module")
def rows():
    texts, labels = make_reviews(23, seed=5)
    return [{"id": f"r{i:03d}", "text": text, "label": label}
            for i, (text, label) in enumerate(zip(texts, labels))]


@pytest.fixture(scope="module")
def expected(tiny_predictor, rows):
    """Probabilities of the predictor for each row, computed directly."""
    return tiny_predictor.predict_proba([row["text"] for row in rows])


def check_predictions(out: list[dict], expected: np.ndarray, labels) -> None:
    assert len(out) == len(expected)
    for row, probabilities in zip(out, expected):
        assert row["predicted_label"] == labels[int(np.argmax(probabilities))]
        assert as_float(row["predicted_score"]) == pytest.approx(float(probabilities.max()),
                                                                 abs=1e-6)
        assert row["error"] in (None, "")


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl", "parquet", "txt"])
def test_each_input_format_round_trips_rows_in_order(tmp_path, tiny_predictor, rows, expected,
                                                     fmt):
    source = tmp_path / f"in.{fmt}"
    write_input(source, fmt, rows)
    out_fmt = "jsonl" if fmt == "txt" else fmt
    target = tmp_path / f"out.{out_fmt}"
    result = score_file(tiny_predictor, source, target, chunk_size=7)
    assert (result.rows, result.errors, result.output_format) == (23, 0, out_fmt)
    out = read_output(target, out_fmt)
    check_predictions(out, expected, tiny_predictor.labels)
    if fmt == "txt":
        assert [list(row) for row in out] == [["text", *COLUMNS]] * 23
        assert [row["text"] for row in out] == [row["text"] for row in rows]
    else:
        assert [list(row) for row in out] == [["id", "text", "label", *COLUMNS]] * 23
        assert [{k: row[k] for k in ("id", "text", "label")} for row in out] == rows
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([source.name, target.name])


@pytest.mark.parametrize("out_fmt", OUTPUT_FORMATS)
def test_each_output_format_from_parquet_keeps_columns_and_adds_probabilities(
        tmp_path, tiny_predictor, rows, expected, out_fmt):
    source = tmp_path / "in.parquet"
    table = pa.Table.from_pylist(rows).append_column("stars", pa.array(range(23), pa.int16()))
    pq.write_table(table, source, row_group_size=5)
    target = tmp_path / "scored.out"  # suffix says nothing: the format comes from the option
    score_file(tiny_predictor, source, target, output_format=out_fmt, probabilities=True,
               chunk_size=6)
    out = read_output(target, out_fmt)
    check_predictions(out, expected, tiny_predictor.labels)
    assert list(out[0]) == ["id", "text", "label", "stars", "predicted_label", "predicted_score",
                            "prob_neg", "prob_pos", "error"]
    for row, original, probabilities in zip(out, table.to_pylist(), expected):
        assert row["id"] == original["id"] and row["text"] == original["text"]
        assert str(row["stars"]) == str(original["stars"])
        assert [as_float(row["prob_neg"]), as_float(row["prob_pos"])] == pytest.approx(
            probabilities.tolist(), abs=1e-6)
    if out_fmt == "parquet":
        schema = pq.read_schema(target)
        assert schema.field("stars").type == pa.int16()
        assert schema.field("prob_pos").type == pa.float32()


def test_csv_cells_pass_through_verbatim_with_newlines_quotes_emoji_cjk_and_long_text(
        tmp_path, tiny_predictor):
    long_text = "great " * 20_000  # 120,000 characters, truncated to max_length tokens
    texts = ['He said "wonderful",\nthen left.\r\nTwice.', "superb 😀🎬 film", "這部電影很好 great",
             long_text, 'quote "" inside', "tab\tinside"]
    rows = [{"id": f"00{i}", "text": t, "label": "NA", "note": ""} for i, t in enumerate(texts)]
    source = tmp_path / "in.csv"
    write_input(source, "csv", rows)
    target = tmp_path / "out.csv"
    score_file(tiny_predictor, source, target, chunk_size=4)
    out = read_output(target, "csv")
    assert [{k: row[k] for k in ("id", "text", "label", "note")} for row in out] == rows
    check_predictions(out, tiny_predictor.predict_proba(texts), tiny_predictor.labels)


def test_missing_empty_and_non_string_texts_get_an_error_not_a_crash(tmp_path, tiny_predictor):
    source = tmp_path / "in.jsonl"
    lines = [{"id": 1, "text": "great fun"}, {"id": 2, "text": None}, {"id": 3},
             {"id": 4, "text": ""}, {"id": 5, "text": "   \n"}, {"id": 6, "text": 42},
             {"id": 7, "text": ["a"]}, {"id": 8, "text": "awful boring"}]
    with open(source, "w", encoding="utf-8") as handle:
        for line in lines[:4]:
            handle.write(json.dumps(line) + "\n")
        handle.write("{not json\n\n")  # a broken line is a row; a blank line is not
        for line in lines[4:]:
            handle.write(json.dumps(line) + "\n")
    for out_fmt in ("jsonl", "parquet", "csv"):
        target = tmp_path / f"out.{out_fmt}"
        result = score_file(tiny_predictor, source, target, chunk_size=3)
        assert result.rows == 9 and result.errors == 7
        out = read_output(target, out_fmt)
        errors = [row["error"] for row in out]
        assert errors[0] in (None, "") and errors[-1] in (None, "")
        assert errors[1:8] == ["missing text", "missing text", "empty text",
                               "line 5 is not valid JSON: Expecting property name enclosed in "
                               "double quotes: line 1 column 2 (char 1)",
                               "empty text", "text is int, not a string",
                               "text is list, not a string"]
        assert [row["predicted_label"] in (None, "") for row in out] == \
            [False] + [True] * 7 + [False]
        ids = [row.get("id") for row in out]
        assert [None if v in (None, "") else str(v) for v in ids] == \
            ["1", "2", "3", "4", None, "5", "6", "7", "8"]
        assert out[0]["predicted_label"] == "pos" and out[-1]["predicted_label"] == "neg"


def test_empty_csv_cells_and_parquet_nulls_are_errors(tmp_path, tiny_predictor):
    source = tmp_path / "in.parquet"
    pq.write_table(pa.table({"text": ["fun", None, "", "dull"], "n": [1, 2, 3, 4]}), source)
    target = tmp_path / "out.csv"
    score_file(tiny_predictor, source, target)
    out = read_output(target, "csv")
    assert [row["error"] for row in out] == ["", "missing text", "empty text", ""]
    assert [row["predicted_score"] == "" for row in out] == [False, True, True, False]
    assert [row["n"] for row in out] == ["1", "2", "3", "4"]


def test_predict_chunk_keeps_order_across_length_sorted_batches(tiny_predictor):
    texts = ["great " * n + "film" if n % 3 else "awful " * n for n in range(12, 0, -1)]
    chunk = predict_chunk(tiny_predictor, texts + [None], batch_size=4)
    np.testing.assert_allclose(chunk.probabilities[:-1],
                               [tiny_predictor.predict_proba([t])[0] for t in texts], atol=1e-5)
    assert chunk.errors[-1] == "missing text" and np.isnan(chunk.probabilities[-1]).all()


def test_missing_text_column_lists_the_columns(tmp_path, tiny_predictor):
    source = tmp_path / "in.csv"
    write_input(source, "csv", [{"id": "1", "review": "fun"}])
    with pytest.raises(DataError, match=r"in.csv: no column 'text'; columns are 'id', 'review'"):
        score_file(tiny_predictor, source, tmp_path / "out.csv")
    result = score_file(tiny_predictor, source, tmp_path / "out.csv", text_column="review")
    assert result.rows == 1


def test_added_column_names_clash_unless_overwrite(tmp_path, tiny_predictor):
    source = tmp_path / "in.csv"
    write_input(source, "csv", [{"text": "fun", "label": "pos", "predicted_label": "old",
                                 "error": "x"}])
    with pytest.raises(DataError, match="'predicted_label', 'error'.*--overwrite-columns"):
        score_file(tiny_predictor, source, tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()
    score_file(tiny_predictor, source, tmp_path / "out.csv", overwrite_columns=True)
    (row,) = read_output(tmp_path / "out.csv", "csv")
    assert list(row) == ["text", "label", *COLUMNS]  # the gold label column is kept
    assert row["predicted_label"] in ("neg", "pos") and row["error"] == ""


def test_header_only_csv_writes_header_only(tmp_path, tiny_predictor):
    source = tmp_path / "in.csv"
    source.write_text("id,text\n")
    score_file(tiny_predictor, source, tmp_path / "out.csv", probabilities=True)
    assert (tmp_path / "out.csv").read_text().splitlines() == [
        '"id","text","predicted_label","predicted_score","prob_neg","prob_pos","error"']


def test_tsv_output_refuses_values_with_tabs_and_leaves_nothing(tmp_path, tiny_predictor):
    source = tmp_path / "in.jsonl"
    write_input(source, "jsonl", [{"text": "fun"}, {"text": "tab\there"}])
    with pytest.raises(DataError, match=r"row 2, column 'text' holds a tab"):
        score_file(tiny_predictor, source, tmp_path / "out.tsv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]


class Interrupt:
    """A progress callback that raises KeyboardInterrupt once ``after`` rows are done."""

    def __init__(self, after: int):
        self.after = after

    def __call__(self, rows, new_rows, total, fraction):
        if rows >= self.after:
            raise KeyboardInterrupt


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
def test_interrupted_run_leaves_output_untouched_and_resume_completes_it(
        tmp_path, tiny_predictor, rows, fmt):
    source = tmp_path / f"in.{fmt}"
    write_input(source, fmt, rows)
    reference = tmp_path / f"reference.{fmt}"
    score_file(tiny_predictor, source, reference, chunk_size=5, probabilities=True)

    target = tmp_path / f"out.{fmt}"
    target.write_text("previous version")
    with pytest.raises(KeyboardInterrupt):
        score_file(tiny_predictor, source, target, chunk_size=5, probabilities=True,
                   progress=Interrupt(after=10))
    assert target.read_text() == "previous version"
    paths = state_paths(target)
    state = json.loads(paths["state"].read_text())
    assert state["rows_done"] == 10
    if fmt != "parquet":
        # a crash between writing a chunk and recording it leaves extra bytes behind
        with open(paths["partial"], "ab") as handle:
            handle.write(b"half a chunk")

    result = score_file(tiny_predictor, source, target, chunk_size=5, probabilities=True,
                        resume=True)
    assert (result.resumed_from, result.rows) == (10, 23)
    if fmt == "parquet":
        assert pq.read_table(target).equals(pq.read_table(reference))
    else:
        assert target.read_bytes() == reference.read_bytes()
    assert not any(p.exists() for p in paths.values())


def test_resume_after_interruption_inside_a_chunk(tmp_path, tiny_predictor, rows):
    class FailingPredictor:
        labels = tiny_predictor.labels

        def __init__(self):
            self.calls = 0

        def predict_proba(self, texts, batch_size=64):
            self.calls += 1
            if self.calls == 3:
                raise KeyboardInterrupt  # Ctrl-C while the third chunk is scored
            return tiny_predictor.predict_proba(texts, batch_size)

    source = tmp_path / "in.csv"
    write_input(source, "csv", rows)
    target = tmp_path / "out.csv"
    with pytest.raises(KeyboardInterrupt):
        score_file(FailingPredictor(), source, target, chunk_size=4)
    assert not target.exists()
    score_file(tiny_predictor, source, target, chunk_size=6, resume=True)  # new chunk size
    out = read_output(target, "csv")
    assert [row["id"] for row in out] == [row["id"] for row in rows]


def test_resume_refuses_a_changed_input_or_options(tmp_path, tiny_predictor, rows):
    source = tmp_path / "in.csv"
    write_input(source, "csv", rows)
    target = tmp_path / "out.csv"
    with pytest.raises(KeyboardInterrupt):
        score_file(tiny_predictor, source, target, chunk_size=5, progress=Interrupt(5))
    with pytest.raises(ConfigError, match="the options differ"):
        score_file(tiny_predictor, source, target, chunk_size=5, probabilities=True,
                   resume=True)
    write_input(source, "csv", rows[:-1])
    with pytest.raises(ConfigError, match="the input file changed"):
        score_file(tiny_predictor, source, target, chunk_size=5, resume=True)
    # without --resume a run starts over and cleans up
    assert score_file(tiny_predictor, source, target, chunk_size=5).rows == 22
    assert not state_paths(target)["state"].exists()


def test_resume_with_nothing_to_resume_starts_fresh(tmp_path, tiny_predictor, rows):
    source = tmp_path / "in.parquet"
    write_input(source, "parquet", rows)
    result = score_file(tiny_predictor, source, tmp_path / "out.parquet", resume=True)
    assert (result.resumed_from, result.rows) == (0, 23)


def test_output_must_not_replace_input(tmp_path, tiny_predictor, rows):
    source = tmp_path / "in.csv"
    write_input(source, "csv", rows)
    with pytest.raises(ConfigError, match="replace the input"):
        score_file(tiny_predictor, source, source)


def test_an_output_reaching_the_input_another_way_is_refused(tmp_path, tiny_predictor, rows,
                                                            monkeypatch):
    """``sub/../w.csv``, a symbolically linked directory, a hard link: all the input."""
    monkeypatch.chdir(tmp_path)
    write_input(tmp_path / "w.csv", "csv", rows)
    original = (tmp_path / "w.csv").read_bytes()
    (tmp_path / "sub").mkdir()
    (tmp_path / "linkdir").symlink_to(tmp_path, target_is_directory=True)
    (tmp_path / "hard.csv").hardlink_to(tmp_path / "w.csv")
    for output, kwargs in (("sub/../w.csv", {}), ("linkdir/w.csv", {"output_format": "jsonl"}),
                           ("hard.csv", {})):
        with pytest.raises(ConfigError, match=f"output '{output}' would replace the input "
                                              "'w.csv'"):
            score_file(tiny_predictor, "w.csv", output, **kwargs)
    assert (tmp_path / "w.csv").read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hard.csv", "linkdir", "sub", "w.csv"]


# scores argv[1] into argv[2] in chunks of argv[3] rows; after the first chunk is written it
# says "holding" and waits (holding the output) until its standard input closes
SLOW_RUN = """
import signal, sys
import numpy as np
signal.alarm(120)
from sentiment.scoring import score_file

class Slow:
    labels = ["neg", "pos"]
    calls = 0

    def predict_proba(self, texts, batch_size=64):
        Slow.calls += 1
        if Slow.calls == 2:
            print("holding", flush=True)
            sys.stdin.read()
        return np.tile(np.float32([0.25, 0.75]), (len(texts), 1))

print(score_file(Slow(), sys.argv[1], sys.argv[2], chunk_size=int(sys.argv[3])).rows,
      flush=True)
"""


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_a_second_run_on_the_same_output_stops_at_once_and_the_first_completes(
        tmp_path, tiny_predictor, fmt):
    import subprocess
    import sys

    rows = [{"id": str(i), "text": f"review number {i}"} for i in range(50)]
    source = tmp_path / f"big.{fmt}"
    write_input(source, fmt, rows)
    target = tmp_path / f"out.{fmt}"
    first = subprocess.Popen([sys.executable, "-c", SLOW_RUN, str(source), str(target), "10"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert first.stdout.readline() == "holding\n"  # the child ends within 120 s
        hidden = sorted(p.name for p in tmp_path.iterdir())
        for resume in (False, True):
            with pytest.raises(ConfigError) as caught:
                score_file(tiny_predictor, source, target, chunk_size=10, resume=resume)
            assert str(caught.value) == (f"{str(target)!r} is being written by another run "
                                         f"(pid {first.pid}); wait for it to end or stop it")
        assert sorted(p.name for p in tmp_path.iterdir()) == hidden  # nothing was cleaned up
        out, _ = first.communicate("", timeout=120)
    finally:
        first.kill()
    assert first.returncode == 0 and out.strip() == "50"
    assert [row["id"] for row in read_output(target, fmt)] == [row["id"] for row in rows]
    assert sorted(p.name for p in tmp_path.iterdir()) == [source.name, target.name]


@pytest.mark.parametrize("bad_row, chunk_size", [(3000, 100), (3000, 10_000), (50_000, 10_000)])
def test_a_ragged_csv_row_deep_in_the_file_is_named(tmp_path, tiny_predictor, bad_row,
                                                    chunk_size):
    """pyarrow reports no row number for a row with the wrong number of fields; the message
    names the data row and the file line it starts on (row 5 spans two lines)."""
    path = tmp_path / "in.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text"])
        for row in range(1, bad_row + 100):
            writer.writerow([row, "a quoted\nline break" if row == 5 else f"text {row}"]
                            if row != bad_row else [row, "fun", "extra", "fields"])
    with pytest.raises(DataError) as caught:
        score_file(tiny_predictor, path, tmp_path / "out.csv", chunk_size=chunk_size)
    assert str(caught.value) == (f"{path}: row {bad_row} (line {bad_row + 2}): expected 2 "
                                 f"fields, found 4: '{bad_row},fun,extra,fields'")
    assert [p.name for p in tmp_path.iterdir()] == ["in.csv"]


def test_a_ragged_tsv_row_is_named(tmp_path, tiny_predictor):
    path = tmp_path / "in.tsv"
    path.write_text("id\ttext\n" + "".join(f"{i}\ttext {i}\n" if i != 2500 else "x\ty\tz\n"
                                           for i in range(1, 3000)), encoding="utf-8")
    with pytest.raises(DataError, match=r"in.tsv: row 2500 \(line 2501\): expected 2 fields, "
                                        "found 3"):
        score_file(tiny_predictor, path, tmp_path / "out.tsv", chunk_size=100)


@pytest.mark.parametrize("fmt", ["csv", "tsv", "txt", "jsonl"])
def test_undecodable_bytes_are_scored_as_replacement_characters(tmp_path, tiny_predictor, fmt):
    bad = b"\xff\xfe bad \xc3\x28 film"
    lines = {"csv": [b"text,id", bad + b",1", b"good film,2"],
             "tsv": [b"text\tid", bad + b"\t1", b"good film\t2"],
             "txt": [bad, b"good film"],
             "jsonl": [b'{"text": "' + bad + b'", "id": 1}', b'{"text": "good film", "id": 2}']}
    path = tmp_path / f"in.{fmt}"
    path.write_bytes(b"\n".join(lines[fmt]) + b"\n")
    result = score_file(tiny_predictor, path, tmp_path / "out.jsonl", probabilities=True)
    rows = read_output(tmp_path / "out.jsonl", "jsonl")
    assert result.rows == 2 and len(rows) == 2 and rows[0]["error"] is None
    cleaned = "\ufffd\ufffd bad \ufffd( film"
    assert rows[0]["text"] == cleaned
    expected = tiny_predictor.predict_proba([cleaned])[0]
    assert rows[0]["prob_pos"] == pytest.approx(float(expected[1]), abs=1e-6)


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_a_scored_dated_file_resamples_into_the_positive_class_index(tmp_path, tiny_predictor,
                                                                     fmt):
    """README's "A sentiment index": score a dated file, resample it without naming the
    column; the index is the mean probability of the positive class, never predicted_score."""
    from sentiment.timeseries.data import resample_scores

    texts, _ = make_reviews(12, seed=3)
    rows = [{"text": text if i != 4 else "", "created": f"2024-05-0{1 + i // 4}T{i:02d}:30:00"}
            for i, text in enumerate(texts)]
    source = tmp_path / f"posts.{fmt}"
    write_input(source, fmt, rows)
    target = tmp_path / f"scored.{fmt}"
    score_file(tiny_predictor, source, target, probabilities=True)
    series = resample_scores(target, "created", None, "1D")
    assert series.columns == ("prob_pos", "count")  # the tiny model's labels are neg, pos
    probabilities = tiny_predictor.predict_proba([row["text"] or "x" for row in rows])[:, 1]
    expected = [np.mean([p for i, p in enumerate(probabilities) if i // 4 == day and i != 4])
                for day in range(3)]
    np.testing.assert_allclose(series.values[:, 0], expected, rtol=1e-5)
    assert series.values[:, 1].tolist() == [4, 4, 4]  # the unscorable row is still counted
