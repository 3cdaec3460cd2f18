"""SRS SR830 lock-in: pymeasure's driver with strict limits, SNAP? readings and settle times.

pymeasure's SR830 is right about the command set but silently clips (``sine_voltage = 10`` sends
5 V) and rounds time constants and sensitivities up; cryolab needs every out-of-range request to
raise before anything is sent, and the reference frequency narrowed to what the station allows.
The output-filter maths (settle time, noise bandwidth) is model-neutral: ``lockin_filter``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from pymeasure.instruments import Instrument
from pymeasure.instruments.srs.sr830 import SR830 as _PymeasureSR830
from pymeasure.instruments.srs.sr830 import LIAStatus

from instruments.limits import Span, in_range, one_of
from instruments.lockin_filter import settle_time_s
from instruments.strict import StrictValuesMixin

_OVERLOAD_BITS = int(LIAStatus.INPUT_OVERLOAD | LIAStatus.FILTER_OVERLOAD
                     | LIAStatus.OUTPUT_OVERLOAD)

class LockinReading(NamedTuple):
    """X, Y and R in V rms and θ in degrees, taken at one instant by SNAP?."""

    x_V: float
    y_V: float
    r_V: float
    theta_deg: float


class SR830(StrictValuesMixin, _PymeasureSR830):
    """SR830 over GPIB or a serial/Ethernet bridge; replies end with LF."""

    READ_TERMINATION = WRITE_TERMINATION = "\n"
    #: the voltage input (A or A−B): 10 MΩ ∥ 25 pF (SR830 manual, specifications, p. 1-5)
    INPUT_IMPEDANCE = (10.0e6, 25.0e-12)

    sine_voltage = Instrument.control(
        "SLVL?", "SLVL%0.3f",
        """Control the sine output amplitude in V rms (0.004 to 5 V; refused outside).""",
        validator=in_range("lock-in sine output", "V"),
        values=Span(0.004, 5.0, "SR830 range"),
        dynamic=True,
    )
    frequency = Instrument.control(
        "FREQ?", "FREQ%0.5e",
        """Control the internal reference frequency in Hz (narrowed by the station).""",
        validator=in_range("lock-in reference frequency", "Hz"),
        values=Span(0.001, 102000.0, "SR830 range"),
        dynamic=True,
    )
    phase = Instrument.control(
        "PHAS?", "PHAS%0.2f",
        """Control the reference phase shift in degrees (−360 to 729.99).""",
        validator=in_range("lock-in phase", "deg"),
        values=Span(-360.0, 729.99, "SR830 range"),
    )
    time_constant = Instrument.control(
        "OFLT?", "OFLT%d",
        """Control the output time constant in s; one of TIME_CONSTANTS exactly.""",
        validator=one_of("lock-in time constant", "s"),
        values=_PymeasureSR830.TIME_CONSTANTS,
        map_values=True,
    )
    sensitivity = Instrument.control(
        "SENS?", "SENS%d",
        """Control the full-scale sensitivity in V; one of SENSITIVITIES exactly.""",
        validator=one_of("lock-in sensitivity", "V"),
        values=_PymeasureSR830.SENSITIVITIES,
        map_values=True,
    )
    filter_slope = Instrument.control(
        "OFSL?", "OFSL%d",
        """Control the output filter slope in dB/octave: 6, 12, 18 or 24.""",
        validator=one_of("lock-in filter slope", "dB/oct"),
        values=_PymeasureSR830.FILTER_SLOPES,
        map_values=True,
    )
    reserve = Instrument.control(
        "RMOD?", "RMOD%d",
        """Control the dynamic reserve: 'High Reserve', 'Normal' or 'Low Noise'.""",
        validator=one_of("lock-in reserve"),
        values=_PymeasureSR830.RESERVE_VALUES,
        map_values=True,
    )

    aux_out_1, aux_out_2, aux_out_3, aux_out_4 = (
        Instrument.control(
            f"AUXV?{n};", f"AUXV{n},%f;",
            f"""Control Aux output {n} in V (−10.5 to 10.5 V; refused outside).""",
            validator=in_range(f"lock-in aux output {n}", "V"),
            values=Span(-10.5, 10.5, "SR830 range"),
        ) for n in (1, 2, 3, 4))
    dac1, dac2, dac3, dac4 = aux_out_1, aux_out_2, aux_out_3, aux_out_4

    def __init__(self, adapter, name: str = "SRS SR830 lock-in amplifier", **kwargs) -> None:
        kwargs.setdefault("read_termination", self.READ_TERMINATION)
        kwargs.setdefault("write_termination", self.WRITE_TERMINATION)
        super().__init__(adapter, name, **kwargs)

    def set_frequency_limits(self, low_Hz: float, high_Hz: float, source: str) -> None:
        """Narrow the accepted reference frequencies (e.g. to the station's 0.7–7 Hz)."""
        self.frequency_values = Span(low_Hz, high_Hz, source)

    def set_sine_voltage_limits(self, low_V: float, high_V: float, source: str) -> None:
        span = Span(max(low_V, 0.004), min(high_V, 5.0), source)
        self.sine_voltage_values = span
        self._sine_voltage_span = span

    @property
    def sine_voltage_limits(self) -> Span:
        """The sine output amplitudes accepted now (V rms): the SR830's, or the station's."""
        return getattr(self, "_sine_voltage_span", Span(0.004, 5.0, "SR830 range"))

    def snap_xyrt(self) -> LockinReading:
        """X, Y, R, θ from one SNAP? (X and Y taken at the same instant)."""
        x, y, r, theta = self.snap("X", "Y", "R", "Theta")
        return LockinReading(x, y, r, theta)

    def snap_with_status(self) -> tuple[LockinReading, LIAStatus]:
        """X, Y, R, θ and the LIA status byte in one exchange (``SNAP? 1,2,3,4;LIAS?``).

        The SR830 answers each query of a chained line with its own terminated reply
        (SR830 manual p. 5-2), so this costs one round trip instead of two.
        """
        self.write("SNAP? 1,2,3,4;LIAS?")
        x, y, r, theta = (float(v) for v in self.read().split(","))
        return LockinReading(x, y, r, theta), LIAStatus(int(self.read()))

    def reconnect(self) -> None:
        self.adapter.reopen()

    def read_status(self) -> LIAStatus:
        """The LIA status byte; reading it clears the latched bits (SR830 manual p. 5-23)."""
        return LIAStatus(int(self.ask("LIAS?")))

    @staticmethod
    def is_overload(status: LIAStatus) -> bool:
        return bool(int(status) & _OVERLOAD_BITS)  # int: IntFlag arithmetic is slow per point

    def settle_time(self, precision: float = 0.99) -> float:
        """Seconds to wait after a change before a reading is within ``precision`` of final."""
        return settle_time_s(self.time_constant, self.filter_slope, precision)

    @classmethod
    def sensitivity_for(cls, signal_V: float, headroom: float = 0.6) -> float:
        """The smallest sensitivity holding ``signal_V`` at ``headroom`` of full scale or below."""
        for s in cls.SENSITIVITIES:
            if abs(signal_V) <= headroom * s:
                return s
        return cls.SENSITIVITIES[-1]

    def auto_range(self, wait: Callable[[float], object], headroom: float = 0.6,
                   max_steps: int = 10) -> float:
        """Pick the sensitivity that holds R at about ``headroom`` of full scale.

        Unlike AGAN this is done in a few explicit steps, so the caller's clock (``wait``,
        which may be simulated) paces it: while the output overloads, go up a decade and wait
        three time constants; then choose from the reading. Returns the new sensitivity in V.
        """
        tau = self.time_constant
        self.read_status()  # clear latched bits from before
        for _ in range(max_steps):
            reading = self.snap_xyrt()
            overloaded = self.is_overload(self.read_status()) or \
                reading.r_V >= self.sensitivity * 0.99
            if not overloaded:
                break
            index = self.SENSITIVITIES.index(self.sensitivity)
            if index >= len(self.SENSITIVITIES) - 1:
                break
            self.sensitivity = self.SENSITIVITIES[min(index + 3, len(self.SENSITIVITIES) - 1)]
            wait(3 * tau)
        target = self.sensitivity_for(max(reading.r_V, abs(reading.x_V), abs(reading.y_V)),
                                      headroom)
        if target != self.sensitivity:
            self.sensitivity = target
        return target


def time_constant_for(min_tau_s: float) -> float:
    """The shortest SR830 time constant of at least ``min_tau_s``."""
    for tau in SR830.TIME_CONSTANTS:
        if tau >= min_tau_s * (1 - 1e-9):
            return tau
    return SR830.TIME_CONSTANTS[-1]

