"""Lake Shore ``.340`` thermometer curves: parse, check, write, and convert R ↔ T the way the
instrument does for the curve's data format.

File layout (protocols.md §4): ``key: value`` header lines, a blank line, a column title line,
then one ``<index> <units> <temperature K>`` row per breakpoint. Units depend on the data
format: 3 = Ω, 4 = log10 Ω (the usual RuO₂ format), 5 = log10 Ω against log10 K.

Interpolation is linear between breakpoints in the format's own coordinates, as a Lake Shore
controller does with a loaded curve (Model 372 manual §6.6.1, CRVHDR: "3 = Ω/K (linear),
4 = log Ω/K (linear)", e.g. "logohms vs. kelvin using linear interpolation"; format 5 is
"log Ω / log K", Model 340 manual p. 9-29): format 3, T linear in R; format 4, T linear in
log10 R; format 5, log10 T linear in log10 R. cryolab's T for a resistance is therefore the
bridge's own reading of that curve (the simulated 372 follows the same rule;
tests/test_calibration.py checks the two agree to 10⁻⁹).
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

# numpy is imported where arrays are converted: parsing and checking a curve is plain Python,
# so `cryolab check` validates a station's calibrations without loading numpy

#: Data Format codes that describe a resistance (the others are diode voltages)
RESISTANCE_FORMATS = {3: "Ohms/Kelvin", 4: "Log Ohms/Kelvin", 5: "Log Ohms/Log Kelvin"}
#: per format: whether the interpolation's abscissa is log10 R and its ordinate log10 T
LOG_AXES = {3: (False, False), 4: (True, False), 5: (True, True)}
MAX_BREAKPOINTS = 200  # a 372 user curve holds at most 200 points (372 manual, CRVPT)


class CalibrationError(ValueError):
    """A curve file that cryolab refuses, with the file and the line that is wrong."""


@dataclass(frozen=True)
class Curve340:
    """A resistance thermometer calibration, stored sorted by increasing temperature (tuples
    of floats: ``numpy.asarray`` takes them as they are)."""

    sensor_model: str
    serial_number: str
    data_format: int
    setpoint_limit_K: float
    coefficient: int  # 1 negative (RuO₂), 2 positive
    T_K: tuple[float, ...]
    R_ohm: tuple[float, ...]
    source: str = "<curve>"

    @property
    def T_range_K(self) -> tuple[float, float]:
        return float(self.T_K[0]), float(self.T_K[-1])

    @property
    def R_range_ohm(self) -> tuple[float, float]:
        return float(min(self.R_ohm)), float(max(self.R_ohm))

    def temperature_K(self, R_ohm):
        """T for a resistance, interpolated linearly in the data format's coordinates (format 3:
        T against R, 4: T against log10 R, 5: log10 T against log10 R; module docstring).

        Outside the calibrated range the answer is NaN: extrapolating a RuO₂ curve is how a
        sample ends up 'at' 5 mK, so the caller has to see that the reading is unusable.
        """
        xs_list, ys_list = self._table
        log_R, log_T = LOG_AXES[self.data_format]
        if isinstance(R_ohm, float | int):  # one reading per point: no numpy on this path
            if not R_ohm > 0:
                return math.nan
            x = math.log10(R_ohm) if log_R else float(R_ohm)
            i = bisect.bisect_left(xs_list, x)
            if i == 0:
                if x != xs_list[0]:
                    return math.nan
                y = ys_list[0]
            elif i == len(xs_list):
                return math.nan
            else:
                x0, x1 = xs_list[i - 1], xs_list[i]
                y0, y1 = ys_list[i - 1], ys_list[i]
                y = y0 + (y1 - y0) * (x - x0) / (x1 - x0)
            return 10.0**y if log_T else y
        import numpy as np

        xs, ys = self._arrays
        R = np.asarray(R_ohm, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):  # R ≤ 0 → NaN, as out of range
            x = np.log10(R) if log_R else np.where(R > 0, R, np.nan)
        y = np.interp(x, xs, ys, left=np.nan, right=np.nan)
        out = 10.0**y if log_T else y
        return float(out) if np.ndim(out) == 0 else out

    @functools.cached_property
    def _table(self) -> tuple[list[float], list[float]]:
        """The interpolation table in the format's coordinates, abscissa increasing (bisect and
        np.interp need it), as lists for the scalar path (no numpy)."""
        R, T = self.R_ohm, self.T_K
        if R[0] > R[-1]:  # RuO₂ resistance falls with T
            R, T = R[::-1], T[::-1]
        log_R, log_T = LOG_AXES[self.data_format]
        # both paths take logs with math.log10, so their tables agree to the last bit (np.log10
        # may differ by an ulp, which would put a reading exactly at a calibrated end outside)
        xs_list = [math.log10(r) if log_R else float(r) for r in R]
        ys_list = [math.log10(t) if log_T else float(t) for t in T]
        return xs_list, ys_list

    @functools.cached_property
    def _arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """The same table as arrays (from the same lists: both paths agree to the last bit)."""
        import numpy as np

        xs_list, ys_list = self._table
        return np.array(xs_list), np.array(ys_list)

    def resistance_ohm(self, T_K):
        """R for a temperature: the inverse of ``temperature_K`` (the same straight segments)."""
        import numpy as np

        xs, ys = self._arrays
        log_R, log_T = LOG_AXES[self.data_format]
        T = np.asarray(T_K, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            y = np.log10(T) if log_T else T
        order = np.argsort(ys)
        x = np.interp(y, ys[order], xs[order], left=np.nan, right=np.nan)
        out = 10.0**x if log_R else x
        return float(out) if np.ndim(out) == 0 else out


_HEADER_KEYS = {
    "sensor model": "sensor_model",
    "serial number": "serial_number",
    "data format": "data_format",
    "setpoint limit": "setpoint_limit",
    "temperature coefficient": "coefficient",
    "number of breakpoints": "n_breakpoints",
}
_LEADING_NUMBER = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)")


def _number(text: str, what: str, where: str) -> float:
    m = _LEADING_NUMBER.match(text)
    if not m:
        raise CalibrationError(f"{where}: {what} should be a number, got {text.strip()!r}")
    return float(m.group(1))


def parse_340(text: str, source: str = "<string>") -> Curve340:
    """Parse the text of a ``.340`` file; raise CalibrationError naming the bad line."""
    header: dict[str, str] = {}
    rows: list[tuple[int, float, float]] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        where = f"{source}, line {lineno}"
        if not line:
            continue
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() in _HEADER_KEYS:
            header[_HEADER_KEYS[key.strip().lower()]] = value.strip()
            continue
        fields = line.split()
        if not fields[0][0].isdigit():
            if rows:
                raise CalibrationError(f"{where}: expected a data row, got {line!r}")
            continue  # the column title line ("No. Units Temperature (K)")
        if len(fields) < 3:
            raise CalibrationError(
                f"{where}: a data row needs '<index> <units> <temperature>', got {line!r}")
        try:
            index, units, temp = int(fields[0]), float(fields[1]), float(fields[2])
        except ValueError:
            raise CalibrationError(f"{where}: data row is not numeric: {line!r}") from None
        if not (math.isfinite(units) and math.isfinite(temp)):
            raise CalibrationError(f"{where}: data row holds a non-finite value: {line!r}")
        rows.append((index, units, temp))

    for key in ("data_format", "n_breakpoints"):
        if key not in header:
            label = next(k for k, v in _HEADER_KEYS.items() if v == key)
            raise CalibrationError(f"{source}: header line '{label.title()}:' is missing")
    fmt = int(_number(header["data_format"], "Data Format", source))
    if fmt not in RESISTANCE_FORMATS:
        raise CalibrationError(
            f"{source}: Data Format {fmt} is not a resistance curve; cryolab reads "
            + ", ".join(f"{k} ({v})" for k, v in RESISTANCE_FORMATS.items()))
    n_declared = int(_number(header["n_breakpoints"], "Number of Breakpoints", source))
    if len(rows) != n_declared:
        raise CalibrationError(
            f"{source}: header declares {n_declared} breakpoints but the file has {len(rows)}")
    if len(rows) < 2:
        raise CalibrationError(f"{source}: a curve needs at least 2 breakpoints")
    if len(rows) > MAX_BREAKPOINTS:
        raise CalibrationError(
            f"{source}: {len(rows)} breakpoints; a Lake Shore curve holds at most "
            f"{MAX_BREAKPOINTS}")

    units = [r[1] for r in rows]
    temps = [10.0**t for _, _, t in rows] if fmt == 5 else [r[2] for r in rows]
    bad = next((i for i, t in enumerate(temps) if not t > 0), None)
    if bad is not None:
        raise CalibrationError(
            f"{source}: breakpoint {rows[bad][0]} has temperature {rows[bad][2]} K (must be > 0)")
    R = [10.0**u for u in units] if fmt in (4, 5) else units
    bad = next((i for i, r in enumerate(R) if not r > 0), None) if fmt == 3 else None
    if bad is not None:
        raise CalibrationError(
            f"{source}: breakpoint {rows[bad][0]} has resistance {rows[bad][1]} Ω (must be > 0)")
    order = sorted(range(len(temps)), key=temps.__getitem__)  # stable, as np.argsort's default
    T_sorted = tuple(float(temps[i]) for i in order)
    R_sorted = tuple(float(R[i]) for i in order)
    for name, values in (("temperatures", T_sorted), ("units", R_sorted)):
        d = [b - a for a, b in itertools.pairwise(values)]
        rising = d[0] > 0
        i = next((j for j, step in enumerate(d) if step == 0 or (step > 0) != rising), None)
        if i is not None:
            raise CalibrationError(
                f"{source}: {name} are not strictly monotonic (around breakpoint "
                f"{rows[order[i + 1]][0]}); a thermometer curve must be one-to-one")
    coefficient = int(_number(header.get("coefficient", "1"), "Temperature coefficient", source))
    actual = 1 if R_sorted[-1] < R_sorted[0] else 2
    if coefficient not in (1, 2) or coefficient != actual:
        word = {1: "negative", 2: "positive"}
        raise CalibrationError(
            f"{source}: Temperature coefficient says {coefficient} "
            f"({word.get(coefficient, 'unknown')}) but the data are {word[actual]}")
    limit = _number(header["setpoint_limit"], "SetPoint Limit", source) \
        if "setpoint_limit" in header else float(T_sorted[-1])
    return Curve340(
        sensor_model=header.get("sensor_model", ""),
        serial_number=header.get("serial_number", ""),
        data_format=fmt,
        setpoint_limit_K=limit,
        coefficient=coefficient,
        T_K=T_sorted,
        R_ohm=R_sorted,
        source=source,
    )


def load_340(path: str | Path) -> Curve340:
    """Read and parse a ``.340`` file."""
    from cryolab.inputs import InputError, read_text

    try:
        text = read_text(path, what="calibration file")
    except InputError as exc:
        raise CalibrationError(f"{path}: {'; '.join(exc.problems)}") from None
    return parse_340(text, source=str(path))


def format_340(curve_T_K, curve_R_ohm, sensor_model: str = "RuO2", serial_number: str = "",
               setpoint_limit_K: float | None = None) -> str:
    """A ``.340`` text (format 4, log10 Ω) for breakpoints, hottest first as published."""
    import numpy as np

    T = np.asarray(curve_T_K, dtype=float)
    R = np.asarray(curve_R_ohm, dtype=float)
    order = np.argsort(T)[::-1]
    T, R = T[order], R[order]
    coefficient = 1 if R[0] < R[-1] else 2
    limit = float(T[0]) if setpoint_limit_K is None else setpoint_limit_K
    lines = [
        f"Sensor Model:   {sensor_model}",
        f"Serial Number:  {serial_number}",
        "Data Format:    4      (Log Ohms/Kelvin)",
        f"SetPoint Limit: {limit:.3f}      (Kelvin)",
        f"Temperature coefficient:  {coefficient} "
        f"({'Negative' if coefficient == 1 else 'Positive'})",
        f"Number of Breakpoints:   {len(T)}",
        "",
        "No.   Units      Temperature (K)",
        "",
    ]
    rows = enumerate(zip(R, T, strict=True), start=1)
    lines += [f"{i:3d}  {np.log10(r):.7f}  {t:.7g}" for i, (r, t) in rows]
    return "\r\n".join(lines) + "\r\n"
