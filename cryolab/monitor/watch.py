"""Watching run files: what each one holds now, read through ``RunFile`` (SWMR) only.

A :class:`RunWatcher` re-reads its file when the file changed on disk (its size or mtime) and
keeps an immutable :class:`RunState`; the points are read only while someone looks at the page
(``want_points``) and then only the steps whose point count changed, so a 48-hour night costs a
re-read of its current step, not of the night. Whether the acquisition process is alive comes
from the writer's lock (``is_being_written``), not from the process: a killed run leaves its
file saying ``running`` with nobody holding the lock. A :class:`Library` is the set of files
and folders ``cryolab monitor`` serves: each file has an id (a hash of its path) that the URLs
use, so no URL ever names a path.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cryolab.runfile import RunFile, RunFileError, is_being_written

log = logging.getLogger(__name__)

#: the point columns the page uses (a missing one reads as NaN: the layout may change)
POINT_COLUMNS = ("time_s", "T_mc_K", "T_sample_K", "field_Oe", "point_flags")
CHANNEL_COLUMNS = ("rho_ohm_sq", "valid")
TERMINAL = ("completed", "failed", "aborted")
#: a live file is re-read at least this often even if its size and mtime look unchanged
REREAD_LIVE_S = 10.0
#: a folder is looked through for new run files this often
RESCAN_S = 5.0
#: points are kept read while a page asked for them this recently
VIEW_TTL_S = 30.0
#: the writer's lock must be seen free this long (twice) before the process counts as gone:
#: a run that just ended releases it right after writing its final status
GONE_CONFIRM_S = 1.5


def run_id(path: Path) -> str:
    """A file's id in URLs: stable for its path, and names nothing on the disk."""
    return hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]


@dataclass(frozen=True)
class StepInfo:
    name: str
    kind: str
    index: int
    status: str
    started: float
    ended: float
    n_points: int


@dataclass(frozen=True)
class RunState:
    """One reading of a run file. Arrays are shared, never changed after creation."""

    version: int
    name: str
    status: str
    attrs: dict[str, Any]
    channels: list[dict[str, Any]]
    steps: list[StepInfo]
    alarms: list[dict[str, Any]]
    faults: list[dict[str, Any]]
    events: list[dict[str, Any]]
    n_points: int  # points of the whole night (as the steps count them)
    read_wall: float  # time.time() of this reading
    #: the night's points (only while the page is viewed): column → array, in time order
    points: dict[str, np.ndarray] | None = None
    #: the newest step that has points, and its points
    points_step: str | None = None
    step_points: dict[str, np.ndarray] | None = None
    fits: dict[str, dict[str, Any]] = field(default_factory=dict)  # channel → stored fit

    @property
    def current_step(self) -> StepInfo | None:
        return self.steps[-1] if self.steps else None

    @property
    def longitudinal(self) -> list[str]:
        names = [c["name"] for c in self.channels if c.get("kind") == "longitudinal"]
        return names or [c["name"] for c in self.channels[:1]]


@dataclass
class Liveness:
    """What the file alone cannot say: when the night last grew, and whether a process still
    writes it (from the watcher's polls)."""

    last_growth_wall: float = field(default_factory=time.time)
    writer_alive: bool | None = None  # None: not known (not running)
    gone_since_wall: float | None = None


