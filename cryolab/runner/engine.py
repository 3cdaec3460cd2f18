"""The engine: runs a plan on the clock, emits events, pauses, resumes, aborts safely.

The engine owns the run's state, its clock and waits, pause / resume / abort, the fault hold,
the per-point interlocks and the safe state; each step kind executes itself through the narrow
context the engine is (``cryolab.steps.base.StepContext``), moving the instruments through the
controls of ``cryolab.runner.controls`` — the way Bluesky's RunEngine runs plans. Every wait
goes through the clock and can be interrupted by pause or abort. On abort or failure the
instruments go to the station's safe state and the run ends with that status; subscribers (the
writer above all) record what happened. Subscribers run in the engine's thread and must be
quick; a subscriber that raises stops the run safely.
"""

from __future__ import annotations

import functools
import logging
import math
import threading
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from cryolab.clock import Clock, VirtualClock
from cryolab.events import (
    Alarm,
    AlarmKind,
    Event,
    FaultOccurred,
    HeatingFound,
    Note,
    RunEnded,
    RunStarted,
    RunStateChanged,
    StepEnded,
    StepStarted,
    SubscriberFunc,
)
from cryolab.guard import FaultReport, InstrumentDownError
from cryolab.measurement import Acquisition, Point
from cryolab.roles.protocols import MagnetStatus
from cryolab.runfile import StorageError
from cryolab.runfile.diskspace import DiskSpaceError
from cryolab.runner.controls import (
    ExcitationControl,
    FieldControl,
    QuenchError,
    TemperatureControl,
)
from cryolab.sequence import PlannedStep, Sequence, SetExcitation, SetField, default_field_rate
from cryolab.sequence import make_plan as _make_plan
from cryolab.station import Station

log = logging.getLogger(__name__)


class RunAbortedError(Exception):
    """Raised inside the engine's waits when an abort was requested."""


class OverTemperatureError(RuntimeError):
    """The mixing chamber went above the station's temperature limit: heaters off, stop."""


#: failures the engine foresees (their message is written for people), and the alarm each is
STOPPING_ERRORS: dict[type[BaseException], AlarmKind] = {
    QuenchError: "quench", OverTemperatureError: "over_temperature",
    InstrumentDownError: "instrument_down", DiskSpaceError: "disk_space_low",
    StorageError: "write_failed"}

#: the mixing chamber may overshoot the station's highest temperature by this much before the
#: engine switches the heaters off (the bridge's own interlock, where it has one, is 10 % above)
OVER_TEMPERATURE_MARGIN = 1.05


