"""Streaming readers of CSV, TSV, JSON Lines, Parquet and text files.

:func:`open_reader` opens a file (or standard input) as a :class:`Reader`;
``reader.chunks(chunk_size, skip)`` yields the rows as :class:`Chunk` objects of at most
``chunk_size`` rows, after leaving out the first ``skip`` rows, so memory holds one chunk
whatever the size of the file. ``reader.read_all()`` gives the whole file as one chunk.

What a chunk holds, by format:

* ``csv``: RFC 4180, parsed by ``pyarrow.csv`` (quoted cells may hold line breaks). ``table``
  has one ``string`` column per header field, every cell verbatim (no number parsing, an
  empty cell is ``""``, never null).
* ``tsv``: the same, tab-separated and without quoting (the GLUE convention).
* ``parquet``: ``table`` with the file's schema: types and nulls kept. Read by row group,
  without pre-buffering.
* ``txt``: one text per line; ``table`` has one ``string`` column (named after
  ``text_column``), an empty line is a row holding ``""``.
* ``jsonl``: one JSON object per non-blank line. ``records`` holds each object as
  :func:`json.loads` returns it, or ``None`` for a line that is not an object, whose message
  (``line 5 is not valid JSON: ...``, ``line 6 is a JSON list, not an object``) is in
  ``row_errors`` so that the row count is kept.

Rows are numbered from 0 in :attr:`Chunk.start` and from 1 in messages; a header line and
blank lines (of CSV, TSV and JSON Lines) are not rows. Invalid UTF-8 in text (CSV, TSV,
text, JSON Lines) is read as U+FFFD, as :class:`sentiment.Predictor` reads it; a UTF-8 byte
order mark at the start of the file is dropped.

Errors: :class:`FileNotFoundError` for a missing file; :class:`DataError`, naming the file,
for a directory, an empty CSV/TSV file (no header line), a CSV/TSV row with the wrong number
of fields (``row 3000 (line 3001): expected 2 fields, found 4: '...'``), a file that cannot be
parsed, or a missing ``text_column`` (the message lists the columns).

Nothing here knows about models or the command line: the scoring loop, training, the time
series and any other caller read through these.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Iterator, Sequence

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from ..errors import ConfigError, DataError
from .formats import STDIO, detect_format

#: Rows per chunk unless the caller says otherwise.
DEFAULT_CHUNK_SIZE = 10_000
_WHOLE_FILE = 1 << 62  # a chunk size no file reaches


@dataclass
class Chunk:
    """Rows ``start .. start + rows`` of a file (``start`` from 0).

    Exactly one of ``table`` and ``records`` is set: ``table`` for CSV, TSV, Parquet and text
    (column types as the module docstring says), ``records`` for JSON Lines (a ``dict`` per
    row, ``None`` for a line that is not a JSON object).

    Attributes:
        start: index of the first row in the file.
        table: the rows as an Arrow table.
        records: the rows as JSON objects.
        row_errors: position in the chunk -> why that row could not be read.
        line_numbers: the file line (from 1) of each row, where the reader knows it (JSON
            Lines, text).
    """

    start: int
    table: pa.Table | None = None
    records: list | None = None
    row_errors: dict = field(default_factory=dict)
    line_numbers: list | None = None

    @property
    def rows(self) -> int:
        return self.table.num_rows if self.table is not None else len(self.records)

    @property
    def column_names(self) -> list[str]:
        """The table's columns, or the keys of the records in the order first seen."""
        if self.table is not None:
            return self.table.column_names
        return record_keys(self.records)

    def values(self, name: str) -> list:
        """The column ``name`` as Python values, one per row: ``None`` for a null, for a
        record without the key and for an unreadable line.

        Raises:
            KeyError: when the table has no such column, or has it twice.
        """
        if self.table is not None:
            return self.table.column(name).to_pylist()
        return [None if record is None else record.get(name) for record in self.records]


def record_keys(records: Iterable[dict | None]) -> list[str]:
    """The union of the keys of ``records`` (``None`` entries skipped), in the order seen."""
    seen: dict[str, None] = {}
    for record in records:
        if record is not None:
            seen.update(dict.fromkeys(record))
    return list(seen)


