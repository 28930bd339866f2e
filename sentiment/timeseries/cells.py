"""Numbers and timestamps from the cells of a table, parsed by pandas, with messages naming
the file, column and line (or row) of a cell that is neither."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pandas as pd

from ..errors import DataError
from ..io.tables import Table

#: Cells read as a missing value (after stripping, any case).
MISSING_CELLS = ("", "na", "nan", "null", "none", "n/a", "-nan")


def table_cells(table: Table, name: str) -> pd.Series:
    """Column ``name`` of ``table`` as a pandas Series (Arrow types kept; JSON values as
    Python objects)."""
    column = table.column(name)
    cells = column.to_pandas() if hasattr(column, "to_pandas") else pd.Series(column,
                                                                                dtype=object)
    return cells.astype(object) if isinstance(cells.dtype, pd.CategoricalDtype) else cells


def _is_text(cells: pd.Series) -> bool:
    return pd.api.types.is_string_dtype(cells.dtype) and cells.dtype != object


def _as_text(cells: pd.Series) -> pd.Series:
    """``cells`` as strings (``None`` stays missing): text columns as they are, any other
    value through ``str``."""
    if _is_text(cells):
        return cells
    return pd.Series([None if value is None else str(value)
                      for value in cells.to_numpy(dtype=object)], dtype=object)


def _parse_text_numbers(texts: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    stripped = texts.str.strip()
    missing = (stripped.isna() | stripped.str.lower().isin(MISSING_CELLS)).to_numpy(dtype=bool)
    numbers = pd.to_numeric(stripped.where(~missing), errors="coerce")
    values = np.asarray(numbers.to_numpy(dtype=np.float64, na_value=np.nan))
    return values, np.isnan(values) & ~missing


def parse_numbers(cells: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``(values (n,) float64, bad (n,) bool)``: the cells as numbers, and where a cell is
    not one.

    Numbers (not booleans) are taken as they are; text is stripped and parsed by
    ``pandas.to_numeric``; empty, ``NA``, ``NaN``, ``null``, ``None`` and ``N/A`` cells (any
    case) and nulls are missing values (``NaN``, not bad).
    """
    n = len(cells)
    if pd.api.types.is_bool_dtype(cells.dtype):
        return np.full(n, np.nan), cells.notna().to_numpy(dtype=bool)
    if pd.api.types.is_numeric_dtype(cells.dtype):
        return cells.to_numpy(dtype=np.float64, na_value=np.nan), np.zeros(n, dtype=bool)
    if _is_text(cells):
        return _parse_text_numbers(cells)
    objects = cells.to_numpy(dtype=object)
    number = np.fromiter((isinstance(v, (int, float, np.number))
                          and not isinstance(v, (bool, np.bool_)) for v in objects), bool, n)
    values, bad = np.full(n, np.nan), np.zeros(n, dtype=bool)
    values[number] = objects[number].astype(np.float64)
    values[~number], bad[~number] = _parse_text_numbers(_as_text(pd.Series(objects[~number])))
    return values, bad


def parse_timestamps(cells: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``(timestamps (n,) datetime64[s], bad (n,) bool)``: ISO 8601 dates or date-times
    (``2016-07-01``, ``2016-07-01 00:00:00``, ``2016-07-01T00:00:00Z``) as read by
    ``pandas.to_datetime(format="ISO8601")``, offsets converted to UTC, fractions of a
    second dropped; a Parquet timestamp column is taken as it is. ``bad`` marks a cell that
    is none of these (an empty cell included)."""
    if isinstance(cells.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(
            cells.dtype):
        stamps = pd.to_datetime(cells, utc=True)
    else:
        stamps = pd.to_datetime(_as_text(cells).str.strip(), format="ISO8601", utc=True,
                                errors="coerce")
    bad = stamps.isna().to_numpy(dtype=bool)
    values = stamps.dt.floor("s").dt.tz_localize(None).to_numpy().astype("datetime64[s]")
    return values, bad


def _cell(cells: pd.Series, row: int) -> str:
    return f"{str(cells.iloc[row])!r:.40}"


def numeric_values(cells: pd.Series, name: str, source: Any, where: Callable[[int], str],
             parsed: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    values, bad = parsed if parsed is not None else parse_numbers(cells)
    if bad.any():
        row = int(np.argmax(bad))
        raise DataError(f"{source}: column {name!r} is not numeric: {where(row)} holds "
                        f"{_cell(cells, row)}")
    return values


def timestamp_values(cells: pd.Series, name: str, source: Any, where: Callable[[int], str]
                ) -> np.ndarray:
    stamps, bad = parse_timestamps(cells)
    if bad.any():
        row = int(np.argmax(bad))
        raise DataError(f"{source}: column {name!r} {where(row)}: {_cell(cells, row)} is not an "
                        "ISO 8601 date or time")
    return stamps


__all__ = ["MISSING_CELLS", "table_cells", "parse_numbers", "parse_timestamps",
           "numeric_values", "timestamp_values"]
