"""One layer for file formats, used by training, scoring and forecasting alike.

* :mod:`sentiment.io.formats`: the suffix table, format detection, the output format rule,
  the names of the columns scoring adds. Pure Python.
* :mod:`sentiment.io.readers`: streaming readers (:func:`open_reader`, :class:`Chunk`).
* :mod:`sentiment.io.writers`: chunk writers (:func:`open_writer`).
* :mod:`sentiment.io.tables`: whole files in memory (:func:`read_table`, :class:`Table`).

Free of model and command-line code. Importing this package (or ``formats``) loads no
pyarrow; the readers, writers and tables load it when first used.
"""

from .formats import (
    INPUT_FORMATS,
    OUTPUT_FORMATS,
    STDIN_FORMATS,
    STDIO,
    SUFFIXES,
    TABLE_FORMATS,
    detect_format,
    resolve_output_format,
    table_format,
)

_LAZY = {"Chunk": "readers", "Reader": "readers", "open_reader": "readers",
         "replace_invalid_utf8": "readers", "DEFAULT_CHUNK_SIZE": "readers",
         "Writer": "writers", "open_writer": "writers",
         "Table": "tables", "read_table": "tables"}


def __getattr__(name):
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["INPUT_FORMATS", "OUTPUT_FORMATS", "STDIN_FORMATS", "STDIO", "SUFFIXES",
           "TABLE_FORMATS", "detect_format", "resolve_output_format", "table_format",
           *_LAZY]
