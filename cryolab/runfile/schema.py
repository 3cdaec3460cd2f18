"""The run file's contract in one place: every path, name, dtype, unit and fill value it stores.

Layout 2 (``cryolab_layout = 2``, docs/data-format.md): the root is an NXroot whose ``default``
names the NXentry ``/entry``, whose ``default`` names the NXdata ``/entry/data``. That group
holds the points of the whole night, one 1-D dataset per quantity on the dimension ``point``
(a netCDF dimension, so xarray names it): the point-level columns, then each channel's, its name
in front (``xx_rho_ohm_sq``). The steps, events, alarms, faults, segments, fits and the field
summaries are tables (compound datasets with fixed-length strings only) beside it in
``/entry``. Every object is created with the file, so a night of any length keeps a fixed set of
HDF5 objects open (their metadata is what HDF5 holds in memory).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from itertools import chain
from typing import Any

import numpy as np

from cryolab.measurement import Flag, Point

#: the value of the root attribute ``cryolab_layout``; files without it are older layouts
LAYOUT = 2
ENTRY = "entry"
DATA = "entry/data"  # the NXdata group: the point columns
POINT_DIM = "point"  # the dimension scale the columns are attached to

#: the point's own quantities: (column, dtype, unit, long name)
POINT_COLUMNS: list[tuple[str, str, str, str]] = [
    ("time_s", "f8", "s", "Unix time on the run's clock (simulated time in --sim)"),
    ("T_mc_K", "f8", "K", "mixing-chamber temperature"),
    ("T_sample_K", "f8", "K", "sample temperature (on-chip RuO2 through its calibration)"),
    ("sample_thermometer_ohm", "f8", "ohm", "resistance of the on-chip RuO2 thermometer"),
    ("field_Oe", "f8", "Oe", "magnetic field as last read from the magnet supply"),
    ("setpoint_K", "f8", "K", "heater setpoint cryolab last set"),
    ("point_flags", "u2", "1", "the point's flag bits: thermal mismatch 1, instrument fault 16"),
]
#: each channel's quantities, stored as ``<channel>_<column>``
CHANNEL_COLUMNS: list[tuple[str, str, str, str]] = [
    ("x_V", "f8", "V", "lock-in X (in phase), rms"),
    ("y_V", "f8", "V", "lock-in Y (quadrature), rms"),
    ("R_ohm", "f8", "ohm", "four-point resistance"),
    # Ω/□ (longitudinal) or Ω (Hall: ρ_xy = R_xy); CHANNEL_UNITS says which
    ("rho_ohm_sq", "f8", "ohm/sq", "resistivity"),
    ("current_A", "f8", "A", "current through the sample, rms"),
    ("frequency_Hz", "f8", "Hz", "reference frequency"),
    ("time_constant_s", "f8", "s", "lock-in time constant"),
    ("sensitivity_V", "f8", "V", "lock-in sensitivity (full scale)"),
    ("flags", "u2", "1", "the channel's flag bits and the point's"),
    ("valid", "?", "1", "no flag set: the reading may be used in fits and summaries"),
]
#: the columns the writer adds in front: which executed step (row of /entry/steps) and which
#: step of the plan (a resumed run repeats a plan step in a new row)
STEP_COLUMNS: list[tuple[str, str, str, str]] = [
    ("step", "i4", "1", "row of /entry/steps: the executed step the point belongs to"),
    ("step_index", "i4", "1", "position of the step in the plan"),
]
#: the flag bits (measurement.Flag) as CF's flag_masks / flag_meanings of every flags column
FLAG_MASKS = [int(f) for f in Flag]
FLAG_MEANINGS = " ".join((f.name or "").lower() for f in Flag)
#: bit of a flags column that only a row whose data never reached the disk carries
UNWRITTEN_FLAG = 0x8000


def point_dtype(channels: Sequence[str]) -> np.dtype:
    """A point's columns (the step columns aside), as ``point_row`` makes them."""
    return np.dtype([(name, dtype) for name, dtype, *_ in POINT_COLUMNS]
                    + [(f"{ch}_{name}", dtype) for ch in channels
                       for name, dtype, *_ in CHANNEL_COLUMNS])


def stored_dtype(channels: Sequence[str]) -> np.dtype:
    """Every column of the points as the file stores them: step columns first."""
    point = point_dtype(channels)
    return np.dtype([(name, np.dtype(dtype)) for name, dtype, *_ in STEP_COLUMNS]
                    + [(name, point[name]) for name in point.names or ()])


