"""File formats: the suffix table, format detection, the output format rule, and the
names of the columns ``sentiment score`` adds.

Pure Python (no pyarrow), so that the command line can name the formats in its options
without loading anything heavy.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ConfigError, DataError

#: Formats that can be read.
INPUT_FORMATS = ("csv", "tsv", "jsonl", "parquet", "txt")
#: Formats that can be written.
OUTPUT_FORMATS = ("csv", "tsv", "jsonl", "parquet")
#: Formats with named columns: what training data and time series are read from.
TABLE_FORMATS = ("csv", "tsv", "jsonl", "parquet")
#: Formats readable from standard input (Parquet needs a seekable file).
STDIN_FORMATS = ("txt", "jsonl")
#: File suffix -> format.
SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".json": "jsonl",
            ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet", ".txt": "txt",
            ".text": "txt"}
#: The path that means standard input (or output).
STDIO = "-"

#: The columns :func:`sentiment.scoring.score_file` adds, in this order: the predicted class,
#: its probability (the confidence of whichever class won, so not a polarity), one
#: ``prob_<label>`` column per class (with ``probabilities``), and the row's error message.
LABEL_COLUMN = "predicted_label"
#: A multi-label model's column in place of ``predicted_label`` and ``predicted_score``: the
#: labels given, a list in JSON Lines and Parquet, joined by :data:`LABELS_DELIMITER` in CSV
#: and TSV (``prob_<label>`` columns are always added for such a model).
LABELS_COLUMN = "predicted_labels"
LABELS_DELIMITER = ","
SCORE_COLUMN = "predicted_score"
#: The column of a regression model's predicted number.
VALUE_COLUMN = "predicted_value"
PROBABILITY_PREFIX = "prob_"
ERROR_COLUMN = "error"


def suffix_format(path: str | os.PathLike) -> str | None:
    """The format :data:`SUFFIXES` gives the suffix of ``path`` (any case), or ``None``."""
    return SUFFIXES.get(Path(path).suffix.lower())


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
    found = suffix_format(path)
    if found is None:
        suffix = Path(path).suffix.lower()
        raise ConfigError(f"{path}: cannot tell the format from the suffix {suffix or '(none)'!r};"
                          f" use .csv, .tsv, .jsonl, .parquet or .txt, or pass --format")
    return found


def table_format(path: str | os.PathLike) -> str:
    """The format of a file with named columns (one of :data:`TABLE_FORMATS`), from its suffix.

    Raises:
        DataError: for any other suffix (``.txt`` included: it has no columns).
    """
    found = suffix_format(path)
    if found not in TABLE_FORMATS:
        suffix = Path(path).suffix.lower()
        raise DataError(f"{path}: unsupported file type {suffix or '(none)'!r}; use .csv, .tsv, "
                        ".jsonl (.json, .ndjson) or .parquet")
    return found


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
        by_suffix = suffix_format(output_path)
        if by_suffix in OUTPUT_FORMATS:
            return by_suffix
    return "jsonl" if input_format == "txt" else input_format


__all__ = ["INPUT_FORMATS", "OUTPUT_FORMATS", "TABLE_FORMATS", "STDIN_FORMATS", "SUFFIXES",
           "STDIO", "LABEL_COLUMN", "LABELS_COLUMN", "LABELS_DELIMITER", "SCORE_COLUMN", "VALUE_COLUMN", "PROBABILITY_PREFIX", "ERROR_COLUMN",
           "suffix_format", "detect_format", "table_format", "resolve_output_format"]
