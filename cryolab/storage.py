"""The run file: an HDF5 writer that survives a crash, a reader, and CSV export.

Layout (docs/data-format.md): root attributes describe the run; ``/steps/NNN_<kind>/points``
holds each executed step's points; ``/events`` the runner's notes; ``/segments`` one row per
process that wrote the file. The writer is a runner subscriber: points are buffered in memory
and written in blocks, and a background thread flushes whatever is pending at least once a
second, so a killed process loses at most about a second of points. The file is written in
SWMR mode, so a second process can read it live (``RunFile`` opens with ``swmr=True``).

A process killed while writing leaves HDF5's "open for writing" flag in the superblock; the
file still opens with ``swmr=True`` and :func:`clear_write_flag` (what ``h5clear -s`` does)
makes it open everywhere again — ``cryolab resume`` does that before appending.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import json
import logging
import math
import os
import re
import struct
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from cryolab import __version__
from cryolab.diskspace import Reserve, rescue_open_file
from cryolab.events import (
    Event,
    FaultOccurred,
    FitUpdated,
    Note,
    PointTaken,
    RunEnded,
    RunStarted,
    RunStateChanged,
    StepEnded,
    StepStarted,
    SummaryUpdated,
)
from cryolab.measurement import POINT_DTYPE

log = logging.getLogger(__name__)
FLUSH_INTERVAL_S = 0.5
#: free bytes a write must leave: HDF5's metadata for a flush is a few tens of kB
WRITE_SLACK_BYTES = 1_000_000  # pending rows older than this are written and flushed
BLOCK_ROWS = 4096
EVENT_DTYPE = np.dtype([("time_s", "f8"), ("step_index", "i4"), ("level", "S8"),
                        ("text", h5py.string_dtype())])
FAULT_DTYPE = np.dtype([("time_s", "f8"), ("step_index", "i4"), ("instrument", "S8"),
                        ("kind", "S16"), ("attempt", "i2"), ("action", "S12"),
                        ("detail", h5py.string_dtype())])
SEGMENT_DTYPE = np.dtype([("started_s", "f8"), ("ended_s", "f8"), ("first_step", "i4"),
                          ("end_status", "S16"), ("reason", h5py.string_dtype())])


class RunFileError(Exception):
    """A file that is not a (complete enough) cryolab run file."""


class StorageError(RuntimeError):
    """Writing the run file failed (no space, an I/O error): the run must stop safely."""


def _errno_in(text: str) -> int | None:
    """HDF5 puts the system's errno in its message text ("errno = 28")."""
    match = re.search(r"errno = (\d+)", text)
    return int(match.group(1)) if match else None


def _attr_value(value: Any) -> Any:
    """Something h5py stores as an attribute: numbers, strings, bools, number lists; else JSON."""
    if value is None:
        return "null"
    if isinstance(value, bool | int | float | str | np.number | np.bool_):
        return value
    if isinstance(value, list | tuple) and value and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in value):
        return np.asarray(value, dtype=float)
    return json.dumps(value, default=str)


#: what a row whose data never reached the disk reads as (its extent did): NaN, not valid
_UNWRITTEN = np.zeros((), dtype=POINT_DTYPE)
for _name in POINT_DTYPE.names or ():
    if POINT_DTYPE[_name].kind == "f":
        _UNWRITTEN[_name] = np.nan


def _written(points: np.ndarray) -> np.ndarray:
    """The rows that hold a measurement (older files fill unwritten rows with zeros)."""
    t = points["time_s"]
    return points[np.isfinite(t) & (t > 0)]


