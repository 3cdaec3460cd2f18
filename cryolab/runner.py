"""The runner: executes a plan on the clock, emits events, pauses, resumes, aborts safely.

Every wait goes through the clock and can be interrupted by pause or abort. On abort or failure
the instruments go to the station's safe state (heater, magnet, excitation) and the run ends
with that status; subscribers (the writer above all) record what happened. Subscribers run in
the runner's thread and must be quick; a subscriber that raises stops the run safely.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import deque
from collections.abc import Callable, Iterable

from cryolab.clock import Clock
from cryolab.diskspace import DiskSpaceError
from cryolab.events import (
    Event,
    FaultOccurred,
    InstrumentStatus,
    Note,
    PointTaken,
    RunEnded,
    RunStarted,
    RunStateChanged,
    StepEnded,
    StepStarted,
    Subscriber,
)
from cryolab.guard import FaultReport, InstrumentDownError
from cryolab.measurement import COLUMN, RC_TARGET, Acquisition, Flag
from cryolab.sequence import (
    MIN_TEMPERATURE_RATE_K_PER_MIN,
    Cooldown,
    Hold,
    LinearityCheck,
    Measure,
    PlannedStep,
    RampTemperature,
    Sequence,
    SetExcitation,
    SetField,
    Step,
    approach_duration_s,
    default_field_rate,
    make_plan,
    ramp_duration_s,
)
from cryolab.station import Station
from cryolab.storage import StorageError
from instruments.ami_430 import MagnetState

log = logging.getLogger(__name__)

STABLE_FRACTION = 0.02  # a ramp's start and end count as reached within ±2 %
STABLE_WINDOW_S = 60.0
MAX_SLOWDOWNS = 3  # a ramp is halved at most this often (down to 1/8 of its rate)
QUENCH_CHECK_EVERY = 10  # points between magnet state checks outside field steps


class RunAbortedError(Exception):
    """Raised inside the runner's waits when an abort was requested."""


class QuenchError(RuntimeError):
    """The magnet quenched: the sequence stops."""


class OverTemperatureError(RuntimeError):
    """The mixing chamber went above the station's temperature limit: heaters off, stop."""


#: failures the runner foresees; anything else is a bug and logged with its traceback
STOPPING_ERRORS = (QuenchError, OverTemperatureError, InstrumentDownError, DiskSpaceError,
                   StorageError)

#: the mixing chamber may overshoot the station's highest temperature by this much before the
#: runner switches the heaters off (the 372's own TLIMIT interlock is set 10 % above)
OVER_TEMPERATURE_MARGIN = 1.05
_T_MC = COLUMN["T_mc_K"]


