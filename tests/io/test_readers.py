"""sentiment.io.readers: streaming readers, chunk by chunk, and what each format yields."""

from __future__ import annotations

import csv
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sentiment.errors import DataError
from sentiment.io.readers import ParquetReader, open_reader


def test_parquet_reader_holds_one_chunk_not_every_row_group_read(tmp_path):
    """Streaming: Arrow memory while reading a many-row-group file stays near one chunk. (With
    pyarrow's default pre-buffering, ``iter_batches`` kept every row group read so far.)"""
    path = tmp_path / "big.parquet"
    rng = np.random.default_rng(0)  # incompressible text: the file holds what memory would
    group = pa.table({"text": [rng.bytes(1000).hex() for _ in range(1000)]})  # 2 MB per group
    with pq.ParquetWriter(path, group.schema) as writer:
        for _ in range(16):
            writer.write_table(group, row_group_size=1000)
    reader = ParquetReader(str(path), "text")
    before = pa.total_allocated_bytes()
    peak, rows = 0, 0
    for chunk in reader.chunks(500, 0):
        rows += chunk.rows
        peak = max(peak, pa.total_allocated_bytes() - before)
    reader.close()
    assert rows == 16_000
    assert peak < 8 * group.nbytes, f"{peak / 2**20:.1f} MiB of Arrow memory held"


def test_csv_cells_are_verbatim_strings_in_chunks_with_skip(tmp_path):
    path = tmp_path / "in.csv"
    rows = [["id", "text", "note"]] + [[f"00{i}", f'say "{i}",\nok', "" if i % 2 else "NA"]
                                       for i in range(10)]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    with open_reader(path) as reader:
        assert reader.format == "csv" and reader.columns == ["id", "text", "note"]
        chunks = list(reader.chunks(4, skip=3))
    assert [(chunk.start, chunk.rows) for chunk in chunks] == [(3, 4), (7, 3)]
    assert all(chunk.table.schema.types == [pa.string()] * 3 for chunk in chunks)
    assert chunks[0].values("id") == ["003", "004", "005", "006"]
    assert chunks[0].values("note") == ["", "NA", "", "NA"]
    assert chunks[0].values("text")[0] == 'say "3",\nok'


def test_tsv_has_no_quoting(tmp_path):
    path = tmp_path / "in.tsv"
    path.write_text('sentence\tlabel\nit \'s a "gem\t1\n', encoding="utf-8")
    chunk = open_reader(path, text_column="sentence").read_all()
    assert chunk.values("sentence") == ['it \'s a "gem'] and chunk.values("label") == ["1"]


def test_parquet_keeps_types_and_nulls(tmp_path):
    path = tmp_path / "in.parquet"
    pq.write_table(pa.table({"text": ["a", None, "c"], "stars": pa.array([1, 2, None],
                                                                         pa.int16())}),
                   path, row_group_size=2)
    with open_reader(path) as reader:
        assert reader.total_rows == 3
        chunk = reader.read_all(["stars"])
    assert chunk.table.schema.field("stars").type == pa.int16()
    assert chunk.column_names == ["stars"] and chunk.values("stars") == [1, 2, None]


def test_json_lines_rows_records_errors_and_lines(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text('\ufeff{"text": "a", "n": 1}\n\n{broken\n[1, 2]\n{"text": 5, "extra": true}\n',
                    encoding="utf-8")
    with open_reader(path) as reader:
        reader.prime(2, 0)
        assert reader.columns == ["text", "n"]  # the keys of the first chunk
        chunks = list(reader.chunks(2, 0))
    assert [(chunk.start, chunk.rows) for chunk in chunks] == [(0, 2), (2, 2)]
    assert chunks[0].records[1] is None and chunks[0].row_errors[1].startswith(
        "line 3 is not valid JSON: ")
    assert chunks[1].row_errors == {0: "line 4 is a JSON list, not an object"}
    assert chunks[1].values("text") == [None, 5] and chunks[1].line_numbers == [4, 5]
    whole = open_reader(path).read_all()
    assert whole.column_names == ["text", "n", "extra"] and whole.rows == 4
    assert sorted(whole.row_errors) == [1, 2] and whole.line_numbers == [1, 3, 4, 5]


def test_text_lines_are_rows_with_blank_ones(tmp_path):
    path = tmp_path / "in.txt"
    path.write_text("first\n\nthird\n", encoding="utf-8")
    with open_reader(path, text_column="body") as reader:
        (chunk,) = reader.chunks()
    assert chunk.column_names == ["body"] and chunk.values("body") == ["first", "", "third"]
    assert chunk.line_numbers == [1, 2, 3]


@pytest.mark.parametrize("fmt", ["csv", "tsv", "txt", "jsonl"])
def test_invalid_utf8_is_read_as_replacement_characters(tmp_path, fmt):
    bad = b"\xff\xfe bad \xc3\x28 film"
    lines = {"csv": [b"text,id", bad + b",1"], "tsv": [b"text\tid", bad + b"\t1"],
             "txt": [bad], "jsonl": [b'{"text": "' + bad + b'", "id": 1}']}
    path = tmp_path / f"in.{fmt}"
    path.write_bytes(b"\n".join(lines[fmt]) + b"\n")
    assert open_reader(path).read_all().values("text") == ["\ufffd\ufffd bad \ufffd( film"]


@pytest.mark.parametrize("fmt, delimiter", [("csv", ","), ("tsv", "\t")])
def test_a_ragged_row_is_named_with_its_row_and_line(tmp_path, fmt, delimiter):
    path = tmp_path / f"in.{fmt}"
    lines = ["id", "text"], *([str(i), f"text {i}"] for i in range(1, 3000))
    body = "".join(delimiter.join(fields) + "\n" if fields[0] != "2500"
                   else delimiter.join(["x", "y", "z"]) + "\n" for fields in lines)
    path.write_text(body, encoding="utf-8")
    message = rf"in.{fmt}: row 2500 \(line 2501\): expected 2 fields, found 3"
    with pytest.raises(DataError, match=message):
        list(open_reader(path).chunks(100))
    with pytest.raises(DataError, match=message):
        open_reader(path).read_all()


def test_open_reader_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        open_reader(tmp_path / "none.csv")
    with pytest.raises(DataError, match="is a directory"):
        open_reader(tmp_path, "csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match=r"empty.csv: the file is empty \(no header line\)"):
        open_reader(tmp_path / "empty.csv")
    (tmp_path / "in.csv").write_text("id,review\n1,fun\n")
    with pytest.raises(DataError, match=r"in.csv: no column 'text'; columns are 'id', 'review'"):
        open_reader(tmp_path / "in.csv")
    (tmp_path / "twice.csv").write_text("text,text\n1,2\n")
    with pytest.raises(DataError, match="the column name 'text' appears 2 times"):
        open_reader(tmp_path / "twice.csv")
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(DataError, match="bad.parquet: cannot read as Parquet"):
        open_reader(tmp_path / "bad.parquet")
    (tmp_path / "in.jsonl").write_text(json.dumps({"body": "x"}) + "\n")
    reader = open_reader(tmp_path / "in.jsonl")
    with pytest.raises(DataError, match="in.jsonl: no column 'text'; columns are 'body'"):
        reader.prime()
