"""Reading labelled text: named data sets (IMDB, SST-2, GoEmotions) and user files.

Files (CSV, TSV, JSON Lines, Parquet) are read through :func:`sentiment.io.read_table`, as
every command reads them: CSV and TSV cells verbatim as strings (never parsed as numbers or
missing values), Parquet types kept, labels then turned into strings. Named data sets are read
from ``$SENTIMENT_DATA_DIR`` when present there, else from the Hugging Face hub (through
``datasets``).

Single-label data (the default) hold one label string per row; multi-label data
(``multi_label=True``) hold a tuple of label strings per row, possibly empty (a row with no
label): a delimited string cell (``"joy,love"``) or a list cell (JSON Lines arrays, Parquet
list columns).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from .errors import ConfigError, DataError
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
        labels: the raw label values as strings (``"0"``, ``"pos"``...), aligned with
            ``texts``; for multi-label data a tuple of such strings per row (distinct, in
            file order; ``()`` for a row with no label).
        source: where the rows came from (a path or ``imdb:train``), for error messages.
        multi_label: whether ``labels`` holds a tuple of labels per row.
    """

    texts: tuple[str, ...]
    labels: tuple[str, ...] | tuple[tuple[str, ...], ...]
    source: str
    multi_label: bool = False

    def __len__(self) -> int:
        return len(self.texts)

    def head(self, n: int) -> "LabelledTexts":
        """The first ``n`` rows."""
        return LabelledTexts(self.texts[:n], self.labels[:n], self.source, self.multi_label)

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
                             tuple(self.labels[i] for i in indices), self.source,
                             self.multi_label)


@dataclass(frozen=True)
class DatasetSplits:
    """Train / validation / test splits of a named data set; ``validation`` may be ``None``
    (carved from train at training time).

    Attributes:
        label_names: display names of raw label values (``{"0": "negative"}``); ``{}`` when
            the labels already are names.
        multi_label: whether the splits hold several labels per row.
        label_order: the class order to use (for ``sentiment.labels.label_set(train,
            order=...)``), or ``()`` to derive it from the training labels.
    """

    train: LabelledTexts
    validation: LabelledTexts | None
    test: LabelledTexts | None
    label_names: dict[str, str]
    multi_label: bool = False
    label_order: tuple[str, ...] = ()


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


def _label_string(value) -> str | None:
    """A label value as a string (``1.0`` -> ``"1"``), or ``None`` for a null or a NaN."""
    if isinstance(value, float):
        value = None if value != value else (int(value) if value.is_integer() else value)
    return None if value is None else (value if isinstance(value, str) else str(value))


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
        text = _label_string(value)
        if text is None or not text.strip():
            raise DataError(f"{path}: row {row + 1}, column {column!r}: the label is "
                            f"{'missing' if text is None else 'empty'}; fill or drop that row")
        if not keep_label_strings and text.strip().lower() in MISSING_LABEL_STRINGS:
            raise DataError(f"{path}: row {row + 1}, column {column!r}: the label {text!r} "
                            "reads as a missing value; fill or drop that row, or pass "
                            "--keep-label-strings to keep it as a class name")
        out.append(text)
    return tuple(out)


_INDEX = re.compile(r"-?[0-9]+")