def replace_invalid_utf8(table: pa.Table) -> pa.Table:
    """``table`` with every invalid UTF-8 sequence in its string columns replaced by U+FFFD,
    as :class:`sentiment.Predictor` reads such text (valid tables are returned as they are)."""
    try:
        table.validate(full=True)
        return table
    except pa.ArrowInvalid:
        pass
    columns = []
    for column in table.columns:
        if pa.types.is_string(column.type):
            try:
                column.validate(full=True)
            except pa.ArrowInvalid:
                raw = pc.cast(column, pa.binary()).to_pylist()
                column = pa.array([None if value is None else value.decode("utf-8", "replace")
                                   for value in raw], pa.string())
        columns.append(column)
    return pa.table(columns, names=table.column_names)


def _rechunk(batches: Iterator[pa.RecordBatch], chunk_size: int, skip: int
             ) -> Iterator[pa.Table]:
    """Re-cut a stream of record batches into tables of ``chunk_size`` rows (the last may be
    shorter), after dropping the first ``skip`` rows. Holds at most one chunk plus a batch."""
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    for batch in batches:
        if skip:
            if batch.num_rows <= skip:
                skip -= batch.num_rows
                continue
            batch, skip = batch.slice(skip), 0
        pending.append(batch)
        pending_rows += batch.num_rows
        while pending_rows >= chunk_size:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, chunk_size).combine_chunks()
            rest = table.slice(chunk_size)
            pending = rest.combine_chunks().to_batches() if rest.num_rows else []
            pending_rows = rest.num_rows
    if pending_rows:
        yield pa.Table.from_batches(pending).combine_chunks()


def csv_records(path: str, delimiter: str) -> Iterator[tuple[int, int, list[str]]]:
    """``(data row from 1, file line from 1 where it starts, fields)`` for each record of a
    CSV (``,``, quoted) or TSV (unquoted) file, read with the ``csv`` module; empty lines are
    skipped, as ``pyarrow.csv`` skips them. A slow pass, made only to name a row in a message.
    """
    limit = csv.field_size_limit(2**31 - 1)  # a text cell may be long
    try:
        with open(path, newline="", encoding="utf-8", errors="replace") as handle:
            reader = csv.reader(handle, delimiter=delimiter, quoting=csv.QUOTE_MINIMAL
                                if delimiter == "," else csv.QUOTE_NONE)
            row, line = -1, 1  # row 0 is the header; line: where the next record starts
            for fields in reader:
                start, line = line, reader.line_num + 1
                if not fields:  # an empty line
                    continue
                row += 1
                if row:
                    yield row, start, fields
    finally:
        csv.field_size_limit(limit)


def csv_row_line(path: str, delimiter: str, row: int) -> int | None:
    """The file line (from 1) on which data row ``row`` (from 1) of a CSV or TSV file
    starts, or ``None`` when the file cannot be read that far."""
    try:
        for number, line, _ in csv_records(path, delimiter):
            if number == row:
                return line
    except (OSError, csv.Error):
        pass
    return None


