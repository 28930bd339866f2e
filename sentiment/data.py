"""Reading labelled text: named data sets (IMDB, SST-2) and user files.

Files (CSV, TSV, JSON Lines, Parquet) are read through Hugging Face ``datasets``; text and
label columns are kept as strings (CSV cells are never parsed as numbers or missing values).
Named data sets are read from ``$SENTIMENT_DATA_DIR`` when present there, else from the hub.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from .errors import DataError
from .paths import data_dir

#: File suffix -> (``datasets`` builder, extra builder keyword arguments).
_FORMATS = {
    ".csv": ("csv", {}),
    ".tsv": ("csv", {"sep": "\t"}),
    ".jsonl": ("json", {}),
    ".json": ("json", {}),
    ".parquet": ("parquet", {}),
}

BINARY_SENTIMENT_LABELS = ("negative", "positive")
#: Label cells that spreadsheets and pandas write for a missing value. They are reported as
#: missing labels unless the caller keeps them as class names (``keep_label_strings``).
MISSING_LABEL_STRINGS = frozenset({"nan", "na", "n/a", "null", "none", "-nan", "<na>"})


@dataclass(frozen=True)
class LabelledTexts:
    """Texts with their raw label values, in file order.

    Attributes:
        texts: the texts, ``str`` each.
        labels: the raw label values as strings (``"0"``, ``"pos"``...), aligned with ``texts``.
        source: where the rows came from (a path or ``imdb:train``), for error messages.
    """

    texts: tuple[str, ...]
    labels: tuple[str, ...]
    source: str

    def __len__(self) -> int:
        return len(self.texts)

    def head(self, n: int) -> "LabelledTexts":
        """The first ``n`` rows."""
        return LabelledTexts(self.texts[:n], self.labels[:n], self.source)

    def sample(self, n: int, seed: int = 0) -> "LabelledTexts":
        """A seeded random sample of ``n`` rows (all rows when ``n >= len(self)``), kept in file
        order. Files are often sorted by label, so the first ``n`` rows would not do."""
        import numpy as np

        if n >= len(self):
            return self
        rows = np.sort(np.random.default_rng(seed).permutation(len(self))[:n])
        return self.select(rows.tolist())

    def select(self, indices: Sequence[int]) -> "LabelledTexts":
        """The rows at ``indices``, in that order."""
        return LabelledTexts(tuple(self.texts[i] for i in indices),
                             tuple(self.labels[i] for i in indices), self.source)


@dataclass(frozen=True)
class DatasetSplits:
    """Train / validation / test splits of a named data set; ``validation`` may be ``None``
    (carved from train at training time)."""

    train: LabelledTexts
    validation: LabelledTexts | None
    test: LabelledTexts | None
    label_names: dict[str, str]


def file_format(path: str | Path) -> str:
    """The format name of ``path`` from its suffix: csv, tsv, jsonl, json or parquet.

    Raises:
        DataError: for any other suffix.
    """
    suffix = Path(path).suffix.lower()
    if suffix not in _FORMATS:
        raise DataError(f"{path}: unsupported file type {suffix or '(none)'!r}; use .csv, .tsv, "
                        ".jsonl, .json or .parquet")
    return suffix.lstrip(".")


def _csv_header(path: Path, kwargs: dict) -> list[str]:
    """Column names from the first line of a CSV/TSV file, so every column reads as string."""
    with open(path, newline="", encoding="utf-8", errors="replace") as handle:
        quoting = kwargs.get("quoting", csv.QUOTE_MINIMAL)
        header = next(csv.reader(handle, delimiter=kwargs.get("sep", ","), quoting=quoting), None)
    if not header:
        raise DataError(f"{path}: the file is empty (no header line)")
    return header


def read_table(path: str | Path, string_columns: Sequence[str] = ()):
    """Read a whole CSV/TSV/JSON Lines/Parquet file into a ``datasets.Dataset``.

    CSV and TSV cells are read verbatim as strings (no number parsing, no ``NA`` -> missing);
    TSV is read without quote handling, as GLUE ships it. ``string_columns`` are cast to string
    for the other formats.

    Raises:
        FileNotFoundError: when ``path`` does not exist.
        DataError: when the file cannot be parsed.
    """
    import datasets

    path = Path(path)
    file_format(path)  # validates the suffix
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    builder, kwargs = _FORMATS[path.suffix.lower()]
    if builder == "csv":
        kwargs = dict(kwargs, keep_default_na=False, na_filter=False)
        if path.suffix.lower() == ".tsv":
            kwargs["quoting"] = csv.QUOTE_NONE
        kwargs["features"] = datasets.Features(
            {name: datasets.Value("string") for name in _csv_header(path, kwargs)})
    datasets.disable_progress_bars()
    verbosity = datasets.logging.get_verbosity()
    # datasets logs a parser failure before raising it; the DataError below says it instead
    datasets.logging.set_verbosity(datasets.logging.CRITICAL)
    try:
        table = datasets.load_dataset(builder, data_files=str(path), split="train", **kwargs)
    except Exception as error:  # datasets wraps parser errors in many types
        if "corresponds to no data" in str(error):
            raise DataError(f"{path}: the file has no rows") from None
        if builder == "json":
            _raise_bad_json_line(path)
        cause = error.__cause__ or error.__context__
        detail = f"{error}" + (f" ({str(cause).splitlines()[0]})" if cause else "")
        raise DataError(f"{path}: cannot read as {builder}: {detail}") from None
    finally:
        datasets.logging.set_verbosity(verbosity)
        datasets.enable_progress_bars()
    return table


def _raise_bad_json_line(path: Path) -> None:
    """Raise a :class:`DataError` naming the first line of a JSON Lines file that is not a
    JSON object; return when every non-blank line is one (the file is then some other JSON)."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as error:
                raise DataError(f"{path}: line {number} is not valid JSON ({error})") from None
            if not isinstance(record, dict):
                raise DataError(f"{path}: line {number} is a JSON {type(record).__name__}, "
                                "not an object") from None


