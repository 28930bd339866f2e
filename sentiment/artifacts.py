"""Atomic writing of model directories.

A model directory is written into a temporary sibling directory and renamed into place only
when complete, so an interrupted run (exception, Ctrl-C, SIGTERM turned into an exception)
never leaves a half-written model at the target path.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def atomic_directory(target: str | Path) -> Iterator[Path]:
    """Yield a fresh temporary directory that replaces ``target`` when the block exits cleanly.

    The temporary directory is created beside ``target`` (same file system, so the final
    ``rename`` is atomic). If the block raises (including ``KeyboardInterrupt``), the temporary
    directory is removed and ``target`` is left exactly as it was. An existing ``target`` is
    replaced only after the new one is complete.
    """
    target = Path(target).expanduser().resolve()
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
