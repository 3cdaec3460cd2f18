"""Bridge adapters: the Lake Shore 372 and 370 drivers on the Bridge role.

Both read resistances and (with a curve loaded) temperatures, and drive the sample heater in a
closed loop on the mixing-chamber thermometer. They differ in how: the 372 answers several
queries chained on one line (one exchange for both thermometers), the 370 only the last of
them; the 372 names its heater output, the 370 has one; the 372 has an over-temperature
interlock (TLIMIT), the 370 none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cryolab.roles.upkeep import DriverUpkeep
from instruments.limits import Span

if TYPE_CHECKING:  # the drivers load pymeasure: station validation reads RAMP_RATE_RANGE only
    from instruments.lakeshore_370 import LakeShore370
    from instruments.lakeshore_372 import LakeShore372


class _BridgeAdapter(DriverUpkeep):
    model = ""
    driver: LakeShore372 | LakeShore370
    #: the queries for (MC in kelvin, MC in ohms, sample in ohms)
    KELVIN, OHMS = "", ""

    def __init__(self, name: str, driver: LakeShore372 | LakeShore370) -> None:
        self.name = name
        self.driver = driver
        self.heater = driver.sample_heater
        self._queries: dict[tuple, list[str]] = {}

    def narrow(self, max_heater_range: int, max_setpoint_K: float, max_ramp_K_per_min: float,
               source: str) -> None:
        heater = self.heater
        heater.range_index_values = Span(0, max_heater_range, f"{source}max_heater_range")
        heater.setpoint_K_values = Span(0.0, max_setpoint_K, f"{source}temperature_K")
        heater.ramp_rate_limits = Span(0.0, max_ramp_K_per_min,
                                       f"{source}max_temperature_ramp_K_per_min")

    def read_thermometers(self, mc_channel: int | str, mc_in_kelvin: bool,
                          sample_channel: int | str) -> tuple[float, float]:
        key = (mc_channel, mc_in_kelvin, sample_channel)
        queries = self._queries.get(key)
        if queries is None:  # built once: this is on every point's path
            queries = [f"{self.KELVIN if mc_in_kelvin else self.OHMS} {mc_channel}",
                       f"{self.OHMS} {sample_channel}"]
            self._queries[key] = queries
        mc, sample = self.driver.read_values(queries)
        return mc, sample

    @property
    def heater_range(self) -> int:
        return int(self.heater.range_index)

    @heater_range.setter
    def heater_range(self, index: int) -> None:
        self.heater.range_index = index

    @property
    def setpoint_K(self) -> float:
        return float(self.heater.setpoint_K)

    @setpoint_K.setter
    def setpoint_K(self, value: float) -> None:
        self.heater.setpoint_K = value

    @property
    def heater_percent(self) -> float:
        return float(self.heater.output_percent)

    def ramp(self) -> tuple[bool, float]:
        on, rate = self.heater.ramp
        return bool(on), float(rate)

    def set_ramp(self, on: bool, rate_K_per_min: float) -> None:
        self.heater.set_ramp(on, rate_K_per_min)

    @property
    def ramping(self) -> bool:
        return bool(self.heater.ramping)

    def set_heater_resistance(self, ohm: float) -> None:
        self.heater.set_heater_resistance(ohm)

    def heaters_off(self) -> None:
        self.driver.all_heaters_off()


class LS372Bridge(_BridgeAdapter):
    """Lake Shore 372: ``KRDG?``/``SRDG?`` chained on one line (372 manual §6.3)."""

    model = "LS372"
    KELVIN, OHMS = "KRDG?", "SRDG?"
    driver: LakeShore372
    #: the setpoint ramp rates the 372 takes, K/min (the driver's LS372Heater.RAMP_RATE_RANGE)
    RAMP_RATE_RANGE = Span(0.001, 100.0, "372 range")

    def regulate_on(self, channel: int | str) -> None:
        mode = self.heater.output_mode
        if mode.mode != 5 or mode.input != str(channel):  # OUTMODE 5: closed loop (PID)
            self.heater.set_output_mode("closed_loop", channel)

    def set_temperature_limit(self, channel: int | str, limit_K: float) -> bool:
        self.driver.input(channel).temperature_limit_K = limit_K
        return True


class LS370Bridge(_BridgeAdapter):
    """Lake Shore 370: ``RDGK?``/``RDGR?`` one at a time (370 manual §6.2.5: only the last
    query of a line is answered), a single heater set up by ``CSET`` and ``CMODE``."""

    model = "LS370"
    KELVIN, OHMS = "RDGK?", "RDGR?"
    driver: LakeShore370
    #: the setpoint ramp rates the 370 takes, K/min (the driver's LS370Heater.RAMP_RATE_RANGE)
    RAMP_RATE_RANGE = Span(0.001, 10.0, "370 range")

    def regulate_on(self, channel: int | str) -> None:
        mode = self.heater.output_mode
        if mode.mode != "closed_loop" or mode.input != int(channel):
            self.heater.set_output_mode("closed_loop", int(channel))

    def set_temperature_limit(self, channel: int | str, limit_K: float) -> bool:
        return False  # the 370 has no over-temperature interlock of its own
