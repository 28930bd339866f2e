"""Whole files in memory: :func:`read_table` reads a CSV, TSV, JSON Lines or Parquet file
through the streaming readers (:mod:`sentiment.io.readers`) in one chunk, for the callers
that need every row at once (training data, time series).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Sequence

import pyarrow as pa

from ..errors import DataError
from .formats import table_format
from .readers import Chunk, CsvReader, Reader, csv_row_line, open_reader

#: What ``read_table`` may be told to read: the column names, or a function choosing them
#: from the file's columns (``None``: every column).
Columns = Sequence[str] | Callable[[list[str]], Sequence[str] | None] | None


class Table:
    """A file's rows, read whole.

    Attributes:
        path: the file, as given.
        format: its format (``csv``, ``tsv``, ``jsonl``, ``parquet``).
        chunk: the rows (:class:`~sentiment.io.readers.Chunk`; column types as read).
    """

    def __init__(self, path: str, fmt: str, chunk: Chunk, delimiter: str | None = None):
        self.path = path
        self.format = fmt
        self.chunk = chunk
        self._delimiter = delimiter
        self._columns = chunk.column_names

    @property
    def column_names(self) -> list[str]:
        return list(self._columns)

    @property
    def num_rows(self) -> int:
        return self.chunk.rows

    @property
    def arrow(self) -> pa.Table | None:
        """The rows as an Arrow table, or ``None`` for JSON Lines (whose values may mix
        types; read them with :meth:`values`)."""
        return self.chunk.table

    def _check(self, name: str) -> None:
        count = self._columns.count(name)
        if count != 1:
            raise DataError(f"{self.path}: " + (f"the column name {name!r} appears {count} times"
                                                if count else _no_column(name, self._columns)))

    def values(self, name: str) -> list:
        """Column ``name`` as Python values (``None`` for a null or an absent key).

        Raises:
            DataError: when the file has no such column, or has it more than once.
        """
        self._check(name)
        return self.chunk.values(name)

    def column(self, name: str) -> pa.ChunkedArray | list:
        """Column ``name``: the Arrow column (types as read), or for JSON Lines the Python
        values (:meth:`values`). Raises as :meth:`values` does."""
        self._check(name)
        if self.chunk.table is not None:
            return self.chunk.table.column(name)
        return self.chunk.values(name)

    def line(self, row: int) -> int | None:
        """The file line (from 1) on which data row ``row`` (from 0) starts, or ``None`` for
        Parquet. CSV and TSV lines are found by a slow pass, made only for a message."""
        if self.chunk.line_numbers is not None:
            return self.chunk.line_numbers[row]
        if self._delimiter is not None:
            return csv_row_line(self.path, self._delimiter, row + 1)
        return None

    def where(self, row: int) -> str:
        """``line N`` (the file's line) where known, else ``row N`` (from 1), for messages."""
        line = self.line(row)
        return f"row {row + 1}" if line is None else f"line {line}"


def _no_column(name: str, available: Sequence[str], hint: str = "") -> str:
    listed = ", ".join(map(repr, available)) or "(none)"
    return f"no column {name!r}; columns are {listed}" + (f" ({hint})" if hint else "")


def read_table(path: str | os.PathLike, input_format: str | None = None, *,
               columns: Columns = None, column_hint: str = "") -> Table:
    """Read a whole CSV, TSV, JSON Lines or Parquet file.

    Cells are read as the streaming readers read them: CSV and TSV cells verbatim as
    strings (``007``, ``NA`` and ``""`` stay), TSV without quoting, Parquet types kept,
    JSON Lines objects as parsed (a column may mix types), invalid UTF-8 as U+FFFD.

    Args:
        path: the file.
        input_format: its format; ``None`` tells it from the suffix.
        columns: the columns to read (others are left unread where the format allows), or a
            function from the file's column names to those (it may raise its own
            :class:`DataError`; returning ``None`` reads every column), or ``None`` for all.
        column_hint: added to the message naming a missing column (e.g. the option to use).

    Raises:
        DataError: an unsupported suffix, a missing file, a directory, an unreadable file, a
            line of a JSON Lines file that is not a JSON object, a CSV/TSV row with the wrong
            number of fields (each naming the file, and the row or line), or a missing
            column (listing the columns). A JSON Lines file without rows has no columns, so
            it is returned empty rather than reported as lacking them.
    """
    path = str(path)
    if Path(path).is_dir():
        raise DataError(f"{path}: is a directory, not a file")
    fmt = input_format or table_format(path)
    if not Path(path).is_file():
        raise DataError(f"{path}: file not found")
    reader: Reader = open_reader(path, fmt, text_column=None)
    with reader:
        wanted = None
        if fmt != "jsonl":  # the others know their columns before reading the rows
            wanted = _wanted(path, reader.columns, columns, column_hint)
        chunk = reader.read_all(wanted)
    if chunk.row_errors:
        first = min(chunk.row_errors)
        raise DataError(f"{path}: {chunk.row_errors[first]}")
    if fmt == "jsonl" and chunk.column_names:
        _wanted(path, chunk.column_names, columns, column_hint)
    return Table(path, fmt, chunk, reader.delimiter if isinstance(reader, CsvReader) else None)


def _wanted(path: str, available: list[str], columns: Columns, hint: str
            ) -> list[str] | None:
    if callable(columns):
        columns = columns(list(available))
    if columns is None:
        return None
    for name in columns:
        if name not in available:
            raise DataError(f"{path}: {_no_column(name, available, hint)}")
    return list(dict.fromkeys(columns))


__all__ = ["Table", "read_table"]
