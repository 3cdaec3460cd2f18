"""The run file's writer: an HDF5 subscriber that survives a crash, a full disk and a write error.

Root attributes describe the run; ``/steps/NNN_<kind>/points`` holds each executed step's
points (the columns of ``cryolab.runfile.schema``); ``/events`` the runner's notes and alarms;
``/faults`` every instrument fault; ``/segments`` one row per process that wrote the file.
Points are buffered in memory and written in blocks, and a background thread flushes whatever is
pending at least once a second, so a killed process loses at most about a second of points. The
file is written in SWMR mode, so a second process can read it live.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import threading
import time
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from cryolab import __version__
from cryolab.events import (
    Alarm,
    Event,
    FaultOccurred,
    FitUpdated,
    Note,
    RunEnded,
    RunStarted,
    RunStateChanged,
    StepEnded,
    StepStarted,
    SummaryUpdated,
)
from cryolab.measurement import Point
from cryolab.runfile.diskspace import Reserve, rescue_open_file
from cryolab.runfile.lock import WriterLock
from cryolab.runfile.repair import clear_write_flag
from cryolab.runfile.schema import (
    ALARM_DTYPE,
    EVENT_DTYPE,
    FAULT_DTYPE,
    SEGMENT_DTYPE,
    StorageError,
    attr_value,
    point_dtype,
    point_row,
    unwritten,
)

log = logging.getLogger(__name__)
#: the tables a write error cuts back to their last flushed length
TABLES = ("events", "faults", "alarms", "segments")
FLUSH_INTERVAL_S = 0.5
#: free bytes a write must leave: HDF5's metadata for a flush is a few tens of kB
WRITE_SLACK_BYTES = 1_000_000  # pending rows older than this are written and flushed
BLOCK_ROWS = 4096
def _errno_in(text: str) -> int | None:
    """HDF5 puts the system's errno in its message text ("errno = 28")."""
    match = re.search(r"errno = (\d+)", text)
    return int(match.group(1)) if match else None


class RunWriter:
    """Runner subscriber writing one run file."""

    def __init__(self, path: str | Path, attrs: dict[str, Any], channels: list[str],
                 append: bool = False, lock: WriterLock | None = None) -> None:
        self.path = Path(path)
        self.channels = list(channels)
        self._dtype = point_dtype(self.channels)
        self._fill = unwritten(self._dtype)
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
                self.file.attrs[key] = attr_value(value)
            self.file.create_group("steps")
            self.file.create_dataset("events", shape=(0,), maxshape=(None,), dtype=EVENT_DTYPE,
                                     chunks=(256,))
            self.file.create_dataset("segments", shape=(0,), maxshape=(None,),
                                     dtype=SEGMENT_DTYPE, chunks=(16,))
            self.file.create_dataset("faults", shape=(0,), maxshape=(None,), dtype=FAULT_DTYPE,
                                     chunks=(256,))
        if "alarms" not in self.file:  # files from before alarms were typed gain the table
            self.file.create_dataset("alarms", shape=(0,), maxshape=(None,), dtype=ALARM_DTYPE,
                                     chunks=(64,))
        _bound_metadata_cache(self.file)
        self.file.swmr_mode = True
        self._segment = self.file["segments"].shape[0]
        self._group_count = len(self.file["steps"])
        self._group_of_index: dict[int, h5py.Group] = {}
        self._points: h5py.Dataset | None = None
        self._group: h5py.Group | None = None
        self._rows: list[Point] = []
        self._notes: list[tuple] = []
        self._faults: list[tuple] = []
        self._alarms: list[tuple] = []
        self._last_flush = time.monotonic()
        self._closed = False
        self._failure: StorageError | None = None
        self._degraded = False  # after a write error: notes and the end still go in
        self._lost_points = 0
        self.rescued_to: Path | None = None
        self._flushed_points = 0
        self._flushed_tables = {name: self.file[name].shape[0] for name in TABLES}
        self._stop = threading.Event()
        self._flusher = threading.Thread(target=self._flush_loop, name="run-writer-flush",
                                         daemon=True)
        self._flusher.start()

    # ------------------------------------------------------------------ subscriber
    def __call__(self, event: Event) -> None:
        if type(event) is Point and self._failure is None:
            with self._lock:
                try:
                    self._rows.append(event)
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
        elif isinstance(event, Alarm):
            self._alarms.append((event.time, -1 if event.step_index is None
                                 else event.step_index, event.kind, event.message))
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
        self._alarms.clear()
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
            if isinstance(event, Note | RunStateChanged | FaultOccurred | Alarm):
                self._dispatch(event)
                self._flush()
            elif isinstance(event, RunEnded):
                lost = f"; {self._lost_points} points after the last flush were lost" \
                    if self._lost_points else ""
                reason = event.reason if str(self._failure) in event.reason else \
                    f"{event.reason} ({self._failure})"
                self._end_run(RunEnded(event.time, event.status, reason + lost))
            elif isinstance(event, Point):
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
            group.attrs[f"target_{key}"] = attr_value(value)
        self._group = group
        self._group_of_index[planned.index] = group
        self._points = group.create_dataset("points", shape=(0,), maxshape=(None,),
                                            dtype=self._dtype, chunks=(1024,),
                                            fillvalue=self._fill)
        self._flush()

    def _end_step(self, event: StepEnded) -> None:
        self._write_rows()
        if self._group is not None:
            self._group.attrs["ended"] = event.time
            self._group.attrs["status"] = event.status
            for key, value in event.results.items():
                self._group.attrs[f"result_{key}"] = attr_value(value)
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
        fit_group = group.require_group(f"fit_{event.channel}")
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
            fit_group.attrs[key] = attr_value(value)
        self._flush()

    def _write_summary(self, event: SummaryUpdated) -> None:
        table = event.summary.table()
        name = f"summary_{event.channel}"
        if name not in self.file:
            self.file.create_dataset(name, shape=(0,), maxshape=(None,), dtype=table.dtype,
                                     chunks=(64,))
        dataset = self.file[name]
        dataset.resize((len(table),))
        dataset[:] = table
        # branch results live on a group: in SWMR mode, attributes written on a resizable
        # dataset corrupt its object header (HDF5 "Parent entry isn't pinned")
        analysis = self.file.require_group(f"analysis_{event.channel}")
        for key, value in event.summary.attrs().items():
            analysis.attrs[key] = value
        analysis.attrs["notes"] = json.dumps(event.summary.notes)
        self._flush()

    # ------------------------------------------------------------------ writing
    def _write_rows(self, check: bool = True) -> None:
        if check:
            self._ensure_room(len(self._rows) * self._dtype.itemsize * 2)
        if self._rows and self._points is not None:
            block = np.array([point_row(p) for p in self._rows], dtype=self._dtype)
            n = self._points.shape[0]
            self._points.resize((n + len(block),))
            self._points[n:] = block
        self._rows.clear()
        for name, pending, dtype in (("events", self._notes, EVENT_DTYPE),
                                     ("faults", self._faults, FAULT_DTYPE),
                                     ("alarms", self._alarms, ALARM_DTYPE)):
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
        self._flushed_tables = {name: self.file[name].shape[0] for name in TABLES}

    def _flush_loop(self) -> None:
        while not self._stop.wait(FLUSH_INTERVAL_S / 2):
            with self._lock:
                if self._closed:
                    return
                if self._failure is None and (self._rows or self._notes or self._faults
                                              or self._alarms) and \
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