class Engine:
    """Runs the plan of a sequence on a connected station."""

    def __init__(self, station: Station, sequence: Sequence, clock: Clock,
                 subscribers: Iterable[SubscriberFunc] = (), start_index: int = 0,
                 meta: dict | None = None,
                 interlocks: Iterable[Callable[[Point], None]] = ()) -> None:
        config = station.config
        self.limits = config.limits
        self.faults = config.faults
        self.sequence = sequence
        self.settings = sequence.settings
        self.clock = clock
        self.plan = _make_plan(sequence, config)
        self.start_index = start_index
        self.meta = dict(meta or {})
        self.meta.setdefault("channels", [{"name": c.name, "kind": c.kind}
                                          for c in config.channel_specs()])
        #: the station as this run sees it: every call through a fault guard (the station
        #: itself is not changed, so whoever else holds it keeps the bare instruments)
        self.station = station.guarded(self.faults.retries, self._on_fault, self._on_down)
        self._bare_confirm = station.confirm_writes
        self.acq = Acquisition(self.station, self.settings, clock)
        self.field = FieldControl(self, default_field_rate(self.settings, config))
        self.temperature = TemperatureControl(self)
        self.excitation = ExcitationControl(self)
        self.subscribers: list[SubscriberFunc] = list(subscribers)
        #: per-point checks that raise to stop the run safely (disk space, …)
        self.interlocks = list(interlocks)
        self._heater_off_above_K = OVER_TEMPERATURE_MARGIN * self.limits.temperature_K[1]
        self._wake = threading.Event()
        self._pause = threading.Event()
        self._abort = threading.Event()
        self._abort_reason = ""
        self.step_index: int | None = None
        self.state = "idle"
        self.end_reason = ""
        self._in_safe_state = False
        self._paused_s = 0.0  # clock time spent paused, left out of every timeout

    # ------------------------------------------------------------------ control (any thread)
    def pause(self) -> None:
        self._pause.set()
        self._wake.set()

    def resume(self) -> None:
        self._pause.clear()
        self._wake.set()

    def abort(self, reason: str = "aborted by the user") -> None:
        self._abort_reason = reason
        self._abort.set()
        self._wake.set()

    @property
    def paused(self) -> bool:
        return self._pause.is_set()

    # ------------------------------------------------------------------ events
    def emit(self, event: Event) -> None:
        for subscriber in self.subscribers:
            subscriber(event)

    def note(self, text: str, level: str = "info") -> None:
        log.log({"info": logging.INFO, "warning": logging.WARNING}.get(level, logging.ERROR),
                text)
        self.emit(Note(self.clock.now(), self.step_index, level, text))

    def alarm(self, kind: AlarmKind, message: str) -> None:
        """Something that may need a person (notifications are routed by ``kind``); it is in
        the log too."""
        self.note(message, "warning" if kind == "instrument_back" else "error")
        self.emit(Alarm(self.clock.now(), self.step_index, kind, message))

    def flag_heating(self, source: str, power_W: float, T_K: float, reason: str) -> None:
        """From now on the path's points with I²R/T⁵ ≥ power_W/T_K⁵ are HEATED (events.
        HeatingFound); the writer marks the ones already taken."""
        self.acq.sources[source].heating_bound = power_W / T_K**5
        channels = tuple(p.spec.name for p in self.acq._plans if p.source.name == source)
        self.emit(HeatingFound(self.clock.now(), self.step_index, source, channels, power_W,
                               T_K, reason))

    # ------------------------------------------------------------------ instrument faults
    def _on_fault(self, report: FaultReport) -> None:
        """Every fault goes into the file; the next point is flagged as taken across it."""
        self.acq.fault_pending = True
        self.emit(FaultOccurred(self.clock.now(), self.step_index, report))
        if report.action == "retry":
            log.warning("%s: %s (attempt %d), reconnecting: %s", report.instrument,
                        report.kind, report.attempt, report.detail)
        elif report.action == "recovered":
            self.note(f"{report.instrument} answers again", "warning")

    def _on_down(self, report: FaultReport, probe: Callable[[], bool]) -> None:
        """Hold the sequence where it is until the instrument answers, or give up after the
        station's grace time (then the run ends in the safe state)."""
        grace = self.faults.grace_s
        if self._in_safe_state or grace <= 0:
            raise InstrumentDownError(f"{report.instrument} does not answer ({report.kind})")
        self.state = "waiting"
        reason = f"{report.instrument} not answering ({report.kind})"
        self.emit(RunStateChanged(self.clock.now(), "waiting", reason))
        self.alarm("instrument_down", f"{reason} after {report.attempt - 1} reconnects: "
                   f"sequence held, waiting up to {grace:g} s for it")
        start = self.clock.now()
        interval = min(max(grace / 20.0, 1.0), 30.0)
        while True:
            self.sleep(interval)
            if probe():
                self.state = "running"
                self.emit(RunStateChanged(self.clock.now(), "running"))
                self.alarm("instrument_back", f"{report.instrument} answers again after "
                           f"{self.clock.now() - start:.0f} s: sequence continues")
                return
            if self.clock.now() - start >= grace:
                raise InstrumentDownError(f"{report.instrument} did not answer for {grace:g} s "
                                          f"({report.kind})")

    # ------------------------------------------------------------------ waiting
    def now(self) -> float:
        return self.clock.now()

    def sleep(self, duration_s: float) -> None:
        """Wait on the clock; abort raises, pause holds here until resumed."""
        if self.clock.wait(duration_s, self._wake):
            self._wake.clear()
            self._check_interrupts()

    def active_time(self) -> float:
        """The clock minus the time spent paused: timeouts count only time spent working."""
        return self.clock.now() - self._paused_s

    def _check_interrupts(self) -> None:
        if self._abort.is_set():
            raise RunAbortedError(self._abort_reason)
        if self._pause.is_set():
            self._hold_paused()

    def _hold_paused(self) -> None:
        """Freeze what moves (magnet ramp, temperature ramp) until resume or abort."""
        self.field.freeze()
        self.temperature.freeze()
        held_at = self.temperature.frozen_at
        self.state = "paused"
        self.emit(RunStateChanged(self.clock.now(), "paused"))
        self.note("paused" + (": magnet ramp held" if self.field._frozen else "")
                  + (f", temperature ramp held at {held_at:.4g} K"
                     if held_at is not None else ""))
        paused_at = self.clock.now()
        while self._pause.is_set() and not self._abort.is_set():
            self._wake.wait(0.2)  # wall time: a paused virtual clock must not run away
            self._wake.clear()
        self._paused_s += self.clock.now() - paused_at
        if self._abort.is_set():
            raise RunAbortedError(self._abort_reason)
        self.temperature.unfreeze()
        self.field.unfreeze()
        self.state = "running"
        self.emit(RunStateChanged(self.clock.now(), "running"))
        self.note("resumed")

    # ------------------------------------------------------------------ the run
    def run(self) -> str:
        """Run the plan from ``start_index``; return the final status."""
        # the writes confirmed before each clock jump go through the run's fault guards, so a
        # fault met there is reported and recorded like any other
        bare, guarded = self._bare_confirm, self.station.confirm_writes
        clock = self.clock if isinstance(self.clock, VirtualClock) else None
        swapped = clock is not None and clock.replace_before_jump(bare, guarded)
        try:
            return self._run()
        finally:
            if clock is not None and swapped:
                clock.replace_before_jump(guarded, bare)

    def _run(self) -> str:
        self.state = "running"
        self.emit(RunStarted(self.clock.now(), self.plan, self.start_index, self.meta))
        status, reason = "completed", ""
        for report in self.station.connect_faults:  # met while connecting, before any file
            self.emit(FaultOccurred(self.clock.now(), None, report))
        self.station.connect_faults.clear()
        try:
            self._prepare()
            for planned in self.plan[self.start_index:]:
                self._check_interrupts()
                self._run_step(planned)
        except RunAbortedError as exc:
            status, reason = "aborted", str(exc)
        except tuple(STOPPING_ERRORS) as exc:  # foreseen: their message is written for people
            status, reason = "failed", str(exc)
            log.error("run failed: %s", exc)
            kind = next(k for t, k in STOPPING_ERRORS.items() if isinstance(exc, t))
            self._alarm_quietly(kind, reason)
        except Exception as exc:  # any failure must end in the safe state
            status, reason = "failed", f"{type(exc).__name__}: {exc}"
            log.exception("run failed")
        if status != "completed":
            self._note_quietly(f"run {status}: {reason}; going to the safe state",
                               "warning" if status == "aborted" else "error")
            self.safe_state()
        self.state = status
        self.end_reason = reason
        self.step_index = None
        self.emit(RunEnded(self.clock.now(), status, reason))
        return status

    def _note_quietly(self, text: str, level: str) -> None:
        """A note on the way down: a subscriber that fails (the writer, after a write error)
        must not keep the safe state from running."""
        try:
            self.note(text, level)
        except Exception:
            log.exception("a subscriber failed on the way to the safe state")

    def _alarm_quietly(self, kind: AlarmKind, message: str) -> None:
        try:
            self.alarm(kind, message)
        except Exception:
            log.exception("a subscriber failed on the way to the safe state")

    def _run_step(self, planned: PlannedStep) -> None:
        self.step_index = planned.index
        self.emit(StepStarted(self.clock.now(), planned))
        step = planned.step
        if self.excitation.auto_frequency and step.retunes_frequency:
            self.excitation.retune(only_if_needed=False)
        try:
            results = step.execute(self)
        except RunAbortedError:
            self.emit(StepEnded(self.clock.now(), planned.index, "aborted"))
            raise
        except Exception as exc:
            try:
                self.emit(StepEnded(self.clock.now(), planned.index, "failed",
                                    {"error": f"{type(exc).__name__}: {exc}"}))
            except Exception:
                log.exception("recording the failed step failed")
            raise
        self.emit(StepEnded(self.clock.now(), planned.index, "completed", results or {}))

    def _prepare(self) -> None:
        """Bring the engine's idea of the instruments in line with what they are set to, and
        restore the field and excitation the plan assumes before ``start_index`` (resume)."""
        station, bridge = self.station, self.station.config.bridge
        station.bridge.set_heater_resistance(bridge.heater_resistance_ohm)
        # the bridge's own interlock, a backstop for the engine's check: every heater off
        station.bridge.set_temperature_limit(bridge.mc_channel,
                                             round(1.1 * self.limits.temperature_K[1], 3))
        self.acq.sync_from_instruments()
        self.acq.setpoint_K = station.bridge.setpoint_K
        before = self.plan[: self.start_index]
        excitation = next((p.step for p in reversed(before)
                           if isinstance(p.step, SetExcitation)), None)
        if excitation is not None:
            self.note("restoring the excitation set before the resumed step")
            excitation.execute(self)
        else:
            self.excitation.apply(self.settings.current_nA, self.settings.frequency_Hz, None,
                                  24)
        field = next((p.step for p in reversed(before) if isinstance(p.step, SetField)), None)
        if field is not None:
            self.note(f"restoring the field of {field.field_Oe:g} Oe before the resumed step")
            self.field.ramp_to(field.field_Oe, field.rate_Oe_per_s or self.field.default_rate,
                               acquire=False)

    # ------------------------------------------------------------------ points (the context)
    def point(self, moving: bool = False) -> Point:
        if self.excitation.auto_frequency:
            self.excitation.retune(only_if_needed=True)
        point = self.acq.take_point(self.step_index if self.step_index is not None else -1,
                                    moving)
        if point.T_mc_K > self._heater_off_above_K:
            self.station.bridge.heaters_off()
            self.emit(point)
            raise OverTemperatureError(
                f"T_MC = {point.T_mc_K:.4g} K is above the station's limit of "
                f"{self.limits.temperature_K[1]:g} K (limits.temperature_K): heaters switched "
                "off")
        self.emit(point)
        for interlock in self.interlocks:
            interlock(point)
        self.field.watch()
        return point

    def acquire_until(self, done: Callable[[Point], bool], timeout_s: float | None = None,
                      on_point: Callable[[Point], None] | None = None) -> bool:
        """Take points at the pace of the time constant until ``done(point)``; False on
        timeout."""
        deadline = self.active_time() + timeout_s if timeout_s is not None else math.inf
        while True:
            point = self.point()
            if on_point is not None:
                on_point(point)
            if done(point):
                return True
            if self.active_time() >= deadline:
                return False
            self.sleep(self.acq.interval_s)

    def stable(self, target_K: float | None, fraction: float, window_s: float
               ) -> Callable[[Point], bool]:
        """A done() for acquire_until: T_MC (and T_sample) steady within ±fraction for window_s,
        and at the target if one is given."""
        history: deque[tuple[float, float, float]] = deque()

        def done(point: Point) -> bool:
            t = point.time_s
            history.append((t, point.T_mc_K, point.T_sample_K))
            while history and history[0][0] < t - window_s:
                history.popleft()
            if target_K is not None and abs(point.T_mc_K - target_K) > fraction * target_K:
                return False
            if t - history[0][0] < 0.9 * window_s:
                return False
            for col in (1, 2):
                values = [h[col] for h in history]
                mean = sum(values) / len(values)
                if not (max(values) - min(values)) / 2 <= fraction * mean:
                    return False
            return True

        return done

    # ------------------------------------------------------------------ safety
    def safe_state(self) -> None:
        """The station's safe state. Each action is tried even if another fails (an instrument
        that does not answer is not waited for here), then read back: the note says what was
        confirmed and what was not, never only what was asked for."""
        self._in_safe_state = True
        safe = self.station.config.safe_state
        st = self.station
        config = st.config
        actions: list[tuple[str, str, str, Callable[[], object], Callable[[], str | None]]] = []
        if safe.heater == "off":
            actions.append((config.bridge_name, "heaters off", "heaters off",
                            st.bridge.heaters_off, self._heater_is_off))
        if safe.magnet == "zero":
            actions.append((config.magnet_name, "magnet to zero", "zeroing", st.magnet.zero,
                            lambda: self._magnet_in(MagnetStatus.ZEROING,
                                                    MagnetStatus.AT_ZERO)))
        else:
            actions.append((config.magnet_name, "magnet held", "hold", st.magnet.hold,
                            lambda: self._magnet_in(MagnetStatus.PAUSED, MagnetStatus.HOLDING,
                                                    MagnetStatus.AT_ZERO)))
        if safe.excitation == "minimum":
            for name, source in st.sources.items():
                actions.append((name, "excitation to minimum", "minimum excitation",
                                source.set_minimum,
                                functools.partial(self._excitation_is_minimum, source)))
        results, all_confirmed = [], True
        for instrument, name, what, do, confirm in actions:
            try:
                do()
                problem = confirm()
            except Exception as exc:  # keep going: the others still matter
                problem = f"{instrument} unreachable ({type(exc).__name__}: {exc})"[:200]
            if problem is None:
                results.append(f"{name} (confirmed)")
            else:
                all_confirmed = False
                results.append(f"{what} NOT confirmed")
                self._note_quietly(f"safe state: {what} not confirmed: {problem}", "error")
        self._note_quietly("safe state: " + ", ".join(results),
                           "info" if all_confirmed else "error")

    def _heater_is_off(self) -> str | None:
        heater_range = self.station.bridge.heater_range
        return None if heater_range == 0 else \
            f"the sample heater still reads range {heater_range}"

    def _magnet_in(self, *states: MagnetStatus) -> str | None:
        status = self.station.magnet.status
        return None if status in states else f"the magnet reports {status.value}"

    def _excitation_is_minimum(self, source: Any) -> str | None:
        volts = float(source.source.sine_V)
        wanted = source.voltage_for(source.current_limits_A.low)
        return None if abs(volts - wanted) <= 0.01 * wanted + 0.002 else \
            f"the sine output reads {volts:g} V, not {wanted:g} V"