class RunWriter:
    """Runner subscriber writing one run file."""

    def __init__(self, path: str | Path, attrs: dict[str, Any], append: bool = False,
                 lock: WriterLock | None = None) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        #: a resumed run arrives with the lock it took before checking the file
        self._process_lock = lock if lock is not None else WriterLock.acquire(self.path)
        self._reserve = Reserve(self.path)
        try:
            self._open(attrs, append)
        except BaseException:
            self._reserve.release()
            if lock is None:
                self._process_lock.release()
            raise

    def _open(self, attrs: dict[str, Any], append: bool) -> None:
        if append:
            clear_write_flag(self.path)
            self.file = h5py.File(self.path, "r+", libver="latest")
        else:
            self.file = h5py.File(self.path, "w-", libver="latest")
            self.file.attrs["cryolab_version"] = __version__
            self.file.attrs["created"] = time.time()
            self.file.attrs["status"] = "running"
            for key, value in attrs.items():
                self.file.attrs[key] = _attr_value(value)
            self.file.create_group("steps")
            self.file.create_dataset("events", shape=(0,), maxshape=(None,), dtype=EVENT_DTYPE,
                                     chunks=(256,))
            self.file.create_dataset("segments", shape=(0,), maxshape=(None,),
                                     dtype=SEGMENT_DTYPE, chunks=(16,))
            self.file.create_dataset("faults", shape=(0,), maxshape=(None,), dtype=FAULT_DTYPE,
                                     chunks=(256,))
        _bound_metadata_cache(self.file)
        self.file.swmr_mode = True
        self._segment = self.file["segments"].shape[0]
        self._group_count = len(self.file["steps"])
        self._group_of_index: dict[int, h5py.Group] = {}
        self._points: h5py.Dataset | None = None
        self._group: h5py.Group | None = None
        self._rows: list[tuple] = []
        self._notes: list[tuple] = []
        self._faults: list[tuple] = []
        self._last_flush = time.monotonic()
        self._closed = False
        self._failure: StorageError | None = None
        self._degraded = False  # after a write error: notes and the end still go in
        self._lost_points = 0
        self.rescued_to: Path | None = None
        self._flushed_points = 0
        self._flushed_tables = {name: self.file[name].shape[0]
                                for name in ("events", "faults", "segments")}
        self._stop = threading.Event()
        self._flusher = threading.Thread(target=self._flush_loop, name="run-writer-flush",
                                         daemon=True)
        self._flusher.start()

    # ------------------------------------------------------------------ subscriber
    def __call__(self, event: Event) -> None:
        if isinstance(event, PointTaken) and self._failure is None:
            with self._lock:
                try:
                    self._rows.append(event.row)
                    if len(self._rows) >= BLOCK_ROWS:
                        self._write_rows()
                except Exception as exc:
                    raise self._fail(exc) from None
            return
        with self._lock:
            if self._failure is not None:
                self._after_failure(event)
                return
            try:
                self._dispatch(event)
            except Exception as exc:
                raise self._fail(exc) from None

    def _dispatch(self, event: Event) -> None:
        if isinstance(event, Note):
            self._notes.append((event.time, -1 if event.step_index is None
                                else event.step_index, event.level, event.text))
        elif isinstance(event, StepStarted):
            self._start_step(event)
        elif isinstance(event, StepEnded):
            self._end_step(event)
        elif isinstance(event, RunStarted):
            self._start_segment(event)
        elif isinstance(event, RunEnded):
            self._end_run(event)
        elif isinstance(event, FaultOccurred):
            r = event.report
            self._faults.append((event.time, -1 if event.step_index is None
                                 else event.step_index, r.instrument, r.kind, r.attempt,
                                 r.action, r.detail))
        elif isinstance(event, FitUpdated):
            self._write_fit(event)
        elif isinstance(event, SummaryUpdated):
            self._write_summary(event)
        elif isinstance(event, RunStateChanged):
            self._notes.append((event.time, -1, "info", f"state: {event.state}"
                                + (f" ({event.reason})" if event.reason else "")))

    # ------------------------------------------------------------------ write errors
    def _fail(self, exc: BaseException) -> StorageError:
        """A write failed (no space, an I/O error): keep what the last flush made durable, make
        room with the reserve, and from now on record only notes and the run's end.

        A disk about to fill is caught before HDF5 writes (see _ensure_room), which leaves the
        library healthy. A write HDF5 itself saw fail leaves its cache in a state it cannot
        flush from (and closing it can crash the process): if one retry fails, its descriptor
        is pointed at /dev/null, so the file on disk keeps its last flushed state and the
        handle closes harmlessly.
        """
        if isinstance(exc, StorageError):
            self._failure = exc
        else:
            errno = getattr(exc, "errno", None) or _errno_in(str(exc))
            what = os.strerror(errno) if errno else f"{type(exc).__name__}: {exc}"
            self._failure = StorageError(f"cannot write the run file {self.path.name}: {what}")
        log.error("%s", self._failure, exc_info=not isinstance(exc, StorageError))
        self._reserve.release()
        if isinstance(exc, StorageError):  # refused before HDF5 wrote: the reserve's room
            try:                           # takes what is pending, so nothing is lost
                self._write_rows(check=False)
                self.file.flush()
                self._flushed_points = self._points.shape[0] if self._points is not None else 0
                self._degraded = True
                return self._failure
            except Exception:
                log.exception("writing the last points into the reserve's room failed")
        written = self._points.shape[0] if self._points is not None else 0
        self._lost_points = len(self._rows) + max(written - self._flushed_points, 0)
        self._rows.clear()
        self._notes.clear()
        self._faults.clear()
        try:
            if self._points is not None:
                self._points.resize((self._flushed_points,))
            for name, n in self._flushed_tables.items():
                self.file[name].resize((n,))
            self.file.flush()
            self._degraded = True
        except Exception:
            log.exception("the run file cannot be written any more; it keeps what its last "
                          "flush wrote")
            self._degraded = False
            self._neutralize()
        return self._failure

    def _neutralize(self) -> None:
        """Point HDF5's descriptor at /dev/null: its last writes and its close go nowhere."""
        try:
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, self.file.id.get_vfd_handle())
            os.close(null)
        except Exception:
            log.exception("could not detach the broken run file")

    def _ensure_room(self, nbytes: int) -> None:
        """Refuse a write the disk cannot take before HDF5 starts it (see _fail)."""
        try:
            info = os.fstatvfs(self.file.id.get_vfd_handle())
        except OSError:
            return  # not a local file system that says: the write will tell
        free = info.f_bavail * info.f_frsize
        if free < nbytes + WRITE_SLACK_BYTES:
            raise StorageError(f"cannot write the run file {self.path.name}: the disk is full "
                               f"({free / 1e6:.3g} MB free)")

    def _after_failure(self, event: Event) -> None:
        """After a write error: the notes (the safe state's above all) and the end, if the
        file still takes them; points are counted, not written."""
        if not self._degraded:
            return
        try:
            if isinstance(event, Note | RunStateChanged | FaultOccurred):
                self._dispatch(event)
                self._flush()
            elif isinstance(event, RunEnded):
                lost = f"; {self._lost_points} points after the last flush were lost" \
                    if self._lost_points else ""
                reason = event.reason if str(self._failure) in event.reason else \
                    f"{event.reason} ({self._failure})"
                self._end_run(RunEnded(event.time, event.status, reason + lost))
            elif isinstance(event, PointTaken):
                self._lost_points += 1
        except Exception:
            log.exception("the run file takes no more after its write error")
            self._degraded = False

    def _start_segment(self, event: RunStarted) -> None:
        seg = self.file["segments"]
        seg.resize((self._segment + 1,))
        seg[self._segment] = (event.time, math.nan, event.first_index, b"running", "")
        self.file.attrs["status"] = "running"
        self._flush()

    def _start_step(self, event: StepStarted) -> None:
        self._write_rows()
        planned = event.planned
        name = f"{self._group_count:03d}_{planned.kind}"
        self._group_count += 1
        group = self.file["steps"].create_group(name)
        group.attrs["kind"] = planned.kind
        group.attrs["index"] = planned.index
        group.attrs["description"] = planned.describe()
        group.attrs["started"] = event.time
        group.attrs["ended"] = math.nan
        group.attrs["status"] = "running"
        group.attrs["estimate_s"] = planned.estimate_s
        for key, value in planned.step.targets().items():
            group.attrs[f"target_{key}"] = _attr_value(value)
        self._group = group
        self._group_of_index[planned.index] = group
        self._points = group.create_dataset("points", shape=(0,), maxshape=(None,),
                                            dtype=POINT_DTYPE, chunks=(1024,),
                                            fillvalue=_UNWRITTEN)
        self._flush()

    def _end_step(self, event: StepEnded) -> None:
        self._write_rows()
        if self._group is not None:
            self._group.attrs["ended"] = event.time
            self._group.attrs["status"] = event.status
            for key, value in event.results.items():
                self._group.attrs[f"result_{key}"] = _attr_value(value)
        self._group, self._points = None, None
        self._flush()

    def _end_run(self, event: RunEnded) -> None:
        self._write_rows()
        self.file.attrs["status"] = event.status
        self.file.attrs["end_reason"] = event.reason  # "" once a resumed run completes
        seg = self.file["segments"]
        row = seg[self._segment]
        seg[self._segment] = (row["started_s"], event.time, row["first_step"],
                              event.status.encode(), event.reason)
        self._flush()

    def _write_fit(self, event: FitUpdated) -> None:
        """The step's fit group: the chosen model's parameters, and the other model's when the
        data could not decide between them."""
        group = self._group_of_index.get(event.step_index)
        if group is None:
            return
        fit_group = group.require_group("fit")
        choice = event.choice
        best = choice.best
        attrs = {"model": best.model, "decided": choice.decided, "reason": choice.reason,
                 "final": event.final, "field_Oe": event.field_Oe, "chi2_red": best.chi2_red,
                 "n_points": best.n_points, "T_min_K": best.T_min_K, "T_max_K": best.T_max_K,
                 "robust": best.robust, "n_outliers": best.n_outliers}
        for name, value in best.values.items():
            attrs[name] = value
            attrs[f"{name}_stderr"] = best.stderr[name]
        other = next((f for m, f in choice.fits.items() if m != best.model), None)
        if other is not None and not choice.decided:
            attrs["alt_model"] = other.model
            attrs["alt_chi2_red"] = other.chi2_red
            for name, value in other.values.items():
                attrs[f"alt_{name}"] = value
                attrs[f"alt_{name}_stderr"] = other.stderr[name]
        for key, value in attrs.items():
            fit_group.attrs[key] = _attr_value(value)
        self._flush()

    def _write_summary(self, event: SummaryUpdated) -> None:
        table = event.summary.table()
        if "summary" not in self.file:
            self.file.create_dataset("summary", shape=(0,), maxshape=(None,), dtype=table.dtype,
                                     chunks=(64,))
        dataset = self.file["summary"]
        dataset.resize((len(table),))
        dataset[:] = table
        # branch results live on a group: in SWMR mode, attributes written on a resizable
        # dataset corrupt its object header (HDF5 "Parent entry isn't pinned")
        analysis = self.file.require_group("analysis")
        for key, value in event.summary.attrs().items():
            analysis.attrs[key] = value
        analysis.attrs["notes"] = json.dumps(event.summary.notes)
        self._flush()

    # ------------------------------------------------------------------ writing
    def _write_rows(self, check: bool = True) -> None:
        if check:
            self._ensure_room(len(self._rows) * POINT_DTYPE.itemsize * 2)
        if self._rows and self._points is not None:
            block = np.array(self._rows, dtype=POINT_DTYPE)
            n = self._points.shape[0]
            self._points.resize((n + len(block),))
            self._points[n:] = block
        self._rows.clear()
        for name, pending, dtype in (("events", self._notes, EVENT_DTYPE),
                                     ("faults", self._faults, FAULT_DTYPE)):
            if pending:
                table = self.file[name]
                n = table.shape[0]
                table.resize((n + len(pending),))
                table[n:] = np.array(pending, dtype=dtype)
                pending.clear()

    def _flush(self) -> None:
        self._write_rows()
        self.file.flush()
        self._last_flush = time.monotonic()
        # what is durable now: a later write error cuts the file back to this
        self._flushed_points = self._points.shape[0] if self._points is not None else 0
        self._flushed_tables = {name: self.file[name].shape[0]
                                for name in ("events", "faults", "segments")}

    def _flush_loop(self) -> None:
        while not self._stop.wait(FLUSH_INTERVAL_S / 2):
            with self._lock:
                if self._closed:
                    return
                if self._failure is None and (self._rows or self._notes or self._faults) and \
                        time.monotonic() - self._last_flush >= FLUSH_INTERVAL_S:
                    try:
                        self._flush()
                    except Exception as exc:  # the runner hears of it at its next event
                        self._fail(exc)

    @property
    def failure(self) -> StorageError | None:
        """The write error that stopped this writer, if any."""
        return self._failure

    def close(self) -> None:
        self._stop.set()
        self._flusher.join(timeout=2.0)
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                if self._failure is None:
                    self._flush()
                elif self._degraded:
                    self.file.flush()
                if not self.path.exists():  # the folder vanished: the open file survives
                    rescued = rescue_open_file(self.file.id.get_vfd_handle(), self.path.name)
                    log.error("the run file's folder vanished; the file was copied to %s",
                              rescued or "(nowhere: the copy failed)")
                    self.rescued_to = rescued
            except Exception:
                log.exception("the last flush of %s failed", self.path)
            finally:
                try:
                    self.file.close()
                except Exception:
                    log.exception("closing %s failed", self.path)
                self._reserve.release()
                self._process_lock.release()


