"""Reading a run file — finished, interrupted or still being written (SWMR)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from cryolab.runfile.repair import _check_length
from cryolab.runfile.schema import ALARM_DTYPE, FAULT_DTYPE, RunFileError, point_dtype

#: the one channel of a file written before channels existed (cryolab 0.1)
LEGACY_CHANNEL = {"name": "xx", "kind": "longitudinal", "lockin": "lockin"}
#: cryolab 0.1's point columns that became the channel's
_LEGACY_RENAMES = {"lockin_x_V": "x_V", "lockin_y_V": "y_V", "R_ohm": "R_ohm",
                   "rho_ohm_sq": "rho_ohm_sq", "current_A": "current_A",
                   "frequency_Hz": "frequency_Hz", "time_constant_s": "time_constant_s",
                   "sensitivity_V": "sensitivity_V", "flags": "flags", "valid": "valid"}
_POINT_BITS = 1 | 16  # thermal mismatch, instrument fault


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
    def channels(self) -> list[dict[str, str]]:
        """The run's measurement channels, in column order: name, kind, lock-in."""
        stored = self.file.attrs.get("channels")
        return json.loads(_decode(stored)) if stored is not None else [dict(LEGACY_CHANNEL)]

    @property
    def channel_names(self) -> list[str]:
        return [c["name"] for c in self.channels]

    def longitudinal_channels(self) -> list[str]:
        return [c["name"] for c in self.channels if c["kind"] == "longitudinal"]

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
        arrays = [self._step_points(n) for n in chosen if "points" in self.file["steps"][n]]
        return np.concatenate(arrays) if arrays else \
            np.empty(0, dtype=point_dtype(self.channel_names))

    def _step_points(self, name: str) -> np.ndarray:
        data = self.file["steps"][name]["points"][()]
        if "rho_ohm_sq" in (data.dtype.names or ()):  # a cryolab 0.1 file
            data = _from_legacy(data)
        return _written(data)

    def dataframe(self, step: str | int | None = None):
        """The points as a pandas DataFrame, with a ``step`` column naming each row's step."""
        import pandas as pd

        names = sorted(self.file["steps"]) if step is None else \
            [sorted(self.file["steps"])[step] if isinstance(step, int) else step]
        frames = []
        for name in names:
            frame = pd.DataFrame(self._step_points(name))
            frame.insert(0, "step", name)
            frames.append(frame)
        if not frames:
            return pd.DataFrame(columns=["step", *point_dtype(self.channel_names).names])
        return pd.concat(frames, ignore_index=True)

    def events(self) -> list[dict[str, Any]]:
        return [{"time_s": float(e["time_s"]), "step_index": int(e["step_index"]),
                 "level": _decode(e["level"]), "text": _decode(e["text"])}
                for e in self.file["events"][()]]

    def alarms(self) -> list[dict[str, Any]]:
        """What needed a person: quench, instrument down, disk space low, … (oldest first)."""
        if "alarms" not in self.file:
            return []
        return [{name: _decode(a[name]) for name in ALARM_DTYPE.names}
                for a in self.file["alarms"][()]]

    def summary(self, channel: str | None = None) -> tuple[np.ndarray, dict[str, Any]] | None:
        """A channel's field summary table and branch results, if written (default: the
        first longitudinal channel)."""
        channel = channel or (self.longitudinal_channels() or ["xx"])[0]
        table, group = f"summary_{channel}", f"analysis_{channel}"
        if table not in self.file and channel == "xx":  # a cryolab 0.1 file
            table, group = "summary", "analysis"
        if table not in self.file:
            return None
        attrs = self.file[group].attrs if group in self.file else {}
        return self.file[table][()], {k: _decode(v) for k, v in attrs.items()}

    def fit(self, step: str, channel: str | None = None) -> dict[str, Any] | None:
        """The stored fit of a step (group name) for a channel, if any."""
        channel = channel or (self.longitudinal_channels() or ["xx"])[0]
        group = self.file["steps"][step]
        name = f"fit_{channel}" if f"fit_{channel}" in group else \
            ("fit" if channel == "xx" and "fit" in group else None)
        return {k: _decode(v) for k, v in group[name].attrs.items()} if name else None

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


def steps_completed(run: RunFile) -> set[int]:
    """Plan indices of the steps the file records as completed."""
    return {s.index for s in run.steps() if s.status == "completed"}