def _texts(values: list, path: str, column: str) -> tuple[str, ...]:
    """The text column as ``str`` values; a missing or non-string value is an error."""
    for row, value in enumerate(values):
        if value is None:
            raise DataError(f"{path}: row {row + 1}, column {column!r} is missing; fill or "
                            "drop that row")
        if not isinstance(value, str):
            raise DataError(f"{path}: column {column!r} holds {type(value).__name__} values "
                            f"(row {row + 1}: {value!r:.40}), not texts; choose the text "
                            "column with --text-column")
    return tuple(values)


def _labels(values: list, path: str, column: str,
            keep_label_strings: bool = False) -> tuple[str, ...]:
    """The label column as strings (``1.0`` -> ``"1"``).

    Raises:
        DataError: naming the row and column of a missing label: a null, a float NaN, an
            empty or blank cell, or (unless ``keep_label_strings``) a cell such as ``NaN``,
            ``NA`` or ``null`` (:data:`MISSING_LABEL_STRINGS`).
    """
    out = []
    for row, value in enumerate(values):
        if isinstance(value, float):
            value = None if value != value else (int(value) if value.is_integer() else value)
        text = None if value is None else (value if isinstance(value, str) else str(value))
        if text is None or not text.strip():
            raise DataError(f"{path}: row {row + 1}, column {column!r}: the label is "
                            f"{'missing' if text is None else 'empty'}; fill or drop that row")
        if not keep_label_strings and text.strip().lower() in MISSING_LABEL_STRINGS:
            raise DataError(f"{path}: row {row + 1}, column {column!r}: the label {text!r} "
                            "reads as a missing value; fill or drop that row, or pass "
                            "--keep-label-strings to keep it as a class name")
        out.append(text)
    return tuple(out)


def load_labelled_file(path: str | Path, text_column: str = "text",
                       label_column: str = "label", *,
                       keep_label_strings: bool = False) -> LabelledTexts:
    """Read texts and labels from a CSV, TSV, JSON Lines or Parquet file.

    Rows are numbered from 1 (the first data row) in error messages. Labels may be strings
    or numbers (read as strings, ``1.0`` as ``"1"``).

    Args:
        path: the file.
        text_column: the column of texts (``str`` values).
        label_column: the column of labels.
        keep_label_strings: keep label cells such as ``NaN``, ``NA`` or ``null`` as class
            names instead of reporting them as missing labels.

    Raises:
        DataError: missing file, unknown column (the message lists the columns), a text that
            is missing or not a string, a missing or empty label (naming the row and column),
            a line of a JSON Lines file that is not a JSON object (naming the line), or a
            file with no rows.
    """
    table = read_table(path)
    for column in (text_column, label_column):
        if column not in table.column_names:
            raise DataError(f"{path}: no column {column!r}; columns are "
                            f"{', '.join(map(repr, table.column_names))} (use --text-column / "
                            "--label-column)")
    if table.num_rows == 0:
        raise DataError(f"{path}: the file has no rows")
    texts = _texts(table[text_column], str(path), text_column)
    labels = _labels(table[label_column], str(path), label_column, keep_label_strings)
    return LabelledTexts(texts, labels, str(path))


def _hub(name: str, split: str, text_column: str) -> LabelledTexts:
    import datasets

    try:
        table = datasets.load_dataset(name, split=split)
    except Exception as error:
        raise DataError(f"cannot load {name} ({split}) from the Hugging Face hub ({error}); set "
                        "SENTIMENT_DATA_DIR to a directory holding a local copy") from None
    return LabelledTexts(_texts(table[text_column], name, text_column),
                         _labels(table["label"], name, "label"), f"{name}:{split}")


def load_named_dataset(name: str) -> DatasetSplits:
    """Load ``imdb`` or ``sst2``.

    IMDB: ``$SENTIMENT_DATA_DIR/imdb/{train,test}.parquet`` else hub ``stanfordnlp/imdb``.
    SST-2: ``$SENTIMENT_DATA_DIR/sst2/{train,dev}.tsv`` else hub ``stanfordnlp/sst2``; its
    GLUE dev set serves as test split (GLUE's test labels are hidden). Validation is carved
    from train in both cases. Labels 0/1 are named negative/positive.

    Raises:
        DataError: unknown name, or neither a local copy nor the hub is reachable.
    """
    names = dict(zip(("0", "1"), BINARY_SENTIMENT_LABELS))
    local = data_dir()
    if name == "imdb":
        if local and (local / "imdb" / "train.parquet").is_file():
            train = load_labelled_file(local / "imdb" / "train.parquet")
            test = load_labelled_file(local / "imdb" / "test.parquet")
        else:
            train = _hub("stanfordnlp/imdb", "train", "text")
            test = _hub("stanfordnlp/imdb", "test", "text")
    elif name == "sst2":
        if local and (local / "sst2" / "train.tsv").is_file():
            train = load_labelled_file(local / "sst2" / "train.tsv", "sentence")
            test = load_labelled_file(local / "sst2" / "dev.tsv", "sentence")
        else:
            train = _hub("stanfordnlp/sst2", "train", "sentence")
            test = _hub("stanfordnlp/sst2", "validation", "sentence")
    else:
        raise DataError(f"unknown data set {name!r}; choose imdb or sst2")
    return DatasetSplits(train=train, validation=None, test=test, label_names=names)
