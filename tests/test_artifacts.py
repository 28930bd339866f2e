"""sentiment.artifacts: an output never replaces an input, one run at a time per output
(a lock held by real processes), and the temporaries of a killed run are cleaned up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from sentiment.artifacts import (
    TEMP_MARKER,
    ArtifactKind,
    atomic_directory,
    check_not_input,
    check_replaceable,
    lock_path,
    output_lock,
)
from sentiment.errors import ConfigError

KIND = ArtifactKind("test artifact", required=("a.txt",), allowed=("a.txt", "b.txt"))

# takes the lock on argv[1], says so, then holds it until standard input closes (at most 120 s)
HOLD = """
import signal, sys
signal.alarm(120)
from sentiment.artifacts import output_lock
with output_lock(sys.argv[1]):
    print("locked", flush=True)
    sys.stdin.read()
"""


class HeldLock:
    """Another process holding :func:`output_lock` on ``target`` for the ``with`` block."""

    def __init__(self, target):
        self.target = str(target)

    def __enter__(self):
        self.process = subprocess.Popen([sys.executable, "-c", HOLD, self.target],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()  # the child exits within 120 s whatever happens
        assert line == "locked\n", self.process.communicate(timeout=10)
        return self.process

    def __exit__(self, *exc):
        try:
            self.process.communicate("", timeout=60)
        finally:
            self.process.kill()


# ----------------------------------------------------------------------------- output vs input


def test_an_output_that_is_the_input_under_another_name_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("w.csv").write_text("text\nfine\n")
    Path("sub").mkdir()
    Path("linkdir").symlink_to(tmp_path, target_is_directory=True)
    os.link("w.csv", "hard.csv")
    Path("soft.csv").symlink_to(tmp_path / "w.csv")
    for output in ("w.csv", "sub/../w.csv", "linkdir/w.csv", "hard.csv", "soft.csv",
                   str(tmp_path / "w.csv")):
        with pytest.raises(ConfigError) as caught:
            check_not_input(output, "w.csv")
        assert str(caught.value) == (f"output {output!r} would replace the input 'w.csv' (the "
                                     "same path); choose another output path")
    check_not_input("other.csv", "w.csv")  # a new file
    Path("copy.csv").write_text("text\nfine\n")
    check_not_input("copy.csv", "w.csv")  # same content, another file
    assert Path("w.csv").read_text() == "text\nfine\n"


# ----------------------------------------------------------------------------- the lock


def test_a_second_process_is_refused_while_the_first_holds_the_lock(tmp_path):
    target = tmp_path / "out.csv"
    with HeldLock(target) as holder:
        assert lock_path(target).read_text() == f"{holder.pid}\n"
        with pytest.raises(ConfigError) as caught:
            with output_lock(target):
                pytest.fail("the lock was taken twice")
        assert str(caught.value) == (f"{str(target)!r} is being written by another run (pid "
                                     f"{holder.pid}); wait for it to end or stop it")
        # another spelling of the same output (through a symbolic link) is the same lock
        (tmp_path / "link").symlink_to(tmp_path, target_is_directory=True)
        with pytest.raises(ConfigError, match="being written by another run"):
            with output_lock(tmp_path / "link" / "out.csv"):
                pass
    with output_lock(target):  # free again once the holder ends
        assert lock_path(target).exists()
    assert list(tmp_path.iterdir()) == [tmp_path / "link"]  # the lock file is removed


def test_directories_created_for_the_lock_go_unless_an_artifact_was_written(tmp_path):
    with output_lock(tmp_path / "new" / "sub" / "model"):
        assert lock_path(tmp_path / "new" / "sub" / "model").is_file()
    assert list(tmp_path.iterdir()) == []  # a failed run leaves no empty directories
    with atomic_directory(tmp_path / "new" / "sub" / "model", KIND) as tmp:
        (tmp / "a.txt").write_text("x")
    assert [p.name for p in (tmp_path / "new" / "sub").iterdir()] == ["model"]


def test_a_lock_file_left_by_a_killed_process_blocks_nothing(tmp_path):
    target = tmp_path / "model"
    code = ("import os, signal, sys\nfrom sentiment.artifacts import output_lock\n"
            "with output_lock(sys.argv[1]):\n    os.kill(os.getpid(), signal.SIGKILL)\n")
    process = subprocess.Popen([sys.executable, "-c", code, str(target)])
    assert process.wait(timeout=60) == -signal.SIGKILL
    assert lock_path(target).read_text() == f"{process.pid}\n"  # left behind by the dead run
    with output_lock(target):
        assert lock_path(target).read_text() == f"{os.getpid()}\n"
    assert not lock_path(target).exists()


def test_the_lock_is_reentrant_in_a_thread_and_exclusive_between_threads(tmp_path):
    target = tmp_path / "out.parquet"
    errors = []

    def other_thread():
        try:
            with output_lock(target):
                pass
        except ConfigError as error:
            errors.append(str(error))

    with output_lock(target):
        with output_lock(target):  # nested, as atomic_directory inside train_classifier
            pass
        assert lock_path(target).exists()  # still held by the outer block
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join(timeout=30)
        assert len(errors) == 1 and f"pid {os.getpid()}" in errors[0]
    assert not lock_path(target).exists()


def test_training_exporting_and_forecasting_stop_at_once_on_a_locked_output(tmp_path):
    """The lock is the first thing these take: arguments that would fail any later step
    (``None``) show that nothing else ran."""
    from sentiment.export import export_saved_model
    from sentiment.forecasting import train_forecaster
    from sentiment.training import train_classifier

    target = tmp_path / "model"
    with HeldLock(target) as holder:
        for call in (lambda: train_classifier(None, None, None, target),
                     lambda: train_forecaster(None, None, None, output_dir=target),
                     lambda: export_saved_model(tmp_path / "missing", target)):
            with pytest.raises(ConfigError, match=f"being written by another run \\(pid "
                                                  f"{holder.pid}\\)"):
                call()
        with pytest.raises(ConfigError, match="being written by another run"):
            with atomic_directory(target, KIND):
                pass
    assert not target.exists()


# ----------------------------------------------------------------------------- unwritable outputs


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc and /sys")
def test_an_output_under_proc_is_refused_before_any_work(tmp_path):
    from sentiment.training import train_classifier

    with pytest.raises(ConfigError, match=r"^output '/proc/sentiment-model': cannot write in "
                                          r"/proc \("):
        check_replaceable("/proc/sentiment-model", KIND)  # os.access says yes as root
    with pytest.raises(ConfigError, match="^output '/proc/sentiment-model': cannot write in"):
        train_classifier(None, None, None, "/proc/sentiment-model")  # before any training
    # sysfs takes no new files, whoever asks (a read-only directory even for root)
    with pytest.raises(ConfigError, match="^output '/sys/sentiment-model': cannot write in /sys"):
        check_replaceable("/sys/sentiment-model", KIND)


def test_an_output_in_a_read_only_directory_is_refused(tmp_path):
    locked = tmp_path / "read-only"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        if os.access(locked, os.W_OK) and os.geteuid() == 0:
            pytest.skip("root writes in a read-only directory (the /proc test covers root)")
        with pytest.raises(ConfigError, match="cannot write in .*read-only"):
            check_replaceable(locked / "model", KIND)
    finally:
        locked.chmod(0o755)


# ----------------------------------------------------------------------------- stale temporaries

# dies by SIGKILL in the middle of writing the artifact, as `kill -9` during the final save
KILLED = """
import os, signal, sys
from sentiment.artifacts import ArtifactKind, atomic_directory
with atomic_directory(sys.argv[1], ArtifactKind("test artifact", ("a.txt",), ("a.txt",))) as tmp:
    (tmp / "a.txt").write_text("half a mod")
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_the_next_run_removes_the_temporaries_of_a_killed_run_and_only_those(tmp_path):
    target = tmp_path / "model"
    with atomic_directory(target, KIND) as tmp:
        (tmp / "a.txt").write_text("first")
        assert TEMP_MARKER not in os.listdir(tmp)  # the marker is not part of the artifact
    process = subprocess.run([sys.executable, "-c", KILLED, str(target)], timeout=60)
    assert process.returncode == -signal.SIGKILL
    [stale] = tmp_path.glob(".model.tmp-*")
    assert (stale / TEMP_MARKER).is_file() and (stale / "model" / "a.txt").is_file()
    assert (target / "a.txt").read_text() == "first"  # the old artifact is untouched
    # look-alikes that are not ours stay: no marker, another output's, a longer name
    foreign = [tmp_path / ".model.tmp-abcdefgh", tmp_path / ".other.tmp-abcdefgh",
               tmp_path / ".model.tmp-x.tmp-abcdefgh"]
    for path in foreign:
        path.mkdir()
    (foreign[1] / TEMP_MARKER).write_text("")
    (foreign[2] / TEMP_MARKER).write_text("")

    with atomic_directory(target, KIND) as tmp:
        assert not stale.exists()  # removed as soon as the next run holds the lock
        (tmp / "a.txt").write_text("second")
    assert (target / "a.txt").read_text() == "second"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["model", *(path.name for path in foreign)])


def test_a_run_killed_between_its_two_renames_gets_the_previous_artifact_back(tmp_path):
    target = tmp_path / "model"
    old = tmp_path / ".model.old-abcd1234"  # the state after `target -> old/model`
    (old / "model").mkdir(parents=True)
    (old / "model" / "a.txt").write_text("previous")
    (old / TEMP_MARKER).write_text("")
    with output_lock(target):
        assert (target / "a.txt").read_text() == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["model"]
