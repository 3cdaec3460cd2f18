"""The run file's writer: an HDF5 subscriber that survives a crash, a full disk and a write error.

The layout (``cryolab.runfile.schema``, docs/data-format.md) is created whole when the file is:
root attributes describe the run; ``/entry/data`` holds one resizable column per quantity for
the whole night, ``step`` and ``step_index`` among them; ``/entry/steps``, ``events``,
``alarms``, ``faults``, ``segments``, ``fits``, ``summary_<channel>`` and ``summary_results``
are tables. Points are buffered in memory and appended to every column in blocks, and a
background thread flushes whatever is pending at least once a second, so a killed process
loses at most about a second of points. The file is written in SWMR mode, so a second process
can read it live; after the file is created no HDF5 object is added, so the writer's memory
does not grow with the number of steps.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import platform
import re
import threading
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from h5py import h5s

from cryolab import __version__
from cryolab.events import (
    Alarm,
    Event,
    FaultOccurred,
    FitUpdated,
    HeatingFound,
    Note,
    RunEnded,
    RunStarted,
    RunStateChanged,
    StepEnded,
    StepStarted,
    SummaryUpdated,
)
from cryolab.measurement import Flag, Point
from cryolab.runfile.diskspace import Reserve, rescue_open_file
from cryolab.runfile.lock import WriterLock
from cryolab.runfile.repair import clear_write_flag
from cryolab.runfile.schema import (
    ALARM_DTYPE,
    CHANNEL_COLUMNS,
    DATA,
    ENTRY,
    EVENT_DTYPE,
    FAULT_DTYPE,
    FIT_DTYPE,
    FIT_PARAMS,
    FLAG_MASKS,
    FLAG_MEANINGS,
    LAYOUT,
    POINT_DIM,
    SEGMENT_DTYPE,
    STEP_DTYPE,
    SUMMARY_RESULT_DTYPE,
    SUMMARY_UNITS,
    TABLES,
    RunFileError,
    StorageError,
    attr_value,
    column_specs,
    fill_value,
    json_text,
    record_dtype,
    stored_dtype,
    text,
)

log = logging.getLogger(__name__)
HEATED = int(Flag.HEATED)
#: the tables a write error cuts back to their last flushed length
APPENDED_TABLES = ("events", "faults", "alarms", "segments", "steps", "fits")
FLUSH_INTERVAL_S = 0.5  # pending rows older than this are written and flushed
#: free bytes a write must leave: HDF5's metadata for a flush is a few tens of kB
WRITE_SLACK_BYTES = 1_000_000
BLOCK_ROWS = 4096
#: rows per chunk of a point column: 8 kB of float64. A flush rewrites each column's last
#: chunk, so this keeps a flush's writes near the per-step layout's (one 130 kB chunk)
COLUMN_CHUNK_ROWS = 1024
#: HDF5 caches up to 1 MB of chunks per open dataset by default — with some 30 columns and
#: tables, tens of MB that fill up over a night. The writer only appends, so a few chunks each
#: are enough (a column's chunk is 8 kB, a table's a few tens of kB at most).
CHUNK_CACHE = {"rdcc_nbytes": 64 * 1024, "rdcc_nslots": 521}
#: the packages whose versions a file records
PACKAGES = ("numpy", "scipy", "h5py", "pandas", "pyvisa", "pyvisa-py", "pymeasure", "pydantic")
#: at most this many summary tables (one per longitudinal channel) are made with the file
SUMMARY_ROWS_CHUNK = 64


def _errno_in(text: str) -> int | None:
    """HDF5 puts the system's errno in its message text ("errno = 28")."""
    match = re.search(r"errno = (\d+)", text)
    return int(match.group(1)) if match else None


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "cryolab": __version__,
           "hdf5": h5py.version.hdf5_version}
    for name in PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[name] = metadata.version(name)
    return out


def _channel_kinds(attrs: dict[str, Any], channels: list[str]) -> dict[str, str]:
    try:
        stored = json.loads(attrs.get("channels", "[]"))
        return {c["name"]: c.get("kind", "longitudinal") for c in stored}
    except (TypeError, ValueError, KeyError):
        return dict.fromkeys(channels, "longitudinal")


