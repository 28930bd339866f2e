"""Size and SHA-256 of the files of an artifact, recorded when it is written, checked on load.

A model directory's ``config.json`` (and an export's ``sentiment_export.json``) records, under
``"files"``, ``{"vocab.txt": {"bytes": 1234, "sha256": "..."}, "model.keras": {...}}`` for the
files written beside it. Loading compares them, so a vocabulary truncated or swapped for another
model's, or weights copied from another run, are refused with an error naming the file instead
of giving silently wrong predictions. Pure Python (``hashlib``), no TensorFlow.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Iterable

from .errors import ModelError

#: The key under which artifacts record their files.
FILES_KEY = "files"
_BLOCK = 1 << 20


def file_fingerprint(path: str | Path) -> dict[str, Any]:
    """``{"bytes": size in bytes, "sha256": hex digest}`` of the file at ``path``.

    Raises:
        OSError: when the file cannot be read.
    """
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
            size += len(block)
    return {"bytes": size, "sha256": digest.hexdigest()}


def fingerprint_files(directory: str | Path, names: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Fingerprints of the files ``names`` (paths relative to ``directory``, ``/``-separated),
    keyed by name, for the ``"files"`` entry of an artifact's configuration."""
    directory = Path(directory)
    return {name: file_fingerprint(directory / name) for name in names}


def verify_files(directory: str | Path, recorded: dict[str, Any] | None,
                 config_name: str) -> None:
    """Check that the files of ``directory`` are those ``recorded`` when it was written.

    Args:
        directory: the artifact directory.
        recorded: the ``"files"`` entry of its configuration; ``None`` (an artifact written
            before fingerprints were recorded) checks nothing.
        config_name: the file holding ``recorded`` (``config.json``), for messages.

    Raises:
        ModelError: naming the first file that is missing or whose size or SHA-256 differs.
    """
    if not recorded:
        return
    directory = Path(directory)
    if not isinstance(recorded, dict):
        raise ModelError(f"{directory / config_name}: its {FILES_KEY!r} entry is not an object; "
                         "the file was edited or is corrupted")
    for name, expected in recorded.items():
        path = directory / name
        if not path.is_file():
            raise ModelError(f"{path} is missing; {directory} is not a complete model directory")
        try:
            actual = file_fingerprint(path)
        except OSError as error:
            raise ModelError(f"{path} cannot be read ({error.strerror})") from None
        if not isinstance(expected, dict) or actual != {key: expected.get(key)
                                                        for key in actual}:
            raise ModelError(
                f"{path} does not match the model it was saved with: its size or SHA-256 "
                f"differs from those recorded in {directory / config_name} ({actual['bytes']} "
                f"bytes now, {expected.get('bytes') if isinstance(expected, dict) else '?'} "
                "recorded); it was changed or replaced. Restore it or train the model again")
