"""Batch scoring of files: streaming, row for row, atomic and resumable.

:func:`score_file` reads a CSV, TSV, JSON Lines, Parquet or plain-text file (or standard input)
in chunks of rows, classifies the text column of each chunk with
:meth:`sentiment.Predictor.predict_proba` (which sorts each chunk's texts by length into
batches and puts the results back in order), and writes every input row with its input columns
unchanged plus ``predicted_label``, ``predicted_score``, optionally ``prob_<label>`` per class,
and ``error``. Memory holds one chunk at a time, whatever the size of the file.

Formats (chosen from the suffix, or given explicitly):

* ``csv``: RFC 4180, read with ``pyarrow.csv`` (quoted cells may hold newlines); every cell
  is read verbatim as a string (no number parsing, an empty cell stays ``""``).
* ``tsv``: tab-separated without quoting (the GLUE convention ``sentiment train`` reads);
  a value holding a tab or a line break cannot be written to TSV and stops the run.
* ``jsonl``: one JSON object per line; objects are passed through as they are.
* ``parquet``: read by row group with ``pyarrow.parquet``; column types are kept.
* ``txt``: one text per line, in a column named after ``text_column``; read only. Its
  default output format is ``jsonl``.

Output goes to a temporary file beside the target (``.NAME.partial``; Parquet chunks to
``.NAME.parts/``) and is renamed into place only when complete, so an interrupted run never
leaves a partial file at the output path. After each chunk, a small state file
(``.NAME.score-state.json``) records the rows done and the output bytes (or Parquet parts)
they fill; ``resume=True`` truncates the temporary output to that point and continues from the
next input row, so no row is duplicated or skipped. The whole run holds an exclusive lock on
the output (:func:`sentiment.artifacts.output_lock`, ``.NAME.lock``), taken before the hidden
files are touched, so a second run on the same output stops at once.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Iterator, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from .artifacts import check_not_input, output_lock
from .config import INFERENCE_BATCH_SIZE
from .errors import ConfigError, DataError

#: Formats that can be read.
INPUT_FORMATS = ("csv", "tsv", "jsonl", "parquet", "txt")
#: Formats that can be written.
OUTPUT_FORMATS = ("csv", "tsv", "jsonl", "parquet")
#: Formats readable from standard input (Parquet needs a seekable file).
STDIN_FORMATS = ("txt", "jsonl")
#: File suffix -> format.
SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".json": "jsonl",
            ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet", ".txt": "txt",
            ".text": "txt"}
#: The path that means standard input (or output).
STDIO = "-"
#: Rows read, scored and written per chunk.
DEFAULT_CHUNK_SIZE = 10_000

LABEL_COLUMN = "predicted_label"
SCORE_COLUMN = "predicted_score"
ERROR_COLUMN = "error"
PROBABILITY_PREFIX = "prob_"

_STATE_VERSION = 1
_MISSING = object()  # a JSON object without the text key


# ----------------------------------------------------------------------------- formats


def detect_format(path: str | os.PathLike, explicit: str | None = None) -> str:
    """The input format of ``path``: ``explicit`` when given, else from the suffix; standard
    input (``-``) defaults to ``txt``.

    Raises:
        ConfigError: for an unknown explicit format, Parquet from standard input, or an
            unknown suffix.
    """
    if explicit is not None:
        if explicit not in INPUT_FORMATS:
            raise ConfigError(f"unknown input format {explicit!r}; choose one of "
                              f"{', '.join(INPUT_FORMATS)}")
        if str(path) == STDIO and explicit not in STDIN_FORMATS:
            raise ConfigError(f"standard input cannot be read as {explicit} (it needs a seekable "
                              f"file); use one of {', '.join(STDIN_FORMATS)}")
        return explicit
    if str(path) == STDIO:
        return "txt"
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise ConfigError(f"{path}: cannot tell the format from the suffix {suffix or '(none)'!r};"
                          f" use .csv, .tsv, .jsonl, .parquet or .txt, or pass --format")
    return SUFFIXES[suffix]


def resolve_output_format(input_format: str, output_path: str | os.PathLike | None,
                          explicit: str | None = None) -> str:
    """The output format: ``explicit``, else the suffix of ``output_path`` when it names an
    output format, else the input format (``txt`` input writes ``jsonl``).

    Raises:
        ConfigError: for an unknown explicit format.
    """
    if explicit is not None:
        if explicit not in OUTPUT_FORMATS:
            raise ConfigError(f"unknown output format {explicit!r}; choose one of "
                              f"{', '.join(OUTPUT_FORMATS)}")
        return explicit
    if output_path is not None and str(output_path) != STDIO:
        by_suffix = SUFFIXES.get(Path(output_path).suffix.lower())
        if by_suffix in OUTPUT_FORMATS:
            return by_suffix
    return "jsonl" if input_format == "txt" else input_format


# ----------------------------------------------------------------------------- chunks


@dataclass
class _Chunk:
    """Rows ``start .. start + rows`` of the input.

    Exactly one of ``table`` (Arrow pass-through columns) and ``records`` (JSON objects, or
    ``None`` for a line that is not one) is set. ``texts`` holds the text column's values
    (any Python object, or ``_MISSING``); ``row_errors`` maps a position to an error found
    while reading that row.
    """

    start: int
    texts: list
    table: pa.Table | None = None
    records: list | None = None
    row_errors: dict = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return len(self.texts)


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


class _Reader:
    """Base of the streaming readers. ``columns`` is known after construction (after the first
    chunk for JSON Lines); ``total_rows`` when the format says it; ``fraction()`` estimates the
    share of the input read so far, or ``None``."""

    columns: list[str]
    total_rows: int | None = None

    def __init__(self, path: str, text_column: str):
        self.path = path
        self.text_column = text_column
        self._handle: BinaryIO | None = None
        self._size: int | None = None

    def _open_binary(self) -> BinaryIO:
        if self.path == STDIO:
            return sys.stdin.buffer
        handle = open(self.path, "rb")
        self._size = os.fstat(handle.fileno()).st_size
        self._handle = handle
        return handle

    def fraction(self) -> float | None:
        if self._handle is None or not self._size:
            return None
        try:
            return min(1.0, self._handle.tell() / self._size)
        except (OSError, ValueError):
            return None

    def _check_text_column(self) -> None:
        if self.text_column not in self.columns:
            listed = ", ".join(map(repr, self.columns)) or "(none)"
            raise DataError(f"{self.path}: no column {self.text_column!r}; columns are {listed} "
                            "(use --text-column)")

    def empty_table(self) -> pa.Table:
        return pa.table({name: pa.array([], pa.string()) for name in self.columns})

    def chunks(self, chunk_size: int, skip: int) -> Iterator[_Chunk]:
        raise NotImplementedError

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


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


class _CsvReader(_Reader):
    """CSV (quoted, newlines allowed in quoted cells) or TSV (no quoting), every cell a str."""

    def __init__(self, path: str, text_column: str, delimiter: str):
        super().__init__(path, text_column)
        self.delimiter = delimiter
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
            kind = "CSV" if self.delimiter == "," else "TSV"
            raise DataError(f"{self.path}: cannot read as {kind}: {message}") from None

    def _first_ragged_row(self, expected: int) -> tuple[int, int] | None:
        """``(data row, file line)``, both from 1, of the first row without ``expected``
        fields, found by a pass with the ``csv`` module; ``None`` when it finds none."""
        limit = csv.field_size_limit(2**31 - 1)  # a text cell may be long
        try:
            with open(self.path, newline="", encoding="utf-8", errors="replace") as handle:
                reader = csv.reader(handle, delimiter=self.delimiter, quoting=csv.QUOTE_MINIMAL
                                    if self.delimiter == "," else csv.QUOTE_NONE)
                row, line = -1, 1  # row 0 is the header; line: where the next record starts
                for fields in reader:
                    start, line = line, reader.line_num + 1
                    if not fields:  # an empty line, which pyarrow skips too
                        continue
                    row += 1
                    if row and len(fields) != expected:
                        return row, start
        except (OSError, csv.Error):
            pass
        finally:
            csv.field_size_limit(limit)
        return None

    def chunks(self, chunk_size: int, skip: int) -> Iterator[_Chunk]:
        convert = pa_csv.ConvertOptions(
            column_types={name: pa.string() for name in self.columns},
            strings_can_be_null=False, quoted_strings_can_be_null=False, null_values=[],
            check_utf8=False)  # undecodable bytes become U+FFFD below, row by row
        with self._wrap_errors():
            reader = pa_csv.open_csv(self._open_binary(), parse_options=self._parse,
                                     convert_options=convert)
            start = skip
            for table in _rechunk(reader, chunk_size, skip):
                table = replace_invalid_utf8(table)
                texts = table.column(self.text_column).to_pylist()
                yield _Chunk(start, texts, table=table)
                start += table.num_rows


class _ParquetReader(_Reader):
    """Parquet, by row group; column types kept."""

    def __init__(self, path: str, text_column: str):
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

    def chunks(self, chunk_size: int, skip: int) -> Iterator[_Chunk]:
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
            texts = table.column(self.text_column).to_pylist()
            yield _Chunk(start, texts, table=table)
            start += table.num_rows
            self._done = start

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
        if not keep_blank and not line.strip():
            continue
        chunk.append((number, line))
        if len(chunk) == chunk_size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class _TextReader(_Reader):
    """Plain text: one text per line (an empty line is a row with an empty text)."""

    def __init__(self, path: str, text_column: str):
        super().__init__(path, text_column)
        self.columns = [text_column]
        if path != STDIO:
            self._open_binary()  # fails early on a missing file

    def chunks(self, chunk_size: int, skip: int) -> Iterator[_Chunk]:
        handle = self._handle or self._open_binary()
        for start, lines in _skip_rows(_line_chunks(handle, chunk_size, keep_blank=True), skip):
            texts = [line for _, line in lines]
            yield _Chunk(start, texts, table=pa.table({self.text_column: texts}))


class _JsonLinesReader(_Reader):
    """JSON Lines: one object per non-blank line. A line that is not a JSON object becomes a
    row with an error, so the row count is kept."""

    def __init__(self, path: str, text_column: str):
        super().__init__(path, text_column)
        self.columns: list[str] = []
        self._iterator: Iterator[_Chunk] | None = None
        self._first: _Chunk | None = None
        self._skip = 0
        self._chunk_size = DEFAULT_CHUNK_SIZE
        if path != STDIO:
            self._open_binary()

    def _parse(self, lines: list[tuple[int, str]], start: int) -> _Chunk:
        records, texts, errors = [], [], {}
        for position, (number, line) in enumerate(lines):
            try:
                record = json.loads(line)
            except ValueError as error:
                records.append(None)
                texts.append(_MISSING)
                errors[position] = f"line {number} is not valid JSON: {error}"
                continue
            if not isinstance(record, dict):
                records.append(None)
                texts.append(_MISSING)
                errors[position] = (f"line {number} is a JSON {type(record).__name__}, "
                                    "not an object")
                continue
            records.append(record)
            texts.append(record.get(self.text_column, _MISSING))
        return _Chunk(start, texts, records=records, row_errors=errors)

    def _all_chunks(self, chunk_size: int, skip: int) -> Iterator[_Chunk]:
        handle = self._handle or self._open_binary()
        for start, lines in _skip_rows(_line_chunks(handle, chunk_size, keep_blank=False), skip):
            yield self._parse(lines, start)

    def prime(self, chunk_size: int, skip: int) -> None:
        """Read the first chunk to learn the columns (union of the keys, in order seen)."""
        self._iterator = self._all_chunks(chunk_size, skip)
        self._first = next(self._iterator, None)
        seen: dict[str, None] = {}
        for record in (self._first.records if self._first else []):
            if record is not None:
                seen.update(dict.fromkeys(record))
        self.columns = list(seen)
        if self._first is not None and not all(record is None
                                               for record in self._first.records):
            self._check_text_column()

    def chunks(self, chunk_size: int, skip: int) -> Iterator[_Chunk]:
        if self._iterator is None:
            self.prime(chunk_size, skip)
        if self._first is not None:
            yield self._first
            self._first = None
        yield from self._iterator


def open_reader(path: str, input_format: str, text_column: str) -> _Reader:
    """A streaming reader of ``path`` (``-`` for standard input) in ``input_format``.

    Raises:
        FileNotFoundError: when the file does not exist.
        DataError: when the file is empty or unreadable, or has no ``text_column`` (the
            message lists the columns).
    """
    if path != STDIO and not Path(path).is_file():
        if Path(path).is_dir():
            raise DataError(f"{path}: is a directory, not a file")
        raise FileNotFoundError(2, "No such file", path)
    if input_format == "csv":
        return _CsvReader(path, text_column, ",")
    if input_format == "tsv":
        return _CsvReader(path, text_column, "\t")
    if input_format == "parquet":
        return _ParquetReader(path, text_column)
    if input_format == "jsonl":
        return _JsonLinesReader(path, text_column)
    if input_format == "txt":
        return _TextReader(path, text_column)
    raise ConfigError(f"unknown input format {input_format!r}")


# ----------------------------------------------------------------------------- scoring


@dataclass
class ChunkPredictions:
    """Predictions for the rows of one chunk (``n`` rows, ``c`` classes).

    Attributes:
        labels: ``n`` class names, ``None`` for a row with an error.
        probabilities: ``(n, c) float32``; rows with an error are NaN.
        errors: ``n`` messages, ``None`` for a row that was scored.
    """

    labels: list
    probabilities: np.ndarray
    errors: list

    @property
    def scores(self) -> np.ndarray:
        """``(n,) float32`` probability of the predicted class (NaN for errors)."""
        if self.probabilities.shape[1] == 0:
            return np.full(len(self.labels), np.nan, np.float32)
        return self.probabilities.max(axis=1)


def text_problem(value: Any) -> str | None:
    """Why ``value`` cannot be scored (``"missing text"``, ``"empty text"``, ``"text is int,
    not a string"``), or ``None`` when it is a non-blank ``str``."""
    if value is None or value is _MISSING:
        return "missing text"
    if not isinstance(value, str):
        return f"text is {type(value).__name__}, not a string"
    if not value.strip():
        return "empty text"
    return None


def predict_chunk(predictor, texts: Sequence[Any], batch_size: int = INFERENCE_BATCH_SIZE,
                  row_errors: dict | None = None) -> ChunkPredictions:
    """Classify ``texts`` (any values) with ``predictor.predict_proba``; a missing, empty or
    non-string value gets no prediction and a message instead, never an exception.

    Args:
        predictor: a :class:`sentiment.Predictor` (or anything with ``labels`` and
            ``predict_proba(list[str], batch_size) -> (n, c) float32``).
        texts: the ``n`` values of the text column.
        batch_size: texts per model call.
        row_errors: position -> message for rows already known to be unreadable.

    Returns:
        :class:`ChunkPredictions` for the ``n`` rows, in input order.
    """
    row_errors = row_errors or {}
    labels = list(predictor.labels)
    n = len(texts)
    errors: list = [None] * n
    valid, valid_texts = [], []
    for i, value in enumerate(texts):
        problem = row_errors.get(i) or text_problem(value)
        if problem:
            errors[i] = problem
        else:
            valid.append(i)
            valid_texts.append(value)
    probabilities = np.full((n, len(labels)), np.nan, dtype=np.float32)
    predicted: list = [None] * n
    if valid_texts:
        scored = np.asarray(predictor.predict_proba(valid_texts, batch_size=batch_size),
                            dtype=np.float32)
        probabilities[valid] = scored
        best = scored.argmax(axis=1)
        for i, index in zip(valid, best.tolist()):
            predicted[i] = labels[index]
    return ChunkPredictions(predicted, probabilities, errors)


def output_columns(labels: Sequence[str], probabilities: bool) -> list[str]:
    """Names of the columns scoring adds, in order: ``predicted_label``, ``predicted_score``,
    ``prob_<label>`` per class when ``probabilities``, ``error``."""
    names = [LABEL_COLUMN, SCORE_COLUMN]
    if probabilities:
        names += [PROBABILITY_PREFIX + label for label in labels]
    return names + [ERROR_COLUMN]


def _prediction_arrays(predictions: ChunkPredictions, labels: Sequence[str],
                       probabilities: bool) -> list[pa.Array]:
    missing = np.array([error is not None for error in predictions.errors], dtype=bool)
    arrays = [pa.array(predictions.labels, pa.string()),
              pa.array(predictions.scores, pa.float32(), mask=missing)]
    if probabilities:
        for column in range(len(labels)):
            arrays.append(pa.array(predictions.probabilities[:, column], pa.float32(),
                                   mask=missing))
    arrays.append(pa.array(predictions.errors, pa.string()))
    return arrays


def _short_floats(values: np.ndarray) -> list:
    """float32 values as the shortest Python floats that round-trip (``None`` for NaN)."""
    return [None if v != v else float(s) for v, s in zip(values.tolist(), map(str, values))]


# ----------------------------------------------------------------------------- writers


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


class _Writer:
    """Writes chunks to a binary stream. ``columns`` (the pass-through columns) are fixed by
    the first chunk for CSV/TSV."""

    def __init__(self, stream: BinaryIO, labels: Sequence[str], probabilities: bool,
                 columns: list[str] | None, target: str, header_done: bool = False):
        self.stream = stream
        self.header_done = header_done
        self.labels = list(labels)
        self.probabilities = probabilities
        self.columns = columns
        self.target = target
        self.added = output_columns(labels, probabilities)

    def _table(self, chunk: _Chunk, predictions: ChunkPredictions, as_strings: bool
               ) -> pa.Table:
        if chunk.records is not None:
            if self.columns is None:
                seen: dict[str, None] = {}
                for record in chunk.records:
                    if record is not None:
                        seen.update(dict.fromkeys(record))
                columns = [name for name in seen if name not in self.added]
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
        for name, array in zip(self.added, _prediction_arrays(predictions, self.labels,
                                                              self.probabilities)):
            table = table.append_column(name, array)
        return table

    fixed_columns = True
    format_name = ""

    def write(self, chunk: _Chunk, predictions: ChunkPredictions) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        self.stream.flush()


class _CsvWriter(_Writer):
    format_name = "CSV"

    def write(self, chunk, predictions):
        table = _stringify_nested(self._table(chunk, predictions, as_strings=True))
        header, self.header_done = not self.header_done, True
        pa_csv.write_csv(table, self.stream, pa_csv.WriteOptions(include_header=header))


class _TsvWriter(_Writer):
    format_name = "TSV"

    def write(self, chunk, predictions):
        table = _stringify_nested(self._table(chunk, predictions, as_strings=True))
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


class _JsonLinesWriter(_Writer):
    fixed_columns = False

    def write(self, chunk, predictions):
        if chunk.records is not None:
            records = [dict(record) if record is not None else {} for record in chunk.records]
        else:
            records = chunk.table.to_pylist()
        new = [predictions.labels, _short_floats(predictions.scores)]
        if self.probabilities:
            new += [_short_floats(predictions.probabilities[:, c])
                    for c in range(len(self.labels))]
        new.append(predictions.errors)
        lines = []
        for position, record in enumerate(records):
            for name in self.added:
                record.pop(name, None)
            for name, values in zip(self.added, new):
                record[name] = values[position]
            lines.append(json.dumps(record, ensure_ascii=False, default=_json_default))
        if lines:
            self.stream.write(("\n".join(lines) + "\n").encode("utf-8"))


class _ParquetPartsWriter(_Writer):
    """One Parquet file per chunk in ``parts_dir``; :meth:`finish` concatenates them into the
    stream under one schema (types unified, e.g. a column null in the first chunk)."""

    fixed_columns = False

    def __init__(self, *args, parts_dir: Path, parts_done: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        self.parts_dir = parts_dir
        self.parts = parts_done

    def part_path(self, index: int) -> Path:
        return self.parts_dir / f"part-{index:06d}.parquet"

    def write(self, chunk, predictions):
        table = self._table(chunk, predictions, as_strings=False)
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
        # the prediction columns go last, as in every part
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


_MALLOC_TRIM: Any = None


def release_memory() -> None:
    """Hand freed memory back to the operating system: pyarrow's pool, and the glibc heap
    (``malloc_trim``; skipped elsewhere).

    Tokenizing a chunk allocates and frees large temporary buffers, which allocators tend to
    keep; called after each chunk, this limits the creep of resident memory from chunk to
    chunk (README.md, "Scoring files", records what the benchmark measured).
    """
    global _MALLOC_TRIM
    if _MALLOC_TRIM is None:
        _MALLOC_TRIM = False
        if sys.platform.startswith("linux"):
            import ctypes

            try:
                _MALLOC_TRIM = ctypes.CDLL("libc.so.6").malloc_trim
            except (OSError, AttributeError):
                pass
    pa.default_memory_pool().release_unused()
    if _MALLOC_TRIM:
        _MALLOC_TRIM(0)


# ----------------------------------------------------------------------------- state


@dataclass
class ScoreResult:
    """What :func:`score_file` did.

    Attributes:
        rows: rows written in total (including those of a resumed run).
        errors: rows with a message in the ``error`` column, in this run.
        resumed_from: rows already done when this run started (0 for a fresh run).
        seconds: wall time of this run, from when the model is ready.
        output: the output path, or ``None`` for standard output.
        output_format: the format written.
    """

    rows: int
    errors: int
    resumed_from: int
    seconds: float
    output: str | None
    output_format: str


def state_paths(output: str | os.PathLike) -> dict[str, Path]:
    """The hidden files beside ``output`` used while it is written: ``partial`` (the output
    being written), ``parts`` (Parquet chunks), ``state`` (resume information)."""
    target = Path(output).expanduser().absolute()
    return {"partial": target.with_name(f".{target.name}.partial"),
            "parts": target.with_name(f".{target.name}.parts"),
            "state": target.with_name(f".{target.name}.score-state.json")}


def _input_identity(path: str) -> dict:
    stat = os.stat(path)
    return {"path": str(Path(path).absolute()), "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns}


def _write_json_atomic(path: Path, payload: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(payload, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _cleanup(paths: dict[str, Path]) -> None:
    for key in ("partial", "state"):
        paths[key].unlink(missing_ok=True)
    paths["state"].with_name(paths["state"].name + ".tmp").unlink(missing_ok=True)
    shutil.rmtree(paths["parts"], ignore_errors=True)


def _load_state(paths: dict[str, Path], identity: dict) -> dict | None:
    """The saved state when it belongs to this very job, ``None`` when there is none.

    Raises:
        ConfigError: when the saved state belongs to another input, model or options.
    """
    try:
        state = json.loads(paths["state"].read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        raise ConfigError(f"{paths['state']} is unreadable; run again without --resume to "
                          "start over") from None
    if state.get("version") != _STATE_VERSION:
        raise ConfigError(f"{paths['state']} was written by another version; run again "
                          "without --resume")
    for key, value in identity.items():
        if state.get("job", {}).get(key) != value:
            what = {"input": "the input file changed", "model": "the model differs",
                    "options": "the options differ"}.get(key, f"{key} differs")
            raise ConfigError(f"cannot resume: {what} since the interrupted run "
                              f"({state.get('job', {}).get(key)!r} then, {value!r} now); "
                              "run again without --resume to start over")
    return state


# ----------------------------------------------------------------------------- main entry


def score_file(predictor, input_path: str | os.PathLike, output_path: str | os.PathLike | None
               = None, *, text_column: str = "text", input_format: str | None = None,
               output_format: str | None = None, probabilities: bool = False,
               overwrite_columns: bool = False, batch_size: int = INFERENCE_BATCH_SIZE,
               chunk_size: int = DEFAULT_CHUNK_SIZE, resume: bool = False,
               model_id: str | None = None,
               progress: Callable[[int, int, int | None, float | None], None] | None = None,
               stdout: BinaryIO | None = None) -> ScoreResult:
    """Score every row of a file and write it with its predictions, streaming chunk by chunk.

    Args:
        predictor: a :class:`sentiment.Predictor`, or a zero-argument callable returning one
            (called after the input is opened and checked, so input errors come first).
        input_path: the file to score, or ``"-"`` for standard input.
        output_path: the file to write, or ``None`` / ``"-"`` for standard output
            (``stdout``, default ``sys.stdout.buffer``).
        text_column: the column holding the texts.
        input_format, output_format: see :func:`detect_format` and
            :func:`resolve_output_format`.
        probabilities: add one ``prob_<label>`` float32 column per class.
        overwrite_columns: replace input columns that have the name of an added column
            instead of stopping.
        batch_size: texts per model call; ``chunk_size``: rows read, scored and written at a
            time (memory grows with it, not with the file).
        resume: continue an interrupted run on the same input, model and options from its
            last completed chunk (a fresh run when there is nothing to resume).
        model_id: identifies the model in the resume state (e.g. its directory).
        progress: called when scoring starts and after each chunk with ``(rows done, rows
            done by this run, total rows or None, fraction of the input read or None)``.

    Returns:
        A :class:`ScoreResult`.

    Raises:
        DataError: unreadable input (a CSV/TSV row with the wrong number of fields: the
            message names its row and line), missing text column (the message lists the
            columns), an input column named like an added one, a value TSV cannot hold.
        ConfigError: bad options; an output that is the input under another name
            (:func:`sentiment.artifacts.check_not_input`); another run writing the same
            output ("OUTPUT is being written by another run (pid N)"); or ``resume`` with a
            state that does not match.
        FileNotFoundError: when the input does not exist.
        KeyboardInterrupt: passed on; the completed chunks stay in the hidden files beside the
            output for ``resume``, and the output path is untouched.
    """
    started = time.monotonic()
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ConfigError(f"chunk_size must be an integer >= 1; received {chunk_size!r}")
    input_path = str(input_path)
    to_stdout = output_path is None or str(output_path) == STDIO
    if resume and (input_path == STDIO or to_stdout):
        raise ConfigError("--resume needs an input file and an output file (-o)")
    fmt = detect_format(input_path, input_format)
    out_fmt = resolve_output_format(fmt, None if to_stdout else output_path, output_format)
    if not to_stdout and input_path != STDIO:
        check_not_input(output_path, input_path)

    if not to_stdout and not Path(output_path).expanduser().absolute().parent.is_dir():
        raise ConfigError(f"{output_path}: the directory "
                          f"{Path(output_path).expanduser().absolute().parent} does not exist")
    options = {"text_column": text_column, "input_format": fmt, "output_format": out_fmt,
               "probabilities": probabilities, "overwrite_columns": overwrite_columns}
    # held for the whole run, from before the hidden files are cleaned up or resumed
    with output_lock(output_path) if not to_stdout else contextlib.nullcontext():
        identity = None
        paths = None
        state = None
        if not to_stdout:
            paths = state_paths(output_path)
            identity = {"input": _input_identity(input_path) if input_path != STDIO else None,
                        "model": model_id, "options": options}
            state = _load_state(paths, identity) if resume else None
            if state is None:
                _cleanup(paths)
        skip = state["rows_done"] if state else 0

        reader = open_reader(input_path, fmt, text_column)
        try:
            if isinstance(reader, _JsonLinesReader):
                reader.prime(chunk_size, skip)
            if not callable(getattr(predictor, "predict_proba", None)) and callable(predictor):
                predictor = predictor()
                started = time.monotonic()  # time the scoring, not the model loading
            labels = list(predictor.labels)
            added = output_columns(labels, probabilities)
            clash = [name for name in reader.columns if name in added]
            if clash and not overwrite_columns:
                raise DataError(f"{input_path}: the input already has the column(s) "
                                f"{', '.join(map(repr, clash))}, which scoring adds; rename them "
                                "or pass --overwrite-columns to replace them")
            return _run(predictor, reader, paths, state, identity, out_fmt, labels,
                        probabilities, overwrite_columns, batch_size, chunk_size, progress,
                        stdout if stdout is not None else (None if not to_stdout
                                                           else sys.stdout.buffer),
                        None if to_stdout else str(output_path), started, skip)
        finally:
            reader.close()


def _run(predictor, reader, paths, state, identity, out_fmt, labels, probabilities,
         overwrite_columns, batch_size, chunk_size, progress, stdout, output_path, started,
         skip) -> ScoreResult:
    rows_done = skip
    error_rows = 0
    columns = state.get("columns") if state else None
    temp_parts: Path | None = None
    if stdout is not None:
        stream: BinaryIO = stdout
    else:
        stream = open(paths["partial"], "r+b" if state else "wb")
        if state:
            stream.truncate(state["output_bytes"])
            stream.seek(state["output_bytes"])
    try:
        if out_fmt == "parquet":
            if paths is not None:
                parts_dir = paths["parts"]
                parts_dir.mkdir(exist_ok=True)
                done = state["parts"] if state else 0
                for stale in parts_dir.iterdir():  # parts of a chunk not recorded as done
                    if stale.suffix == ".tmp" or int(stale.stem.split("-")[1]) >= done:
                        stale.unlink()
            else:
                temp_parts = Path(tempfile.mkdtemp(prefix="sentiment-score-"))
                parts_dir, done = temp_parts, 0
            writer: _Writer = _ParquetPartsWriter(stream, labels, probabilities, columns,
                                                  output_path or "<stdout>",
                                                  parts_dir=parts_dir, parts_done=done)
        else:
            kind = {"csv": _CsvWriter, "tsv": _TsvWriter, "jsonl": _JsonLinesWriter}[out_fmt]
            writer = kind(stream, labels, probabilities, columns, output_path or "<stdout>",
                          header_done=bool(state))
        wrote_any = bool(state)
        if progress is not None:
            progress(skip, 0, reader.total_rows, reader.fraction())
        for chunk in reader.chunks(chunk_size, skip):
            if chunk.records is not None and not overwrite_columns:
                for position, record in enumerate(chunk.records):
                    clash = [key for key in (record or ()) if key in writer.added]
                    if clash:
                        raise DataError(
                            f"{reader.path}: row {chunk.start + position + 1} already has the "
                            f"key {clash[0]!r}, which scoring adds; rename it or pass "
                            "--overwrite-columns")
            predictions = predict_chunk(predictor, chunk.texts, batch_size, chunk.row_errors)
            writer.write(chunk, predictions)
            wrote_any = True
            rows_done = chunk.start + chunk.rows
            error_rows += sum(error is not None for error in predictions.errors)
            del chunk, predictions
            release_memory()
            if paths is not None:
                stream.flush()
                os.fsync(stream.fileno())
                _write_json_atomic(paths["state"], {
                    "version": _STATE_VERSION, "job": identity, "rows_done": rows_done,
                    "output_bytes": stream.tell(), "parts": getattr(writer, "parts", 0),
                    "columns": writer.columns})
            if progress is not None:
                progress(rows_done, rows_done - skip, reader.total_rows, reader.fraction())
        if not wrote_any:  # no rows: still write the header / schema
            empty = _Chunk(0, [], table=reader.empty_table()) \
                if not isinstance(reader, _JsonLinesReader) else _Chunk(0, [], records=[])
            writer.write(empty, predict_chunk(predictor, [], batch_size))
        writer.finish()
        if paths is not None:
            stream.flush()
            os.fsync(stream.fileno())
            stream.close()
            os.replace(paths["partial"], Path(output_path).expanduser())
            _cleanup(paths)
    except (Exception, KeyboardInterrupt) as error:
        if paths is not None:
            stream.close()
            if not isinstance(error, KeyboardInterrupt):
                _cleanup(paths)  # nothing worth resuming after a data or option error
        raise
    finally:
        if temp_parts is not None:
            shutil.rmtree(temp_parts, ignore_errors=True)
    return ScoreResult(rows=rows_done, errors=error_rows, resumed_from=skip,
                       seconds=time.monotonic() - started, output=output_path,
                       output_format=out_fmt)


__all__ = ["score_file", "predict_chunk", "ChunkPredictions", "ScoreResult", "detect_format",
           "resolve_output_format", "open_reader", "output_columns", "state_paths",
           "text_problem", "INPUT_FORMATS", "OUTPUT_FORMATS", "DEFAULT_CHUNK_SIZE"]
