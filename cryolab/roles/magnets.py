"""Magnet supply adapters: AMI 430, Oxford Mercury iPS and Cryomagnetics 4G on one role.

Each driver already speaks Oe and Oe/s and enforces the station's limits; the adapters map
each model's own state vocabulary onto :class:`MagnetStatus`. The iPS and the 4G say "holding"
both when they arrived and when they were stopped on the way, so their adapters compare the
field with the last target to tell HOLDING (arrived) from PAUSED.
"""

from __future__ import annotations

import math

from cryolab.roles.protocols import MagnetStatus
from cryolab.roles.upkeep import DriverUpkeep
from instruments.ami_430 import AMI430, MagnetState
from instruments.cryomagnetics_4g import Cryomagnetics4G
from instruments.cryomagnetics_4g import MagnetState as State4G
from instruments.oxford_mercury_ips import MagnetState as StateIPS
from instruments.oxford_mercury_ips import MercuryiPS

#: a field within this of the target has arrived (0.1 % or 0.5 Oe: the supplies' resolution)
ARRIVED_FRACTION, ARRIVED_OE = 1e-3, 0.5

_AMI430_STATES = {
    MagnetState.RAMPING: MagnetStatus.RAMPING,
    MagnetState.MANUAL_UP: MagnetStatus.RAMPING,
    MagnetState.MANUAL_DOWN: MagnetStatus.RAMPING,
    MagnetState.HOLDING: MagnetStatus.HOLDING,
    MagnetState.PAUSED: MagnetStatus.PAUSED,
    MagnetState.ZEROING: MagnetStatus.ZEROING,
    MagnetState.AT_ZERO: MagnetStatus.AT_ZERO,
    MagnetState.QUENCH: MagnetStatus.QUENCH,
}


class _MagnetAdapter(DriverUpkeep):
    model = ""
    driver: AMI430 | MercuryiPS | Cryomagnetics4G

    def __init__(self, name: str, driver: AMI430 | MercuryiPS | Cryomagnetics4G) -> None:
        self.name = name
        self.driver = driver
        self._target_Oe = math.nan

    def set_limits(self, max_field_Oe: float, max_rate_Oe_per_s: float, source: str) -> None:
        self.driver.set_limits(max_field_Oe, max_rate_Oe_per_s, source)

    @property
    def field_Oe(self) -> float:
        return float(self.driver.field_Oe)

    def start_ramp(self, target_Oe: float, rate_Oe_per_s: float) -> None:
        self.driver.start_ramp(target_Oe, rate_Oe_per_s)
        self._target_Oe = target_Oe

    def hold(self) -> None:
        self.driver.pause()

    def continue_ramp(self) -> None:
        self.driver.ramp()

    def zero(self) -> None:
        self.driver.zero()
        self._target_Oe = 0.0

    def _arrived(self) -> bool:
        if not math.isfinite(self._target_Oe):
            return True  # no target set by cryolab: the supply holds where it was left
        return abs(self.field_Oe - self._target_Oe) <= max(ARRIVED_OE,
                                                           ARRIVED_FRACTION * abs(self._target_Oe))


class AMI430Magnet(_MagnetAdapter):
    """AMI 430: ``STATE?`` says holding (at target), paused, ramping, zeroing (430 manual
    Table 4-5)."""

    model = "AMI430"
    driver: AMI430

    @property
    def status(self) -> MagnetStatus:
        return _AMI430_STATES.get(self.driver.magnet_state, MagnetStatus.OTHER)


class MercuryIPSMagnet(_MagnetAdapter):
    """Mercury iPS: ``ACTN`` HOLD / RTOS / RTOZ / CLMP; a quench is bit 8 of the alarm word,
    not an action."""

    model = "MercuryiPS"
    driver: MercuryiPS

    @property
    def status(self) -> MagnetStatus:
        if self.driver.quenched:
            return MagnetStatus.QUENCH
        state = self.driver.magnet_state
        if state is StateIPS.TO_SET:
            return MagnetStatus.RAMPING
        if state is StateIPS.TO_ZERO:
            field = self.field_Oe
            return MagnetStatus.AT_ZERO if abs(field) <= ARRIVED_OE else MagnetStatus.ZEROING
        if state is StateIPS.HOLD:
            return MagnetStatus.HOLDING if self._arrived() else MagnetStatus.PAUSED
        return MagnetStatus.OTHER  # clamped


class CM4GMagnet(_MagnetAdapter):
    """Cryomagnetics 4G: the status byte says sweeping or not (and quench); arrival at the
    sweep limit is read from the field."""

    model = "CM4G"
    driver: Cryomagnetics4G

    @property
    def status(self) -> MagnetStatus:
        state = self.driver.magnet_state
        if state is State4G.QUENCHED:
            return MagnetStatus.QUENCH
        if state is State4G.SWEEPING:
            return MagnetStatus.ZEROING if self._target_Oe == 0.0 else MagnetStatus.RAMPING
        if state is State4G.HOLDING:
            if self._target_Oe == 0.0 and abs(self.field_Oe) <= ARRIVED_OE:
                return MagnetStatus.AT_ZERO
            return MagnetStatus.HOLDING if self._arrived() else MagnetStatus.PAUSED
        return MagnetStatus.OTHER  # standby, power-module failure