#: HDF5's metadata cache may grow to 32 MB by default as a file gains step groups over a long
#: run; the writer touches only the current step's objects, so a few MB is plenty
METADATA_CACHE_MAX_BYTES = 4 * 1024 * 1024


def _bound_metadata_cache(file: h5py.File) -> None:
    config = file.id.get_mdc_config()
    config.max_size = METADATA_CACHE_MAX_BYTES
    config.initial_size = min(config.initial_size, METADATA_CACHE_MAX_BYTES)
    file.id.set_mdc_config(config)


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


# ------------------------------------------------------------------------------ reading


@dataclass(frozen=True)
class StepRecord:
    """One executed step as the file records it."""

    name: str  # e.g. "003_ramp_temperature"
    kind: str
    index: int  # position in the plan
    status: str
    started: float
    ended: float
    attrs: dict[str, Any]
    n_points: int


def _decode(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


class RunFile:
    """Read a run file — finished, interrupted or still being written."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise RunFileError(f"{self.path}: no such file")
        if not self.path.is_file():  # HDF5 would block for ever on a FIFO
            raise RunFileError(f"{self.path}: not a run file (a folder, pipe or device)")
        self.file = self._open()
        if "cryolab_version" not in self.file.attrs or "steps" not in self.file:
            self.file.close()
            raise RunFileError(f"{self.path}: an HDF5 file, but not a cryolab run file "
                               "(no cryolab_version attribute or /steps group)")

    def _open(self) -> h5py.File:
        try:
            return h5py.File(self.path, "r")
        except OSError as exc:
            if "already open for write" not in str(exc):
                raise RunFileError(f"{self.path}: not a readable HDF5 file ({exc})") from None
            # being written now, or its writer was killed: read it the SWMR way — unless it
            # is also truncated, which an SWMR reader would retry on for minutes
            _check_length(self.path)
            try:
                return h5py.File(self.path, "r", swmr=True, libver="latest")
            except OSError as exc2:
                raise RunFileError(f"{self.path}: not a readable HDF5 file ({exc2})") from None

    def __enter__(self) -> RunFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.file.close()

    @property
    def attrs(self) -> dict[str, Any]:
        return {k: _decode(v) for k, v in self.file.attrs.items()}

    @property
    def status(self) -> str:
        return str(_decode(self.file.attrs.get("status", "unknown")))

    def refresh(self) -> None:
        """See everything a live writer has added since the file was opened: new steps, new
        points, changed statuses (SWMR readers see new data only by reopening)."""
        self.file.close()
        self.file = self._open()

    def steps(self) -> list[StepRecord]:
        out = []
        for name in sorted(self.file["steps"]):
            group = self.file["steps"][name]
            attrs = {k: _decode(v) for k, v in group.attrs.items()}
            n = group["points"].shape[0] if "points" in group else 0
            out.append(StepRecord(name, attrs.get("kind", ""), int(attrs.get("index", -1)),
                                  attrs.get("status", "unknown"), attrs.get("started", math.nan),
                                  attrs.get("ended", math.nan), attrs, n))
        return out

    def points(self, step: str | int | None = None) -> np.ndarray:
        """Points of one step (group name or position in the file) or of all steps, in order."""
        names = sorted(self.file["steps"])
        if step is None:
            chosen = names
        elif isinstance(step, int):
            chosen = [names[step]]
        else:
            chosen = [step]
        arrays = [self.file["steps"][n]["points"][()] for n in chosen
                  if "points" in self.file["steps"][n]]
        return _written(np.concatenate(arrays)) if arrays else np.empty(0, dtype=POINT_DTYPE)

    def dataframe(self, step: str | int | None = None):
        """The points as a pandas DataFrame, with a ``step`` column naming each row's step."""
        import pandas as pd

        names = sorted(self.file["steps"]) if step is None else \
            [sorted(self.file["steps"])[step] if isinstance(step, int) else step]
        frames = []
        for name in names:
            data = _written(self.file["steps"][name]["points"][()])
            frame = pd.DataFrame(data)
            frame.insert(0, "step", name)
            frames.append(frame)
        if not frames:
            return pd.DataFrame(columns=["step", *POINT_DTYPE.names])
        return pd.concat(frames, ignore_index=True)

    def events(self) -> list[dict[str, Any]]:
        return [{"time_s": float(e["time_s"]), "step_index": int(e["step_index"]),
                 "level": _decode(e["level"]), "text": _decode(e["text"])}
                for e in self.file["events"][()]]

    def summary(self) -> tuple[np.ndarray, dict[str, Any]] | None:
        """The /summary table and the branch results (/analysis attributes), if written."""
        if "summary" not in self.file:
            return None
        attrs = self.file["analysis"].attrs if "analysis" in self.file else {}
        return self.file["summary"][()], {k: _decode(v) for k, v in attrs.items()}

    def fit(self, step: str) -> dict[str, Any] | None:
        """The stored fit of a step (group name), if any."""
        group = self.file["steps"][step]
        return {k: _decode(v) for k, v in group["fit"].attrs.items()} if "fit" in group else None

    def faults(self) -> list[dict[str, Any]]:
        """Every instrument fault the run met, oldest first."""
        if "faults" not in self.file:
            return []
        return [{name: _decode(f[name]) for name in FAULT_DTYPE.names}
                for f in self.file["faults"][()]]

    def segments(self) -> list[dict[str, Any]]:
        return [{"started_s": float(s["started_s"]), "ended_s": float(s["ended_s"]),
                 "first_step": int(s["first_step"]), "end_status": _decode(s["end_status"]),
                 "reason": _decode(s["reason"])} for s in self.file["segments"][()]]


def export_csv(path: str | Path, out_dir: str | Path) -> list[Path]:
    """Write points.csv (all steps, with a step column), steps.csv, events.csv, segments.csv."""
    out = Path(out_dir)
    written = []
    with RunFile(path) as run:  # refuse a bad file before creating anything
        out.mkdir(parents=True, exist_ok=True)
        frame = run.dataframe()
        frame.to_csv(out / "points.csv", index=False)
        written.append(out / "points.csv")
        with open(out / "steps.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["name", "kind", "index", "status", "started", "ended", "n_points",
                        "description"])
            for s in run.steps():
                w.writerow([s.name, s.kind, s.index, s.status, s.started, s.ended, s.n_points,
                            s.attrs.get("description", "")])
        written.append(out / "steps.csv")
        for name, rows in (("events", run.events()), ("segments", run.segments())):
            with open(out / f"{name}.csv", "w", newline="") as f:
                keys = list(rows[0]) if rows else []
                w = csv.DictWriter(f, fieldnames=keys)
                w.writeheader()
                w.writerows(rows)
            written.append(out / f"{name}.csv")
    return written