def record_dtype(channels: Sequence[str]) -> np.dtype:
    """A :class:`~cryolab.measurement.Point` as numpy sees it: its own fields (the step index
    and the point's columns) and ``channels``, a record of one record per channel — so
    ``np.array(points, dtype=record_dtype(channels))`` converts a list of Points in one call."""
    own = [("step_index", "i4")] + [(name, dtype) for name, dtype, *_ in POINT_COLUMNS]
    channel = [(name, dtype) for name, dtype, *_ in CHANNEL_COLUMNS]
    return np.dtype([*own, ("channels", [(ch, channel) for ch in channels])])


def column_specs(channels: Sequence[str], hall: Sequence[str] = ()
                 ) -> list[tuple[str, str, str, str]]:
    """(name, dtype, unit, long name) of every stored column; a Hall channel's ρ is in Ω."""
    out = list(STEP_COLUMNS) + list(POINT_COLUMNS)
    for ch in channels:
        for name, dtype, unit, long_name in CHANNEL_COLUMNS:
            if name == "rho_ohm_sq" and ch in hall:
                unit, long_name = "ohm", "Hall resistivity rho_xy = R_xy"
            out.append((f"{ch}_{name}", dtype, unit, f"{ch}: {long_name}"))
    return out


def units(channels: Sequence[str]) -> dict[str, str]:
    return {name: unit for name, _, unit, _ in column_specs(channels)}


def point_row(point: Point) -> tuple:
    """A point as one row of :func:`point_dtype` (the record minus its step index)."""
    return (*point[1:8], *chain.from_iterable(point.channels))


def fill_value(name: str, dtype: str) -> Any:
    """What a column's row reads as when its data never reached the disk (its extent did)."""
    if np.dtype(dtype).kind == "f":
        return np.nan
    if name in ("step", "step_index"):
        return -1
    if name.endswith("flags"):
        return UNWRITTEN_FLAG
    return 0


def unwritten(dtype: np.dtype) -> np.ndarray:
    """A row of ``dtype`` as it reads when its data never reached the disk."""
    fill = np.zeros((), dtype=dtype)
    for name in dtype.names or ():
        fill[name] = fill_value(name, dtype[name].str)
    return fill


# ---------------------------------------------------------------------------------- tables
def _text(n: int) -> str:
    return f"S{n}"


#: fixed-length UTF-8 text columns: longer texts are cut at a character boundary
STEP_DTYPE = np.dtype([("name", _text(40)), ("kind", _text(24)), ("index", "i4"),
                       ("description", _text(160)), ("started_s", "f8"), ("ended_s", "f8"),
                       ("status", _text(16)), ("estimate_s", "f8"), ("first_point", "i8"),
                       ("n_points", "i8"), ("targets", _text(1024)), ("results", _text(1024))])
EVENT_DTYPE = np.dtype([("time_s", "f8"), ("step_index", "i4"), ("level", _text(8)),
                        ("text", _text(512))])
FAULT_DTYPE = np.dtype([("time_s", "f8"), ("step_index", "i4"), ("instrument", _text(32)),
                        ("kind", _text(16)), ("attempt", "i2"), ("action", _text(12)),
                        ("detail", _text(256))])
#: what may need a person (cryolab.events.Alarm): quench, instrument down, disk space low, …
ALARM_DTYPE = np.dtype([("time_s", "f8"), ("step_index", "i4"), ("kind", _text(24)),
                        ("message", _text(512))])
SEGMENT_DTYPE = np.dtype([("started_s", "f8"), ("ended_s", "f8"), ("first_step", "i4"),
                          ("end_status", _text(16)), ("reason", _text(256))])
#: the fit parameters of Eq. 1 (σ_QF, σ_0, E_a) and Eq. 2 (ρ_QF, ρ_0, E_a), and their units
FIT_PARAMS = {"sigma_qf": "S/sq", "sigma_0": "S/sq", "rho_qf": "ohm/sq", "rho_0": "ohm/sq",
              "Ea_K": "K"}