class Reader:
    """A file opened for reading in chunks.

    Attributes:
        path: the file, or ``-`` for standard input.
        format: one of :data:`sentiment.io.formats.INPUT_FORMATS`.
        text_column: the column the caller needs (checked to exist; ``None`` checks none).
        columns: the column names, known after construction (for JSON Lines after
            :meth:`prime`: the keys of its first chunk).
        total_rows: the number of rows when the format records it (Parquet), else ``None``.
    """

    format = ""
    columns: list[str]
    total_rows: int | None = None

    def __init__(self, path: str, text_column: str | None):
        self.path = path
        self.text_column = text_column
        self._handle: BinaryIO | None = None
        self._size: int | None = None

    def __enter__(self) -> "Reader":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _open_binary(self) -> BinaryIO:
        if self.path == STDIO:
            return sys.stdin.buffer
        handle = open(self.path, "rb")
        self._size = os.fstat(handle.fileno()).st_size
        self._handle = handle
        return handle

    def fraction(self) -> float | None:
        """The share of the input read so far, or ``None`` when unknown."""
        if self._handle is None or not self._size:
            return None
        try:
            return min(1.0, self._handle.tell() / self._size)
        except (OSError, ValueError):
            return None

    def _check_text_column(self) -> None:
        if self.text_column is not None and self.text_column not in self.columns:
            listed = ", ".join(map(repr, self.columns)) or "(none)"
            raise DataError(f"{self.path}: no column {self.text_column!r}; columns are {listed} "
                            "(use --text-column)")
        if self.text_column is not None and self.columns.count(self.text_column) > 1:
            raise DataError(f"{self.path}: the column name {self.text_column!r} appears "
                            f"{self.columns.count(self.text_column)} times")

    def prime(self, chunk_size: int = DEFAULT_CHUNK_SIZE, skip: int = 0) -> None:
        """Learn :attr:`columns` before the rows are read (JSON Lines reads its first chunk;
        the other formats know them already). Then :meth:`chunks` must be called with the
        same arguments."""

    def chunks(self, chunk_size: int = DEFAULT_CHUNK_SIZE, skip: int = 0) -> Iterator[Chunk]:
        """The rows after the first ``skip``, ``chunk_size`` at a time; read once."""
        raise NotImplementedError

    def read_all(self, columns: Sequence[str] | None = None) -> Chunk:
        """The whole file as one chunk (only ``columns`` where the format can leave the
        others unread; JSON Lines records keep every key)."""
        parts = list(self.chunks(_WHOLE_FILE, 0))  # one, unless primed with a smaller size
        if not parts:
            return self.empty_chunk()
        if len(parts) == 1:
            return parts[0]
        if parts[0].table is not None:
            table = pa.concat_tables([part.table for part in parts])
            return Chunk(0, table=table, line_numbers=None if parts[0].line_numbers is None
                         else [n for part in parts for n in part.line_numbers])
        errors = {part.start + position: message for part in parts
                  for position, message in part.row_errors.items()}
        return Chunk(0, records=[record for part in parts for record in part.records],
                     row_errors=errors,
                     line_numbers=[n for part in parts for n in part.line_numbers])

    def empty_table(self) -> pa.Table:
        return pa.table({name: pa.array([], pa.string()) for name in self.columns})

    def empty_chunk(self) -> Chunk:
        """A chunk of no rows with the file's columns (what a header-only file gives)."""
        return Chunk(0, table=self.empty_table())

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


class CsvReader(Reader):
    """CSV (quoted, line breaks allowed in quoted cells) or TSV (no quoting); every cell a
    ``str``."""

    def __init__(self, path: str, text_column: str | None, delimiter: str):
        super().__init__(path, text_column)
        self.delimiter = delimiter
        self.format = "csv" if delimiter == "," else "tsv"
        self._bad_row: Any = None
        if delimiter == ",":
            self._parse = pa_csv.ParseOptions(delimiter=",", newlines_in_values=True,
                                              invalid_row_handler=self._on_invalid_row)
        else:
            self._parse = pa_csv.ParseOptions(delimiter=delimiter, quote_char=False,
                                              invalid_row_handler=self._on_invalid_row)
        # first pass over one block only: the column names, so every column reads as string
        with self._wrap_errors():
            probe = pa_csv.open_csv(self._open_binary(), parse_options=self._parse)
            self.columns = probe.schema.names
        self.close()
        self._check_text_column()

    def _on_invalid_row(self, row) -> str:
        self._bad_row = row
        return "error"

    def _convert(self, columns: Sequence[str] | None = None) -> pa_csv.ConvertOptions:
        return pa_csv.ConvertOptions(
            column_types={name: pa.string() for name in self.columns},
            strings_can_be_null=False, quoted_strings_can_be_null=False, null_values=[],
            include_columns=list(columns) if columns is not None else None,
            check_utf8=False)  # undecodable bytes become U+FFFD, see replace_invalid_utf8

    @contextlib.contextmanager
    def _wrap_errors(self) -> Iterator[None]:
        """Turn pyarrow's parse errors into a :class:`DataError` naming the file (and the row,
        when the parser reported it)."""
        try:
            yield
        except (pa.ArrowInvalid, UnicodeDecodeError) as error:
            message = str(error).splitlines()[0]
            if "Empty CSV file" in message:
                raise DataError(f"{self.path}: the file is empty (no header line)") from None
            bad = self._bad_row
            if bad is not None:
                # pyarrow gives no row number (row.number is None) when it parses in blocks
                found = self._first_ragged_row(bad.expected_columns)
                where = f"row {found[0]} (line {found[1]}): " if found else ""
                raise DataError(f"{self.path}: {where}expected {bad.expected_columns} fields, "
                                f"found {bad.actual_columns}: {bad.text[:80]!r}") from None
            raise DataError(f"{self.path}: cannot read as {self.format.upper()}: "
                            f"{message}") from None

    def _first_ragged_row(self, expected: int) -> tuple[int, int] | None:
        """``(data row, file line)``, both from 1, of the first row without ``expected``
        fields; ``None`` when the ``csv`` module finds none."""
        try:
            for row, line, fields in csv_records(self.path, self.delimiter):
                if len(fields) != expected:
                    return row, line
        except (OSError, csv.Error):
            pass
        return None

    def chunks(self, chunk_size: int = DEFAULT_CHUNK_SIZE, skip: int = 0) -> Iterator[Chunk]:
        with self._wrap_errors():
            reader = pa_csv.open_csv(self._open_binary(), parse_options=self._parse,
                                     convert_options=self._convert())
            start = skip
            for table in _rechunk(reader, chunk_size, skip):
                yield Chunk(start, table=replace_invalid_utf8(table))
                start += table.num_rows

    def read_all(self, columns: Sequence[str] | None = None) -> Chunk:
        with self._wrap_errors():
            table = pa_csv.read_csv(self._open_binary(), parse_options=self._parse,
                                    convert_options=self._convert(columns))
        self.close()
        return Chunk(0, table=replace_invalid_utf8(table))


