"""Disk space for a run file: the estimate before a night, the reserve, and the interlock.

Before a run, the plan's estimated number of points gives the file's size; a disk that cannot
hold it plus the station's margin refuses the run with the numbers. While it runs, the free
space is watched as an interlock (at most once a wall second, so the per-point cost is one
clock read): below the margin the run goes to the safe state and ends with the reason in the
file. A small reserve file, allocated at the start and released first thing on a write error
or at the end, guarantees the room to close the HDF5 file cleanly when something else fills
the disk between two checks.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

#: released on a write error so the last flush and the final status still fit
RESERVE_BYTES = 8 * 1024 * 1024
#: what a point costs on disk, chunk and index overhead included (measured: ≈ 130 B; a
#: margin for the per-channel columns to come)
BYTES_PER_POINT = 256
BYTES_PER_STEP = 64 * 1024  # a step's group, attributes, fit and chunk index
BASE_BYTES = 2 * 1024 * 1024  # root attributes (sequence, station, calibrations), tables
CHECK_EVERY_S = 1.0  # wall seconds between two looks at the free space


class DiskSpaceError(RuntimeError):
    """The free space fell below the margin, or the output folder vanished."""


def estimate_run_bytes(point_count: int, step_count: int) -> int:
    return BASE_BYTES + point_count * BYTES_PER_POINT + step_count * BYTES_PER_STEP


def estimate_points(step_durations_s: Iterable[float], point_interval_s: float) -> int:
    """Points a plan will take: one every interval over its estimated duration."""
    return int(sum(step_durations_s) / max(point_interval_s, 1e-3)) + 1


def _mb(n: float) -> str:
    return f"{n / 1e6:.3g} MB"


@dataclass(frozen=True)
class SpaceCheck:
    needed_bytes: int
    free_bytes: int
    margin_bytes: int

    @property
    def fits(self) -> bool:
        return self.free_bytes >= self.needed_bytes + RESERVE_BYTES + self.margin_bytes

    @property
    def tight(self) -> bool:
        """It fits, but less than three times over: worth a warning."""
        return self.free_bytes < 3 * (self.needed_bytes + RESERVE_BYTES) + self.margin_bytes

    def describe(self, folder: Path) -> str:
        return (f"{folder}: {_mb(self.free_bytes)} free; the run file needs about "
                f"{_mb(self.needed_bytes)}, plus {_mb(RESERVE_BYTES)} kept in reserve and the "
                f"station's margin of {_mb(self.margin_bytes)} (limits.min_free_disk_MB)")


def check_space(folder: Path, needed_bytes: int, margin_bytes: int) -> SpaceCheck:
    return SpaceCheck(needed_bytes, shutil.disk_usage(folder).free, margin_bytes)


class Reserve:
    """A file of RESERVE_BYTES beside the run file, released when room is needed."""

    def __init__(self, run_path: Path) -> None:
        self.path = run_path.with_name(run_path.name + ".reserve")
        self.held = False
        try:
            with open(self.path, "wb") as f:
                os.posix_fallocate(f.fileno(), 0, RESERVE_BYTES)
            self.held = True
        except OSError:  # no room even for that: the interlock will say so at once
            self.path.unlink(missing_ok=True)

    def release(self) -> None:
        if self.held:
            with contextlib.suppress(OSError):
                self.path.unlink()
            self.held = False


class DiskSpaceInterlock:
    """A per-point check: the output folder still exists and has more than the margin free."""

    def __init__(self, run_path: Path, margin_bytes: int) -> None:
        self.run_path = run_path
        self.folder = run_path.parent
        self.margin_bytes = margin_bytes
        self._next_check = 0.0

    def __call__(self, point: object = None) -> None:
        now = time.monotonic()
        if now < self._next_check:
            return
        self._next_check = now + CHECK_EVERY_S
        self.check_now()

    def check_now(self) -> None:
        if not self.run_path.exists():
            raise DiskSpaceError(f"the output folder {self.folder} (or the run file in it) "
                                 "vanished")
        try:
            free = shutil.disk_usage(self.folder).free
        except OSError as exc:
            raise DiskSpaceError(f"the output folder {self.folder} cannot be read "
                                 f"({exc.strerror})") from None
        if free < self.margin_bytes:
            raise DiskSpaceError(f"disk space low: {_mb(free)} free in {self.folder}, below the "
                                 f"station's margin of {_mb(self.margin_bytes)} "
                                 "(limits.min_free_disk_MB)")


def rescue_folder() -> Path:
    """Where a run file whose folder vanished is copied to (the user's state directory)."""
    state = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return state / "cryolab" / "rescued"


def rescue_open_file(fd: int, name: str) -> Path | None:
    """Copy an open file whose directory entry is gone (Linux: /proc/self/fd) to safety."""
    target_dir = rescue_folder()
    try:
        target_dir.mkdir(parents=True, exist_ok=True)
        target = target_dir / name
        n = 1
        while target.exists():
            target = target_dir / f"{Path(name).stem}-{n}{Path(name).suffix}"
            n += 1
        with open(f"/proc/self/fd/{fd}", "rb") as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst)
        return target
    except OSError:
        return None