class RunWatcher:
    """One run file: re-read when it changed, a fresh :class:`RunState` after each reading."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.id = run_id(path)
        self.state: RunState | None = None
        self.error: str | None = None
        self.live = Liveness()
        self.viewed_until = 0.0  # time.monotonic() until which points are kept read
        self._run: RunFile | None = None
        self._stamp: tuple[int, int] | None = None
        self._read_mono = 0.0
        self._version = 0
        self._step_cache: dict[str, tuple[int, dict[str, np.ndarray]]] = {}
        self._lock = threading.Lock()
        self._plan: list[dict[str, Any]] | None = None

    # ---------------------------------------------------------------- reading
    def poll(self, now_mono: float | None = None) -> bool:
        """Re-read the file if it changed (or points are newly wanted); True if it was."""
        now_mono = time.monotonic() if now_mono is None else now_mono
        with self._lock:
            want = now_mono < self.viewed_until
            try:
                info = os.stat(self.path)
            except OSError as exc:
                return self._failed(f"cannot read: {exc.strerror}")
            stamp = (info.st_mtime_ns, info.st_size)
            running = self.state is not None and self.state.status == "running"
            stale = (stamp != self._stamp or self.state is None or
                     (want and self.state.points is None) or
                     (running and now_mono - self._read_mono > REREAD_LIVE_S))
            changed = False
            if stale:
                changed = self._read(want, stamp, now_mono)
            elif not want and self.state is not None and self.state.points is not None:
                self._drop_points()
            self._check_writer()
            return changed

    def want_points(self, for_s: float = VIEW_TTL_S) -> RunState | None:
        """Someone looks at the page: keep the points read; read them now if not yet."""
        self.viewed_until = time.monotonic() + for_s
        state = self.state
        if state is None or state.points is None:
            self.poll()
        return self.state

    def _failed(self, message: str) -> bool:
        changed = message != self.error
        self.error = message
        return changed

    def _open(self) -> RunFile:
        if self._run is None:
            self._run = RunFile(self.path)
        else:
            self._run.refresh()
        return self._run

    def close(self) -> None:
        with self._lock:
            self._close_file()

    def _close_file(self) -> None:
        if self._run is not None:
            with contextlib.suppress(Exception):
                self._run.close()
            self._run = None

    def _read(self, want_points: bool, stamp: tuple[int, int], now_mono: float) -> bool:
        try:
            run = self._open()
            state = self._reading(run, want_points)
        except (RunFileError, OSError, KeyError, ValueError, TypeError) as exc:
            # mid-creation, truncated, or replaced: say so and try again next time
            self._close_file()
            self._stamp = None
            return self._failed(str(exc).replace(str(self.path), self.path.name))
        self.error = None
        self._stamp = stamp
        self._read_mono = now_mono
        old = self.state
        if old is None:  # when it last grew, as far as the disk knows
            self.live.last_growth_wall = min(stamp[0] / 1e9, state.read_wall)
        elif state.n_points > old.n_points:
            self.live.last_growth_wall = state.read_wall
        if old is None or _differs(old, state):
            self._version += 1
            self.state = _with_version(state, self._version)
            return True
        if state.points is not None and old.points is None:
            self.state = _with_version(state, old.version)
        return False

    def _reading(self, run: RunFile, want_points: bool) -> RunState:
        attrs = run.attrs
        steps = [StepInfo(s.name, s.kind, s.index, s.status, _f(s.started), _f(s.ended),
                          s.n_points) for s in run.steps()]
        channels = [dict(c) for c in run.channels]
        name = str(attrs.get("sequence_name") or self.path.stem)
        state = RunState(0, name, run.status, attrs, channels, steps, run.alarms(),
                         run.faults(), run.events(), sum(s.n_points for s in steps),
                         time.time())
        if not want_points:
            return state
        names = [c["name"] for c in channels]
        parts = []
        for step in steps:
            if step.n_points == 0:
                continue
            cached = self._step_cache.get(step.name)
            if cached is None or cached[0] != step.n_points:
                cached = (step.n_points, _columns(run.points(step.name), names))
                self._step_cache[step.name] = cached
            parts.append((step.name, cached[1]))
        if not parts:
            return _replace(state, points={k: np.empty(0) for k in _all_columns(names)})
        points = {k: np.concatenate([p[k] for _, p in parts]) for k in parts[0][1]}
        last_name, last = parts[-1]
        fits = {}
        for channel in state.longitudinal:
            try:
                fit = run.fit(last_name, channel)
            except (KeyError, ValueError, TypeError):
                fit = None
            if fit:
                fits[channel] = fit
        return _replace(state, points=points, points_step=last_name, step_points=last,
                        fits=fits)

    def _drop_points(self) -> None:
        """Nobody looks: forget the points (they are read again when someone does)."""
        assert self.state is not None
        self.state = _replace(self.state, points=None, step_points=None, points_step=None)
        self._step_cache.clear()

    # ---------------------------------------------------------------- the writer
    def _check_writer(self) -> None:
        state = self.state
        if state is None or state.status != "running":
            self.live.writer_alive = None
            self.live.gone_since_wall = None
            return
        alive = is_being_written(self.path)
        now = time.time()
        if alive:
            self.live.writer_alive = True
            self.live.gone_since_wall = None
        elif self.live.gone_since_wall is None:
            self.live.gone_since_wall = now
        elif now - self.live.gone_since_wall >= GONE_CONFIRM_S:
            self.live.writer_alive = False

    # ---------------------------------------------------------------- the plan
    def plan(self) -> list[dict[str, Any]] | None:
        """The stored sequence's plan (index, kind, what, estimate_s), for the end by the clock;
        None if the file's sequence or station cannot be read back."""
        if self._plan is None and self.state is not None:
            self._plan = _plan_of(self.state.attrs) or []
        return self._plan or None