class ParquetReader(Reader):
    """Parquet, by row group; column types kept."""

    format = "parquet"

    def __init__(self, path: str, text_column: str | None):
        super().__init__(path, text_column)
        try:
            # pre_buffer=False: with pre-buffering, iter_batches keeps every row group it has
            # read cached until the iterator ends, so memory grew with the file (about one
            # row group per row group read); without it, memory holds one batch.
            self._file = pq.ParquetFile(path, pre_buffer=False)
        except (pa.ArrowInvalid, OSError) as error:
            if isinstance(error, FileNotFoundError):
                raise
            raise DataError(f"{path}: cannot read as Parquet: {error}") from None
        self.columns = self._file.schema_arrow.names
        self.total_rows = self._file.metadata.num_rows
        self._done = 0
        self._check_text_column()

    def fraction(self) -> float | None:
        return self._done / self.total_rows if self.total_rows else None

    def empty_table(self) -> pa.Table:
        return self._file.schema_arrow.empty_table()

    def chunks(self, chunk_size: int = DEFAULT_CHUNK_SIZE, skip: int = 0) -> Iterator[Chunk]:
        metadata = self._file.metadata
        groups, first = [], 0
        for index in range(metadata.num_row_groups):
            rows = metadata.row_group(index).num_rows
            if first + rows <= skip:
                first += rows
                continue
            groups.append(index)
        start = skip
        self._done = skip
        if not groups:
            return
        batches = self._file.iter_batches(batch_size=min(chunk_size, 65536), row_groups=groups)
        for table in _rechunk(batches, chunk_size, skip - first):
            yield Chunk(start, table=table)
            start += table.num_rows
            self._done = start

    def read_all(self, columns: Sequence[str] | None = None) -> Chunk:
        try:
            table = self._file.read(columns=list(columns) if columns is not None else None)
        except (pa.ArrowInvalid, OSError) as error:
            raise DataError(f"{self.path}: cannot read as Parquet: {error}") from None
        self._done = table.num_rows
        return Chunk(0, table=table)

    def close(self) -> None:
        self._file.close()


def _skip_rows(chunks: Iterable[list], skip: int) -> Iterator[tuple[int, list]]:
    """``(first row index, rows)`` for each chunk of rows, leaving out the first ``skip`` rows
    (the rows a resumed run has already written)."""
    start = 0
    for rows in chunks:
        if start + len(rows) > skip:
            rows = rows[max(0, skip - start):]
            first = max(start, skip)
            yield first, rows
            start = first
        start += len(rows)


def _line_chunks(handle: BinaryIO, chunk_size: int, keep_blank: bool
                 ) -> Iterator[list[tuple[int, str]]]:
    """``(line number from 1, line without its line break)`` in lists of ``chunk_size``."""
    chunk = []
    for number, raw in enumerate(handle, start=1):
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if number == 1 and line.startswith("\ufeff"):  # a byte order mark
            line = line[1:]
        if not keep_blank and not line.strip():
            continue
        chunk.append((number, line))
        if len(chunk) == chunk_size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class TextReader(Reader):
    """Plain text: one text per line (an empty line is a row with an empty text)."""

    format = "txt"

    def __init__(self, path: str, text_column: str | None):
        super().__init__(path, text_column)
        self.columns = [text_column or "text"]
        if path != STDIO:
            self._open_binary()  # fails early on a missing file

    def chunks(self, chunk_size: int = DEFAULT_CHUNK_SIZE, skip: int = 0) -> Iterator[Chunk]:
        handle = self._handle or self._open_binary()
        for start, lines in _skip_rows(_line_chunks(handle, chunk_size, keep_blank=True), skip):
            texts = [line for _, line in lines]
            yield Chunk(start, table=pa.table({self.columns[0]: pa.array(texts, pa.string())}),
                        line_numbers=[number for number, _ in lines])


