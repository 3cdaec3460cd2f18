"""Plot axes that label themselves readably: log axes with numbers at every scale, units in the
label, no "(x1e-06)".

pyqtgraph's log axis labels only whole decades (and minor ticks at 2…9 × 10ⁿ), so an axis
spanning less than a decade — ρ between 15 and 25 kΩ/□ at one field — can show no label at all,
and it writes 400 as "4·10²". Here an axis spanning less than a decade gets evenly spaced ticks
at 1, 2 or 5 × 10ⁿ steps, and every label is a plain number between 0.01 and 10 000 and
"m·10ⁿ" beyond. Units go into the label text; pyqtgraph's automatic SI prefix is off, because
on a log axis it turns into a "(x1e-06)" beside the units.
"""

from __future__ import annotations

import itertools
import math

from cryolab.gui.qt import pg

_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
PIXELS_PER_TICK = 70  # a label every this many pixels or so


def number(value: float, digits: int = 3) -> str:
    """0.05, 400, 2.5·10⁴, 10⁻⁵: readable at any scale."""
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else ""
    rounded = float(f"{value:.{digits}g}")
    if 1e-2 <= abs(rounded) < 1e4:  # plain: as many decimals as the digits need, no exponent
        decimals = max(0, digits - 1 - math.floor(math.log10(abs(rounded))))
        text = f"{rounded:.{decimals}f}"
        return text.rstrip("0").rstrip(".") if "." in text else text
    exponent = math.floor(math.log10(abs(value)))
    mantissa = float(f"{value / 10**exponent:.{digits}g}")
    if abs(mantissa) >= 10:  # rounding carried into the next decade
        mantissa, exponent = mantissa / 10, exponent + 1
    power = f"10{str(exponent).translate(_SUPERSCRIPT)}"
    return power if mantissa == 1 else f"{mantissa:g}·{power}"


def nice_step(span: float, count: float) -> float:
    """The 1, 2 or 5 × 10ⁿ step that puts about ``count`` ticks on ``span``."""
    raw = span / max(count, 1.0)
    decade = 10 ** math.floor(math.log10(raw))
    return next(m * decade for m in (1, 2, 5, 10) if m * decade >= raw)


class LogAxis(pg.AxisItem):
    """An axis whose log mode labels every scale (see the module's note)."""

    def __init__(self, orientation: str, **kwargs) -> None:
        super().__init__(orientation, **kwargs)
        self.enableAutoSIPrefix(False)

    def logTickValues(self, minVal, maxVal, size, stdTicks):
        if maxVal - minVal >= 1.0:
            return super().logTickValues(minVal, maxVal, size, stdTicks)
        low, high = 10.0**minVal, 10.0**maxVal
        step = nice_step(high - low, size / PIXELS_PER_TICK)
        first = math.ceil(low / step - 1e-9)
        values = [(first + i) * step for i in range(int((high - low) / step) + 2)]
        values = [v for v in values if low <= v <= high and v > 0]
        return [(None, [math.log10(v) for v in values])]

    def logTickStrings(self, values, scale, spacing):
        reals = sorted(10.0 ** v * scale for v in values)
        steps = [b - a for a, b in itertools.pairwise(reals) if b > a]
        digits = 2
        if steps:  # enough digits to tell neighbouring labels apart
            digits = max(2, math.ceil(math.log10(max(abs(r) for r in reals) / min(steps))) + 1)
        return [number(10.0 ** v * scale, min(digits, 6)) for v in values]


def plain_axis(orientation: str) -> pg.AxisItem:
    """A linear axis with the units in its label and no automatic SI prefix."""
    axis = pg.AxisItem(orientation)
    axis.enableAutoSIPrefix(False)
    return axis
