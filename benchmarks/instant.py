"""Instruments that answer instantly, for timing cryolab's own per-point work.

The stand-ins are role objects (``cryolab.roles.protocols``) returning fixed readings. They sit
inside a real ``Station`` (so the fault guards and the RuO₂ calibration of the sample
thermometer run), and the real Acquisition, Runner and writer run unchanged around them.
"""

from __future__ import annotations

from cryolab.roles.protocols import LockinReading, MagnetStatus
from cryolab.station import Station, load_station, parse_calibrations, read_calibrations
from instruments.limits import Span


class _Instant:
    model = "instant"

    def __init__(self, name: str) -> None:
        self.name = name

    def identify(self) -> str:
        return f"instant {self.name}"

    def reconnect(self) -> None: ...

    def confirm(self) -> None: ...

    def close(self) -> None: ...


class InstantLockIn(_Instant):
    time_constants_s = (0.1, 0.3, 1.0, 3.0, 10.0)
    sensitivities_V = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2)
    sine_limits_V = Span(0.004, 5.0, "instant lock-in")
    frequency_Hz = 6.93
    time_constant_s = 1.0
    slope_dB_per_oct = 24
    sensitivity_V = 1e-4
    sine_V = 0.5
    _reading = LockinReading(2.5e-5, -1.0e-8, 2.5e-5, -0.02, False)

    def read(self) -> LockinReading:
        return self._reading

    def set_synchronous_filter(self, on: bool) -> None: ...

    def set_reference(self, external: bool) -> None: ...

    def auto_range(self, wait) -> float:
        return self.sensitivity_V


class InstantBridge(_Instant):
    """Answers the MC thermometer in kelvin and the sample RuO₂ in ohms: both at 100 mK, so
    the points are valid and the live fitter takes each one."""

    heater_range = 5
    setpoint_K = 0.1
    heater_percent = 3.0
    ramping = False

    def __init__(self, name: str, sample_ohm: float) -> None:
        super().__init__(name)
        self._values = (0.1, sample_ohm)

    def read_thermometers(self, mc_channel, mc_in_kelvin, sample_channel):
        return self._values

    def regulate_on(self, channel) -> None: ...

    def ramp(self) -> tuple[bool, float]:
        return False, 0.0

    def set_ramp(self, on: bool, rate_K_per_min: float) -> None: ...

    def set_heater_resistance(self, ohm: float) -> None: ...

    def heaters_off(self) -> None: ...

    def set_temperature_limit(self, channel, limit_K: float) -> bool:
        return False


class InstantMagnet(_Instant):
    field_Oe = 300.0
    status = MagnetStatus.HOLDING

    def set_limits(self, max_field_Oe: float, max_rate_Oe_per_s: float, source: str) -> None:
        ...

    def start_ramp(self, target_Oe: float, rate_Oe_per_s: float) -> None: ...

    def hold(self) -> None: ...

    def continue_ramp(self) -> None: ...

    def zero(self) -> None: ...


def InstantStation() -> Station:
    """A real Station around the instant instruments, with the default station's calibration."""
    config = load_station()
    curves = parse_calibrations(config, read_calibrations(config))
    instruments = {name: InstantLockIn(name) for name in config.names_of("lockin")}
    instruments[config.bridge_name] = InstantBridge(
        config.bridge_name, float(curves["sample"].resistance_ohm(0.1)))
    instruments[config.magnet_name] = InstantMagnet(config.magnet_name)
    return Station(config, instruments, curves)
