"""Lock-in adapters: the SR830 and the SR860/SR865 drivers on the LockIn role.

Each adapter is thin: names in the role's units (Hz, s, V, dB/oct), the model's own grids, the
overload state as one bool, and the station's limits narrowed inside the driver at connection.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from cryolab.roles.protocols import LockinReading
from cryolab.roles.upkeep import DriverUpkeep
from instruments.limits import Span

if TYPE_CHECKING:  # the drivers load pymeasure: station validation reads SINE_RANGE_V only
    from instruments.srs_sr830 import SR830
    from instruments.srs_sr860 import SR860


class _LockInAdapter(DriverUpkeep):
    """What the SR830 and SR860 adapters share (their drivers agree on these names)."""

    model = ""
    driver: SR830 | SR860

    def __init__(self, name: str, driver: SR830 | SR860) -> None:
        self.name = name
        self.driver = driver
        self.time_constants_s: Sequence[float] = tuple(driver.TIME_CONSTANTS)
        self.sensitivities_V: Sequence[float] = tuple(driver.SENSITIVITIES)
        self._sine_limits = self.SINE_RANGE_V

    SINE_RANGE_V = Span(0.0, 0.0)

    # ------------------------------------------------------------------ limits
    def narrow(self, frequency_Hz: tuple[float, float], frequency_source: str,
               sine_V: tuple[float, float], sine_source: str) -> None:
        """The station's limits, enforced in the driver from now on."""
        self.driver.set_frequency_limits(*frequency_Hz, source=frequency_source)
        low = max(sine_V[0], self.SINE_RANGE_V.low)
        high = min(sine_V[1], self.SINE_RANGE_V.high)
        self.driver.set_sine_voltage_limits(low, high, source=sine_source)
        self._sine_limits = Span(low, high, sine_source)

    @property
    def sine_limits_V(self) -> Span:
        return self._sine_limits

    # ------------------------------------------------------------------ settings
    @property
    def frequency_Hz(self) -> float:
        return float(self.driver.frequency)

    @frequency_Hz.setter
    def frequency_Hz(self, value: float) -> None:
        self.driver.frequency = value

    @property
    def time_constant_s(self) -> float:
        return float(self.driver.time_constant)

    @time_constant_s.setter
    def time_constant_s(self, value: float) -> None:
        self.driver.time_constant = value

    @property
    def slope_dB_per_oct(self) -> int:
        return int(self.driver.filter_slope)

    @slope_dB_per_oct.setter
    def slope_dB_per_oct(self, value: int) -> None:
        self.driver.filter_slope = value

    @property
    def sensitivity_V(self) -> float:
        return float(self.driver.sensitivity)

    @sensitivity_V.setter
    def sensitivity_V(self, value: float) -> None:
        self.driver.sensitivity = value

    @property
    def sine_V(self) -> float:
        return float(self.driver.sine_voltage)

    @sine_V.setter
    def sine_V(self, value: float) -> None:
        self.driver.sine_voltage = value

    def set_synchronous_filter(self, on: bool) -> None:
        self.driver.filter_synchronous = on

    def set_reference(self, external: bool) -> None:
        self.driver.reference_source = "External" if external else "Internal"

    def auto_range(self, wait: Callable[[float], object]) -> float:
        return float(self.driver.auto_range(wait))


class SR830LockIn(_LockInAdapter):
    model = "SR830"
    SINE_RANGE_V = Span(0.004, 5.0, "SR830 sine output")  # manual p. 5-5
    #: the voltage input, (R_in Ω, C_in F) in parallel: the driver's SR830.INPUT_IMPEDANCE
    INPUT_IMPEDANCE = (10.0e6, 25.0e-12)
    driver: SR830

    def __init__(self, name: str, driver: SR830) -> None:
        super().__init__(name, driver)
        self._is_overload = driver.is_overload  # looked up once: read() runs every point

    def read(self) -> LockinReading:
        reading, status = self.driver.snap_with_status()
        return LockinReading(reading.x_V, reading.y_V, reading.r_V, reading.theta_deg,
                             self._is_overload(status))


class SR860LockIn(_LockInAdapter):
    model = "SR860"
    SINE_RANGE_V = Span(0.0, 2.0, "SR860 sine output")  # manual, SLVL
    #: the voltage input, (R_in Ω, C_in F) in parallel: the driver's SR860.INPUT_IMPEDANCE
    INPUT_IMPEDANCE = (10.0e6, 25.0e-12)
    driver: SR860

    def read(self) -> LockinReading:
        reading, overloaded = self.driver.snap_with_status()
        return LockinReading(reading.x_V, reading.y_V, reading.r_V, reading.theta_deg,
                             overloaded)