def _f(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _all_columns(channels: list[str]) -> list[str]:
    return [*POINT_COLUMNS, *(f"{ch}_{c}" for ch in channels for c in CHANNEL_COLUMNS)]


def _columns(points: np.ndarray, channels: list[str]) -> dict[str, np.ndarray]:
    have = points.dtype.names or ()
    out = {}
    for name in _all_columns(channels):
        if name in have:
            out[name] = np.ascontiguousarray(points[name])
        else:
            out[name] = np.full(len(points), np.nan)
    return out


def _replace(state: RunState, **changes: Any) -> RunState:
    from dataclasses import replace

    return replace(state, **changes)


def _with_version(state: RunState, version: int) -> RunState:
    return _replace(state, version=version)


def _differs(a: RunState, b: RunState) -> bool:
    return (a.status != b.status or a.n_points != b.n_points or a.steps != b.steps or
            len(a.alarms) != len(b.alarms) or len(a.faults) != len(b.faults) or
            len(a.events) != len(b.events) or a.fits != b.fits or
            (a.points is None) != (b.points is None))


def _plan_of(attrs: dict[str, Any]) -> list[dict[str, Any]] | None:
    from cryolab.sequence import make_plan, sequence_from_text
    from cryolab.station import StationConfig

    try:
        station = StationConfig.model_validate(json.loads(attrs["station"]))
        sequence = sequence_from_text(attrs["sequence"], "run file", station)
        return [{"index": p.index, "kind": p.kind, "what": p.describe(),
                 "estimate_s": float(p.estimate_s)} for p in make_plan(sequence, station)]
    except Exception as exc:  # a damaged or older file: the page does without the end time
        log.info("no plan for the end time: %s", exc)
        return None


class Library:
    """The run files ``cryolab monitor`` serves: the files given, and the ``*.h5`` files
    directly inside the folders given (symbolic links that lead out of a folder are not
    followed), newest first."""

    def __init__(self, paths: list[Path]) -> None:
        self.files = [p for p in paths if not p.is_dir()]
        self.folders = [p for p in paths if p.is_dir()]
        self.watchers: dict[str, RunWatcher] = {}
        self._lock = threading.Lock()
        self._scanned = -math.inf
        self.rescan()

    def rescan(self) -> None:
        found = list(self.files)
        for folder in self.folders:
            root = folder.resolve()
            with contextlib.suppress(OSError):
                for entry in folder.iterdir():
                    if entry.suffix != ".h5" or not entry.is_file():
                        continue
                    if entry.resolve().parent != root:  # a link out of the folder
                        continue
                    found.append(entry)
        with self._lock:
            for path in found:
                rid = run_id(path)
                if rid not in self.watchers:
                    self.watchers[rid] = RunWatcher(path)
        self._scanned = time.monotonic()

    def poll(self) -> list[RunWatcher]:
        """Re-read what changed; the watchers whose state changed."""
        if self.folders and time.monotonic() - self._scanned >= RESCAN_S:
            self.rescan()
        return [w for w in self.all() if w.poll()]

    def all(self) -> list[RunWatcher]:
        with self._lock:
            return list(self.watchers.values())

    def get(self, rid: str) -> RunWatcher | None:
        with self._lock:
            return self.watchers.get(rid)

    def newest_first(self) -> list[RunWatcher]:
        def started(w: RunWatcher) -> float:
            created = w.state.attrs.get("created") if w.state else None
            try:
                return os.stat(w.path).st_mtime if created is None else \
                    _created_s(created, w.path)
            except OSError:
                return 0.0

        return sorted(self.all(), key=started, reverse=True)

    def close(self) -> None:
        for watcher in self.all():
            watcher.close()


def _created_s(created: Any, path: Path) -> float:
    if isinstance(created, int | float):
        return float(created)
    from datetime import datetime

    try:
        return datetime.fromisoformat(str(created)).timestamp()
    except ValueError:
        return os.stat(path).st_mtime