# ------------------------------------------------------------------------------ crash recovery

_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _rot(x: int, k: int) -> int:
    return ((x << k) | (x >> (32 - k))) & 0xFFFFFFFF


def lookup3(data: bytes, initval: int = 0) -> int:
    """Bob Jenkins' lookup3 hashlittle, as HDF5 uses it for metadata checksums."""
    M = 0xFFFFFFFF
    length = len(data)
    a = b = c = (0xDEADBEEF + length + initval) & M
    k = 0
    while length > 12:
        a = (a + int.from_bytes(data[k:k + 4], "little")) & M
        b = (b + int.from_bytes(data[k + 4:k + 8], "little")) & M
        c = (c + int.from_bytes(data[k + 8:k + 12], "little")) & M
        a = (a - c) & M; a ^= _rot(c, 4); c = (c + b) & M  # noqa: E702 - the reference's mix
        b = (b - a) & M; b ^= _rot(a, 6); a = (a + c) & M  # noqa: E702
        c = (c - b) & M; c ^= _rot(b, 8); b = (b + a) & M  # noqa: E702
        a = (a - c) & M; a ^= _rot(c, 16); c = (c + b) & M  # noqa: E702
        b = (b - a) & M; b ^= _rot(a, 19); a = (a + c) & M  # noqa: E702
        c = (c - b) & M; c ^= _rot(b, 4); b = (b + a) & M  # noqa: E702
        length -= 12
        k += 12
    if length == 0:
        return c
    tail = data[k:k + length] + bytes(12 - length)
    a = (a + int.from_bytes(tail[0:4], "little")) & M
    b = (b + int.from_bytes(tail[4:8], "little")) & M
    c = (c + int.from_bytes(tail[8:12], "little")) & M
    c ^= b; c = (c - _rot(b, 14)) & M  # noqa: E702 - the reference's final
    a ^= c; a = (a - _rot(c, 11)) & M  # noqa: E702
    b ^= a; b = (b - _rot(a, 25)) & M  # noqa: E702
    c ^= b; c = (c - _rot(b, 16)) & M  # noqa: E702
    a ^= c; a = (a - _rot(c, 4)) & M  # noqa: E702
    b ^= a; b = (b - _rot(a, 14)) & M  # noqa: E702
    c ^= b; c = (c - _rot(b, 24)) & M  # noqa: E702
    return c


