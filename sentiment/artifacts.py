"""Atomic writing of artifact directories (model directories, SavedModel exports).

An artifact is written into a temporary sibling directory and renamed into place only when
complete, so an interrupted run (exception, Ctrl-C, SIGTERM turned into an exception) never
leaves a half-written artifact at the target path. An existing directory is replaced only when
it is empty or an earlier artifact of the same kind (it holds that kind's required files and
nothing else), so a mistyped ``--output`` (``.``, a home or project directory, a TensorFlow
Serving base directory, a classifier given to a forecaster, the trained model given as the
export target) is refused, before any work, instead of deleted.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from .errors import ConfigError


@dataclass(frozen=True)
class ArtifactKind:
    """What one kind of artifact directory holds.

    Attributes:
        name: how messages call it (``"classifier model directory"``).
        required: entries every such directory holds.
        allowed: every entry such a directory may hold (``required`` included).
    """

    name: str
    required: tuple[str, ...]
    allowed: tuple[str, ...]


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_replaceable(target: str | Path, kind: ArtifactKind) -> Path:
    """Check that an artifact of ``kind`` can be written to ``target`` destroying nothing else.

    Args:
        target: the directory the artifact is about to be written to.
        kind: what such an artifact holds.

    Returns:
        ``target`` with ``~`` expanded, made absolute (symbolic links resolved).

    Raises:
        ConfigError: ``target`` is a file; the current directory or one holding it; a
            non-empty directory that lacks one of ``kind.required`` or holds an entry outside
            ``kind.allowed`` (the message names them); or its parent cannot be created or
            written to. The message names the path.
    """
    path = Path(target).expanduser().resolve()
    shown = repr(str(target))
    if path.exists():
        if not path.is_dir():
            raise ConfigError(f"output {shown} is a file, not a directory")
        if path == Path.cwd().resolve() or path in Path.cwd().resolve().parents:
            raise ConfigError(f"output {shown} is the current directory or holds it; choose "
                              "a new or empty directory elsewhere")
        entries = sorted(entry.name for entry in path.iterdir())
        missing = [name for name in kind.required if name not in entries]
        foreign = [name for name in entries if name not in kind.allowed]
        if entries and (missing or foreign):
            found = (f"it holds {', '.join(foreign[:5])}{', ...' if len(foreign) > 5 else ''}"
                     if foreign else f"it lacks {', '.join(missing)}")
            raise ConfigError(
                f"output {shown} is a non-empty directory that is not a {kind.name} ({found}), "
                "so it is not replaced; choose a new or empty directory")
    parent = _nearest_existing(path.parent)
    if not parent.is_dir():
        raise ConfigError(f"output {shown}: {parent} is a file, not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"output {shown}: no permission to write in {parent}")
    return path


@contextlib.contextmanager
def atomic_directory(target: str | Path, kind: ArtifactKind) -> Iterator[Path]:
    """Yield a fresh temporary directory that replaces ``target`` when the block exits cleanly.

    Args:
        target: the artifact directory to write.
        kind: what such an artifact holds; an existing ``target`` must pass
            :func:`check_replaceable` (checked on entry, before anything is written).

    The temporary directory is created beside ``target`` (same file system, so the final
    ``rename`` is atomic). If the block raises (including ``KeyboardInterrupt``), the temporary
    directory is removed and ``target`` is left exactly as it was. An existing ``target`` is
    replaced only after the new one is complete; if moving the new one into place fails, the
    old one is moved back.

    Raises:
        ConfigError: from :func:`check_replaceable`.
    """
    target = check_replaceable(target, kind)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        yield tmp
        if not target.exists():
            tmp.rename(target)
            return
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        try:
            target.rename(old / target.name)
        except BaseException:
            old.rmdir()
            raise
        try:
            tmp.rename(target)
        except BaseException:
            (old / target.name).rename(target)
            old.rmdir()
            raise
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
