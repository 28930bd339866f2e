"""Reading labelled text: named data sets (IMDB, SST-2) and user files.

Files (CSV, TSV, JSON Lines, Parquet) are read through :func:`sentiment.io.read_table`, as
every command reads them: CSV and TSV cells verbatim as strings (never parsed as numbers or
missing values), Parquet types kept, labels then turned into strings. Named data sets are read
from ``$SENTIMENT_DATA_DIR`` when present there, else from the Hugging Face hub (through
``datasets``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from .errors import DataError
from .io.formats import table_format
from .paths import data_dir

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
    """The format name of ``path`` from its suffix: csv, tsv, jsonl (``.jsonl``, ``.json``,
    ``.ndjson``) or parquet (``.parquet``, ``.pq``); see :mod:`sentiment.io.formats`.

    Raises:
        DataError: for any other suffix.
    """
    return table_format(path)


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
            a line of a JSON Lines file that is not a JSON object (naming the line), a CSV/TSV
            row with the wrong number of fields (naming the row and line), or a file with no
            rows.
    """
    from .io.tables import read_table

    table = read_table(path, columns=(text_column, label_column),
                       column_hint="use --text-column / --label-column")
    if table.num_rows == 0:
        raise DataError(f"{path}: the file has no rows")
    texts = _texts(table.values(text_column), str(path), text_column)
    labels = _labels(table.values(label_column), str(path), label_column, keep_label_strings)
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
