"""Label values and class indices of labelled texts, and the validation split.

    raw label values (``"0"``, ``"pos"``) -> the sorted class set (training) -> class
    indices ``(n,) int32`` (training, evaluation, reports)

Pure Python and numpy: no TensorFlow import.
"""

from __future__ import annotations

import numpy as np

from .config import ClassifierConfig
from .data import LabelledTexts
from .errors import DataError


def _sort_key(value: str):
    try:
        return (0, float(value), value)
    except ValueError:
        return (1, 0.0, value)


def label_set(train: LabelledTexts) -> tuple[str, ...]:
    """The distinct label values of ``train``, numbers in numeric order, else lexicographic.

    Raises:
        DataError: when the training data hold fewer than two classes.
    """
    values = tuple(sorted(set(train.labels), key=_sort_key))
    if len(values) < 2:
        raise DataError(f"{train.source}: the label column has a single class "
                        f"{values[0] if values else None!r}; training needs at least two")
    return values


def label_indices(data: LabelledTexts, config: ClassifierConfig) -> np.ndarray:
    """Map the raw labels of ``data`` to class indices ``(n,) int32`` of ``config``.

    A label is matched against the raw training values (``"0"``) and then the class names
    (``"negative"``).

    Raises:
        DataError: naming the first unknown label, its row and the known labels.
    """
    index = {name: i for i, name in enumerate(config.labels)}
    index.update({value: i for i, value in enumerate(config.label_values)})
    out = np.empty(len(data), dtype=np.int32)
    for row, label in enumerate(data.labels):
        if label not in index:
            raise DataError(f"{data.source}: row {row + 1} has label {label!r}, which the model "
                            f"does not know; its labels are {', '.join(config.labels)}")
        out[row] = index[label]
    return out


def split_validation(data: LabelledTexts, fraction: float,
                     seed: int) -> tuple[LabelledTexts, LabelledTexts]:
    """Carve a random ``fraction`` of ``data`` out as validation split (seeded)."""
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
    labels, values = config.labels, config.label_values or config.labels
    if spec == "balanced":
        counts = np.bincount(np.asarray(y, dtype=np.int64), minlength=len(labels))
        present = int((counts > 0).sum())  # classes of the training examples, as scikit-learn
        return {k: float(len(y) / (present * count)) for k, count in enumerate(counts)
                if count}
    import json
    from pathlib import Path

    path = Path(spec).expanduser()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise DataError(f"--class-weight {spec}: cannot read the file ({error.strerror}); "
                        f"give balanced, none or a JSON file") from None
    except ValueError as error:
        raise DataError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a JSON object of class -> weight; received "
                        f"{type(data).__name__}")
    weights = {}
    for key, weight in data.items():
        key = str(key)
        index = (labels.index(key) if key in labels
                 else values.index(key) if key in values else None)
        if index is None:
            raise DataError(f"{path}: unknown class {key!r}; the classes are "
                            f"{', '.join(labels)}")
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or \
                not 0 < weight < float("inf"):
            raise DataError(f"{path}: the weight of class {key!r} must be a number > 0; "
                            f"received {weight!r}")
        weights[index] = float(weight)
    missing = [labels[k] for k in range(len(labels)) if k not in weights]
    if missing:
        raise DataError(f"{path}: no weight for class {', '.join(map(repr, missing))}")
    return weights
