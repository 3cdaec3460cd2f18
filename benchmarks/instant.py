"""Instruments that answer instantly, for timing cryolab's own per-point work.

The stand-ins return fixed readings with the shapes the real drivers return. They sit inside a
real ``Station`` (so the fault guards, the bridge's one-line double reading and the RuO₂
calibration of the sample thermometer all run), and the real Acquisition, Runner and writer
run unchanged around them.
"""

from __future__ import annotations

from types import SimpleNamespace

from cryolab.calibration import load_340
from cryolab.station import Station, Thermometer, load_station
from instruments.ami_430 import MagnetState
from instruments.srs_sr830 import LIAStatus, LockinReading


class InstantLockin:
    frequency = 6.93
    time_constant = 1.0
    filter_slope = 24
    sensitivity = 1e-4
    sine_voltage = 0.5
    filter_synchronous = True
    _reading = (LockinReading(2.5e-5, -1.0e-8, 2.5e-5, -0.02), LIAStatus(0))

    def snap_with_status(self):
        return self._reading


class InstantBridge:
    """Answers the MC thermometer in kelvin and the sample RuO₂ in ohms, as the 372 does: both
    at 100 mK, so the points are valid and the live fitter takes each one."""

    sample_heater = SimpleNamespace(output_percent=3.0, range_index=5)

    def __init__(self, sample_ohm: float) -> None:
        self._values = (0.1, sample_ohm)

    def read_values(self, queries):
        return self._values


class InstantMagnet:
    field_Oe = 300.0
    magnet_state = MagnetState.HOLDING


def InstantStation() -> Station:
    """A real Station around the instant instruments, with the default station's calibration."""
    config = load_station()
    ins = config.instruments
    sample_cal = load_340(config.path(config.sample.thermometer_calibration))
    mc_cal = load_340(config.path(ins.bridge.mc_calibration)) if ins.bridge.mc_calibration \
        else None
    lockin = InstantLockin()
    bias = SimpleNamespace(bias_resistor_ohm=config.wiring.bias_resistor_ohm, source=lockin)
    bridge = InstantBridge(float(sample_cal.resistance_ohm(0.1)))
    return Station(config, lockin, bridge, InstantMagnet(), bias,
                   Thermometer(SimpleNamespace(id=ins.bridge.mc_channel), mc_cal),
                   Thermometer(SimpleNamespace(id=ins.bridge.sample_channel), sample_cal))
