"""Reading a run file — finished, interrupted or still being written (SWMR), of any layout.

:class:`RunFile` reads the columnar layout (``cryolab_layout = 2``) and the older per-step
layouts (cryolab 0.1, and the per-step groups with channel columns) through one API: points as
a NumPy structured array, a pandas DataFrame or an xarray Dataset; steps, events, alarms,
faults, segments and fits as lists or DataFrames; the field summary. :func:`open_runs` opens
many run files at once, lazily, as one xarray Dataset backed by dask.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import h5py
import numpy as np

from cryolab.runfile.repair import _check_length
from cryolab.runfile.schema import (
    DATA,
    ENTRY,
    FIT_PARAMS,
    LAYOUT,
    SUMMARY_UNITS,
    TABLES,
    UNWRITTEN_FLAG,
    RunFileError,
    column_specs,
    point_dtype,
    stored_dtype,
)

#: the one channel of a file written before channels existed (cryolab 0.1)
LEGACY_CHANNEL = {"name": "xx", "kind": "longitudinal", "lockin": "lockin"}
#: cryolab 0.1's point columns that became the channel's
_LEGACY_RENAMES = {"lockin_x_V": "x_V", "lockin_y_V": "y_V", "R_ohm": "R_ohm",
                   "rho_ohm_sq": "rho_ohm_sq", "current_A": "current_A",
                   "frequency_Hz": "frequency_Hz", "time_constant_s": "time_constant_s",
                   "sensitivity_V": "sensitivity_V", "flags": "flags", "valid": "valid"}
_POINT_BITS = 1 | 16  # thermal mismatch, instrument fault
#: what the layouts are called in messages and in ``RunFile.layout``
LAYOUT_NAMES = {0: "cryolab 0.1 (per-step tables)", 1: "per-step groups with channel columns",
                2: "columnar (NeXus)"}


def _written(points: np.ndarray) -> np.ndarray:
    """The rows that hold a measurement (unwritten rows read as NaN, in 0.1 files as 0)."""
    t = points["time_s"]
    return points[np.isfinite(t) & (t > 0)]


def _from_legacy(old: np.ndarray) -> np.ndarray:
    """A cryolab 0.1 points table in today's columns (its one channel is ``xx``)."""
    new = np.empty(len(old), dtype=point_dtype(["xx"]))
    for name in ("time_s", "T_mc_K", "T_sample_K", "sample_thermometer_ohm", "field_Oe",
                 "setpoint_K"):
        new[name] = old[name]
    new["point_flags"] = old["flags"] & _POINT_BITS
    for old_name, name in _LEGACY_RENAMES.items():
        new[f"xx_{name}"] = old[old_name]
    return new


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


class SummaryRecord(NamedTuple):
    """A channel's field summary: one row per field (``analysis.summary.SUMMARY_DTYPE``) and
    the results across fields (power laws, H*, H at R_Q; ``notes``)."""

    table: np.ndarray
    results: dict[str, Any]


