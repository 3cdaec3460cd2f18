"""Instrument faults: classify them, retry with back-off and a reconnect, report every one.

Every call the runner makes on a driver goes through a guard (a transparent proxy around the
driver and its channels). A timeout, a garbled reply or a dropped connection is retried after a
short back-off and a reconnect — reopening the session discards half-read or late replies,
which is what restores the one-reply-per-query rhythm. When the retries are used up, the
guard hands the fault to ``on_down``, which holds the sequence where it is until the instrument
answers again (then the call is retried) or gives up (it raises). A limit refusal
(:class:`~instruments.limits.LimitError`) is never a fault: it is raised before anything is
sent and passes straight through.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from instruments.limits import LimitError

log = logging.getLogger(__name__)


class InstrumentDownError(RuntimeError):
    """An instrument stayed unreachable for longer than the station allows."""


def classify(exc: BaseException) -> str | None:
    """The fault an exception means ('timeout', 'garbled', 'disconnected'), or None if it is
    not a communication fault (a limit refusal, a programming error, …)."""
    if isinstance(exc, LimitError):
        return None
    # imported here: a station file is validated (cryolab check) without loading pyvisa
    from pyvisa import constants as visa_constants
    from pyvisa.errors import VisaIOError

    if isinstance(exc, VisaIOError):
        if exc.error_code == visa_constants.StatusCode.error_timeout:
            return "timeout"
        return "disconnected"
    if isinstance(exc, ConnectionError | OSError):
        return "disconnected"
    if isinstance(exc, ValueError | IndexError):  # a reply that does not parse
        return "garbled"
    return None


@dataclass(frozen=True)
class FaultReport:
    instrument: str
    kind: str
    detail: str
    attempt: int  # 1 = the first failure of this call
    action: str  # "retry", "down", "recovered", "confirm" (a confirmation before a clock jump)


OnFault = Callable[[FaultReport], None]
#: blocks until the instrument answers (returns) or the station's grace time ends (raises)
OnDown = Callable[[FaultReport, Callable[[], bool]], None]


class Guard:
    """The retry policy for one instrument."""

    def __init__(self, name: str, instrument: Any, retries: int, on_fault: OnFault,
                 on_down: OnDown, backoff_s: float = 0.05) -> None:
        _channel_type()
        self.name = name
        self.instrument = instrument
        self.retries = retries
        self.on_fault = on_fault
        self.on_down = on_down
        self.backoff_s = backoff_s

    def call(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except Exception as exc:
            return self.recover(exc, func, args, kwargs)

    def recover(self, first: Exception, func: Callable[..., Any], args: tuple, kwargs: dict
                ) -> Any:
        """After ``func`` raised ``first``: retry with back-off and a reconnect, hold while the
        instrument is down, report every step; a non-communication error is re-raised."""
        attempt, exc = 0, first
        while True:
            kind = classify(exc)
            if kind is None:
                raise exc
            attempt += 1
            detail = f"{type(exc).__name__}: {exc}"[:300]
            if attempt <= self.retries:
                self.on_fault(FaultReport(self.name, kind, detail, attempt, "retry"))
                # a wall-clock pause: a real instrument recovers in real time
                time.sleep(min(self.backoff_s * 2 ** (attempt - 1), 1.0))
                self.reconnect()
            else:
                report = FaultReport(self.name, kind, detail, attempt, "down")
                self.on_fault(report)
                self.on_down(report, self.probe)  # returns once the instrument answers
                self.on_fault(FaultReport(self.name, kind, "answers again", attempt,
                                          "recovered"))
                attempt = 0
            try:
                return func(*args, **kwargs)
            except Exception as again:
                exc = again

    def report(self, exc: BaseException, action: str) -> bool:
        """Record a fault met outside call() (confirming writes) and reconnect; False if the
        exception is not a communication fault."""
        kind = classify(exc)
        if kind is None:
            return False
        self.on_fault(FaultReport(self.name, kind, f"{type(exc).__name__}: {exc}"[:300], 1,
                                  action))
        self.reconnect()
        return True

    def reconnect(self) -> bool:
        try:
            self.instrument.reconnect()
            return True
        except Exception as exc:  # a reconnect that fails is part of the same fault
            log.debug("%s: reconnect failed: %s", self.name, exc)
            return False

    def probe(self) -> bool:
        """Reconnect and ask for the identification: does the instrument answer?"""
        if not self.reconnect():
            return False
        try:
            return bool(self.instrument.identify())
        except Exception as exc:
            if classify(exc) is None:
                raise
            return False


def _channel_type() -> type:
    """pymeasure's Channel, imported when the first guard is made (a guard is made only for a
    connected instrument; a station file is validated without loading pymeasure)."""
    global Channel
    if Channel is None:
        from pymeasure.instruments import Channel as PymeasureChannel

        Channel = PymeasureChannel
    return Channel


#: pymeasure's Channel once a guard exists (the guarded calls test results against it)
Channel: Any = None


class Guarded:
    """A transparent proxy: every property read, property write and method call on the driver
    (and on its channels) goes through the guard."""

    def __init__(self, target: Any, guard: Guard) -> None:
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_guard", guard)

    def __getattr__(self, name: str) -> Any:
        guard = self._guard
        value = guard.call(getattr, self._target, name)
        if isinstance(value, Channel):
            return Guarded(value, guard)
        if callable(value) and not isinstance(value, type):
            method = _GuardedMethod(value, guard)
            if inspect.ismethod(value) and value.__self__ is self._target:
                # a bound method of the driver never changes: keep it in the proxy's own
                # __dict__, so the per-point calls find it without coming through here
                object.__setattr__(self, name, method)
            return method
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        self._guard.call(setattr, self._target, name, value)

    @property
    def unguarded(self) -> Any:
        return self._target

    @property
    def guard(self) -> Guard:
        return self._guard


class _GuardedMethod:
    __slots__ = ("_func", "_guard")

    def __init__(self, func: Callable[..., Any], guard: Guard) -> None:
        self._func = func
        self._guard = guard

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:  # Guard.call inlined: this is on every point's path
            result = self._func(*args, **kwargs)
        except Exception as exc:
            result = self._guard.recover(exc, self._func, args, kwargs)
        return Guarded(result, self._guard) if isinstance(result, Channel) else result