_PARAM_COLUMNS = [(f"{p}{suffix}", "f8") for p in FIT_PARAMS for suffix in ("", "_stderr")]
#: one row per executed step and channel: the step's last live fit (``final`` once it ended);
#: the other model's parameters (``alt_*``) only when the data could not decide
FIT_DTYPE = np.dtype([("step", "i4"), ("step_index", "i4"), ("channel", _text(16)),
                      ("model", _text(8)), ("decided", "?"), ("reason", _text(160)),
                      ("final", "?"), ("field_Oe", "f8"), ("chi2_red", "f8"),
                      ("n_points", "i4"), ("T_min_K", "f8"), ("T_max_K", "f8"),
                      ("robust", "?"), ("n_outliers", "i4"), *_PARAM_COLUMNS,
                      ("alt_model", _text(8)), ("alt_chi2_red", "f8"),
                      *[(f"alt_{name}", dtype) for name, dtype in _PARAM_COLUMNS]])
#: the field summary's results across fields (one row per channel, rewritten as it grows)
SUMMARY_RESULT_DTYPE = np.dtype(
    [("channel", _text(16)), ("H_star_Oe", "f8"), ("H_RQ_Oe", "f8"), ("R_Q_ohm", "f8")]
    + [(f"{branch}_{name}", "f8") for branch in ("insulating", "superconducting")
       for name in ("exponent", "exponent_err", "amplitude", "n_fields")]
    + [("notes", _text(1024))])

#: table name → (dtype, rows per chunk — a flush rewrites a table's last chunk, so a few tens
#: of kB at most —, units of its numeric columns)
TABLES: dict[str, tuple[np.dtype, int, dict[str, str]]] = {
    "steps": (STEP_DTYPE, 16, {"started_s": "s", "ended_s": "s", "estimate_s": "s"}),
    "events": (EVENT_DTYPE, 32, {"time_s": "s"}),
    "alarms": (ALARM_DTYPE, 16, {"time_s": "s"}),
    "faults": (FAULT_DTYPE, 32, {"time_s": "s"}),
    "segments": (SEGMENT_DTYPE, 8, {"started_s": "s", "ended_s": "s"}),
    "fits": (FIT_DTYPE, 16, {"field_Oe": "Oe", "T_min_K": "K", "T_max_K": "K",
                             **{f"{p}{s}": u for p, u in FIT_PARAMS.items()
                                for s in ("", "_stderr")},
                             **{f"alt_{p}{s}": u for p, u in FIT_PARAMS.items()
                                for s in ("", "_stderr")}}),
    "summary_results": (SUMMARY_RESULT_DTYPE, 4, {"H_star_Oe": "Oe", "H_RQ_Oe": "Oe",
                                                   "R_Q_ohm": "ohm"}),
}
#: the field summary per channel, ``/entry/summary_<channel>``: analysis.summary.SUMMARY_DTYPE
SUMMARY_UNITS = {"field_Oe": "Oe", "sigma_qf_S": "S/sq", "sigma_qf_err_S": "S/sq",
                 "rho_qf_ohm_sq": "ohm/sq", "rho_qf_err_ohm_sq": "ohm/sq", "Ea_K": "K",
                 "Ea_err_K": "K", "saturation_ohm_sq": "ohm/sq", "T_min_K": "K", "T_max_K": "K",
                 "curvature_zero_data_K": "K", "curvature_zero_model_K": "K"}


def text(value: str, size: int) -> bytes:
    """UTF-8 bytes of at most ``size``, cut at a character boundary."""
    raw = value.encode("utf-8")
    if len(raw) <= size:
        return raw
    return raw[:size].decode("utf-8", errors="ignore").encode("utf-8")


def json_text(values: dict[str, Any], size: int) -> bytes:
    """A dict as JSON in at most ``size`` bytes: long strings are cut first, then keys dropped
    from the end (``"truncated": true`` says so)."""
    raw = json.dumps(values, default=str, allow_nan=True).encode()
    if len(raw) <= size:
        return raw
    short = {k: (v[:80] + "…" if isinstance(v, str) and len(v) > 80 else v)
             for k, v in values.items()}
    keys = list(short)
    while keys:
        raw = json.dumps({**{k: short[k] for k in keys}, "truncated": True}, default=str
                         ).encode()
        if len(raw) <= size:
            return raw
        keys.pop()
    return b'{"truncated": true}'


class RunFileError(Exception):
    """A file that is not a (complete enough) cryolab run file."""


class StorageError(RuntimeError):
    """Writing the run file failed (no space, an I/O error): the run must stop safely."""


def attr_value(value: Any) -> Any:
    """Something h5py stores as an attribute: numbers, strings, bools, number lists; else JSON."""
    if value is None:
        return "null"
    if isinstance(value, bool | int | float | str | np.number | np.bool_):
        return value
    if isinstance(value, list | tuple) and value and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in value):
        return np.asarray(value, dtype=float)
    return json.dumps(value, default=str)
