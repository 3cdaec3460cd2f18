"""How the GUI writes numbers: one format per quantity, wherever it appears.

A current is always in nA with three decimals ("0.500 nA", as the excitation is set), the
heater always as its range's full-scale current, its output and the power it puts into the
heater resistor, temperatures in mK below 1 K.
"""

from __future__ import annotations

import math
import time

#: the Lake Shore 372/370 sample-heater ranges, full-scale current in A (372 manual, HTRSET /
#: RANGE; the 370's table is the same); the output percentage is of this current
HEATER_RANGES_A = (0.0, 31.6e-6, 100e-6, 316e-6, 1e-3, 3.16e-3, 10e-3, 31.6e-3, 100e-3)
_PREFIXES = [(1e-15, "f"), (1e-12, "p"), (1e-9, "n"), (1e-6, "µ"), (1e-3, "m"), (1.0, ""),
             (1e3, "k"), (1e6, "M"), (1e9, "G")]


def si(value: float | None, unit: str, digits: int = 4) -> str:
    """A value with an SI prefix: 3.2e-6 V → '3.2 µV'; '—' when unknown."""
    if value is None or not math.isfinite(value):
        return "—"
    if value == 0:
        return f"0 {unit}"
    for scale, prefix in reversed(_PREFIXES):
        if abs(value) >= scale:
            return f"{value / scale:.{digits}g} {prefix}{unit}"
    return f"{value / 1e-15:.{digits}g} f{unit}"


def current(current_A: float | None) -> str:
    """Every current the GUI shows: '0.500 nA'."""
    if current_A is None or not math.isfinite(current_A):
        return "—"
    return f"{current_A * 1e9:.3f} nA"


def temperature(T_K: float | None) -> str:
    """'114.2 mK' below 1 K, '1.234 K' above."""
    if T_K is None or not math.isfinite(T_K):
        return "—"
    return f"{T_K * 1e3:.4g} mK" if abs(T_K) < 1.0 else f"{T_K:.4g} K"


def heater(range_index: int, percent: float, resistance_ohm: float) -> str:
    """'range 7 (31.6 mA): 4.0 % = 1.26 mA, 191 µW' — P = I²R into the heater resistor."""
    if range_index <= 0 or range_index >= len(HEATER_RANGES_A):
        return "off (range 0)" if range_index == 0 else f"range {range_index}"
    full_A = HEATER_RANGES_A[range_index]
    I = percent / 100.0 * full_A
    return (f"range {range_index} ({si(full_A, 'A', 3)}): {percent:.1f} % = {si(I, 'A', 3)}, "
            f"{si(I * I * resistance_ohm, 'W', 3)}")


def clock(epoch_s: float) -> str:
    """Local time of day, 'HH:MM:SS'."""
    return time.strftime("%H:%M:%S", time.localtime(epoch_s)) if math.isfinite(epoch_s) \
        else "—"


def stamp(lab_s: float, wall_s: float) -> str:
    """A log line's times: the run's (lab) clock, and the wall clock when it differs (a
    simulated run faster than real time); one time when they agree (hardware)."""
    if not math.isfinite(lab_s):
        return clock(wall_s)
    if not math.isfinite(wall_s) or abs(lab_s - wall_s) < 1.0:
        return clock(lab_s)
    return f"lab {clock(lab_s)} · wall {clock(wall_s)}"