class JsonLinesReader(Reader):
    """JSON Lines: one object per non-blank line. A line that is not a JSON object becomes a
    row with an error, so the row count is kept."""

    format = "jsonl"

    def __init__(self, path: str, text_column: str | None):
        super().__init__(path, text_column)
        self.columns: list[str] = []
        self._iterator: Iterator[Chunk] | None = None
        self._first: Chunk | None = None
        if path != STDIO:
            self._open_binary()

    @staticmethod
    def _parse(lines: list[tuple[int, str]], start: int) -> Chunk:
        records, errors = [], {}
        for position, (number, line) in enumerate(lines):
            try:
                record = json.loads(line)
            except ValueError as error:
                records.append(None)
                errors[position] = f"line {number} is not valid JSON: {error}"
                continue
            if not isinstance(record, dict):
                records.append(None)
                errors[position] = (f"line {number} is a JSON {type(record).__name__}, "
                                    "not an object")
                continue
            records.append(record)
        return Chunk(start, records=records, row_errors=errors,
                     line_numbers=[number for number, _ in lines])

    def _all_chunks(self, chunk_size: int, skip: int) -> Iterator[Chunk]:
        handle = self._handle or self._open_binary()
        for start, lines in _skip_rows(_line_chunks(handle, chunk_size, keep_blank=False), skip):
            yield self._parse(lines, start)

    def prime(self, chunk_size: int = DEFAULT_CHUNK_SIZE, skip: int = 0) -> None:
        """Read the first chunk to learn the columns (union of the keys, in order seen)."""
        self._iterator = self._all_chunks(chunk_size, skip)
        self._first = next(self._iterator, None)
        self.columns = record_keys(self._first.records if self._first else [])
        if self._first is not None and not all(record is None
                                               for record in self._first.records):
            self._check_text_column()

    def chunks(self, chunk_size: int = DEFAULT_CHUNK_SIZE, skip: int = 0) -> Iterator[Chunk]:
        if self._iterator is None:
            self.prime(chunk_size, skip)
        if self._first is not None:
            yield self._first
            self._first = None
        yield from self._iterator

    def read_all(self, columns: Sequence[str] | None = None) -> Chunk:
        chunk = super().read_all(columns)
        self.columns = chunk.column_names
        return chunk

    def empty_chunk(self) -> Chunk:
        return Chunk(0, records=[], line_numbers=[])


def open_reader(path: str | os.PathLike, input_format: str | None = None,
                text_column: str | None = "text") -> Reader:
    """A streaming reader of ``path`` (``-`` for standard input).

    Args:
        path: the file.
        input_format: one of :data:`~sentiment.io.formats.INPUT_FORMATS`; ``None`` tells it
            from the suffix (:func:`~sentiment.io.formats.detect_format`).
        text_column: a column that must exist (``None``: none); a text file's one column is
            named after it.

    Raises:
        FileNotFoundError: when the file does not exist.
        ConfigError: for an unknown format.
        DataError: when the file is a directory, empty or unreadable, or has no
            ``text_column`` (the message lists the columns).
    """
    path = str(path)
    input_format = detect_format(path, input_format)
    if path != STDIO and not Path(path).is_file():
        if Path(path).is_dir():
            raise DataError(f"{path}: is a directory, not a file")
        raise FileNotFoundError(2, "No such file", path)
    if input_format == "csv":
        return CsvReader(path, text_column, ",")
    if input_format == "tsv":
        return CsvReader(path, text_column, "\t")
    if input_format == "parquet":
        return ParquetReader(path, text_column)
    if input_format == "jsonl":
        return JsonLinesReader(path, text_column)
    if input_format == "txt":
        return TextReader(path, text_column)
    raise ConfigError(f"unknown input format {input_format!r}")  # pragma: no cover


__all__ = ["Chunk", "Reader", "CsvReader", "ParquetReader", "TextReader", "JsonLinesReader",
           "open_reader", "replace_invalid_utf8", "record_keys", "csv_records", "csv_row_line",
           "DEFAULT_CHUNK_SIZE"]
