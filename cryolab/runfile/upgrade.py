"""Converting a run file of an older layout to the columnar one, so a resumed run appends to it.

Only ``cryolab resume`` changes an old file, and only after its checks passed: the original is
copied beside it first (``RUN.h5.layout-0`` or ``RUN.h5.layout-1``), the converted file is
written next to it and then renamed over it, so the run file is at every moment either the old
one or the whole new one.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from cryolab import __version__
from cryolab.runfile.reader import LAYOUT_NAMES, RunFile
from cryolab.runfile.schema import (
    ALARM_DTYPE,
    DATA,
    ENTRY,
    EVENT_DTYPE,
    FAULT_DTYPE,
    FIT_DTYPE,
    FIT_PARAMS,
    LAYOUT,
    SEGMENT_DTYPE,
    STEP_DTYPE,
    SUMMARY_RESULT_DTYPE,
    json_text,
    text,
)
from cryolab.runfile.writer import create_layout

#: root attributes the columnar layout sets itself
_OWN_ATTRS = ("NX_class", "default", "cryolab_layout", "creator", "file_time", "HDF5_Version",
              "h5py_version")


def _rows(records: list[dict[str, Any]], dtype: np.dtype) -> np.ndarray:
    out = np.zeros(len(records), dtype=dtype)
    for i, record in enumerate(records):
        for name in dtype.names or ():
            value = record.get(name)
            if dtype[name].kind == "S":
                out[i][name] = text(str(value if value is not None else ""),
                                    dtype[name].itemsize)
            elif value is None:
                out[i][name] = math.nan if dtype[name].kind == "f" else 0
            else:
                out[i][name] = value
    return out


def _append(dataset: h5py.Dataset, rows: np.ndarray) -> None:
    dataset.resize((len(rows),))
    if len(rows):
        dataset[:] = rows


def upgrade_layout(path: str | Path) -> Path | None:
    """Rewrite an older-layout run file in the columnar layout; the copy of the original, or
    None if the file already is columnar. The caller holds the writer's lock."""
    path = Path(path)
    with RunFile(path) as old:
        if old.layout == LAYOUT:
            return None
        layout = old.layout
        raw_attrs = dict(old.file.attrs.items())
        channels = old.channels
        names = [c["name"] for c in channels]
        steps = old.steps()
        points = old.points()
        tables = {"events": old.events(), "alarms": old.alarms(), "faults": old.faults(),
                  "segments": old.segments()}
        fits = [(row, s, ch, old.fit(s.name, ch)) for row, s in enumerate(steps)
                for ch in old.longitudinal_channels()]
        summaries = {ch: old.summary(ch) for ch in old.longitudinal_channels()}
    backup = path.with_name(f"{path.name}.layout-{layout}")
    partial = path.with_name(f"{path.name}.upgrading")
    shutil.copy2(path, backup)
    try:
        with h5py.File(partial, "w", libver="latest") as f:
            create_layout(f, {"channels": json.dumps(channels)}, names)
            for key in list(f.attrs):
                if key not in _OWN_ATTRS:
                    del f.attrs[key]
            for key, value in raw_attrs.items():
                f.attrs[key] = value
            f.attrs["channels"] = json.dumps(channels)
            f.attrs["upgraded_from"] = LAYOUT_NAMES[layout]
            f.attrs["upgraded_by"] = f"cryolab {__version__}"
            data = f[DATA]
            for name in points.dtype.names or ():
                _append(data[name], points[name])
            entry = f[ENTRY]
            firsts = np.searchsorted(points["step"], np.arange(len(steps)))
            step_rows = []
            for row, s in enumerate(steps):
                step_rows.append({
                    "name": s.name, "kind": s.kind, "index": s.index,
                    "description": s.attrs.get("description", ""), "started_s": s.started,
                    "ended_s": s.ended, "status": s.status,
                    "estimate_s": s.attrs.get("estimate_s", math.nan),
                    "first_point": int(firsts[row]), "n_points": s.n_points})
            step_table = _rows(step_rows, STEP_DTYPE)
            for row, s in enumerate(steps):
                for part in ("target", "result"):
                    values = {k[len(part) + 1:]: v for k, v in s.attrs.items()
                              if k.startswith(f"{part}_")}
                    step_table[row][f"{part}s"] = json_text(values, 1024)
            _append(entry["steps"], step_table)
            for name, dtype in (("events", EVENT_DTYPE), ("alarms", ALARM_DTYPE),
                                ("faults", FAULT_DTYPE), ("segments", SEGMENT_DTYPE)):
                _append(entry[name], _rows(tables[name], dtype))
            fit_rows = [{**{k: v for k, v in fit.items() if k in (FIT_DTYPE.names or ())},
                         "step": row, "step_index": s.index, "channel": ch}
                        for row, s, ch, fit in fits if fit]
            for record in fit_rows:
                for param in FIT_PARAMS:  # parameters the model has not are NaN
                    for key in (param, f"{param}_stderr", f"alt_{param}",
                                f"alt_{param}_stderr"):
                        record.setdefault(key, math.nan)
                record.setdefault("alt_chi2_red", math.nan)
            _append(entry["fits"], _rows(fit_rows, FIT_DTYPE))
            results = []
            for ch, summary in summaries.items():
                if summary is None or f"summary_{ch}" not in entry:
                    continue
                table = entry[f"summary_{ch}"]
                converted = np.zeros(len(summary.table), dtype=table.dtype)
                for name in table.dtype.names:
                    if name in (summary.table.dtype.names or ()):
                        converted[name] = summary.table[name]
                _append(table, converted)
                notes = summary.results.get("notes", [])
                results.append({**summary.results, "channel": ch,
                                "notes": json_text({"notes": notes}, 1024).decode()})
            _append(entry["summary_results"], _rows(results, SUMMARY_RESULT_DTYPE))
        with open(partial, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return backup
