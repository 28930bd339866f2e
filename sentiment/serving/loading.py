"""What ``sentiment serve`` loads: ``NAME=DIR`` model specifications, model directories
(checked before the server starts, loaded in Keras' safe mode), warm-up, API key files.

Only :meth:`ModelLoader.__call__` imports TensorFlow.
"""

from __future__ import annotations

import logging
import re
import stat
from pathlib import Path
from typing import Any, Sequence

from ..config import ClassifierConfig
from ..errors import ConfigError
from ..models.saving import read_model_config

logger = logging.getLogger(__name__)

#: A model name: used in URLs (``/v1/models/NAME:predict``), so no ``/``, ``:`` or spaces.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def parse_model_specs(values: Sequence[str], default_dir: Path) -> list[tuple[str, Path]]:
    """``--model`` values (``NAME=DIR`` or ``DIR``) as ``(name, directory)`` pairs, in order.

    A bare ``DIR`` is named after its last component (``models/sst2`` -> ``sst2``). Without
    values: ``[("default", default_dir)]``.

    Raises:
        ConfigError: a name that is not a valid model name, or given twice.
    """
    if not values:
        return [("default", Path(default_dir).expanduser())]
    specs: list[tuple[str, Path]] = []
    for value in values:
        name, sep, directory = value.partition("=")
        if not sep or not NAME_PATTERN.fullmatch(name):
            name, directory = "", value
        path = Path(directory).expanduser()
        if not name:
            name = path.resolve().name if path.name in ("", ".", "..") else path.name
            if not NAME_PATTERN.fullmatch(name):
                raise ConfigError(f"--model {value}: {name!r} cannot be a model name (letters, "
                                  "digits, '.', '_' and '-', starting with a letter or digit); "
                                  "give one as NAME=DIR")
        if any(name == other for other, _ in specs):
            raise ConfigError(f"--model: the name {name!r} is given twice; name each model "
                              "with NAME=DIR")
        specs.append((name, path))
    return specs


def read_api_keys(path: str | Path) -> tuple[str, ...]:
    """The keys of an API key file: one per line; blank lines and ``#`` comments ignored.

    Several keys let clients move from an old key to a new one. The keys are never logged;
    a file that other users can read is reported (by name) as a warning.

    Raises:
        ConfigError: the file is missing, unreadable, holds no key, or a key with spaces.
    """
    path = Path(path).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
        mode = path.stat().st_mode
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"--api-key-file {path}: cannot be read "
                          f"({getattr(error, 'strerror', None) or error})") from None
    keys = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if any(character.isspace() for character in line):
            raise ConfigError(f"--api-key-file {path}: line {number} holds white space; put "
                              "one key per line")
        keys.append(line)
    if not keys:
        raise ConfigError(f"--api-key-file {path} holds no key (one key per line)")
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        logger.warning("--api-key-file %s can be read by other users; consider chmod 600",
                       path)
    return tuple(keys)


def warmup_texts(max_length: int) -> list[str]:
    """A warm-up batch: an empty text, short ones and one over ``max_length`` tokens, so the
    graph has run on every kind of input before the server reports ready."""
    return ["", "a", "warm up the model", " ".join(["warm"] * 16),
            " ".join(["warm", "up"] * (max_length + 8))]


class ModelLoader:
    """Loads the model of one model directory for the server: a text classifier, an
    ensemble, a regression model, or a model over sequences of vectors.

    :meth:`check` reads ``config.json`` and verifies the recorded file digests without
    TensorFlow (:func:`~sentiment.models.saving.read_model_config`), so ``sentiment serve``
    stops with a one-line error before it starts; calling the loader loads the
    :class:`~sentiment.predictor.Predictor` (in a thread of the running server) in Keras'
    safe mode: a ``model.keras`` holding a Python ``lambda`` or other code is refused,
    whatever ``keras.config.enable_unsafe_deserialization`` says.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path).expanduser()
        self._metadata: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"ModelLoader({str(self.path)!r})"

    def check(self) -> dict[str, Any]:
        """Check the directory; returns :meth:`metadata`.

        Raises:
            ModelError: the directory or ``config.json`` is missing or corrupted, holds no
                classifier, ensemble, regression model or model over sequences, or a file
                differs from the one recorded at training time.
        """
        from ..config.sequence import SequenceModelConfig
        from ..models.saving import (
            SEQUENCE_SECTION,
            is_ensemble,
            is_sequence_model,
            read_ensemble_config,
        )

        inputs = "texts"
        if is_sequence_model(self.path):  # sequences of vectors (train --sequence-column)
            saved, config = read_model_config(self.path, SEQUENCE_SECTION,
                                              SequenceModelConfig.from_dict)
            inputs = "sequences"
        elif is_ensemble(self.path):  # `sentiment ensemble`: every member's files are checked
            saved, config = read_ensemble_config(self.path)
            for member in config.members:
                read_model_config(self.path / member, "classifier", ClassifierConfig.from_dict)
        else:
            saved, config = read_model_config(self.path, "classifier",
                                              ClassifierConfig.from_dict)
        versions = saved.get("versions")
        self._metadata = {"labels": list(config.labels),
                          "task": getattr(config, "task", "classification"),
                          "inputs": inputs, "config": config.to_dict(),
                          "trained_with": versions if isinstance(versions, dict) else {}}
        return self._metadata

    def metadata(self) -> dict[str, Any]:
        """``{"labels", "task", "inputs", "config", "trained_with"}`` from ``config.json``
        (checked once); ``inputs`` is ``"texts"`` or ``"sequences"``."""
        return self._metadata if self._metadata is not None else self.check()

    def __call__(self):
        """The loaded :class:`~sentiment.predictor.Predictor` (or
        :class:`~sentiment.sequences.predictor.SequencePredictor`; imports TensorFlow)."""
        from ..cli.options import quiet_tensorflow

        quiet_tensorflow()
        from ..predictor import Predictor

        return Predictor.load(self.path)  # Keras' safe mode: models.saving.load_keras_model
