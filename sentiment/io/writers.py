"""Writers of CSV, TSV, JSON Lines and Parquet, chunk by chunk.

A writer writes the rows of each :class:`~sentiment.io.readers.Chunk` (its pass-through
columns) followed by the caller's added columns (``added``: names, then one Arrow array per
name with each chunk), to a binary stream. :func:`open_writer` picks the writer of a format.

* ``csv``: RFC 4180 by ``pyarrow.csv`` with a header line; strings verbatim, nulls empty;
  lists, structs, maps and binary values as JSON text.
* ``tsv``: tab-separated, no quoting; a value holding a tab or a line break cannot be
  written and is an error naming the row and column.
* ``jsonl``: one object per row, the input record's keys (or the table's columns) then the
  added ones; float32 added values as the shortest decimal that reads back the same, NaN
  as ``null``.
* ``parquet``: one file per chunk in ``parts_dir`` (a temporary directory when not given),
  joined into the stream under one schema (types unified) by :meth:`Writer.finish`.

CSV and TSV need the same columns in every row: the first chunk fixes them (``columns``
after it), and a JSON record with another key is an error. An input column named like an
added one is replaced by it.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, BinaryIO, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from ..errors import ConfigError, DataError
from .readers import Chunk, record_keys


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def _csv_cell(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=_json_default)


def short_floats(values: np.ndarray) -> list:
    """float32 values as the shortest Python floats that round-trip (``None`` for NaN)."""
    return [None if v != v else float(s) for v, s in zip(values.tolist(), map(str, values))]


def _json_values(array: pa.Array) -> list:
    """An added column as JSON values: float32 via :func:`short_floats`, nulls ``None``."""
    if pa.types.is_float32(array.type):
        return short_floats(array.to_numpy(zero_copy_only=False))
    return array.to_pylist()


def _records_to_table(records: list, columns: list[str], as_strings: bool) -> pa.Table:
    """JSON objects -> an Arrow table with ``columns`` (a key absent from a row is null).
    ``as_strings`` renders every value as text (for CSV/TSV); otherwise types are inferred
    per column, falling back to JSON text for a column that mixes types."""
    arrays = {}
    for name in columns:
        values = [None if record is None else record.get(name) for record in records]
        if as_strings:
            arrays[name] = pa.array([_csv_cell(v) for v in values], pa.string())
            continue
        try:
            arrays[name] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
            arrays[name] = pa.array([_csv_cell(v) for v in values], pa.string())
    if not arrays:  # no columns: keep the row count
        return pa.table({"_": pa.nulls(len(records))}).drop_columns(["_"])
    return pa.table(arrays)


def _stringify_nested(table: pa.Table) -> pa.Table:
    """Columns CSV cannot hold (lists, structs, maps, binary) -> JSON text."""
    for index, column in enumerate(table.columns):
        kind = column.type
        if pa.types.is_nested(kind) or pa.types.is_binary(kind) or \
                pa.types.is_large_binary(kind) or pa.types.is_dictionary(kind):
            values = [_csv_cell(v) for v in column.to_pylist()]
            table = table.set_column(index, table.column_names[index],
                                     pa.array(values, pa.string()))
    return table


class Writer:
    """Writes chunks with added columns to a binary stream.

    Attributes:
        added: the names of the added columns, in order.
        columns: the pass-through columns; fixed by the first chunk for CSV/TSV (give the
            recorded ones when appending to an earlier run's output).
        parts: Parquet files written so far (0 for the other formats).
    """

    fixed_columns = True
    format_name = ""
    parts = 0

    def __init__(self, stream: BinaryIO, added: Sequence[str], *, target: str = "<stdout>",
                 columns: list[str] | None = None, header_done: bool = False):
        self.stream = stream
        self.added = list(added)
        self.columns = columns
        self.target = target
        self.header_done = header_done

    def _table(self, chunk: Chunk, arrays: Sequence[pa.Array], as_strings: bool) -> pa.Table:
        if chunk.records is not None:
            if self.columns is None:
                columns = [name for name in record_keys(chunk.records)
                           if name not in self.added]
                if self.fixed_columns:
                    self.columns = columns
            else:
                columns = self.columns
            if self.fixed_columns:
                for position, record in enumerate(chunk.records):
                    extra = [key for key in (record or ()) if key not in columns
                             and key not in self.added]
                    if extra:
                        raise DataError(
                            f"row {chunk.start + position + 1} has the key {extra[0]!r}, absent "
                            f"from the first {chunk.start or chunk.rows} rows; a "
                            f"{self.format_name} output needs the same columns in every row "
                            "(use --output-format jsonl or parquet)")
            table = _records_to_table(chunk.records, columns, as_strings)
        else:
            table = chunk.table
            drop = [name for name in table.column_names if name in self.added]
            if drop:
                table = table.drop_columns(drop)
            if self.columns is None and self.fixed_columns:
                self.columns = table.column_names
        for name, array in zip(self.added, arrays):
            table = table.append_column(name, array)
        return table

    def write(self, chunk: Chunk, arrays: Sequence[pa.Array]) -> None:
        """Write the rows of ``chunk`` with ``arrays`` (one per added column, ``chunk.rows``
        values each).

        Raises:
            DataError: for a value the format cannot hold (naming the row and column).
        """
        raise NotImplementedError

    def finish(self) -> None:
        """Complete the output (Parquet writes it here) and flush the stream."""
        self.stream.flush()

    def close(self) -> None:
        """Release what the writer holds besides the stream (a temporary directory)."""


class CsvWriter(Writer):
    format_name = "CSV"

    def write(self, chunk, arrays):
        table = _stringify_nested(self._table(chunk, arrays, as_strings=True))
        header, self.header_done = not self.header_done, True
        pa_csv.write_csv(table, self.stream, pa_csv.WriteOptions(include_header=header))


class TsvWriter(Writer):
    format_name = "TSV"

    def write(self, chunk, arrays):
        table = _stringify_nested(self._table(chunk, arrays, as_strings=True))
        header, self.header_done = not self.header_done, True
        columns = []
        for name, column in zip(table.column_names, table.columns):
            text = pc.cast(column, pa.string()) if column.type != pa.string() else column
            text = pc.fill_null(text, "")
            bad = pc.match_substring_regex(text, r"[\t\n\r]")
            if pc.any(bad).as_py():
                row = chunk.start + int(pc.index(bad, True).as_py()) + 1
                raise DataError(f"{self.target}: row {row}, column {name!r} holds a tab or line "
                                "break, which TSV (unquoted) cannot hold; use --output-format "
                                "csv, jsonl or parquet")
            columns.append(text)
        out = io.StringIO()
        if header:
            out.write("\t".join(table.column_names) + "\n")
        if table.num_rows:
            lines = (pc.binary_join_element_wise(*columns, "\t") if len(columns) > 1
                     else columns[0])
            out.write("\n".join(lines.to_pylist()) + "\n")
        self.stream.write(out.getvalue().encode("utf-8"))


class JsonLinesWriter(Writer):
    fixed_columns = False

    def write(self, chunk, arrays):
        if chunk.records is not None:
            records = [dict(record) if record is not None else {} for record in chunk.records]
        else:
            records = chunk.table.to_pylist()
        new = [_json_values(array) for array in arrays]
        lines = []
        for position, record in enumerate(records):
            for name in self.added:
                record.pop(name, None)
            for name, values in zip(self.added, new):
                record[name] = values[position]
            lines.append(json.dumps(record, ensure_ascii=False, default=_json_default))
        if lines:
            self.stream.write(("\n".join(lines) + "\n").encode("utf-8"))


class ParquetPartsWriter(Writer):
    """One Parquet file per chunk in ``parts_dir``; :meth:`finish` concatenates them into the
    stream under one schema (types unified, e.g. a column null in the first chunk).

    ``parts_done``: parts an earlier run completed (kept); any later part or ``.tmp`` file
    in ``parts_dir`` is removed. Without ``parts_dir`` the parts go to a temporary directory,
    removed by :meth:`close`.
    """

    fixed_columns = False

    def __init__(self, *args, parts_dir: Path | None = None, parts_done: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        self._temporary = parts_dir is None
        if parts_dir is None:
            parts_dir, parts_done = Path(tempfile.mkdtemp(prefix="sentiment-parts-")), 0
        else:
            parts_dir.mkdir(exist_ok=True)
            for stale in parts_dir.iterdir():  # parts of a chunk not recorded as done
                if stale.suffix == ".tmp" or int(stale.stem.split("-")[1]) >= parts_done:
                    stale.unlink()
        self.parts_dir = parts_dir
        self.parts = parts_done

    def part_path(self, index: int) -> Path:
        return self.parts_dir / f"part-{index:06d}.parquet"

    def write(self, chunk, arrays):
        table = self._table(chunk, arrays, as_strings=False)
        path = self.part_path(self.parts)
        tmp = path.with_suffix(".tmp")
        pq.write_table(table, tmp)
        os.replace(tmp, path)
        self.parts += 1

    def finish(self):
        paths = [self.part_path(i) for i in range(self.parts)]
        schemas = [pq.read_schema(path) for path in paths]
        try:
            schema = pa.unify_schemas(schemas, promote_options="permissive")
        except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
            raise DataError(f"{self.target}: the input columns change type between rows and "
                            f"cannot share one Parquet schema ({error}); use --output-format "
                            "jsonl") from None
        # the added columns go last, as in every part
        names = [n for n in schema.names if n not in self.added] + \
            [n for n in self.added if n in schema.names]
        schema = pa.schema([schema.field(n) for n in names])
        with pq.ParquetWriter(self.stream, schema) as writer:
            for path in paths:
                table = pq.read_table(path)
                for name in schema.names:
                    if name not in table.column_names:
                        table = table.append_column(
                            name, pa.nulls(table.num_rows, schema.field(name).type))
                try:
                    table = table.select(schema.names).cast(schema)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
                    raise DataError(f"{self.target}: cannot unify the column types of the "
                                    f"chunks ({error}); use --output-format jsonl") from None
                writer.write_table(table)
        self.stream.flush()

    def close(self):
        if self._temporary:
            shutil.rmtree(self.parts_dir, ignore_errors=True)


WRITERS = {"csv": CsvWriter, "tsv": TsvWriter, "jsonl": JsonLinesWriter,
           "parquet": ParquetPartsWriter}


def open_writer(output_format: str, stream: BinaryIO, added: Sequence[str], *,
                target: str = "<stdout>", columns: list[str] | None = None,
                header_done: bool = False, parts_dir: Path | None = None,
                parts_done: int = 0) -> Writer:
    """The writer of ``output_format`` (one of :data:`~sentiment.io.formats.OUTPUT_FORMATS`).

    Args:
        stream: where the output goes (binary).
        added: names of the columns each :meth:`Writer.write` adds after the input's.
        target: the output's name in messages.
        columns: pass-through columns fixed by an earlier run (CSV/TSV), or ``None``.
        header_done: the stream already holds the header (CSV/TSV, when appending).
        parts_dir, parts_done: Parquet only, see :class:`ParquetPartsWriter`.

    Raises:
        ConfigError: for an unknown format.
    """
    if output_format not in WRITERS:
        raise ConfigError(f"unknown output format {output_format!r}; choose one of "
                          f"{', '.join(WRITERS)}")
    options = dict(target=target, columns=columns, header_done=header_done)
    if output_format == "parquet":
        return ParquetPartsWriter(stream, added, parts_dir=parts_dir, parts_done=parts_done,
                                  **options)
    return WRITERS[output_format](stream, added, **options)


__all__ = ["Writer", "CsvWriter", "TsvWriter", "JsonLinesWriter", "ParquetPartsWriter",
           "WRITERS", "open_writer", "short_floats"]
