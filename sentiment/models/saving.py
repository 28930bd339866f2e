"""Loading a saved ``model.keras`` and checking that it fits the configuration beside it.

Keras reports a file that is not a zip archive as "File not found", and a model whose output
width differs from the configured labels only fails at the first prediction; these helpers
turn both into a :class:`~sentiment.errors.ModelError` naming the file.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from ..errors import ModelError


def load_keras_model(path: str | Path):
    """Load a ``.keras`` archive without its optimizer (``compile=False``).

    The custom layers must be registered first (import :mod:`sentiment.models.classifier` or
    :mod:`sentiment.models.seq2seq`).

    Raises:
        ModelError: the file is missing, is not a Keras archive (not a zip file), or cannot
            be deserialized; the message names the file.
    """
    import keras

    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path} is missing; the model directory is incomplete")
    if not zipfile.is_zipfile(path):
        raise ModelError(f"{path} is not a valid Keras archive (not a zip file); it is "
                         "corrupted: train the model again")
    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as error:  # noqa: BLE001  zip, h5 and deserialization errors
        raise ModelError(f"{path} is corrupted ({type(error).__name__}: {str(error)[:200]}); "
                         "train the model again") from None


def embedding_layers(model) -> list:
    """Every ``keras.layers.Embedding`` in ``model``, nested models (ensemble members)
    included, in layer order."""
    import keras

    found, stack = [], [model]
    while stack:
        layer = stack.pop(0)
        if isinstance(layer, keras.layers.Embedding):
            found.append(layer)
        stack[:0] = list(getattr(layer, "layers", ()))
    return found


def output_shape(model) -> tuple | None:
    """The shape of ``model``'s single output (``(None, classes)``), or ``None`` when Keras
    does not know it (a subclassed model, several outputs)."""
    try:
        shape = model.output_shape
    except (AttributeError, ValueError, RuntimeError):
        return None
    if not isinstance(shape, tuple) or any(isinstance(dim, (tuple, list)) for dim in shape):
        return None
    return shape


def output_width(model) -> int | None:
    """The size of the last axis of ``model``'s output, or ``None`` when unknown."""
    shape = output_shape(model)
    return None if shape is None else shape[-1]


def check_classifier_fits(model, vocabulary_size: int, labels, vocabulary_path: Path,
                          config_path: Path) -> None:
    """Check that a classifier reads ids of ``vocabulary_size`` and outputs ``len(labels)``
    probabilities.

    Raises:
        ModelError: an embedding's input dimension differs from the vocabulary size (naming
            ``vocabulary_path``), or the output width differs from the number of labels
            (naming ``config_path``).
    """
    for layer in embedding_layers(model):
        if layer.input_dim != vocabulary_size:
            raise ModelError(
                f"{vocabulary_path} holds {vocabulary_size} tokens but the model's embedding "
                f"{layer.name!r} reads {layer.input_dim} ids: the vocabulary is not the one the "
                "model was trained with; restore it or train the model again")
    width = output_width(model)
    if width is not None and width != len(labels):
        raise ModelError(
            f"{config_path} names {len(labels)} labels ({', '.join(map(str, labels))}) but the "
            f"model outputs {width} probabilities; the labels in it do not belong to this model")
