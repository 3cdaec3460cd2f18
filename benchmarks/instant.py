"""Instruments that answer instantly, for timing cryolab's own per-point work.

The stand-ins return fixed readings with the shapes the real drivers return, so the real
Acquisition, Runner and writer run unchanged around them.
"""

from __future__ import annotations

from types import SimpleNamespace

from cryolab.station import load_station
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


class InstantMagnet:
    field_Oe = 300.0
    magnet_state = MagnetState.HOLDING


class InstantStation:
    """Enough of cryolab.station.Station for Acquisition and Runner.point()."""

    def __init__(self) -> None:
        self.config = load_station()
        self.lockin = InstantLockin()
        self.magnet = InstantMagnet()
        self.bias = SimpleNamespace(bias_resistor_ohm=1e9)
        self.width_over_length = self.config.sample.width_over_length

    def read_temperatures(self):
        return 0.1, 0.1005, 5000.0
