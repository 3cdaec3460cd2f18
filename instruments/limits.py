"""Strict validators for driver properties: refuse (never clip) and say which limit was hit.

pymeasure calls ``validator(value, values)`` before it writes anything, so raising here means
nothing reaches the instrument. ``values`` may be a :class:`Span` that remembers where the limit
came from (the instrument's own range or a station-file key), for messages a physicist can act on.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import SupportsFloat, SupportsIndex, TypeGuard

RELATIVE_SLACK = 1e-9


class LimitError(ValueError):
    """A request outside an instrument's or the station's limits; nothing was sent."""


class Span(tuple):
    """A (low, high) pair of limits that remembers where it came from."""

    source: str

    def __new__(cls, low: float, high: float, source: str = "") -> Span:
        if not low <= high:
            raise ValueError(f"limit span low {low} > high {high}")
        obj = super().__new__(cls, (float(low), float(high)))
        obj.source = source
        return obj

    @property
    def low(self) -> float:
        return self[0]

    @property
    def high(self) -> float:
        return self[1]


def _suffix(values: object) -> str:
    source = getattr(values, "source", "")
    return f" ({source})" if source else ""


def _as_float(quantity: str, value: object) -> float:
    if isinstance(value, bool):
        raise LimitError(f"{quantity}: {value!r} is not a number")
    try:
        return float(value)  # type: ignore[arg-type]  # any object: float() judges, errors caught
    except (TypeError, ValueError):
        raise LimitError(f"{quantity}: {value!r} is not a number") from None


def in_range(quantity: str, unit: str) -> Callable[[object, Sequence[float]], float]:
    """A validator accepting finite numbers within ``values = (low, high)``, inclusive."""

    def validator(value: object, values: Sequence[float]) -> float:
        v = _as_float(quantity, value)
        low, high = min(values), max(values)
        # a limit written in other units (0.1 nA → 1.0000000000000001e-10 A) must admit itself
        slack = RELATIVE_SLACK * max(abs(low), abs(high))
        if not math.isfinite(v) or not low - slack <= v <= high + slack:
            u = f" {unit}" if unit else ""
            raise LimitError(f"{quantity}: {v:g}{u} is outside the allowed "
                             f"{low + 0.0:g} to {high + 0.0:g}{u}{_suffix(values)}")
        return v

    return validator


def one_of(quantity: str, unit: str = "") -> Callable[[object, Sequence], object]:
    """A validator accepting exactly one of ``values`` (numbers compared as floats)."""

    def validator(value: object, values: Sequence) -> object:
        for allowed in values:
            if value == allowed or (isinstance(allowed, int | float) and not isinstance(value, bool)
                                    and _is_number(value) and float(value) == float(allowed)):
                return allowed
        listed = ", ".join(f"{a:g}" if isinstance(a, float) else str(a) for a in values)
        unit_text = f" {unit}" if unit else ""
        raise LimitError(f"{quantity}: {value!r}{unit_text} is not one of {listed}{unit_text}"
                         f"{_suffix(values)}")

    return validator


def _is_number(value: object) -> TypeGuard[str | bytes | SupportsFloat | SupportsIndex]:
    try:
        float(value)  # type: ignore[arg-type]  # any object: float() judges, errors caught
    except (TypeError, ValueError):
        return False
    return True
