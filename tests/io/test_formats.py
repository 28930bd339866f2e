"""sentiment.io.formats: the suffix table, format detection, the output format rule."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sentiment.errors import ConfigError, DataError
from sentiment.io.formats import (
    INPUT_FORMATS,
    OUTPUT_FORMATS,
    TABLE_FORMATS,
    detect_format,
    resolve_output_format,
    table_format,
)


def test_format_detection():
    assert detect_format("a/b.CSV") == "csv" and detect_format("x.ndjson") == "jsonl"
    assert detect_format("-") == "txt" and detect_format("-", "jsonl") == "jsonl"
    with pytest.raises(ConfigError, match="standard input cannot be read as parquet"):
        detect_format("-", "parquet")
    with pytest.raises(ConfigError, match="--format"):
        detect_format("data.xlsx")
    assert resolve_output_format("txt", None) == "jsonl"
    assert resolve_output_format("csv", "out.parquet") == "parquet"
    assert resolve_output_format("csv", "out.dat") == "csv"
    assert resolve_output_format("csv", "out.parquet", "tsv") == "tsv"
    assert set(OUTPUT_FORMATS) < set(INPUT_FORMATS)


def test_table_formats_are_the_formats_with_columns():
    assert table_format("a/b.TSV") == "tsv" and table_format("x.json") == "jsonl"
    assert table_format("x.pq") == "parquet"
    assert set(TABLE_FORMATS) == set(INPUT_FORMATS) - {"txt"}
    for name in ("data.xlsx", "notes.txt", "noext"):
        with pytest.raises(DataError, match="unsupported file type"):
            table_format(name)


def test_formats_import_no_pyarrow():
    code = ("import sys, sentiment.io.formats, sentiment.io; "
            "print('pyarrow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