def _read_superblock(f) -> tuple[bytearray, int]:
    """The superblock (v2/v3) bytes including the checksum, and the length it covers."""
    head = f.read(12)
    if len(head) < 12 or head[:8] != _SIGNATURE:
        raise RunFileError(f"{f.name}: not an HDF5 file (no superblock at offset 0)")
    version, size_offsets = head[8], head[9]
    if version not in (2, 3):
        return bytearray(head), 0
    body_len = 12 + 4 * size_offsets
    f.seek(0)
    block = bytearray(f.read(body_len + 4))
    if len(block) < body_len + 4:
        raise RunFileError(f"{f.name}: truncated superblock")
    stored = struct.unpack("<I", block[body_len:body_len + 4])[0]
    if lookup3(bytes(block[:body_len])) != stored:
        raise RunFileError(f"{f.name}: superblock checksum mismatch; the file is damaged")
    return block, body_len


def _check_length(path: str | Path) -> None:
    """A file shorter than its superblock's end-of-file address lost its end (copy, disk)."""
    with open(path, "rb") as f:
        block, body_len = _read_superblock(f)
        if body_len:
            size_offsets = block[9]
            eof = int.from_bytes(block[12 + 2 * size_offsets:12 + 3 * size_offsets], "little")
            size = Path(path).stat().st_size
            if size < eof:
                raise RunFileError(f"{path}: truncated ({size} of {eof} bytes); the file was "
                                   "cut short after it was written")


def clear_write_flag(path: str | Path) -> bool:
    """Clear the superblock's file-consistency flags left by a killed writer (``h5clear -s``).

    Superblock versions 2 and 3 (HDF5 format spec §II.A): signature, version, sizes of offsets
    and lengths, the consistency-flags byte at offset 11, four addresses, then a lookup3
    checksum of everything before it. Returns True if a flag was cleared.
    """
    _check_length(path)
    with open(path, "r+b") as f:
        block, body_len = _read_superblock(f)
        if not body_len or block[11] == 0:  # older superblocks keep no such flag
            return False
        block[11] = 0
        block[body_len:body_len + 4] = struct.pack("<I", lookup3(bytes(block[:body_len])))
        f.seek(0)
        f.write(block)
    return True


def steps_completed(run: RunFile) -> set[int]:
    """Plan indices of the steps the file records as completed."""
    return {s.index for s in run.steps() if s.status == "completed"}

