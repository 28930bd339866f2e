"""Atomic writing of artifact directories (model directories, SavedModel exports).

An artifact is written into a temporary sibling directory and renamed into place only when
complete, so an interrupted run (exception, Ctrl-C, SIGTERM turned into an exception) never
leaves a half-written artifact at the target path. An existing directory is replaced only when
it is empty or an earlier artifact of the same kind (it holds that kind's required files and
nothing else), so a mistyped ``--output`` (``.``, a home or project directory, a TensorFlow
Serving base directory, a classifier given to a forecaster, the trained model given as the
export target) is refused, before any work, instead of deleted.

While a run writes an output (a file or a directory), :func:`output_lock` holds an exclusive
``fcntl.flock`` lock on ``.NAME.lock`` beside it, so a second run on the same output stops at
once instead of interleaving with the first. Each temporary directory holds a marker file
(:data:`TEMP_MARKER`); the next run that locks the same output removes the marked temporaries
a killed run (``kill -9``) left beside it. :func:`check_not_input` refuses an output that is
an input file under another spelling (``..``, a symbolic link, a hard link).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import inspect
import os
import re
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from .errors import ConfigError

#: The file that marks a temporary directory as ours (beside the artifact being written in it).
TEMP_MARKER = ".sentiment-tmp"


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
    check_writable(path.parent, shown)
    return path


def check_writable(directory: str | Path, shown: str) -> None:
    """Check that files can be created in ``directory``, or in its nearest existing ancestor
    when it does not exist yet, by creating and removing a probe directory there
    (``os.access`` says yes to root even where nothing can be written: /proc, a read-only
    file system).

    Raises:
        ConfigError: naming the output ``shown`` and the directory that cannot be written.
    """
    parent = _nearest_existing(Path(directory).expanduser().absolute())
    if not parent.is_dir():
        raise ConfigError(f"output {shown}: {parent} is a file, not a directory")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".sentiment-probe-", dir=parent))
    except OSError as error:
        raise ConfigError(f"output {shown}: cannot write in {parent} "
                          f"({error.strerror or error})") from None


def check_not_input(output: str | os.PathLike, source: str | os.PathLike) -> None:
    """Check that writing ``output`` cannot overwrite the input ``source``.

    The two are compared with symbolic links and ``..`` resolved, and by file identity
    (device and inode: :func:`os.path.samefile`, which also catches hard links).

    Raises:
        ConfigError: ``output`` is ``source``; the message names both paths.
    """
    out, src = Path(output).expanduser(), Path(source).expanduser()
    try:
        same = out.resolve() == src.resolve() or (
            out.exists() and src.exists() and os.path.samefile(out, src))
    except (OSError, RuntimeError):  # a symbolic link loop: not the input
        same = False
    if same:
        raise ConfigError(f"output {str(output)!r} would replace the input {str(source)!r} "
                          "(the same path); choose another output path")


def check_not_inside(output: str | os.PathLike, directory: str | os.PathLike,
                     what: str = "the model directory") -> None:
    """Check that ``output`` is neither ``directory`` nor inside it (symbolic links and ``..``
    resolved), so that writing it cannot change, say, the model being used.

    Raises:
        ConfigError: naming both paths and ``what`` the directory is.
    """
    out = Path(output).expanduser().resolve()
    inside = Path(directory).expanduser().resolve()
    if out == inside or inside in out.parents:
        raise ConfigError(f"output {str(output)!r} is in {what} {str(directory)!r} and would "
                          "change it; choose a path outside it")


_HELD: set[tuple[str, int]] = set()  # (lock file, thread) of the locks this process holds


def lock_path(target: str | os.PathLike) -> Path:
    """The lock file of ``target``: ``.NAME.lock`` beside it (symbolic links resolved)."""
    path = Path(target).expanduser().resolve()
    return path.with_name(f".{path.name}.lock")


def _acquire(lock: Path, shown: str) -> tuple[int, list[Path]]:
    """Lock ``lock``: its descriptor, and the directories created to hold it (deepest first)."""
    existing, created = lock.parent, []
    while not existing.exists() and existing != existing.parent:
        created.append(existing)
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"output {shown}: {existing} is a file, not a directory")
    while True:
        made = False
        try:
            lock.parent.mkdir(parents=True, exist_ok=True)
            made = True
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            if made and isinstance(error, FileNotFoundError) and not lock.parent.is_dir():
                continue  # another run removed the directory it had created: create it again
            raise ConfigError(f"output {shown}: cannot write in {existing} "
                              f"({error.strerror or error})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            pid = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            if isinstance(error, BlockingIOError):
                raise ConfigError(f"{shown} is being written by another run (pid {pid}); "
                                  "wait for it to end or stop it") from None
            raise ConfigError(f"output {shown}: cannot lock {lock} "
                              f"({error.strerror or error})") from None
        try:
            current = os.path.samestat(os.fstat(fd), os.stat(lock))
        except FileNotFoundError:
            current = False
        if current:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode("ascii"))
            return fd, created
        os.close(fd)  # its holder removed this lock file while we opened it: lock the new one


@contextlib.contextmanager
def output_lock(target: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive lock on the output ``target`` (a file or directory) for the block.

    The lock is an ``fcntl.flock`` on ``.NAME.lock`` beside ``target``, holding the pid of the
    run. On exit the lock file is removed, and so are the parent directories created for it
    if they are still empty. The kernel releases the lock of a process that dies, so a lock
    file left by a killed run blocks nothing. The lock is re-entrant within a thread (a nested
    block on the same target holds it once). On first entry, the temporaries a killed run
    left beside ``target`` are removed (:func:`remove_stale_temporaries`).

    Raises:
        ConfigError: another run (process or thread) holds the lock ("TARGET is being written
            by another run (pid N)"), or the lock file cannot be created beside ``target``
            (the message names the output).
    """
    lock = lock_path(target)
    key = (str(lock), threading.get_ident())
    if key in _HELD:  # the outer block of this thread releases it
        yield
        return
    fd, created = _acquire(lock, repr(str(target)))
    _HELD.add(key)
    try:
        remove_stale_temporaries(target)
        yield
    finally:
        _HELD.discard(key)
        with contextlib.suppress(OSError):
            lock.unlink()  # while still held, so that no other run holds this very file
        os.close(fd)
        for directory in created:  # an artifact written into one keeps it
            try:
                directory.rmdir()
            except OSError:
                break