class Runner:
    """Runs the plan of a sequence on a connected station."""

    def __init__(self, station: Station, sequence: Sequence, clock: Clock,
                 subscribers: Iterable[Subscriber] = (), start_index: int = 0,
                 meta: dict | None = None,
                 interlocks: Iterable[Callable[[tuple], None]] = ()) -> None:
        self.station = station
        self._heater_off_above_K = OVER_TEMPERATURE_MARGIN * station.config.limits.temperature_K[1]
        self.sequence = sequence
        self.settings = sequence.settings
        self.clock = clock
        self.plan = make_plan(sequence, station.config)
        self._default_field_rate = default_field_rate(sequence.settings, station.config)
        self.start_index = start_index
        self.meta = meta or {}
        self.acq = Acquisition(station, self.settings, clock)
        self.subscribers: list[Subscriber] = list(subscribers)
        #: per-point checks that raise to stop the run safely (disk space, …)
        self.interlocks = list(interlocks)
        self._wake = threading.Event()
        self._pause = threading.Event()
        self._abort = threading.Event()
        self._abort_reason = ""
        self.step_index: int | None = None
        self.state = "idle"
        self.end_reason = ""
        self._points_since_check = 0
        self._auto_frequency = False  # set by an excitation with frequency_Hz: auto
        self._fixed_tau: float | None = None  # a time constant the sequence fixed
        self._in_safe_state = False
        self._paused_s = 0.0  # clock time spent paused, left out of every timeout
        self.faults = station.config.faults
        station.guard(self.faults.retries, self._on_fault, self._on_down)

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
        self.note(f"{reason} after {report.attempt - 1} reconnects: sequence held, waiting up "
                  f"to {grace:g} s for it", "error")
        start = self.clock.now()
        interval = min(max(grace / 20.0, 1.0), 30.0)
        while True:
            self.sleep(interval)
            if probe():
                self.state = "running"
                self.emit(RunStateChanged(self.clock.now(), "running"))
                self.note(f"{report.instrument} answers again after "
                          f"{self.clock.now() - start:.0f} s: sequence continues", "warning")
                return
            if self.clock.now() - start >= grace:
                raise InstrumentDownError(f"{report.instrument} did not answer for {grace:g} s "
                                          f"({report.kind})")

    # ------------------------------------------------------------------ waiting
    def sleep(self, duration_s: float) -> None:
        """Wait on the clock; abort raises, pause holds here until resumed."""
        if self.clock.wait(duration_s, self._wake):
            self._wake.clear()
            self._check_interrupts()

    def _check_interrupts(self) -> None:
        if self._abort.is_set():
            raise RunAbortedError(self._abort_reason)
        if self._pause.is_set():
            self._hold_paused()

    def active_time(self) -> float:
        """The clock minus the time spent paused: timeouts count only time spent working."""
        return self.clock.now() - self._paused_s

    def _hold_paused(self) -> None:
        """Freeze what moves (magnet ramp, temperature ramp) until resume or abort."""
        heater, magnet = self.station.bridge.sample_heater, self.station.magnet
        moving = magnet.magnet_state.is_moving
        if moving:
            magnet.pause()
        ramp_on, rate = heater.ramp
        target = heater.setpoint_K
        T_now, _, _ = self.station.read_temperatures()
        if ramp_on:
            heater.set_ramp(False, rate)
            heater.setpoint_K = self._clip_setpoint(T_now)  # hold where the fridge is
        self.state = "paused"
        self.emit(RunStateChanged(self.clock.now(), "paused"))
        self.note("paused" + (": magnet ramp held" if moving else "")
                  + (f", temperature ramp held at {T_now:.4g} K" if ramp_on else ""))
        paused_at = self.clock.now()
        while self._pause.is_set() and not self._abort.is_set():
            self._wake.wait(0.2)  # wall time: a paused virtual clock must not run away
            self._wake.clear()
        self._paused_s += self.clock.now() - paused_at
        if self._abort.is_set():
            raise RunAbortedError(self._abort_reason)
        if ramp_on:
            heater.set_ramp(True, rate)
            heater.setpoint_K = target
        if moving:
            magnet.ramp()
        self.state = "running"
        self.emit(RunStateChanged(self.clock.now(), "running"))
        self.note("resumed")

    # ------------------------------------------------------------------ the run
    def run(self) -> str:
        """Run the plan from ``start_index``; return the final status."""
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
        except STOPPING_ERRORS as exc:  # foreseen: their message is written for people
            status, reason = "failed", str(exc)
            log.error("run failed: %s", exc)
        except Exception as exc:  # any failure must end in the safe state
            status, reason = "failed", f"{type(exc).__name__}: {exc}"
            log.exception("run failed")
        if status != "completed":
            self.note(f"run {status}: {reason}; going to the safe state",
                      "warning" if status == "aborted" else "error")
            self.safe_state()
        self.state = status
        self.end_reason = reason
        self.step_index = None
        self.emit(RunEnded(self.clock.now(), status, reason))
        return status

    def _run_step(self, planned: PlannedStep) -> None:
        self.step_index = planned.index
        self.emit(StepStarted(self.clock.now(), planned))
        if self._auto_frequency and planned.kind in ("ramp_temperature", "hold", "measure",
                                                     "cooldown"):
            self._retune_frequency(only_if_needed=False)
        handler: Callable[[Step], dict] = getattr(self, f"_do_{planned.kind}")
        try:
            results = handler(planned.step)
        except RunAbortedError:
            self.emit(StepEnded(self.clock.now(), planned.index, "aborted"))
            raise
        except Exception as exc:
            self.emit(StepEnded(self.clock.now(), planned.index, "failed",
                                {"error": f"{type(exc).__name__}: {exc}"}))
            raise
        self.emit(StepEnded(self.clock.now(), planned.index, "completed", results or {}))

    def _prepare(self) -> None:
        """Bring cryolab's idea of the instruments in line with what they are set to, and
        restore the field and excitation the plan assumes before ``start_index`` (resume)."""
        heater = self.station.bridge.sample_heater
        bridge_config = self.station.config.instruments.bridge
        heater.set_heater_resistance(bridge_config.heater_resistance_ohm)
        # the 372's own interlock, a backstop for the runner's check: every heater off above it
        self.station.bridge.input(bridge_config.mc_channel).temperature_limit_K = \
            round(1.1 * self.station.config.limits.temperature_K[1], 3)
        self.acq.sync_from_instruments()
        self.acq.setpoint_K = heater.setpoint_K
        before = self.plan[: self.start_index]
        excitation = next((p.step for p in reversed(before)
                           if isinstance(p.step, SetExcitation)), None)
        if excitation is not None:
            self.note("restoring the excitation set before the resumed step")
            self._do_set_excitation(excitation)
        else:
            self._apply_excitation(self.settings.current_nA, self.settings.frequency_Hz,
                                   "auto", 24)
        field = next((p.step for p in reversed(before) if isinstance(p.step, SetField)), None)
        if field is not None:
            self.note(f"restoring the field of {field.field_Oe:g} Oe before the resumed step")
            self._ramp_field(field.field_Oe, field.rate_Oe_per_s or
                             self._default_field_rate, acquire=False)

    # ------------------------------------------------------------------ points
    def _retune_frequency(self, only_if_needed: bool) -> None:
        """'auto' frequency: follow the sample's resistance (RC corner of the line capacitance).

        Mid-step it only goes down, when ωR_2pt·C has doubled past the target; at a step start
        it may also go up again. Either way the points until the filter settles are flagged.
        """
        acq = self.acq
        if only_if_needed and acq.rc_product() <= 2 * RC_TARGET:
            return
        f = acq.auto_frequency()
        if abs(f - acq.frequency_Hz) <= 0.2 * acq.frequency_Hz and not only_if_needed:
            return
        old = acq.frequency_Hz
        acq.configure_lockin(f, self._fixed_tau, acq.slope_dB)
        self.note(f"frequency {old:g} → {f:g} Hz for R = {acq.last_R_ohm:.4g} Ω "
                  f"(line capacitance), τ = {acq.tau_s:g} s")

    def point(self, moving: bool = False) -> tuple:
        if self._auto_frequency:
            self._retune_frequency(only_if_needed=True)
        row = self.acq.take_point(moving)
        point = PointTaken(self.step_index if self.step_index is not None else -1, row)
        if row[_T_MC] > self._heater_off_above_K:
            self.station.bridge.all_heaters_off()
            self.emit(point)
            raise OverTemperatureError(
                f"T_MC = {row[_T_MC]:.4g} K is above the station's limit of "
                f"{self.station.config.limits.temperature_K[1]:g} K (limits.temperature_K): "
                "heaters switched off")
        self.emit(point)
        for interlock in self.interlocks:
            interlock(row)
        self._points_since_check += 1
        if self._points_since_check >= QUENCH_CHECK_EVERY:
            self._points_since_check = 0
            self._check_magnet()
        return row

    def _check_magnet(self) -> None:
        magnet = self.station.magnet
        state = magnet.magnet_state
        if state is MagnetState.QUENCH:
            raise QuenchError("the magnet quenched")
        self.acq.field_Oe = magnet.field_Oe
        if state.is_moving:  # not a field step's ramp (those flag every point themselves)
            self.acq.mark_unsettled(self.acq.settle_time_s())
        heater = self.station.bridge.sample_heater
        self.emit(InstrumentStatus(self.clock.now(), state.name.lower().replace("_", " "),
                                   heater.output_percent, heater.range_index))

    def acquire_until(self, done: Callable[[tuple], bool], timeout_s: float | None = None,
                      on_point: Callable[[tuple], None] | None = None) -> bool:
        """Take points at the pace of the time constant until ``done(row)``; False on timeout."""
        deadline = self.active_time() + timeout_s if timeout_s is not None else math.inf
        while True:
            row = self.point()
            if on_point is not None:
                on_point(row)
            if done(row):
                return True
            if self.active_time() >= deadline:
                return False
            self.sleep(self.acq.interval_s)

    # ------------------------------------------------------------------ steps
    def _ramp_field(self, target_Oe: float, rate_Oe_per_s: float, acquire: bool) -> None:
        """Ramp the magnet and wait until it holds; points while it moves are 'not settled'."""
        magnet = self.station.magnet
        magnet.start_ramp(target_Oe, rate_Oe_per_s)
        self.note(f"field to {target_Oe:g} Oe at {rate_Oe_per_s:g} Oe/s")
        distance = abs(target_Oe - self.acq.field_Oe) if math.isfinite(self.acq.field_Oe) \
            else 2 * self.station.config.limits.max_field_Oe
        allowed_s = 2 * distance / rate_Oe_per_s + 120.0
        deadline = self.active_time() + allowed_s
        while True:
            state = magnet.magnet_state
            self.acq.field_Oe = magnet.field_Oe
            if state is MagnetState.QUENCH:
                raise QuenchError(f"the magnet quenched ramping to {target_Oe:g} Oe")
            if state is MagnetState.HOLDING:
                # the lock-in's output still carries the ramp for a settle time from now
                self.acq.mark_unsettled(self.acq.settle_time_s())
                return
            if not state.is_moving and state is not MagnetState.PAUSED:
                raise RuntimeError(f"the magnet stopped in state {state.name} on its way to "
                                   f"{target_Oe:g} Oe")
            if self.active_time() > deadline:
                raise RuntimeError(f"the magnet did not reach {target_Oe:g} Oe within "
                                   f"{allowed_s:.0f} s")
            if acquire:
                self.point(moving=True)
            self.sleep(self.acq.interval_s)

    def _do_set_field(self, step: SetField) -> dict:
        self._ramp_field(step.field_Oe, step.rate_Oe_per_s or self._default_field_rate,
                         acquire=True)
        self.acq.mark_unsettled(max(step.settle_s, self.acq.settle_time_s()))
        end = self.clock.now() + step.settle_s
        self.acquire_until(lambda row: self.clock.now() >= end)
        return {"field_Oe": self.acq.field_Oe}

    def _do_set_excitation(self, step: SetExcitation) -> dict:
        tau = None if step.time_constant_s == "auto" else step.time_constant_s
        self._apply_excitation(step.current_nA, step.frequency_Hz, tau, step.slope_dB_per_oct)
        return {"current_A": self.acq.current_A, "frequency_Hz": self.acq.frequency_Hz,
                "time_constant_s": self.acq.tau_s}

    def _apply_excitation(self, current_nA: float, frequency: float | str,
                          tau_s: float | str | None, slope_dB: int) -> None:
        acq, lockin = self.acq, self.station.lockin
        tau = None if tau_s in (None, "auto") else float(tau_s)
        self._auto_frequency = frequency == "auto"
        self._fixed_tau = tau
        lockin.filter_synchronous = True  # removes the 2f ripple below 200 Hz
        if frequency == "auto" and not math.isfinite(acq.last_R_ohm):
            # the resistance is unknown: measure it once at a frequency safe for any sample
            low, high = self.station.config.limits.frequency_Hz
            acq.configure_lockin(min(max(low, 1.0), high), tau, slope_dB)
            self._set_current(current_nA * 1e-9)
            self._settle_and_range()
            # a probe reading that only sets last_R_ohm, like auto-range's readings: the
            # excitation changes right after it, so it is not kept as a data point
            acq.take_point()
        f = acq.auto_frequency() if frequency == "auto" else float(frequency)
        acq.configure_lockin(f, tau, slope_dB)
        self._set_current(current_nA * 1e-9)
        self._settle_and_range()
        self.note(f"excitation {acq.current_A * 1e9:.4g} nA at {acq.frequency_Hz:g} Hz, "
                  f"τ = {acq.tau_s:g} s, {acq.slope_dB} dB/oct")

    def _set_current(self, current_A: float) -> None:
        limited = self.acq.set_current(current_A)
        if limited:
            self.note(f"excitation limited: {limited}", "warning")

    def _settle_and_range(self) -> None:
        """Wait the settle time, then pick the sensitivity from a reading (and settle again)."""
        self.sleep(self.acq.settle_time_s())
        lockin = self.station.lockin
        new = lockin.auto_range(self.sleep)
        self.acq.sensitivity_V = new
        self.sleep(3.0 * self.acq.tau_s)

    def _regulate(self, top_K: float) -> None:
        """Closed loop on the MC thermometer with the heater range the station gives for top_K."""
        heater = self.station.bridge.sample_heater
        mc_channel = self.station.config.instruments.bridge.mc_channel
        mode = heater.output_mode
        if mode.mode != 5 or mode.input != str(mc_channel):
            heater.set_output_mode("closed_loop", mc_channel)
        heater.range_index = self.station.heater_range_for(top_K)

    def _set_setpoint(self, T_K: float) -> None:
        self.station.bridge.sample_heater.setpoint_K = T_K
        self.acq.setpoint_K = T_K

    def _stable(self, target_K: float | None, fraction: float, window_s: float
                ) -> Callable[[tuple], bool]:
        """A done() for acquire_until: T_MC (and T_sample) steady within ±fraction for window_s,
        and at the target if one is given."""
        history: deque[tuple[float, float, float]] = deque()

        def done(row: tuple) -> bool:
            t, T_mc, T_s = row[COLUMN["time_s"]], row[COLUMN["T_mc_K"]], \
                row[COLUMN["T_sample_K"]]
            history.append((t, T_mc, T_s))
            while history and history[0][0] < t - window_s:
                history.popleft()
            if target_K is not None and abs(T_mc - target_K) > fraction * target_K:
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

    def _clip_setpoint(self, T_K: float) -> float:
        """A setpoint the driver accepts: the fridge may sit a little above the top limit."""
        return min(max(T_K, 0.0), self.station.config.limits.temperature_K[1])

    def _do_ramp_temperature(self, step: RampTemperature) -> dict:
        heater = self.station.bridge.sample_heater
        max_rate = self.station.config.limits.max_temperature_ramp_K_per_min
        T_now, _, _ = self.station.read_temperatures()
        start = step.from_K if step.from_K is not None else T_now
        self._regulate(max(start, step.to_K))
        # the 372 ramps its setpoint from where the setpoint is: put it where the fridge is
        heater.set_ramp(False, max_rate)
        self._set_setpoint(self._clip_setpoint(T_now))
        if step.from_K is not None and abs(T_now - step.from_K) > STABLE_FRACTION * step.from_K:
            # even on the way to the start, never faster than the station allows
            self.note(f"going to the start temperature {step.from_K:g} K at {max_rate:g} K/min")
            heater.set_ramp(True, max_rate)
            self._set_setpoint(step.from_K)
            travel_s = approach_duration_s(T_now, step.from_K, max_rate)
            if not self.acquire_until(self._stable(step.from_K, STABLE_FRACTION,
                                                   STABLE_WINDOW_S),
                                      timeout_s=travel_s + 7200.0):
                self.note(f"did not settle at {step.from_K:g} K within 2 h; ramping anyway",
                          "warning")
            heater.set_ramp(False, max_rate)
            self._set_setpoint(step.from_K)
        T_now, _, _ = self.station.read_temperatures()

        auto = step.rate_K_per_min == "auto"
        percent = self.settings.auto_ramp_percent_per_min
        factor = 1.0  # halved each time the sample falls out of equilibrium

        def rate_at(T: float) -> float:
            base = percent / 100.0 * T if auto else float(step.rate_K_per_min)
            # the 372's finest rate below, the station's limit above: both validated to hold
            return min(max(base * factor, MIN_TEMPERATURE_RATE_K_PER_MIN), max_rate)

        planned_s = ramp_duration_s(start, step.to_K, step.rate_K_per_min, percent)
        timeout = step.timeout_s or 3 * planned_s + 3600.0
        rate = rate_at(T_now)
        heater.set_ramp(True, rate)
        self._set_setpoint(step.to_K)
        self.note(f"ramping to {step.to_K:g} K at {rate:.3g} K/min"
                  + (" (auto)" if auto else ""))
        state = {"streak": 0, "slowdowns": 0, "rate": rate, "rate_T": T_now, "n": 0,
                 "ramping": True}

        def on_point(row: tuple) -> None:
            nonlocal factor
            T = row[COLUMN["T_mc_K"]]
            state["streak"] = state["streak"] + 1 if row[COLUMN["flags"]] & \
                Flag.THERMAL_MISMATCH else 0
            if state["streak"] >= self.settings.slow_down_after_points and \
                    state["slowdowns"] < MAX_SLOWDOWNS and state["ramping"]:
                factor /= 2
                state["slowdowns"] += 1
                state["streak"] = 0
                state["rate"] = rate_at(T)
                heater.set_ramp(True, state["rate"])
                self.note(f"sample out of equilibrium for {self.settings.slow_down_after_points}"
                          f" points (> {self.settings.mismatch_threshold:.0%}): ramp slowed to "
                          f"{state['rate']:.3g} K/min", "warning")
            elif auto and state["ramping"] and abs(T - state["rate_T"]) > 0.1 * state["rate_T"]:
                state["rate"], state["rate_T"] = rate_at(T), T
                heater.set_ramp(True, state["rate"])
            state["n"] += 1
            if state["n"] % 10 == 0:
                state["ramping"] = heater.ramping

        def done(row: tuple) -> bool:
            T = row[COLUMN["T_mc_K"]]
            return not state["ramping"] and abs(T - step.to_K) <= STABLE_FRACTION * step.to_K

        reached = self.acquire_until(done, timeout_s=timeout, on_point=on_point)
        if not reached:
            self.note(f"the ramp did not reach {step.to_K:g} K within {timeout:g} s", "warning")
        return {"reached": reached, "final_rate_K_per_min": state["rate"],
                "slowdowns": state["slowdowns"]}

    def _do_hold(self, step: Hold) -> dict:
        if step.duration_s is not None:
            end = self.clock.now() + step.duration_s
            self.acquire_until(lambda row: self.clock.now() >= end)
            return {}
        stable = self.acquire_until(self._stable(None, step.tolerance, step.window_s),
                                    timeout_s=step.timeout_s)
        if not stable:
            self.note(f"temperatures not stable within {step.timeout_s:g} s", "warning")
        return {"stable": stable}

    def _do_measure(self, step: Measure) -> dict:
        count = [0]

        def done(row: tuple) -> bool:
            count[0] += 1
            return count[0] >= step.points

        self.acquire_until(done)
        return {}

    def _do_cooldown(self, step: Cooldown) -> dict:
        self.station.bridge.sample_heater.off()
        self.acq.setpoint_K = math.nan
        start = self.clock.now()
        self.note("cooldown: heater off" + (f", until {step.to_K:g} K" if step.to_K else ""))

        def done(row: tuple) -> bool:
            if step.to_K is not None and row[COLUMN["T_mc_K"]] <= step.to_K:
                return True
            return step.duration_s is not None and self.clock.now() - start >= step.duration_s

        reached = self.acquire_until(done, timeout_s=step.timeout_s)
        if not reached:
            goal = f"reach {step.to_K:g} K" if step.to_K is not None else \
                f"last {step.duration_s:g} s"
            self.note(f"cooldown did not {goal} within its timeout of {step.timeout_s:g} s",
                      "warning")
        return {"reached": reached}

    def _do_linearity_check(self, step: LinearityCheck) -> dict:
        acq = self.acq
        original_A = acq.requested_current_A  # the current asked for, not one derived from R
        rhos = []
        for current_nA in step.currents_nA:
            self._set_current(current_nA * 1e-9)
            self.sleep(acq.settle_time_s(0.999))
            values: list[float] = []

            def done(row: tuple, values: list[float] = values) -> bool:
                if not row[COLUMN["flags"]] & Flag.OVERLOAD:
                    values.append(row[COLUMN["rho_ohm_sq"]])
                return len(values) >= step.points

            self.acquire_until(done, timeout_s=step.points * acq.interval_s * 5)
            rhos.append(sum(values) / len(values) if values else math.nan)
        self._set_current(original_A)
        self.sleep(acq.settle_time_s(0.999))
        reference = rhos[0]
        deviation = max(abs(r / reference - 1.0) for r in rhos) if reference else math.inf
        linear = bool(deviation <= step.tolerance)
        summary = ", ".join(f"{c:g} nA: {r:.5g} Ω/□" for c, r in zip(step.currents_nA, rhos,
                                                                     strict=True))
        if linear:
            self.note(f"linear response ({summary}; max deviation {deviation:.2%})")
        else:
            self.note(f"linearity check failed: ρ differs by {deviation:.2%} (> "
                      f"{step.tolerance:.0%}) — self-heating? ({summary})", "warning")
        return {"currents_nA": list(step.currents_nA), "rho_ohm_sq": rhos,
                "max_deviation": deviation, "linear": linear}

    # ------------------------------------------------------------------ safety
    def safe_state(self) -> None:
        """The station's safe state. Each action is tried even if another fails (an instrument
        that does not answer is not waited for here), then read back: the note says what was
        confirmed and what was not, never only what was asked for."""
        self._in_safe_state = True
        safe = self.station.config.safe_state
        st = self.station
        actions: list[tuple[str, str, str, Callable[[], object], Callable[[], str | None]]] = []
        if safe.heater == "off":
            actions.append(("bridge", "heaters off", "heaters off", st.bridge.all_heaters_off,
                            self._heater_is_off))
        if safe.magnet == "zero":
            actions.append(("magnet", "magnet to zero", "zeroing", st.magnet.zero,
                            lambda: self._magnet_in(MagnetState.ZEROING, MagnetState.AT_ZERO)))
        else:
            actions.append(("magnet", "magnet held", "hold", st.magnet.pause,
                            lambda: self._magnet_in(MagnetState.PAUSED, MagnetState.HOLDING,
                                                    MagnetState.AT_ZERO)))
        if safe.excitation == "minimum":
            actions.append(("lockin", "excitation to minimum", "minimum excitation",
                            st.bias.set_minimum, self._excitation_is_minimum))
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
                self.note(f"safe state: {what} not confirmed: {problem}", "error")
        self.note("safe state: " + ", ".join(results), "info" if all_confirmed else "error")

    def _heater_is_off(self) -> str | None:
        heater = self.station.bridge.sample_heater
        return None if heater.range_index == 0 else \
            f"the sample heater still reads range {heater.range_index}"

    def _magnet_in(self, *states: MagnetState) -> str | None:
        state = self.station.magnet.magnet_state
        return None if state in states else f"the magnet reports {state.name.lower()}"

    def _excitation_is_minimum(self) -> str | None:
        bias = self.station.bias
        volts = float(self.station.lockin.sine_voltage)
        wanted = bias.voltage_for(bias.current_limits_A.low)
        return None if abs(volts - wanted) <= 0.01 * wanted + 0.002 else \
            f"the sine output reads {volts:g} V, not {wanted:g} V"