def _decode(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.ndarray):
        return [_decode(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return _decode(value.item())
    return value


def _records(table: np.ndarray) -> list[dict[str, Any]]:
    names = table.dtype.names or ()
    return [{name: _decode(row[name]) for name in names} for row in table]


def _text_columns(frame):
    """Bytes columns of a table as str (pandas has them as objects holding bytes)."""
    for name in frame.columns:
        if frame[name].dtype == object and len(frame) and isinstance(frame[name].iloc[0], bytes):
            frame[name] = frame[name].str.decode("utf-8", errors="replace")
    return frame


class RunFile:
    """Read a run file — finished, interrupted or still being written."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise RunFileError(f"{self.path}: no such file")
        if not self.path.is_file():  # HDF5 would block for ever on a FIFO
            raise RunFileError(f"{self.path}: not a run file (a folder, pipe or device)")
        self.file = self._open()
        self._forget()
        attrs = self.file.attrs
        if attrs.get("cryolab_layout") == LAYOUT and DATA in self.file:
            self.layout = LAYOUT
        elif "cryolab_version" in attrs and "steps" in self.file and \
                isinstance(self.file["steps"], h5py.Group):
            self.layout = 1 if "channels" in attrs else 0
        else:
            self.file.close()
            raise RunFileError(f"{self.path}: an HDF5 file, but not a cryolab run file "
                               "(no cryolab_layout attribute with /entry/data, nor a "
                               "cryolab_version attribute with a /steps group)")

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

    def __repr__(self) -> str:
        return f"<RunFile {self.path.name}: {self.status}, layout {self.layout}>"

    # ------------------------------------------------------------------ the run
    @property
    def attrs(self) -> dict[str, Any]:
        return {k: _decode(v) for k, v in self.file.attrs.items()}

    @property
    def channels(self) -> list[dict[str, str]]:
        """The run's measurement channels, in column order: name, kind, lock-in."""
        stored = self.file.attrs.get("channels")
        return json.loads(_decode(stored)) if stored is not None else [dict(LEGACY_CHANNEL)]

    @property
    def channel_names(self) -> list[str]:
        return [c["name"] for c in self.channels]

    def longitudinal_channels(self) -> list[str]:
        return [c["name"] for c in self.channels if c["kind"] == "longitudinal"]

    def _hall_channels(self) -> list[str]:
        return [c["name"] for c in self.channels if c["kind"] == "hall"]

    @property
    def status(self) -> str:
        return str(_decode(self.file.attrs.get("status", "unknown")))

    def refresh(self) -> None:
        """See everything a live writer has added since the file was opened: new steps, new
        points, changed statuses (SWMR readers see new data only by reopening)."""
        self.file.close()
        self.file = self._open()
        self._forget()

    def _forget(self) -> None:
        """Drop what this handle keeps of the open file: the columns' dataset objects (looking
        one up by name costs more than reading a step's rows of it) and the steps' names and
        first rows, which a live file changes only between two opens."""
        self._datasets: dict[str, h5py.Dataset] = {}
        self._steps_index: tuple[list[str], np.ndarray] | None = None

    def _column(self, name: str) -> h5py.Dataset:
        dataset = self._datasets.get(name)
        if dataset is None:
            dataset = self._datasets[name] = self.file[DATA][name]
        return dataset

    def _steps_table_index(self) -> tuple[list[str], np.ndarray]:
        """The steps' names and first point rows (columnar layout), read once per open."""
        if self._steps_index is None:
            table = self.file[ENTRY]["steps"]
            rows = table[()] if table.shape[0] else np.empty(0, dtype=table.dtype)
            self._steps_index = ([_decode(n) for n in rows["name"]],
                                 np.asarray(rows["first_point"], dtype=np.int64))
        return self._steps_index

    # ------------------------------------------------------------------ steps
    def steps(self) -> list[StepRecord]:
        """Every executed step in the order it ran (a resumed run repeats a plan step)."""
        if self.layout != LAYOUT:
            return self._legacy_steps()
        table = self.file[ENTRY]["steps"][()]
        counts = self._step_counts(len(table))
        out = []
        for row, n in zip(table, counts, strict=True):
            r = {name: _decode(row[name]) for name in table.dtype.names}
            attrs = {"kind": r["kind"], "index": r["index"], "description": r["description"],
                     "started": r["started_s"], "ended": r["ended_s"], "status": r["status"],
                     "estimate_s": r["estimate_s"], "first_point": r["first_point"]}
            attrs.update({f"target_{k}": v for k, v in _json(r["targets"]).items()})
            attrs.update({f"result_{k}": v for k, v in _json(r["results"]).items()})
            out.append(StepRecord(r["name"], r["kind"], int(r["index"]), r["status"],
                                  r["started_s"], r["ended_s"], attrs, int(n)))
        return out

    def _step_counts(self, n_steps: int) -> np.ndarray:
        step = self._columns(["step"])["step"]
        return np.bincount(step[step >= 0], minlength=n_steps)[:n_steps]

    def _legacy_steps(self) -> list[StepRecord]:
        out = []
        for name in sorted(self.file["steps"]):
            group = self.file["steps"][name]
            attrs = {k: _decode(v) for k, v in group.attrs.items()}
            n = len(_written(group["points"][()])) if "points" in group else 0
            out.append(StepRecord(name, attrs.get("kind", ""), int(attrs.get("index", -1)),
                                  attrs.get("status", "unknown"), attrs.get("started", math.nan),
                                  attrs.get("ended", math.nan), attrs, n))
        return out

    def _step_row(self, step: str | int) -> int:
        """The row of a step given by name (``"003_ramp_temperature"``) or by position."""
        if isinstance(step, int | np.integer):
            return int(step)
        if self.layout == LAYOUT:
            names = self._steps_table_index()[0]
        else:
            names = sorted(self.file["steps"])
        if step not in names:
            raise KeyError(f"{self.path.name} has no step {step!r} (steps: {', '.join(names)})")
        return names.index(step)

    # ------------------------------------------------------------------ points
    def _columns(self, names: Iterable[str] | None = None, step: str | int | None = None
                 ) -> dict[str, np.ndarray]:
        """The written rows of the stored columns (all, or ``names``), of one step or all."""
        if self.layout != LAYOUT:
            points = self._legacy_points(step)
            return {n: points[n] for n in (names or points.dtype.names or ())}
        stored = stored_dtype(self.channel_names).names or ()
        wanted = list(names) if names is not None else list(stored)
        checks = ["time_s", "step"] + [n for n in stored if n.endswith("flags")]
        column = self._column
        # a live (or killed) writer's columns can differ in length by a flush: the shortest
        n = min(column(name).shape[0] for name in {*wanted, *checks})
        row = self._step_row(step) if step is not None else -1
        if step is not None:
            lo, hi = self._step_range(row, n)
        else:
            lo, hi = 0, n
        keep = np.ones(hi - lo, dtype=bool)
        for name in checks:
            values = column(name)[lo:hi]
            if name == "time_s":
                keep &= np.isfinite(values) & (values > 0)
            elif name == "step":
                keep &= values >= 0 if step is None else values == row
            else:
                keep &= (values & UNWRITTEN_FLAG) == 0
        all_kept = bool(keep.all())
        out = {}
        for name in wanted:
            values = column(name)[lo:hi]
            out[name] = values if all_kept else values[keep]
        return out

    def _step_range(self, row: int, n: int) -> tuple[int, int]:
        """The rows [lo, hi) of the points that hold step ``row``'s (of the first ``n``).
        Steps run one after another, so a step's points start at its ``first_point`` and end
        before the next step's; the ``step`` column says which rows in between are its own.
        Should the table disagree with the column, the whole column is searched."""
        firsts = self._steps_table_index()[1]
        steps = self._column("step")
        if 0 <= row < len(firsts):
            lo = int(firsts[row])
            hi = int(firsts[row + 1]) if row + 1 < len(firsts) else n
            lo, hi = max(lo, 0), min(hi, n)
            if lo <= hi and (lo == 0 or steps[lo - 1] != row) and (hi == n or steps[hi] != row):
                return lo, hi
        where = np.flatnonzero(steps[:n] == row)
        return (int(where[0]), int(where[-1]) + 1) if len(where) else (0, 0)

    def _legacy_points(self, step: str | int | None) -> np.ndarray:
        names = sorted(self.file["steps"])
        chosen = list(enumerate(names)) if step is None else \
            [(self._step_row(step), names[self._step_row(step)])]
        dtype = stored_dtype(self.channel_names)
        parts = []
        for row, name in chosen:
            group = self.file["steps"][name]
            if "points" not in group:
                continue
            data = group["points"][()]
            if "rho_ohm_sq" in (data.dtype.names or ()):  # a cryolab 0.1 file
                data = _from_legacy(data)
            data = _written(data)
            part = np.empty(len(data), dtype=dtype)
            part["step"] = row
            part["step_index"] = int(group.attrs.get("index", -1))
            for field in data.dtype.names or ():
                if field in (dtype.names or ()):
                    part[field] = data[field]
            parts.append(part)
        return np.concatenate(parts) if parts else np.empty(0, dtype=dtype)

    def points(self, step: str | int | None = None) -> np.ndarray:
        """Points of one step (name or position in the file) or of all steps, in order, as a
        structured array: ``step``, ``step_index`` and the columns of ``point_dtype``."""
        columns = self._columns(step=step)
        dtype = stored_dtype(self.channel_names)
        out = np.empty(len(columns["time_s"]), dtype=dtype)
        for name in dtype.names or ():
            out[name] = columns[name]
        return out

    def dataframe(self, step: str | int | None = None):
        """The points as a pandas DataFrame, one column per quantity (``step`` is the row of
        :meth:`steps`, ``step_index`` the plan's); units in ``frame.attrs["units"]``."""
        import pandas as pd

        frame = pd.DataFrame(self._columns(step=step), copy=False)
        frame.attrs["units"] = self.units()
        return frame

    def units(self) -> dict[str, str]:
        """Every point column's unit (``"1"`` for counts, flags and booleans)."""
        return {name: unit for name, _, unit, _ in
                column_specs(self.channel_names, self._hall_channels())}

    def xarray(self, step: str | int | None = None):
        """The points as an xarray Dataset on the dimension ``point``: one variable per
        quantity with its ``units`` and ``long_name``; the run's attributes on the Dataset."""
        import xarray as xr

        columns = self._columns(step=step)
        specs = {name: (unit, long_name) for name, _, unit, long_name in
                 column_specs(self.channel_names, self._hall_channels())}
        variables = {name: ("point", values, {"units": specs[name][0],
                                              "long_name": specs[name][1]})
                     for name, values in columns.items()}
        attrs = {k: v for k, v in self.attrs.items() if isinstance(v, str | int | float)}
        return xr.Dataset(variables, attrs=attrs)

    # ------------------------------------------------------------------ tables
    def _table(self, name: str) -> np.ndarray:
        if self.layout == LAYOUT:
            return self.file[ENTRY][name][()]
        if name not in self.file:
            return np.empty(0, dtype=TABLES[name][0])
        return self.file[name][()]

    def events(self) -> list[dict[str, Any]]:
        """The runner's notes: ``{time_s, step_index, level, text}``, texts as str."""
        return _records(self._table("events"))

    def alarms(self) -> list[dict[str, Any]]:
        """What needed a person: quench, instrument down, disk space low, … (oldest first)."""
        return _records(self._table("alarms"))

    def faults(self) -> list[dict[str, Any]]:
        """Every instrument fault the run met, oldest first."""
        return _records(self._table("faults"))

    def segments(self) -> list[dict[str, Any]]:
        """One row per process that wrote the file: ``{started_s, ended_s, first_step,
        end_status, reason}``."""
        return _records(self._table("segments"))

    def table(self, name: str):
        """A table as a pandas DataFrame (texts as str): ``steps``, ``events``, ``alarms``,
        ``faults``, ``segments`` or ``fits``."""
        import pandas as pd

        if name == "steps":
            return pd.DataFrame([{"name": s.name, "kind": s.kind, "index": s.index,
                                  "status": s.status, "started_s": s.started,
                                  "ended_s": s.ended, "n_points": s.n_points,
                                  "description": s.attrs.get("description", "")}
                                 for s in self.steps()],
                                columns=["name", "kind", "index", "status", "started_s",
                                         "ended_s", "n_points", "description"])
        if name == "fits":
            rows = [self.fit(s.name, ch) for s in self.steps()
                    for ch in self.longitudinal_channels()]
            return pd.DataFrame([r for r in rows if r is not None])
        if name not in ("events", "alarms", "faults", "segments"):
            raise KeyError(f"no table {name!r}: steps, events, alarms, faults, segments, fits")
        return _text_columns(pd.DataFrame(self._table(name)))

    # ------------------------------------------------------------------ analysis
    def fit(self, step: str | int, channel: str | None = None) -> dict[str, Any] | None:
        """The stored live fit of a step (name or position) for a channel, if any: model,
        decided, reason, final, field_Oe, chi2_red, n_points, T range, the model's parameters
        and their ``_stderr``, and ``alt_*`` when the data could not decide."""
        channel = channel or (self.longitudinal_channels() or ["xx"])[0]
        if self.layout != LAYOUT:
            group = self.file["steps"][step if isinstance(step, str) else
                                       sorted(self.file["steps"])[step]]
            name = f"fit_{channel}" if f"fit_{channel}" in group else \
                ("fit" if channel == "xx" and "fit" in group else None)
            return {k: _decode(v) for k, v in group[name].attrs.items()} if name else None
        row = self._step_row(step)
        fits = self.file[ENTRY]["fits"][()]
        match = fits[(fits["step"] == row) & (fits["channel"] == channel.encode())]
        if not len(match):
            return None
        r = {name: _decode(match[-1][name]) for name in fits.dtype.names}
        out = {k: r[k] for k in ("model", "decided", "reason", "final", "field_Oe", "chi2_red",
                                 "n_points", "T_min_K", "T_max_K", "robust", "n_outliers")}
        out.update({k: r[k] for p in FIT_PARAMS for k in (p, f"{p}_stderr")
                    if math.isfinite(r[p])})
        if r["alt_model"]:
            out["alt_model"], out["alt_chi2_red"] = r["alt_model"], r["alt_chi2_red"]
            out.update({f"alt_{k}": r[f"alt_{k}"] for p in FIT_PARAMS
                        for k in (p, f"{p}_stderr") if math.isfinite(r[f"alt_{p}"])})
        return out

    def summary(self, channel: str | None = None) -> SummaryRecord | None:
        """A channel's field summary, if written (default: the first longitudinal channel)."""
        channel = channel or (self.longitudinal_channels() or ["xx"])[0]
        if self.layout != LAYOUT:
            table, group = f"summary_{channel}", f"analysis_{channel}"
            if table not in self.file and channel == "xx":  # a cryolab 0.1 file
                table, group = "summary", "analysis"
            if table not in self.file:
                return None
            attrs = self.file[group].attrs if group in self.file else {}
            legacy = {k: _decode(v) for k, v in attrs.items()}
            if isinstance(legacy.get("notes"), str):
                legacy["notes"] = _json(legacy["notes"])
            return SummaryRecord(self.file[table][()], legacy)
        entry = self.file[ENTRY]
        name = f"summary_{channel}"
        if name not in entry or entry[name].shape[0] == 0:
            return None
        results: dict[str, Any] = {}
        rows = entry["summary_results"][()]
        mine = rows[rows["channel"] == channel.encode()]
        if len(mine):
            r = {k: _decode(mine[-1][k]) for k in rows.dtype.names if k != "channel"}
            notes = _json(r.pop("notes")).get("notes", [])
            results = {k: v for k, v in r.items() if not (
                k.startswith(("insulating_", "superconducting_")) and not math.isfinite(v))}
            results["notes"] = notes
        return SummaryRecord(entry[name][()], results)

    def summary_frame(self, channel: str | None = None):
        """The field summary as a pandas DataFrame (one row per field, texts as str); the
        results across fields in ``frame.attrs``; an empty frame if none was written."""
        import pandas as pd

        from cryolab.analysis.summary import SUMMARY_DTYPE

        record = self.summary(channel)
        if record is None:
            return pd.DataFrame(np.empty(0, dtype=SUMMARY_DTYPE))
        frame = _text_columns(pd.DataFrame(record.table))
        frame.attrs.update(record.results)
        frame.attrs["units"] = dict(SUMMARY_UNITS)
        return frame


def _json(value: Any) -> dict[str, Any]:
    if not value:
        return {}
    try:
        out = json.loads(value)
    except (TypeError, ValueError):
        return {}
    return out if isinstance(out, dict) else {"notes": out}


def steps_completed(run: RunFile) -> set[int]:
    """Plan indices of the steps the file records as completed."""
    return {s.index for s in run.steps() if s.status == "completed"}


def open_runs(paths: Iterable[str | Path], chunks: int | None = None):
    """Many run files as one lazy xarray Dataset (dask): their points one after another on
    the dimension ``point``, with a ``run`` variable (the file's name) to tell them apart.

    Columnar files are read by xarray itself (``engine="h5netcdf"``, nothing loaded until it
    is computed); files of older layouts, or still being written, are read through
    :class:`RunFile` first. Channels missing from a run read as NaN (an outer join).
    """
    import xarray as xr

    datasets = []
    for path in map(Path, paths):
        with RunFile(path) as run:
            columnar = run.layout == LAYOUT and run.status != "running"
            eager = None if columnar else run.xarray()
        if eager is None:
            ds = xr.open_dataset(path, engine="h5netcdf", group=DATA, phony_dims="sort",
                                 chunks={"point": chunks or -1})
        else:
            ds = eager.chunk({"point": chunks or -1})
        ds = ds.assign(run=("point", np.full(ds.sizes["point"], path.stem, dtype=object)))
        datasets.append(ds)
    if not datasets:
        return xr.Dataset()
    return xr.concat(datasets, dim="point", join="outer", data_vars="all",
                     combine_attrs="drop_conflicts", coords="minimal", compat="override")
