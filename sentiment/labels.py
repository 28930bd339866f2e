"""Label values and class indices of labelled texts, and the validation split.

    raw label values (``"0"``, ``"pos"``) -> the sorted class set (training) -> class
    indices ``(n,) int32`` (training, evaluation, reports)

Multi-label data (a tuple of labels per row) go the same way to multi-hot targets
``(n, L) float32`` (:func:`multi_hot`), weighted per label by
:func:`multilabel_class_weights`.

Pure Python and numpy: no TensorFlow import.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from .config import ClassifierConfig
from .data import LabelledTexts
from .errors import ConfigError, DataError


def _sort_key(value: str):
    try:
        return (0, float(value), value)
    except ValueError:
        return (1, 0.0, value)


def _row_labels(data: LabelledTexts, row: int) -> tuple[str, ...]:
    """The labels of row ``row``: a tuple for multi-label data, else a 1-tuple."""
    return data.labels[row] if data.multi_label else (data.labels[row],)


def label_set(train: LabelledTexts, order: Sequence[str] | None = None) -> tuple[str, ...]:
    """The class set of ``train``: its distinct label values (over all rows for multi-label
    data), numbers in numeric order, else lexicographic; or ``order`` when given.

    Args:
        train: the training data, single- or multi-label.
        order: the classes in the order to use (the names of a label-names file, a data
            set's ``label_order``), returned as given once every label of ``train`` is
            found in it; ``None`` derives the classes from ``train``.

    Raises:
        DataError: when the training data (or ``order``) hold fewer than two classes, when
            ``order`` names a class twice, or when a label of ``train`` is not in ``order``
            (naming the row and the label).
    """
    if order is not None:
        classes = tuple(str(name) for name in order)
        duplicates = sorted({name for name in classes if classes.count(name) > 1})
        if duplicates:
            raise DataError(f"{train.source}: the label order names "
                            f"{', '.join(map(repr, duplicates))} more than once")
        if len(classes) < 2:
            raise DataError(f"{train.source}: the label order holds {len(classes)} "
                            f"label(s) {', '.join(map(repr, classes))}; training needs at "
                            "least two")
        known = set(classes)
        for row in range(len(train)):
            for label in _row_labels(train, row):
                if label not in known:
                    raise DataError(f"{train.source}: row {row + 1} has label {label!r}, "
                                    "which is not among the given labels "
                                    f"{', '.join(classes)}")
        return classes
    if train.multi_label:
        values = tuple(sorted({label for labels in train.labels for label in labels},
                              key=_sort_key))
        if len(values) < 2:
            raise DataError(f"{train.source}: the rows hold {len(values)} distinct label(s) "
                            f"{', '.join(map(repr, values))}; multi-label training needs at "
                            "least two")
        return values
    values = tuple(sorted(set(train.labels), key=_sort_key))
    if len(values) < 2:
        raise DataError(f"{train.source}: the label column has a single class "
                        f"{values[0] if values else None!r}; training needs at least two")
    return values


def _label_index(config: ClassifierConfig) -> dict[str, int]:
    """Class names (``"negative"``), then raw training values (``"0"``), to class indices."""
    index = {name: i for i, name in enumerate(config.labels)}
    index.update({value: i for i, value in enumerate(config.label_values)})
    return index


def label_indices(data: LabelledTexts, config: ClassifierConfig) -> np.ndarray:
    """Map the raw labels of ``data`` to class indices ``(n,) int32`` of ``config``.

    A label is matched against the raw training values (``"0"``) and then the class names
    (``"negative"``).

    Raises:
        DataError: naming the first unknown label, its row and the known labels; or for
            multi-label data (see :func:`multi_hot`).
    """
    if data.multi_label:
        raise DataError(f"{data.source}: the data are multi-label (a set of labels per row) "
                        "but the model is single-label; use a model trained with "
                        "--multi-label, or data with one label per row")
    index = _label_index(config)
    out = np.empty(len(data), dtype=np.int32)
    for row, label in enumerate(data.labels):
        if label not in index:
            raise DataError(f"{data.source}: row {row + 1} has label {label!r}, which the model "
                            f"does not know; its labels are {', '.join(config.labels)}")
        out[row] = index[label]
    return out


def multi_hot(data: LabelledTexts, config: ClassifierConfig) -> np.ndarray:
    """The multi-hot targets ``(n, L) float32`` of multi-label ``data``: ``1.0`` where row
    ``i`` has class ``j`` of ``config`` (``L = len(config.labels)``), else ``0.0``; a row with
    no label is all zeros.

    A label is matched against the class names and then the raw training values, as
    :func:`label_indices` does.

    Raises:
        DataError: for single-label data (use :func:`label_indices`), or naming the first
            unknown label, its row and the known labels.
    """
    if not data.multi_label:
        raise DataError(f"{data.source}: the data were read with one label per row but the "
                        "model is multi-label; read them as multi-label (--multi-label, "
                        "--label-delimiter)")
    index = _label_index(config)
    out = np.zeros((len(data), len(config.labels)), dtype=np.float32)
    for row, labels in enumerate(data.labels):
        for label in labels:
            if label not in index:
                raise DataError(f"{data.source}: row {row + 1} has label {label!r}, which the "
                                f"model does not know; its labels are "
                                f"{', '.join(config.labels)}")
            out[row, index[label]] = 1.0
    return out


def split_validation(data: LabelledTexts, fraction: float,
                     seed: int) -> tuple[LabelledTexts, LabelledTexts]:
    """Carve a random ``fraction`` of ``data`` out as validation split (seeded); single- or
    multi-label (both parts keep ``multi_label``)."""
    order = np.random.default_rng(seed).permutation(len(data))
    cut = max(1, int(round(len(data) * fraction)))
    if cut >= len(data):
        raise DataError(f"{data.source}: {len(data)} rows are too few to carve out a validation "
                        "split; give --validation FILE")
    return data.select(np.sort(order[cut:])), data.select(np.sort(order[:cut]))


#: ``TrainingConfig.class_weight`` values that are not a file.
CLASS_WEIGHT_MODES = ("none", "balanced")


def class_weights(spec: str, y: np.ndarray, config: ClassifierConfig) -> dict[int, float] | None:
    """The loss weight of each class for ``TrainingConfig.class_weight``.

    Args:
        spec: ``none`` (no weights: ``None``), ``balanced`` (inverse class frequency, as
            scikit-learn defines it: ``n_examples / (n_classes * count_c)``, so the weights
            of all training examples sum to ``n_examples``), or the path of a JSON object
            mapping every class (by name or raw label value) to a weight > 0.
        y: ``(n,)`` int class indices of the training examples.
        config: the classifier's configuration, labels filled in.

    Returns:
        ``{class index: weight}`` for ``keras.Model.fit(class_weight=...)``, or ``None``.

    Raises:
        DataError: for a file that cannot be read, is not a JSON object of numbers > 0, names
            a class the data does not have, or misses one (the message names the file and
            the class).
    """
    if spec == "none":
        return None
    labels = config.labels
    if spec == "balanced":
        counts = np.bincount(np.asarray(y, dtype=np.int64), minlength=len(labels))
        present = int((counts > 0).sum())  # classes of the training examples, as scikit-learn
        return {k: float(len(y) / (present * count)) for k, count in enumerate(counts)
                if count}
    path, weights = _weight_file(spec, config, "class")
    missing = [labels[k] for k in range(len(labels)) if k not in weights]
    if missing:
        raise DataError(f"{path}: no weight for class {', '.join(map(repr, missing))}")
    return weights


def _weight_file(spec: str, config: ClassifierConfig,
                 kind: str) -> tuple[Path, dict[int, float]]:
    """Read the JSON weight file ``spec``: ``(its path, {class index: weight})``, keys matched
    against the class names and then the raw label values of ``config``; ``kind`` (``class``,
    ``label``) names the keys in messages.

    Raises:
        DataError: for a file that cannot be read, is not a JSON object of numbers > 0, or
            names an unknown class (naming the file and the class).
    """
    import json

    labels, values = config.labels, config.label_values or config.labels
    path = Path(spec).expanduser()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise DataError(f"--class-weight {spec}: cannot read the file ({error.strerror}); "
                        f"give balanced, none or a JSON file") from None
    except ValueError as error:
        raise DataError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a JSON object of {kind} -> weight; received "
                        f"{type(data).__name__}")
    weights = {}
    for key, weight in data.items():
        key = str(key)
        index = (labels.index(key) if key in labels
                 else values.index(key) if key in values else None)
        if index is None:
            plural = "classes" if kind == "class" else f"{kind}s"
            raise DataError(f"{path}: unknown {kind} {key!r}; the {plural} are "
                            f"{', '.join(labels)}")
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or \
                not 0 < weight < float("inf"):
            raise DataError(f"{path}: the weight of {kind} {key!r} must be a number > 0; "
                            f"received {weight!r}")
        weights[index] = float(weight)
    return path, weights


def multilabel_class_weights(spec: str, y: np.ndarray,
                             config: ClassifierConfig) -> np.ndarray | None:
    """The loss weights of multi-label training for ``TrainingConfig.class_weight``: per
    label, a weight for the rows without it (negative) and one for the rows with it
    (positive).

    Args:
        spec: ``none`` (no weights: ``None``); ``balanced``: scikit-learn's balanced
            weights of each label taken as a binary problem, ``n / (2 * count_c)`` for
            ``c`` in negative, positive (``n`` rows, ``count_c`` of them negative or
            positive), so that the weights of all rows sum to ``n`` for every label; a
            label that no row has, or that every row has, gets ``1.0`` for both; or the
            path of a JSON object mapping labels (by name or raw label value) to their
            positive weight > 0: negative weights are ``1.0``, and so are both weights of
            a label the file does not name.
        y: ``(n, L)`` multi-hot targets of the training rows (:func:`multi_hot`; nonzero
            is positive).
        config: the classifier's configuration, labels filled in (``L`` labels).

    Returns:
        ``(L, 2) float64``: row ``j`` is ``[negative weight, positive weight]`` of label
        ``j``; or ``None``.

    Raises:
        DataError: for a file that cannot be read, is not a JSON object of numbers > 0, or
            names a label the model does not have (the message names the file and label).
        ConfigError: when ``y`` is not ``(n, L)``.
    """
    if spec == "none":
        return None
    count = len(config.labels)
    y = np.asarray(y)
    if y.ndim != 2 or y.shape[1] != count:
        raise ConfigError(f"multi-label targets must be (n, {count}); received shape "
                          f"{y.shape}")
    if spec == "balanced":
        n = y.shape[0]
        positive = (y != 0).sum(axis=0).astype(np.float64)
        negative = n - positive
        weights = np.ones((count, 2), dtype=np.float64)
        both = (positive > 0) & (negative > 0)
        weights[both, 0] = n / (2 * negative[both])
        weights[both, 1] = n / (2 * positive[both])
        return weights
    _, positive_weights = _weight_file(spec, config, "label")
    weights = np.ones((count, 2), dtype=np.float64)
    for index, weight in positive_weights.items():
        weights[index, 1] = weight
    return weights
