"""The writer's lock: one process writes a run file, and a killed one can be told from a live one.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import Any

from cryolab.runfile.schema import RunFileError


def _lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


class WriterLock:
    """An exclusive lock on ``<run>.h5.lock`` for as long as one process writes the file.

    HDF5's own lock is released once SWMR writing starts, so it cannot tell a live writer from
    a killed one; an flock dies with its process, so a killed run's file can be resumed while
    one that is still being written cannot.
    """

    def __init__(self, path: Path, handle: Any) -> None:
        self.path = path
        self._handle = handle

    @classmethod
    def acquire(cls, path: str | Path) -> WriterLock:
        """Take the lock or raise RunFileError at once (never waits)."""
        path = Path(path)
        try:
            handle = open(_lock_path(path), "a+")  # noqa: SIM115 - held for the writer's life
        except OSError as exc:
            raise RunFileError(f"{path}: cannot create its lock file ({exc.strerror})") from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise RunFileError(f"{path}: another process is still writing this file (its "
                               ".lock is held)") from None
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n")
            handle.flush()
        except OSError:
            pass  # the pid is for people; the flock is the lock
        return cls(path, handle)

    def release(self) -> None:
        if self._handle is None:
            return
        lock_file = Path(self._handle.name)
        with contextlib.suppress(OSError):
            self._handle.close()
        self._handle = None
        lock_file.unlink(missing_ok=True)


def is_being_written(path: str | Path) -> bool:
    """True while another live process holds the file's writer lock."""
    lock = _lock_path(Path(path))
    if not lock.exists():
        return False
    with open(lock) as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return True
    return False
