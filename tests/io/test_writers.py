"""sentiment.io.writers: chunks with added columns, written as CSV, TSV, JSON Lines, Parquet."""

from __future__ import annotations

import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sentiment.errors import ConfigError, DataError
from sentiment.io.readers import Chunk
from sentiment.io.writers import open_writer

ADDED = ["label", "score"]


def added(n: int, start: float = 0.25):
    return [pa.array(["pos"] * n), pa.array([start + i for i in range(n)], pa.float32())]


def test_csv_writes_header_once_and_verbatim_cells():
    stream = io.BytesIO()
    writer = open_writer("csv", stream, ADDED)
    writer.write(Chunk(0, table=pa.table({"id": ["007"], "text": ['a "b",\nc']})), added(1))
    writer.write(Chunk(1, table=pa.table({"id": ["8"], "text": ["d"]})), added(1, 0.5))
    writer.finish()
    assert writer.columns == ["id", "text"]
    assert stream.getvalue().decode().splitlines() == [
        '"id","text","label","score"', '"007","a ""b"",', 'c","pos",0.25', '"8","d","pos",0.5']


def test_tsv_output_refuses_values_with_tabs():
    writer = open_writer("tsv", io.BytesIO(), ADDED, target="out.tsv")
    with pytest.raises(DataError, match=r"out.tsv: row 2, column 'text' holds a tab"):
        writer.write(Chunk(0, table=pa.table({"text": ["fun", "tab\there"]})), added(2))


def test_csv_needs_the_same_keys_in_every_record():
    writer = open_writer("csv", io.BytesIO(), ADDED)
    writer.write(Chunk(0, records=[{"text": "a"}, {"text": "b"}]), added(2))  # fixes columns
    with pytest.raises(DataError, match="row 4 has the key 'extra', absent from the first 2 "
                                        "rows; a CSV output"):
        writer.write(Chunk(2, records=[{"text": "c"}, {"text": "d", "extra": 1}]), added(2))


def test_json_lines_short_floats_nulls_and_replaced_columns():
    stream = io.BytesIO()
    writer = open_writer("jsonl", stream, ADDED)
    scores = pa.array([0.1, None], pa.float32())
    writer.write(Chunk(0, records=[{"text": "a", "score": "old"}, None]),
                 [pa.array(["pos", None]), scores])
    writer.finish()
    rows = [json.loads(line) for line in stream.getvalue().decode().splitlines()]
    assert rows == [{"text": "a", "label": "pos", "score": 0.1},
                    {"label": None, "score": None}]


def test_parquet_parts_unify_types_and_remove_their_temporary_directory():
    stream = io.BytesIO()
    writer = open_writer("parquet", stream, ADDED)
    writer.write(Chunk(0, records=[{"text": "a", "n": None}]), added(1))
    writer.write(Chunk(1, records=[{"text": "b", "n": 3}]), added(1))
    writer.finish()
    parts = writer.parts_dir
    writer.close()
    assert not parts.exists()
    table = pq.read_table(pa.BufferReader(stream.getvalue()))
    assert table.column_names == ["text", "n", "label", "score"]
    assert table.column("n").to_pylist() == [None, 3]
    assert table.schema.field("score").type == pa.float32()


def test_parquet_parts_of_an_unfinished_chunk_are_removed(tmp_path):
    parts = tmp_path / "parts"
    parts.mkdir()
    for name in ("part-000000.parquet", "part-000001.parquet", "part-000002.tmp"):
        (parts / name).write_bytes(b"x")
    writer = open_writer("parquet", io.BytesIO(), ADDED, parts_dir=parts, parts_done=1)
    assert writer.parts == 1 and sorted(p.name for p in parts.iterdir()) == [
        "part-000000.parquet"]


def test_unknown_format():
    with pytest.raises(ConfigError, match="unknown output format 'xlsx'"):
        open_writer("xlsx", io.BytesIO(), ADDED)
