"""Fault injection for the simulated servers: the fault kinds, when they fire, and the one parser
of the ``INSTRUMENT:KIND[:rate=P|:at=S[,for=S]]`` spec that ``cryolab sim serve --fault`` takes.

Per instrument a reply can fail to come (``timeout``), arrive corrupted (``garbled``), or the
connection can be dropped (``disconnect``) — at a rate per query, at a simulated time (once, or
for a window: an outage), or on demand. A magnet supply's magnet can also ``quench`` at a
simulated time (``magnet:quench:at=3600``): the world's magnet goes normal then, whatever is
asked of whom (the lab schedules it in the world, not in the supply's server).
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

#: what a supply's server can do to its replies
LINK_FAULT_KINDS = ("timeout", "garbled", "disconnect")
#: what can happen to the magnet behind a supply (at a simulated time only)
MAGNET_FAULT_KINDS = ("quench",)
FAULT_KINDS = LINK_FAULT_KINDS + MAGNET_FAULT_KINDS


@dataclass
class FaultRule:
    """When to misbehave: ``rate`` per query, or from ``at_s`` (simulated seconds after the
    server started) once (``duration_s`` = 0) or for every query during ``duration_s``."""

    kind: str
    rate: float = 0.0
    at_s: float | None = None
    duration_s: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"fault kind {self.kind!r} is not one of {', '.join(FAULT_KINDS)}")
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"fault rate {self.rate} is not a probability")
        if self.kind in MAGNET_FAULT_KINDS and (self.at_s is None or self.duration_s):
            raise ValueError(f"a magnet {self.kind} happens once, at a time: give at=S only")


@dataclass(frozen=True)
class FaultEvent:
    """A fault the server injected: when (simulated time), what, and on which command."""

    time: float
    kind: str
    line: str


class FaultInjector:
    """Decides, query by query, whether to inject a fault."""

    def __init__(self, rules: list[FaultRule] | None, rng: np.random.Generator,
                 t0: float) -> None:
        self.rules = list(rules or [])
        self.rng = rng
        self.t0 = t0
        self._fired: set[int] = set()
        self._queued: collections.deque[str] = collections.deque()
        self._lock = threading.Lock()

    def inject(self, kind: str, count: int = 1) -> None:
        """Misbehave on the next ``count`` queries."""
        FaultRule(kind)  # validates the kind
        with self._lock:
            self._queued.extend([kind] * count)

    def clear(self) -> None:
        with self._lock:
            self._queued.clear()
            self.rules.clear()

    def next_fault(self, t: float) -> str | None:
        with self._lock:
            if self._queued:
                return self._queued.popleft()
            elapsed = t - self.t0
            for i, rule in enumerate(self.rules):
                if rule.at_s is not None and elapsed >= rule.at_s:
                    if rule.duration_s > 0:
                        if elapsed <= rule.at_s + rule.duration_s:
                            return rule.kind
                    elif i not in self._fired:
                        self._fired.add(i)
                        return rule.kind
                elif rule.at_s is None and rule.rate > 0 and self.rng.random() < rule.rate:
                    return rule.kind
            return None


def garble(reply: str) -> str:
    """A reply a noisy line might deliver: half of it, then junk (still one terminated line)."""
    return reply[: len(reply) // 2] + "\x15#?"


def parse_fault_spec(spec: str, instruments: Iterable[str]) -> tuple[str, FaultRule]:
    """``INSTRUMENT:KIND[:rate=P|:at=S[,for=S]]`` → (instrument, rule); ValueError if malformed.

    Examples: ``lockin:timeout:rate=0.01``, ``magnet:disconnect:at=3600``,
    ``bridge:timeout:at=600,for=120`` (an outage of 120 simulated seconds),
    ``magnet:quench:at=3600`` (the magnet quenches an hour in). ``instruments`` are the names
    the spec may use (a lab's instrument names); that a quench names a magnet supply is checked
    by the lab, which knows the models.
    """
    names = tuple(instruments)
    parts = spec.split(":")
    if len(parts) not in (2, 3) or parts[0] not in names or parts[1] not in FAULT_KINDS:
        raise ValueError(
            f"fault {spec!r}: expected INSTRUMENT:KIND[:rate=P|:at=S[,for=S]] with INSTRUMENT "
            f"one of {', '.join(names)} and KIND one of {', '.join(FAULT_KINDS)}")
    options: dict[str, float] = {}
    if len(parts) == 3:
        for item in parts[2].split(","):
            key, _, value = item.partition("=")
            try:
                options[key.strip()] = float(value)
            except ValueError:
                raise ValueError(f"fault {spec!r}: {item!r} is not key=number") from None
    if set(options) - {"rate", "at", "for"} or ("rate" in options) == ("at" in options) or \
            ("for" in options and "at" not in options):
        raise ValueError(f"fault {spec!r}: give either rate=P or at=S[,for=S]")
    try:
        rule = FaultRule(parts[1], rate=options.get("rate", 0.0), at_s=options.get("at"),
                         duration_s=options.get("for", 0.0))
    except ValueError as exc:
        raise ValueError(f"fault {spec!r}: {exc}") from None
    return parts[0], rule
