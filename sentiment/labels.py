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