def create_layout(file: h5py.File, attrs: dict[str, Any], channels: list[str]) -> None:
    """Every group, column and table of a new run file (nothing is added later)."""
    now = time.time()
    root = file.attrs
    root["NX_class"] = "NXroot"
    root["default"] = ENTRY
    root["cryolab_layout"] = LAYOUT
    root["cryolab_version"] = __version__
    root["creator"] = f"cryolab {__version__}"
    root["file_time"] = time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(now))
    root["HDF5_Version"] = h5py.version.hdf5_version
    root["h5py_version"] = h5py.version.version
    root["created"] = now
    root["status"] = "running"
    root["end_reason"] = ""
    root["package_versions"] = json.dumps(package_versions())
    for key, value in attrs.items():
        root[key] = attr_value(value)
    kinds = _channel_kinds(attrs, channels)
    longitudinal = [c for c in channels if kinds.get(c) == "longitudinal"] or channels[:1]
    entry = file.create_group(ENTRY)
    entry.attrs["NX_class"] = "NXentry"
    entry.attrs["default"] = "data"
    entry.attrs["title"] = str(attrs.get("sequence_name", ""))
    entry.attrs["start_time"] = root["file_time"]
    data = file.create_group(DATA, track_order=True)
    data.attrs["NX_class"] = "NXdata"
    if longitudinal:
        data.attrs["signal"] = f"{longitudinal[0]}_rho_ohm_sq"
        if len(longitudinal) > 1:  # drawn with the signal: the same unit, Ω/□
            data.attrs["auxiliary_signals"] = [f"{c}_rho_ohm_sq" for c in longitudinal[1:]]
    else:
        data.attrs["signal"] = "T_sample_K"
    data.attrs["axes"] = ["T_sample_K"]
    data.attrs["T_sample_K_indices"] = 0
    # a netCDF dimension without a variable, so xarray (h5netcdf) calls the dimension 'point';
    # its length is that of the columns (an unlimited dimension), never written itself
    dim = data.create_dataset(POINT_DIM, shape=(0,), maxshape=(None,), dtype="f4",
                              chunks=(1024,))
    dim.make_scale(POINT_DIM)
    dim.attrs["NAME"] = np.bytes_(
        "This is a netCDF dimension but not a netCDF variable.         0")
    hall = [c for c in channels if kinds.get(c) == "hall"]
    for name, dtype, unit, long_name in column_specs(channels, hall):
        column = data.create_dataset(name, shape=(0,), maxshape=(None,), dtype=dtype,
                                     chunks=(COLUMN_CHUNK_ROWS,),
                                     fillvalue=fill_value(name, dtype))
        column.dims[0].attach_scale(dim)
        column.attrs["units"] = unit
        column.attrs["long_name"] = long_name
        if name.endswith("flags"):
            column.attrs["flag_masks"] = np.array(FLAG_MASKS, dtype="u2")
            column.attrs["flag_meanings"] = FLAG_MEANINGS
    for name, (table_dtype, chunk, table_units) in TABLES.items():
        table = entry.create_dataset(name, shape=(0,), maxshape=(None,), dtype=table_dtype,
                                     chunks=(chunk,))
        table.attrs["column_units"] = json.dumps(table_units)
    from cryolab.analysis.summary import SUMMARY_DTYPE  # the analysis owns its table

    for channel in longitudinal:
        table = entry.create_dataset(f"summary_{channel}", shape=(0,), maxshape=(None,),
                                     dtype=SUMMARY_DTYPE, chunks=(SUMMARY_ROWS_CHUNK,))
        table.attrs["column_units"] = json.dumps(SUMMARY_UNITS)


def _row(dtype: np.dtype, **values: Any) -> np.ndarray:
    row = np.zeros((), dtype=dtype)
    for name in dtype.names or ():
        kind = dtype[name].kind
        if name in values:
            value = values[name]
            row[name] = text(value, dtype[name].itemsize) if kind == "S" and \
                isinstance(value, str) else value
        elif kind == "f":
            row[name] = math.nan
    return row