def locks_output(parameter: str) -> Callable:
    """Decorator: hold :func:`output_lock` on the argument named ``parameter`` for the whole
    call (nothing is locked when it is ``None``).

    Raises:
        ConfigError: from :func:`output_lock`, before the function runs.
    """
    def decorate(func: Callable) -> Callable:
        signature = inspect.signature(func)

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            target = signature.bind(*args, **kwargs).arguments.get(parameter)
            with output_lock(target) if target is not None else contextlib.nullcontext():
                return func(*args, **kwargs)

        return wrapper

    return decorate


def remove_stale_temporaries(target: str | os.PathLike) -> list[Path]:
    """Remove the temporary directories that an interrupted :func:`atomic_directory` left
    beside ``target``: only ours, named ``.NAME.tmp-XXXXXXXX`` or ``.NAME.old-XXXXXXXX`` and
    holding :data:`TEMP_MARKER`. Call it only while holding :func:`output_lock` on
    ``target`` (no live run then owns them). A previous artifact found in an ``.old-``
    directory while ``target`` is missing (a run killed between its two renames) is moved
    back to ``target`` first.

    Returns:
        The directories removed.
    """
    target = Path(target).expanduser().resolve()
    pattern = re.compile(rf"\.{re.escape(target.name)}\.(tmp|old)-[a-z0-9_]{{8}}")
    try:
        entries = sorted(target.parent.iterdir())
    except OSError:
        return []
    removed = []
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if not match or entry.is_symlink() or not (entry / TEMP_MARKER).is_file():
            continue
        previous = entry / target.name
        if match.group(1) == "old" and not target.exists() and previous.is_dir():
            previous.rename(target)
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    return removed


def _marked_temporary(target: Path, kind: str) -> Path:
    directory = Path(tempfile.mkdtemp(prefix=f".{target.name}.{kind}-", dir=target.parent))
    try:
        (directory / TEMP_MARKER).write_text(
            f"temporary directory of a sentiment run (pid {os.getpid()}) writing {target}; "
            "the next run writing it removes this directory if it is left behind\n",
            encoding="utf-8")
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return directory


@contextlib.contextmanager
def atomic_directory(target: str | Path, kind: ArtifactKind) -> Iterator[Path]:
    """Yield a fresh empty directory that replaces ``target`` when the block exits cleanly.

    Args:
        target: the artifact directory to write.
        kind: what such an artifact holds; an existing ``target`` must pass
            :func:`check_replaceable` (checked on entry, before anything is written).

    The whole block holds :func:`output_lock` on ``target``. The directory yielded is
    ``.NAME.tmp-XXXXXXXX/NAME`` beside ``target`` (same file system, so the final ``rename`` is
    atomic); its parent also holds :data:`TEMP_MARKER`, by which a later run tells it from
    foreign files and removes it if this process is killed. If the block raises (including
    ``KeyboardInterrupt``), the temporary directory is removed and ``target`` is left exactly
    as it was. An existing ``target`` is replaced only after the new one is complete; if moving
    the new one into place fails, the old one is moved back.

    Raises:
        ConfigError: from :func:`output_lock` (another run writes ``target``) and
            :func:`check_replaceable`.
    """
    with output_lock(target):
        target = check_replaceable(target, kind)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = _marked_temporary(target, "tmp")
        try:
            new = tmp / target.name
            new.mkdir()
            yield new
            if not target.exists():
                new.rename(target)
                return
            old = _marked_temporary(target, "old")
            try:
                target.rename(old / target.name)
            except BaseException:
                shutil.rmtree(old, ignore_errors=True)  # holds only the marker
                raise
            try:
                new.rename(target)
            except BaseException:
                (old / target.name).rename(target)
                shutil.rmtree(old, ignore_errors=True)
                raise
            shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
