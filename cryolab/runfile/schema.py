"""The run file's contract in one place: every name, dtype and unit it stores.

A point is stored as the point-level columns followed by each channel's columns, the channel's
name in front (``xx_rho_ohm_sq``). Units are in the names and in :data:`UNITS`.
docs/data-format.md documents all of it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from itertools import chain
from typing import Any

import h5py
import numpy as np

from cryolab.measurement import Point

#: the point's own quantities: (column, dtype, unit)
POINT_COLUMNS: list[tuple[str, str, str]] = [
    ("time_s", "f8", "s"),  # Unix seconds on the run's clock (simulated time in --sim)
    ("T_mc_K", "f8", "K"),
    ("T_sample_K", "f8", "K"),
    ("sample_thermometer_ohm", "f8", "ohm"),
    ("field_Oe", "f8", "Oe"),
    ("setpoint_K", "f8", "K"),
    ("point_flags", "u2", ""),  # thermal mismatch 1, instrument fault 16
]
#: each channel's quantities, stored as ``<channel>_<column>``
CHANNEL_COLUMNS: list[tuple[str, str, str]] = [
    ("x_V", "f8", "V"),
    ("y_V", "f8", "V"),
    ("R_ohm", "f8", "ohm"),
    ("rho_ohm_sq", "f8", "ohm/sq"),  # Ω/□ (longitudinal) or Ω (Hall: ρ_xy = R_xy)
    ("current_A", "f8", "A"),
    ("frequency_Hz", "f8", "Hz"),
    ("time_constant_s", "f8", "s"),
    ("sensitivity_V", "f8", "V"),
    ("flags", "u2", ""),  # the channel's bits and the point's (docs/data-format.md)
    ("valid", "?", ""),
]


def point_dtype(channels: Sequence[str]) -> np.dtype:
    return np.dtype([(name, dtype) for name, dtype, _ in POINT_COLUMNS]
                    + [(f"{ch}_{name}", dtype) for ch in channels
                       for name, dtype, _ in CHANNEL_COLUMNS])


def units(channels: Sequence[str]) -> dict[str, str]:
    out = {name: unit for name, _, unit in POINT_COLUMNS}
    out.update({f"{ch}_{name}": unit for ch in channels for name, _, unit in CHANNEL_COLUMNS})
    return out


def point_row(point: Point) -> tuple:
    """A point as one row of :func:`point_dtype` (the record minus its step index)."""
    return (*point[1:8], *chain.from_iterable(point.channels))


def unwritten(dtype: np.dtype) -> np.ndarray:
    """What a row whose data never reached the disk reads as (its extent did): NaN, invalid."""
    fill = np.zeros((), dtype=dtype)
    for name in dtype.names or ():
        if dtype[name].kind == "f":
            fill[name] = np.nan
    return fill


EVENT_DTYPE = np.dtype([("time_s", "f8"), ("step_index", "i4"), ("level", "S8"),
                        ("text", h5py.string_dtype())])
FAULT_DTYPE = np.dtype([("time_s", "f8"), ("step_index", "i4"), ("instrument", "S32"),
                        ("kind", "S16"), ("attempt", "i2"), ("action", "S12"),
                        ("detail", h5py.string_dtype())])
#: what may need a person (cryolab.events.Alarm): quench, instrument down, disk space low, …
ALARM_DTYPE = np.dtype([("time_s", "f8"), ("step_index", "i4"), ("kind", "S24"),
                        ("message", h5py.string_dtype())])
SEGMENT_DTYPE = np.dtype([("started_s", "f8"), ("ended_s", "f8"), ("first_step", "i4"),
                          ("end_status", "S16"), ("reason", h5py.string_dtype())])


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
