"""How the runner moves the field, the temperature and the excitation: the policies the steps
call through their context, each on its role (never a model), each waiting on the run's clock.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from cryolab.events import InstrumentStatus
from cryolab.measurement import RC_TARGET
from cryolab.roles.protocols import MagnetStatus

if TYPE_CHECKING:
    from cryolab.runner.engine import Engine
    from cryolab.station import Station

QUENCH_CHECK_EVERY = 10  # points between magnet checks outside field steps


class QuenchError(RuntimeError):
    """The magnet quenched: the sequence stops."""


class FieldControl:
    """Ramps the magnet and knows where the field is; watches for a quench."""

    def __init__(self, engine: Engine, default_rate_Oe_per_s: float) -> None:
        self.engine = engine
        self.default_rate = default_rate_Oe_per_s
        self._points = 0
        self._frozen = False

    @property
    def magnet(self):  # the guarded magnet supply role
        return self.engine.station.magnet

    def ramp_to(self, target_Oe: float, rate_Oe_per_s: float, acquire: bool) -> None:
        """Ramp and wait until the supply holds at the target; every point taken on the way
        is 'not settled'."""
        engine, acq = self.engine, self.engine.acq
        self.magnet.start_ramp(target_Oe, rate_Oe_per_s)
        engine.note(f"field to {target_Oe:g} Oe at {rate_Oe_per_s:g} Oe/s")
        distance = abs(target_Oe - acq.field_Oe) if math.isfinite(acq.field_Oe) \
            else 2 * engine.limits.max_field_Oe
        allowed_s = 2 * distance / rate_Oe_per_s + 120.0
        deadline = engine.active_time() + allowed_s
        while True:
            status = self.magnet.status
            acq.field_Oe = self.magnet.field_Oe
            if status is MagnetStatus.QUENCH:
                raise QuenchError(f"the magnet quenched ramping to {target_Oe:g} Oe")
            if status is MagnetStatus.HOLDING:
                # the lock-in's output still carries the ramp for a settle time from now
                acq.mark_unsettled(acq.settle_time_s())
                return
            if not status.is_moving and status is not MagnetStatus.PAUSED:
                raise RuntimeError(f"the magnet stopped ({status.value}) on its way to "
                                   f"{target_Oe:g} Oe")
            if engine.active_time() > deadline:
                raise RuntimeError(f"the magnet did not reach {target_Oe:g} Oe within "
                                   f"{allowed_s:.0f} s")
            if acquire:
                engine.point(moving=True)
            engine.sleep(acq.interval_s)

    def watch(self) -> None:
        """Every few points outside a field step: a quench stops the run; the field and the
        heater are read for the displays."""
        self._points += 1
        if self._points < QUENCH_CHECK_EVERY:
            return
        self._points = 0
        engine, acq = self.engine, self.engine.acq
        status = self.magnet.status
        if status is MagnetStatus.QUENCH:
            raise QuenchError("the magnet quenched")
        acq.field_Oe = self.magnet.field_Oe
        if status.is_moving:  # not a field step's ramp (those flag every point themselves)
            acq.mark_unsettled(acq.settle_time_s())
        bridge = engine.station.bridge
        engine.emit(InstrumentStatus(engine.clock.now(), status.value, bridge.heater_percent,
                                     bridge.heater_range))

    def freeze(self) -> None:
        """Pausing: stop a moving magnet where it is."""
        self._frozen = self.magnet.status.is_moving
        if self._frozen:
            self.magnet.hold()

    def unfreeze(self) -> None:
        if self._frozen:
            self.magnet.continue_ramp()
        self._frozen = False


def regulate(station: Station, top_K: float) -> None:
    """Closed loop on the MC thermometer, with the heater range the station gives top_K (what
    a temperature step and the GUI's manual setpoint both do)."""
    station.bridge.regulate_on(station.config.bridge.mc_channel)
    station.bridge.heater_range = station.heater_range_for(top_K)


def hold_setpoint(station: Station, T_K: float) -> None:
    """A setpoint reached as fast as the station allows (its ramp limit), from where the
    fridge is: the GUI's manual setpoint."""
    max_rate = station.config.limits.max_temperature_ramp_K_per_min
    regulate(station, T_K)
    T_now = station.read_temperatures()[0]
    station.bridge.set_ramp(False, max_rate)
    station.bridge.setpoint_K = min(max(T_now, 0.0), station.config.limits.temperature_K[1])
    station.bridge.set_ramp(True, max_rate)
    station.bridge.setpoint_K = T_K


class TemperatureControl:
    """The sample heater's closed loop on the mixing-chamber thermometer."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._frozen: tuple[float, float] | None = None

    @property
    def bridge(self):  # the guarded bridge role
        return self.engine.station.bridge

    def T_mc_K(self) -> float:
        return self.engine.station.read_temperatures()[0]

    def regulate(self, top_K: float) -> None:
        regulate(self.engine.station, top_K)

    def clip(self, T_K: float) -> float:
        """A setpoint the driver accepts: the fridge may sit a little above the top limit."""
        return min(max(T_K, 0.0), self.engine.limits.temperature_K[1])

    def set_setpoint(self, T_K: float) -> None:
        T_K = self.clip(T_K)
        self.bridge.setpoint_K = T_K
        self.engine.acq.setpoint_K = T_K

    def set_ramp(self, on: bool, rate_K_per_min: float) -> None:
        self.bridge.set_ramp(on, rate_K_per_min)

    def ramping(self) -> bool:
        return bool(self.bridge.ramping)

    def heater_off(self) -> None:
        self.bridge.heater_range = 0
        self.engine.acq.setpoint_K = math.nan

    def freeze(self) -> None:
        """Pausing: a setpoint ramp in progress holds where the fridge is."""
        on, rate = self.bridge.ramp()
        self._frozen = None
        if on:
            self._frozen = (rate, self.bridge.setpoint_K)
            self.bridge.set_ramp(False, rate)
            self.bridge.setpoint_K = self.clip(self.T_mc_K())

    def unfreeze(self) -> None:
        if self._frozen is not None:
            rate, target = self._frozen
            self.bridge.set_ramp(True, rate)
            self.bridge.setpoint_K = target
        self._frozen = None

    @property
    def frozen_at(self) -> float | None:
        return None if self._frozen is None else self.bridge.setpoint_K


class ExcitationControl:
    """The bias current and the lock-ins' reference, time constant and sensitivity."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.auto_frequency = False  # set by an excitation with frequency_Hz: auto
        self.fixed_tau: float | None = None  # a time constant the sequence fixed

    def set_current(self, current_A: float) -> None:
        for limited in self.engine.acq.set_current(current_A):
            self.engine.note(f"excitation limited: {limited}", "warning")

    def apply(self, current_nA: float, frequency: float | str, tau_s: float | None,
              slope_dB: int) -> None:
        engine, acq = self.engine, self.engine.acq
        self.auto_frequency = frequency == "auto"
        self.fixed_tau = tau_s
        acq.follow_references()
        for state in acq.lockins.values():
            state.role.set_synchronous_filter(True)  # removes the 2f ripple below 200 Hz
        if frequency == "auto" and not math.isfinite(acq.last_R_ohm):
            # the resistance is unknown: measure it once at a frequency safe for any sample
            low, high = engine.limits.frequency_Hz
            acq.configure_lockins(min(max(low, 1.0), high), tau_s, slope_dB)
            self.set_current(current_nA * 1e-9)
            self.settle_and_range()
            # a probe reading that only sets the resistance estimate, like auto-range's: the
            # excitation changes right after it, so it is not kept as a data point
            acq.take_point(-1)
        f = acq.auto_frequency() if frequency == "auto" else float(frequency)
        acq.configure_lockins(f, tau_s, slope_dB)
        self.set_current(current_nA * 1e-9)
        self.settle_and_range()
        engine.note(f"excitation {acq.requested_current_A * 1e9:.4g} nA at "
                    f"{acq.frequency_Hz:g} Hz, τ = {acq.tau_s:g} s, {acq.slope_dB} dB/oct")

    def settle_and_range(self) -> None:
        """Wait the settle time, then pick each lock-in's sensitivity from a reading (and
        settle again)."""
        engine, acq = self.engine, self.engine.acq
        engine.sleep(acq.settle_time_s())
        for state in acq.lockins.values():
            new = state.role.auto_range(engine.sleep)
            state.set_sensitivity(new)
        engine.sleep(3.0 * acq.tau_s)

    def retune(self, only_if_needed: bool) -> None:
        """'auto' frequency: follow the sample's resistance (RC corner of the line capacitance).

        Mid-step it only goes down, when ωR_2pt·C has doubled past the target; at a step start
        it may also go up again. Either way the points until the filter settles are flagged.
        """
        acq = self.engine.acq
        if only_if_needed and acq.rc_product() <= 2 * RC_TARGET:
            return
        f = acq.auto_frequency()
        if abs(f - acq.frequency_Hz) <= 0.2 * acq.frequency_Hz and not only_if_needed:
            return
        old = acq.frequency_Hz
        acq.configure_lockins(f, self.fixed_tau, acq.slope_dB)
        self.engine.note(f"frequency {old:g} → {f:g} Hz for R = {acq.last_R_ohm:.4g} Ω "
                         f"(line capacitance), τ = {acq.tau_s:g} s")