def _fixed(row: tuple, dtype: np.dtype) -> tuple:
    """A table row with its texts cut to their columns' widths."""
    return tuple(text(v, dtype[i].itemsize) if isinstance(v, str) and dtype[i].kind == "S"
                 else v for i, v in enumerate(row))


class RunWriter:
    """Runner subscriber writing one run file."""

    def __init__(self, path: str | Path, attrs: dict[str, Any], channels: list[str],
                 append: bool = False, lock: WriterLock | None = None) -> None:
        self.path = Path(path)
        self.channels = list(channels)
        self._dtype = stored_dtype(self.channels)
        self._record = record_dtype(self.channels)
        self._channel_field = {f"{ch}_{name}": (ch, name) for ch in self.channels
                               for name, *_ in CHANNEL_COLUMNS}
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
            self.file = h5py.File(self.path, "r+", libver="latest", **CHUNK_CACHE)
            if self.file.attrs.get("cryolab_layout") != LAYOUT:
                self.file.close()
                raise RunFileError(f"{self.path}: written in an older layout; "
                                   "cryolab.runfile.upgrade_layout converts it first")
        else:
            self.file = h5py.File(self.path, "w-", libver="latest", **CHUNK_CACHE)
            create_layout(self.file, attrs, self.channels)
        kinds = _channel_kinds(dict(self.file.attrs), self.channels)
        self._kinds = {c: kinds.get(c, "longitudinal") for c in self.channels}
        data = self.file[DATA]
        names = self._dtype.names or ()
        missing = [n for n in names if n not in data]
        if missing:
            self.file.close()
            raise RunFileError(f"{self.path}: its channels differ from the station's "
                               f"(no column {', '.join(missing)})")
        self._columns = [(name, data[name]) for name in names]
        entry = self.file[ENTRY]
        self._tables = {name: entry[name] for name in (*APPENDED_TABLES, "summary_results")}
        _bound_metadata_cache(self.file)
        self.file.swmr_mode = True
        self._n = min(column.shape[0] for _, column in self._columns)
        self._segment = self._tables["segments"].shape[0]
        self._step_row: int | None = None
        self._step_first = 0
        self._step_of_index: dict[int, int] = {}
        #: (step row, channel) → row of the fits table, for this process's steps
        self._fit_rows: dict[tuple[int, str], int] = {}
        self._summary_rows: dict[str, int] = {
            bytes(c).decode(): i for i, c in enumerate(self._tables["summary_results"]["channel"])}
        # points wait in a preallocated block, copied in as they come: a list of Point
        # tuples instead keeps thousands of live containers for the garbage collector to
        # walk, which costs the runner ~2 µs a point
        self._block = np.empty(BLOCK_ROWS, dtype=self._record)
        self._pending = 0
        self._notes: list[tuple] = []
        self._faults: list[tuple] = []
        self._alarms: list[tuple] = []
        self._last_flush = time.monotonic()
        self._closed = False
        self._failure: StorageError | None = None
        self._degraded = False  # after a write error: notes and the end still go in
        self._lost_points = 0
        self.rescued_to: Path | None = None
        self._flushed_points = self._n
        self._flushed_tables = {name: t.shape[0] for name, t in self._tables.items()}
        self._stop = threading.Event()
        self._flusher = threading.Thread(target=self._flush_loop, name="run-writer-flush",
                                         daemon=True)
        self._flusher.start()

    # ------------------------------------------------------------------ subscriber
    def __call__(self, event: Event) -> None:
        if type(event) is Point and self._failure is None:
            with self._lock:
                try:
                    self._block[self._pending] = event
                    self._pending += 1
                    if self._pending >= BLOCK_ROWS:
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
        elif isinstance(event, HeatingFound):
            self._mark_heated(event)
        elif isinstance(event, RunStateChanged):
            self._notes.append((event.time, -1, "info", f"state: {event.state}"
                                + (f" ({event.reason})" if event.reason else "")))

    def _mark_heated(self, event: HeatingFound) -> None:
        """A linearity check found self-heating on a current path: the path's points already
        in the file at or beyond its P/T⁵ (P = I²R of the path's longitudinal channel, T the
        sample's) are heated too — flagged HEATED and not valid, as the acquisition flags the
        points it takes from now on (events.HeatingFound)."""
        self._write_rows()
        n = self._n
        path = [c for c in event.channels if c in self.channels]
        longitudinal = [c for c in path if self._kinds.get(c) == "longitudinal"]
        if n == 0 or not longitudinal or not event.T_K > 0:
            return
        data = self.file[DATA]
        I = data[f"{longitudinal[0]}_current_A"][:n]
        R = data[f"{longitudinal[0]}_R_ohm"][:n]
        T = data["T_sample_K"][:n]
        with np.errstate(invalid="ignore", over="ignore"):
            heated = event.power_W / event.T_K**5 * T**5 <= I * I * R
        for channel in path:
            flags = data[f"{channel}_flags"][:n]
            marked = np.where(heated, flags | HEATED, flags).astype(flags.dtype)
            changed = np.flatnonzero(marked != flags)
            if len(changed):
                lo, hi = int(changed[0]), int(changed[-1]) + 1
                data[f"{channel}_flags"][lo:hi] = marked[lo:hi]
                data[f"{channel}_valid"][lo:hi] = marked[lo:hi] == 0
        self._flush()

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
                self._flushed_points = self._n
                self._degraded = True
                return self._failure
            except Exception:
                log.exception("writing the last points into the reserve's room failed")
        self._lost_points = self._pending + max(self._n - self._flushed_points, 0)
        self._pending = 0
        self._notes.clear()
        self._faults.clear()
        self._alarms.clear()
        try:
            for _, column in self._columns:
                column.resize((self._flushed_points,))
            self._n = self._flushed_points
            for name, n in self._flushed_tables.items():
                self._tables[name].resize((n,))
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
        self._append("segments", _row(SEGMENT_DTYPE, started_s=event.time, ended_s=math.nan,
                                      first_step=event.first_index, end_status="running",
                                      reason=""))
        self.file.attrs["status"] = "running"
        self._flush()

    def _append(self, name: str, rows: np.ndarray) -> int:
        """Append rows to a table; the index of the first."""
        table = self._tables[name]
        n = table.shape[0]
        rows = np.atleast_1d(rows)
        table.resize((n + len(rows),))
        table[n:] = rows
        return n

    def _start_step(self, event: StepStarted) -> None:
        self._write_rows()
        planned = event.planned
        row = self._tables["steps"].shape[0]
        targets = dict(planned.step.targets())
        self._append("steps", _row(
            STEP_DTYPE, name=f"{row:03d}_{planned.kind}", kind=planned.kind,
            index=planned.index, description=planned.describe(), started_s=event.time,
            ended_s=math.nan, status="running", estimate_s=planned.estimate_s,
            first_point=self._n, n_points=0, targets=json_text(targets, 1024),
            results=b"{}"))
        self._step_row, self._step_first = row, self._n
        self._step_of_index[planned.index] = row
        self._flush()

    def _end_step(self, event: StepEnded) -> None:
        self._write_rows()
        if self._step_row is not None:
            table = self._tables["steps"]
            row = table[self._step_row]
            row["ended_s"] = event.time
            row["status"] = text(event.status, 16)
            row["n_points"] = self._n - self._step_first
            row["results"] = json_text(dict(event.results), 1024)
            table[self._step_row] = row
        self._step_row = None
        self._flush()

    def _end_run(self, event: RunEnded) -> None:
        self._write_rows()
        self.file.attrs["status"] = event.status
        self.file.attrs["end_reason"] = event.reason  # "" once a resumed run completes
        segments = self._tables["segments"]
        if self._segment < segments.shape[0]:
            row = segments[self._segment]
            row["ended_s"] = event.time
            row["end_status"] = text(event.status, 16)
            row["reason"] = text(event.reason, 256)
            segments[self._segment] = row
        self._flush()

    def _write_fit(self, event: FitUpdated) -> None:
        """The step's fit row for the channel: the chosen model's parameters, and the other
        model's when the data could not decide between them (rewritten at each refit)."""
        step = self._step_of_index.get(event.step_index)
        if step is None:
            return
        choice = event.choice
        best = choice.best
        values: dict[str, Any] = {
            "step": step, "step_index": event.step_index, "channel": event.channel,
            "model": best.model, "decided": choice.decided, "reason": choice.reason,
            "final": event.final, "field_Oe": event.field_Oe, "chi2_red": best.chi2_red,
            "n_points": best.n_points, "T_min_K": best.T_min_K, "T_max_K": best.T_max_K,
            "robust": best.robust, "n_outliers": best.n_outliers, "alt_model": ""}
        for name, value in best.values.items():
            if name in FIT_PARAMS:
                values[name] = value
                values[f"{name}_stderr"] = best.stderr[name]
        other = next((f for m, f in choice.fits.items() if m != best.model), None)
        if other is not None and not choice.decided:
            values["alt_model"] = other.model
            values["alt_chi2_red"] = other.chi2_red
            for name, value in other.values.items():
                if name in FIT_PARAMS:
                    values[f"alt_{name}"] = value
                    values[f"alt_{name}_stderr"] = other.stderr[name]
        row = _row(FIT_DTYPE, **values)
        key = (step, event.channel)
        if key in self._fit_rows:
            self._tables["fits"][self._fit_rows[key]] = row
        else:
            self._fit_rows[key] = self._append("fits", row)
        self._flush()

    def _write_summary(self, event: SummaryUpdated) -> None:
        name = f"summary_{event.channel}"
        entry = self.file[ENTRY]
        if name not in entry:  # not a longitudinal channel when the file was made
            return
        table = event.summary.table()
        dataset = entry[name]
        dataset.resize((len(table),))
        dataset[:] = table.astype(dataset.dtype)
        results = {"channel": event.channel, **event.summary.attrs(),
                   "notes": json_text({"notes": list(event.summary.notes)}, 1024)}
        row = _row(SUMMARY_RESULT_DTYPE, **results)
        if event.channel in self._summary_rows:
            self._tables["summary_results"][self._summary_rows[event.channel]] = row
        else:
            self._summary_rows[event.channel] = self._append("summary_results", row)
        self._flush()

    # ------------------------------------------------------------------ writing
    def _write_rows(self, check: bool = True) -> None:
        if check:
            self._ensure_room(self._pending * self._dtype.itemsize * 2)
        if self._pending and self._step_row is not None:
            step = self._step_row
            block = self._block[:self._pending]
            n, k = self._n, len(block)
            memory = h5s.create_simple((k,))
            for name, column in self._columns:  # h5py's low level: half the cost per column
                if name == "step":
                    values = np.full(k, step, dtype=self._dtype["step"])
                elif name in self._channel_field:
                    channel, field = self._channel_field[name]
                    values = np.ascontiguousarray(block["channels"][channel][field])
                else:
                    values = np.ascontiguousarray(block[name])
                column.id.set_extent((n + k,))
                space = column.id.get_space()
                space.select_hyperslab((n,), (k,))
                column.id.write(memory, space, values)
            self._n = n + k
        self._pending = 0
        for name, pending, dtype in (("events", self._notes, EVENT_DTYPE),
                                     ("faults", self._faults, FAULT_DTYPE),
                                     ("alarms", self._alarms, ALARM_DTYPE)):
            if pending:
                self._append(name, np.array([_fixed(row, dtype) for row in pending],
                                            dtype=dtype))
                pending.clear()

    def _flush(self) -> None:
        self._write_rows()
        self.file.flush()
        self._last_flush = time.monotonic()
        # what is durable now: a later write error cuts the file back to this
        self._flushed_points = self._n
        self._flushed_tables = {name: t.shape[0] for name, t in self._tables.items()}

    def _flush_loop(self) -> None:
        while not self._stop.wait(FLUSH_INTERVAL_S / 2):
            with self._lock:
                if self._closed:
                    return
                if self._failure is None and (self._pending or self._notes or self._faults
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
