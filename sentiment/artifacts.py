"""Atomic writing of model directories.

A model directory is written into a temporary sibling directory and renamed into place only
when complete, so an interrupted run (exception, Ctrl-C, SIGTERM turned into an exception)
never leaves a half-written model at the target path. An existing directory is replaced only
when it is empty or an earlier artifact of the same kind (it holds that kind's marker files),
so a mistyped ``--output`` (``.``, a home directory, a TensorFlow Serving base directory, the
trained model given as the export target) is refused instead of deleted.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path
from typing import Iterator, Sequence

from .errors import ConfigError


def check_replaceable(target: str | Path, markers: Sequence[str]) -> Path:
    """Check that writing an artifact to ``target`` destroys nothing else.

    Args:
        target: the directory an artifact is about to be written to.
        markers: file names that every artifact of this kind holds (``config.json`` and
            ``model.keras`` for a model directory).

    Returns:
        ``target`` with ``~`` expanded, made absolute.

    Raises:
        ConfigError: ``target`` is a file, or a non-empty directory that lacks one of
            ``markers`` (it is not an earlier artifact of this kind); the message names the
            path and what is missing.
    """
    path = Path(target).expanduser().resolve()
    if not path.exists():
        return path
    if not path.is_dir():
        raise ConfigError(f"output {str(target)!r} is a file, not a directory")
    missing = [name for name in markers if not (path / name).is_file()]
    if missing and any(path.iterdir()):
        raise ConfigError(
            f"output {str(target)!r} is a non-empty directory without {', '.join(missing)}: "
            "it is not an artifact of this kind, so it is not replaced; choose a new or empty "
            "directory")
    return path


@contextlib.contextmanager
def atomic_directory(target: str | Path, markers: Sequence[str]) -> Iterator[Path]:
    """Yield a fresh temporary directory that replaces ``target`` when the block exits cleanly.

    The temporary directory is created beside ``target`` (same file system, so the final
    ``rename`` is atomic). If the block raises (including ``KeyboardInterrupt``), the temporary
    directory is removed and ``target`` is left exactly as it was. An existing ``target`` is
    replaced only after the new one is complete, and only when :func:`check_replaceable`
    accepts it with ``markers`` (checked on entry, before anything is written).

    Raises:
        ConfigError: from :func:`check_replaceable`.
    """
    target = check_replaceable(target, markers)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        yield tmp
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
            target.rename(old / target.name)
            tmp.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
