"""Loading a model directory and checking that the model fits the configuration beside it.

:func:`load_model_directory` is the one loader of ``Predictor.load`` and ``Forecaster.load``:
``config.json``, its section, the recorded file digests (:func:`read_model_config`, also
``sentiment serve``'s check before start-up), then ``model.keras``. Keras reports a file that
is not a zip archive as "File not found", and a model whose output width differs from the
configured labels only fails at the first prediction; these helpers turn both into a
:class:`~sentiment.errors.ModelError` naming the file. Keras is imported inside the functions,
so importing this module does not import TensorFlow.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..config import CONFIG_FILE, MODEL_FILE, read_config_file
from ..errors import ConfigError, ModelError
from ..fingerprints import FILES_KEY, verify_files

#: What each section of ``config.json`` holds, and the command that writes it.
SECTIONS = {"classifier": "sentiment train", "forecaster": "sentiment forecast train",
            "ensemble": "sentiment ensemble", "language_model": "sentiment pretrain",
            "sequence_model": "sentiment train --sequence-column"}
#: The ``config.json`` section of a model over sequences of vectors.
SEQUENCE_SECTION = "sequence_model"


@dataclass(frozen=True)
class ModelDirectory:
    """A loaded model directory: its path, the whole ``config.json``, the configuration read
    from its section, and the Keras model."""

    path: Path
    saved: dict[str, Any]
    config: Any
    model: Any


def load_model_directory(model_dir: str | Path, section: str,
                         read_config: Callable[[dict[str, Any]], Any]) -> ModelDirectory:
    """Read ``config.json``, build the configuration of ``section`` with ``read_config``,
    verify the recorded sizes and SHA-256 digests of the files, and load ``model.keras``.

    Register the model's custom layers first (import :mod:`sentiment.models.classifier` or
    :mod:`sentiment.models.seq2seq`).

    ``model_dir``, ``section`` and ``read_config`` as in :func:`read_model_config`.

    Raises:
        ModelError: the directory or ``config.json`` is missing or corrupted, it has no such
            section (it holds another kind of model) or an invalid one, a file differs from
            the one recorded, or ``model.keras`` cannot be loaded; the message names the file.
    """
    path = Path(model_dir).expanduser()
    saved, config = read_model_config(path, section, read_config)
    return ModelDirectory(path, saved, config, load_keras_model(path / MODEL_FILE))


def read_model_config(model_dir: str | Path, section: str,
                      read_config: Callable[[dict[str, Any]], Any]) -> tuple[dict[str, Any], Any]:
    """Read ``config.json``, build the configuration of ``section`` with ``read_config`` and
    verify the recorded sizes and SHA-256 digests of the files: everything
    :func:`load_model_directory` checks before ``model.keras``, without TensorFlow.

    Args:
        model_dir: the model directory (``~`` expanded).
        section: ``classifier`` or ``forecaster``.
        read_config: builds the configuration from the section's dict
            (``ClassifierConfig.from_dict``); its ``ConfigError`` or ``TypeError`` is reported
            as an invalid configuration.

    Returns:
        ``(saved, config)``: the whole parsed ``config.json`` and the configuration built
        from its section.

    Raises:
        ModelError: the directory or ``config.json`` is missing or corrupted, it has no such
            section (it holds another kind of model) or an invalid one, or a file differs from
            the one recorded; the message names the file.
    """
    path = Path(model_dir).expanduser()
    saved = read_config_file(path)
    if not isinstance(saved, dict) or section not in saved:
        raise ModelError(f"{path} holds no {section} (its {CONFIG_FILE} has no {section!r} "
                         f"entry); train one with `{SECTIONS[section]}`")
    try:
        config = read_config(saved[section])
    except (TypeError, ConfigError) as error:
        raise ModelError(f"{path / CONFIG_FILE} is not a valid {section} configuration "
                         f"({error}); train the model again") from None
    verify_files(path, saved.get(FILES_KEY), CONFIG_FILE)
    return saved, config


def _has_section(model_dir: str | Path, section: str) -> bool:
    import json

    try:
        saved = json.loads((Path(model_dir).expanduser() / CONFIG_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(saved, dict) and section in saved


def is_ensemble(model_dir: str | Path) -> bool:
    """Whether ``model_dir``'s ``config.json`` holds an ensemble (``sentiment ensemble``);
    ``False`` when it cannot be read (the loader then says why)."""
    return _has_section(model_dir, "ensemble")


def is_sequence_model(model_dir: str | Path) -> bool:
    """Whether ``model_dir``'s ``config.json`` holds a model over sequences of vectors
    (``sentiment train --sequence-column``); ``False`` when it cannot be read."""
    return _has_section(model_dir, SEQUENCE_SECTION)


def read_ensemble_config(model_dir: str | Path):
    """``(saved, config)``: ``config.json`` of an ensemble directory and its
    :class:`~sentiment.config.EnsembleConfig`, after checking every recorded file (the
    members' included); no TensorFlow.

    Raises:
        ModelError: as :func:`read_model_config`.
    """
    from ..config import EnsembleConfig

    return read_model_config(model_dir, "ensemble", EnsembleConfig.from_dict)


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
        # safe_mode=True explicitly, so that keras.config.enable_unsafe_deserialization()
        # elsewhere in the process cannot let a model file run Python code (a lambda layer)
        return keras.saving.load_model(path, compile=False, safe_mode=True)
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


def save_model_directory(output_dir: str | Path, kind, model, section: str, config, training,
                         metrics: dict[str, Any], *, extra: dict[str, Callable] | None = None,
                         versions: tuple[str, ...] = ()) -> None:
    """Write a model directory atomically (:func:`sentiment.artifacts.atomic_directory`):
    ``model.keras``, the ``extra`` files (name -> a function writing that path: the
    vocabulary), ``config.json`` (``section``: ``config.to_dict()``, ``training``, library
    ``versions`` with the modules named in ``versions``, and the size and SHA-256 of every
    file written) and ``metrics.json``.

    Raises:
        ConfigError: ``output_dir`` is not a directory of ``kind`` that may be replaced.
    """
    from ..artifacts import atomic_directory
    from ..config import METRICS_FILE, write_json
    from ..fingerprints import fingerprint_files
    from ..versions import library_versions

    extra = extra or {}
    with atomic_directory(output_dir, kind) as tmp:
        model.save(tmp / MODEL_FILE)
        for name, write in extra.items():
            write(tmp / name)
        write_json(tmp / CONFIG_FILE, {
            section: config.to_dict(), "training": training.to_dict(),
            "versions": library_versions(*versions),
            FILES_KEY: fingerprint_files(tmp, (MODEL_FILE, *extra))})
        write_json(tmp / METRICS_FILE, metrics)