def _multi_labels(values: list, path: str, column: str, keep_label_strings: bool = False,
                  delimiter: str = ",", label_names: tuple[str, ...] | None = None
                  ) -> tuple[tuple[str, ...], ...]:
    """The label column of multi-label data: a tuple of distinct label strings per row.

    A string cell is split on ``delimiter``; a list cell gives one label per item; any other
    value (a number) is one label. Labels are turned into strings as single-label ones are
    (``1.0`` -> ``"1"``) and stripped; empty ones are dropped, so an empty or blank cell is a
    row with no label. Duplicates are dropped, keeping the first. With ``label_names`` each
    label must be an integer index into it and is replaced by that name.

    Raises:
        DataError: naming the row and column of a null or NaN cell (or list item), a cell
            that is neither text, number nor list, a label such as ``NaN`` or ``null``
            (unless ``keep_label_strings``; :data:`MISSING_LABEL_STRINGS`), or a label that
            is not an index into ``label_names`` (naming the value and the valid range).
    """
    out = []
    for row, value in enumerate(values):
        where = f"{path}: row {row + 1}, column {column!r}"
        if isinstance(value, (list, tuple)):
            parts = []
            for item_number, item in enumerate(value, start=1):
                text = None if isinstance(item, (list, tuple, dict)) else _label_string(item)
                if text is None:
                    problem = ("missing (null)" if item is None or isinstance(item, float)
                               else f"a {type(item).__name__}, not a label")
                    raise DataError(f"{where}: item {item_number} of the label list is "
                                    f"{problem}; fix or drop that row")
                parts.append(text)
        elif isinstance(value, dict):
            raise DataError(f"{where}: the labels are a JSON object; give a list of labels "
                            f"or a {delimiter!r}-separated string")
        else:
            text = _label_string(value)
            if text is None:
                raise DataError(f"{where}: the labels are missing; fill or drop that row, or "
                                "leave the cell empty for a row with no label")
            parts = text.split(delimiter) if isinstance(value, str) else [text]
        labels = [part.strip() for part in parts if part.strip()]
        for label in labels:
            if not keep_label_strings and label.lower() in MISSING_LABEL_STRINGS:
                raise DataError(f"{where}: the label {label!r} reads as a missing value; fill "
                                "or drop that row, leave the cell empty for a row with no "
                                "label, or pass --keep-label-strings to keep it as a label")
        if label_names is not None:
            count = len(label_names)
            for k, label in enumerate(labels):
                if not _INDEX.fullmatch(label) or not 0 <= int(label) < count:
                    raise DataError(f"{where}: the label {label!r} is not a label index; with "
                                    f"{count} label names, labels must be integers in "
                                    f"[0, {count - 1}]")
                labels[k] = label_names[int(label)]
        out.append(tuple(dict.fromkeys(labels)))
    return tuple(out)


def _check_label_options(multi_label: bool, label_delimiter, label_names
                         ) -> tuple[str, ...] | None:
    """``label_names`` as a tuple (or ``None``), after checking the multi-label options.

    Raises:
        ConfigError: a ``label_delimiter`` that is not a non-empty string; ``label_names``
            without ``multi_label``, given as a single string, empty, holding a non-string
            or a duplicate name.
    """
    if not isinstance(label_delimiter, str) or not label_delimiter:
        raise ConfigError(f"label_delimiter must be a non-empty string; received "
                          f"{label_delimiter!r}")
    if label_names is None:
        return None
    if not multi_label:
        raise ConfigError("label_names (indices to names) is for multi-label data; pass "
                          "multi_label=True")
    if isinstance(label_names, (str, bytes)):
        raise ConfigError(f"label_names must be a sequence of names, not a string; received "
                          f"{label_names!r:.60} (read a file with load_label_names)")
    names = tuple(label_names)
    if not names:
        raise ConfigError("label_names must hold at least one name; received none")
    for name in names:
        if not isinstance(name, str):
            raise ConfigError(f"label_names must hold strings; received {name!r} "
                              f"({type(name).__name__})")
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ConfigError(f"label_names holds {', '.join(map(repr, duplicates))} more than "
                          "once")
    return names


