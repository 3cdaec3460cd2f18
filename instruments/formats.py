"""Number formats for instruments whose parsers are older than IEEE-488.2: plain decimals out,
number-and-unit replies in.

The Mercury iPS and the Cryomagnetics 4G print values as ``0.0300T`` or ``0.3000kG`` (the unit
glued to the number) and their manuals show only plain decimals in commands, so nothing sent to
them carries an exponent.
"""

from __future__ import annotations

import re

import numpy as np

#: decimals kept when a converted value is written: 1e-10 in T, kG, A or A/s lies far below any
#: supply's resolution, and it keeps float noise (0.30000000000000004) off the wire
PLAIN_DECIMALS = 10

_NUMBER_UNIT = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-z/%]*)\s*$")


def plain_decimal(value: float) -> str:
    """``value`` as a plain decimal without exponent: 0.03 → ``0.03``, 6e-05 → ``0.00006``."""
    value = round(float(value), PLAIN_DECIMALS) + 0.0  # + 0.0 turns −0.0 into 0.0
    if not np.isfinite(value):
        raise ValueError(f"{value!r} cannot be written as a plain decimal")
    return np.format_float_positional(value, trim="-")


def split_number_unit(reply: str) -> tuple[float, str]:
    """``'30.000mT'`` → ``(30.0, 'mT')``; raises ValueError on anything else (a garbled reply)."""
    match = _NUMBER_UNIT.match(reply)
    if match is None:
        raise ValueError(f"reply is not a number with a unit: {reply!r}")
    return float(match.group(1)), match.group(2)
