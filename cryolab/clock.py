"""The clocks everything in cryolab waits on: wall time, scaled (faster than real) and virtual.

Every wait in cryolab (settle times, ramps, holds, point pacing) goes through one of these, never
through bare ``time.sleep``, so simulated time can run faster than the wall clock. Times are
Unix seconds; in simulated runs they start at the wall time of the start and advance ``speed``
times faster (docs/simulation.md §2).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol


class Clock(Protocol):
    """What the runner, the drivers' waits and the simulators need from a clock."""

    #: simulated seconds per wall second (``inf`` for the virtual clock)
    speed: float

    def now(self) -> float:
        """Current time, Unix seconds on this clock."""
        ...

    def wait(self, duration_s: float, interrupt: threading.Event | None = None) -> bool:
        """Wait ``duration_s`` on this clock; return True early if ``interrupt`` is set."""
        ...


class WallClock:
    """Real time: what a run on hardware uses."""

    speed = 1.0

    def now(self) -> float:
        return time.time()

    def wait(self, duration_s: float, interrupt: threading.Event | None = None) -> bool:
        if duration_s <= 0:
            return bool(interrupt and interrupt.is_set())
        if interrupt is None:
            time.sleep(duration_s)
            return False
        return interrupt.wait(duration_s)


class ScaledClock:
    """Simulated time running ``speed`` times faster than the wall clock.

    Shared with processes outside cryolab's control (``cryolab sim serve``, the GUI), which is
    why it cannot jump: other clients keep their own pace.
    """

    def __init__(self, speed: float, start: float | None = None) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be positive, got {speed!r}")
        self.speed = float(speed)
        #: the wall time at which this clock read ``sim_origin``: t = sim_origin + (w − it)·speed
        self.wall_origin = time.time()
        self._t0 = self.wall_origin if start is None else float(start)
        self.sim_origin = self._t0
        self._m0 = time.monotonic()

    def now(self) -> float:
        return self._t0 + (time.monotonic() - self._m0) * self.speed

    def wait(self, duration_s: float, interrupt: threading.Event | None = None) -> bool:
        wall_s = max(duration_s, 0.0) / self.speed
        if interrupt is None:
            if wall_s > 0:
                time.sleep(wall_s)
            return False
        return interrupt.wait(wall_s) if wall_s > 0 else interrupt.is_set()


class VirtualClock:
    """Simulated time that jumps straight to the next wake-up (``--speed max``).

    Only valid when one thread (the runner) does all the waiting and the simulators evaluate
    their physics lazily at ``now()``; a run is then as fast as the code allows and, with a
    seed, reproducible whatever else the machine is doing.
    """

    speed = float("inf")

    def __init__(self, start: float | None = None) -> None:
        self._t = time.time() if start is None else float(start)
        self._lock = threading.Lock()
        self._before_jump: list[Callable[[], None]] = []

    def before_jump(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` before every jump (e.g. to make sure instruments have caught up)."""
        self._before_jump.append(callback)

    def replace_before_jump(self, old: Callable[[], None], new: Callable[[], None]) -> bool:
        """Put ``new`` where ``old`` was (a run's guarded station in place of the bare one);
        False if ``old`` was not registered."""
        for i, callback in enumerate(self._before_jump):
            if callback == old:
                self._before_jump[i] = new
                return True
        return False

    def now(self) -> float:
        return self._t

    def wait(self, duration_s: float, interrupt: threading.Event | None = None) -> bool:
        if interrupt is not None and interrupt.is_set():
            return True
        if duration_s > 0:
            for callback in self._before_jump:
                callback()
            with self._lock:
                self._t += duration_s
        return bool(interrupt and interrupt.is_set())