def load_label_names(path: str | Path) -> tuple[str, ...]:
    """Read label names, one per line (UTF-8); line ``k`` (from 1) names label index ``k - 1``.

    Names are stripped. Blank lines at the end of the file are skipped; a blank line before
    the last name is an error, since it would shift the indices of the names after it.

    Raises:
        DataError: a missing or unreadable file, a file without names, a blank line before
            the last name, or a name given twice (naming the file and both lines).
    """
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path}: is a directory, not a file")
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise DataError(f"{path}: cannot read the file ({error.strerror})") from None
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not valid UTF-8 ({error.reason} at byte "
                        f"{error.start})") from None
    lines = [line.strip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    if not lines:
        raise DataError(f"{path}: the file holds no label names (one name per line)")
    first_line: dict[str, int] = {}
    for number, name in enumerate(lines, start=1):
        if not name:
            raise DataError(f"{path}: line {number} is blank; give one label name per line "
                            "(blank lines only at the end)")
        if name in first_line:
            raise DataError(f"{path}: line {number}: the label name {name!r} is already on "
                            f"line {first_line[name]}")
        first_line[name] = number
    return tuple(lines)


def load_labelled_file(path: str | Path, text_column: str = "text",
                       label_column: str = "label", *,
                       keep_label_strings: bool = False, multi_label: bool = False,
                       label_delimiter: str = ",",
                       label_names: Sequence[str] | None = None) -> LabelledTexts:
    """Read texts and labels from a CSV, TSV, JSON Lines or Parquet file.

    Rows are numbered from 1 (the first data row) in error messages. Labels may be strings
    or numbers (read as strings, ``1.0`` as ``"1"``).

    Multi-label data (``multi_label``) give a tuple of labels per row: a string cell is split
    on ``label_delimiter`` (``"joy, love"`` -> ``("joy", "love")``), each part stripped and
    empty parts dropped, so an empty or blank cell is a row with no label; a list cell (a
    JSON Lines array, a Parquet list column) gives one label per item; a number cell is one
    label. Duplicates in a row are dropped, keeping the first.

    Args:
        path: the file.
        text_column: the column of texts (``str`` values).
        label_column: the column of labels.
        keep_label_strings: keep label cells (or, multi-label, labels) such as ``NaN``,
            ``NA`` or ``null`` as class names instead of reporting them as missing labels.
        multi_label: read several labels per row (see above).
        label_delimiter: the separator of labels in a string cell (multi-label).
        label_names: multi-label only: the label names by index (e.g. from
            :func:`load_label_names`); every label must then be an integer index (``"3"``,
            ``3``) in ``[0, len(label_names))`` and is replaced by its name.

    Raises:
        DataError: missing file, unknown column (the message lists the columns), a text that
            is missing or not a string, a missing or empty label (naming the row and column;
            multi-label: a null or NaN cell or list item, while an empty cell is a row with no
            label), a label that is not an index into ``label_names`` (naming the row,
            column, value and the valid range), a line of a JSON Lines file that is not a JSON
            object (naming the line), a CSV/TSV row with the wrong number of fields (naming
            the row and line), or a file with no rows.
        ConfigError: a ``label_delimiter`` that is not a non-empty string, or ``label_names``
            without ``multi_label``, as a single string, empty, or with a duplicate name.
    """
    from .io.tables import read_table

    names = _check_label_options(multi_label, label_delimiter, label_names)
    table = read_table(path, columns=(text_column, label_column),
                       column_hint="use --text-column / --label-column")
    if table.num_rows == 0:
        raise DataError(f"{path}: the file has no rows")
    texts = _texts(table.values(text_column), str(path), text_column)
    if multi_label:
        labels = _multi_labels(table.values(label_column), str(path), label_column,
                               keep_label_strings, label_delimiter, names)
    else:
        labels = _labels(table.values(label_column), str(path), label_column,
                         keep_label_strings)
    return LabelledTexts(texts, labels, str(path), multi_label)


def load_texts(path: str | Path, text_column: str = "text") -> tuple[str, ...]:
    """The texts of a file without labels (for pretraining): one per line of a ``.txt``
    file, else the ``text_column`` of a CSV, TSV, JSON Lines or Parquet file.

    Raises:
        DataError: a missing or unreadable file, an unknown column (the message lists the
            columns), a missing or non-string text (naming the row and column), a line of a
            JSON Lines file that is not an object (naming the line), or a file with no rows.
    """
    from .io.readers import open_reader

    try:
        reader = open_reader(path, text_column=text_column)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    with reader:
        chunk = reader.read_all([text_column])
    if chunk.row_errors:
        raise DataError(f"{path}: {chunk.row_errors[min(chunk.row_errors)]}")
    if chunk.rows == 0:
        raise DataError(f"{path}: the file has no rows")
    return _texts(chunk.values(text_column), str(path), text_column)


def load_unlabelled_dataset(name: str) -> tuple[tuple[str, ...], str]:
    """The texts a language model for the named data set is pretrained on, and their source:
    for ``imdb`` its 50,000 unlabelled reviews and the 25,000 training reviews'
    texts (``$SENTIMENT_DATA_DIR/imdb/{unsup,train}.parquet``, else the hub's
    ``unsupervised`` and ``train`` splits); for ``sst2`` and ``goemotions``, which ship no
    unlabelled texts, their training texts. Never a test split.

    Raises:
        DataError: unknown name, or neither a local copy nor the hub is reachable.
    """
    if name == "imdb":
        local = data_dir()
        if local and (local / "imdb" / "unsup.parquet").is_file():
            unlabelled = load_texts(local / "imdb" / "unsup.parquet")
        else:
            table = _hub_table("stanfordnlp/imdb", "unsupervised")
            unlabelled = _texts(table["text"], "stanfordnlp/imdb", "text")
        train = load_named_dataset("imdb").train.texts
        return unlabelled + tuple(train), "imdb unlabelled + train texts"
    return tuple(load_named_dataset(name).train.texts), f"{name} train texts"


def _hub_table(name: str, split: str, config: str | None = None):
    import datasets

    try:
        if config is None:
            return datasets.load_dataset(name, split=split)
        return datasets.load_dataset(name, config, split=split)
    except Exception as error:
        raise DataError(f"cannot load {name} ({split}) from the Hugging Face hub ({error}); set "
                        "SENTIMENT_DATA_DIR to a directory holding a local copy") from None


def _hub(name: str, split: str, text_column: str) -> LabelledTexts:
    table = _hub_table(name, split)
    return LabelledTexts(_texts(table[text_column], name, text_column),
                         _labels(table["label"], name, "label"), f"{name}:{split}")


#: The GoEmotions data set on the Hugging Face hub, and its 28-label configuration.
GOEMOTIONS_HUB = ("google-research-datasets/go_emotions", "simplified")


def _hub_goemotions(split: str) -> tuple[LabelledTexts, tuple[str, ...]]:
    """A GoEmotions split from the hub (``labels``: lists of indices) and its label names."""
    name, config = GOEMOTIONS_HUB
    table = _hub_table(name, split, config)
    names = tuple(str(x) for x in table.features["labels"].feature.names)
    source = f"{name}:{split}"
    labels = _multi_labels(list(table["labels"]), source, "labels", label_names=names)
    return LabelledTexts(_texts(list(table["text"]), source, "text"), labels, source,
                         True), names


def load_named_dataset(name: str) -> DatasetSplits:
    """Load ``imdb``, ``sst2`` or ``goemotions``.

    IMDB: ``$SENTIMENT_DATA_DIR/imdb/{train,test}.parquet`` else hub ``stanfordnlp/imdb``.
    SST-2: ``$SENTIMENT_DATA_DIR/sst2/{train,dev}.tsv`` else hub ``stanfordnlp/sst2``; its
    GLUE dev set serves as test split (GLUE's test labels are hidden). Validation is carved
    from train in both cases. Labels 0/1 are named negative/positive.

    GoEmotions (multi-label, 28 labels: 27 emotions and ``neutral``):
    ``$SENTIMENT_DATA_DIR/goemotions/{train,dev,test}.tsv`` (column ``text``, and ``labels``:
    comma-separated indices into ``labels.txt``, one name per line) else hub
    ``google-research-datasets/go_emotions`` (configuration ``simplified``). Its dev split
    is the validation split; labels are names already (``label_names`` is ``{}``) and
    ``label_order`` holds the 28 names in index order.

    Raises:
        DataError: unknown name, or neither a local copy nor the hub is reachable.
    """
    local = data_dir()
    if name == "goemotions":
        if local and (local / "goemotions" / "train.tsv").is_file():
            folder = local / "goemotions"
            order = load_label_names(folder / "labels.txt")
            train, validation, test = (
                load_labelled_file(folder / f"{split}.tsv", "text", "labels", multi_label=True,
                                   label_names=order) for split in ("train", "dev", "test"))
        else:
            train, order = _hub_goemotions("train")
            validation, test = _hub_goemotions("validation")[0], _hub_goemotions("test")[0]
        return DatasetSplits(train=train, validation=validation, test=test, label_names={},
                             multi_label=True, label_order=order)
    names = dict(zip(("0", "1"), BINARY_SENTIMENT_LABELS))
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
        raise DataError(f"unknown data set {name!r}; choose imdb, sst2 or goemotions")
    return DatasetSplits(train=train, validation=None, test=test, label_names=names)
