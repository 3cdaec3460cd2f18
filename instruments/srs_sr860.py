"""SRS SR860 / SR865 lock-in: pymeasure's driver with strict limits, terminators and overload state.

What differs from the SR830 (``srs_sr830.py``), all from the SR860 manual ch. 4 "Programming":

* Ethernet, GPIB, USB; replies end with LF. pymeasure's SR860 sets no terminator, so over a raw
  socket its first query waits for an END that never comes: this driver defaults both to LF.
* ``SCAL`` index 0 is 1 V and 27 is 1 nV (descending, the SR830's ``SENS`` ascends from 2 nV);
  ``OFLT`` starts at 1 µs, so 1 s is index 12 (SR830: 10); ``SLVL`` goes to 2 V (SR830: 5 V);
  ``OUTP?`` and ``SNAP?`` codes start at 0 (SR830: 1).
* ``SNAP?`` takes two or three parameters, not four (QCoDeS ``get_values``; four at once only as
  the displayed ``SNAPD?``, manual p. 133), so X and Y are snapped together and R, θ computed
  from them, as the SR860 derives them.
* Queries chained with ``;`` are answered on one line, ``;``-separated (manual p. 103, "Command
  Syntax"): ``SNAP? 0,1;CUROVLDSTAT?`` gives X, Y and the overload state in one round trip.
* There is no latched LIA overload byte to poll as on the SR830: ``CUROVLDSTAT?`` reports the
  overloads present *now* (bits in :class:`OverloadStatus`).

pymeasure's SR860 clips (``truncated_range``) and rounds time constants and sensitivities up to
the next step; here every out-of-range request raises LimitError before anything is sent, and
the reference frequency and sine amplitude can be narrowed to what the station allows.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from enum import IntFlag

from pymeasure.instruments import Instrument
from pymeasure.instruments.srs.sr860 import SR860 as _PymeasureSR860

from instruments.limits import Span, in_range, one_of
from instruments.lockin_filter import settle_time_s
from instruments.srs_sr830 import LockinReading
from instruments.strict import StrictValuesMixin


class OverloadStatus(IntFlag):
    """``CUROVLDSTAT?`` bits: the overloads present at the moment of the query.

    Bit layout as SRS's own Python package reads it (thinkSRS/srsinst.sr860,
    ``Status.OverloadStatusBitDict``); bit 2 and 5–7 are unused.
    """

    OK = 0
    CH1_OUTPUT = 1 << 0  # channel 1 (X or R) output scale
    CH2_OUTPUT = 1 << 1  # channel 2 (Y or θ) output scale
    EXTERNAL_REFERENCE_UNLOCKED = 1 << 3
    INPUT_RANGE = 1 << 4
    DATA_CH1 = 1 << 8
    DATA_CH2 = 1 << 9
    DATA_CH3 = 1 << 10
    DATA_CH4 = 1 << 11


#: every bit that means the reading is clipped somewhere (an unlocked reference is no overload)
_OVERLOAD_BITS = int(OverloadStatus.CH1_OUTPUT | OverloadStatus.CH2_OUTPUT
                     | OverloadStatus.INPUT_RANGE | OverloadStatus.DATA_CH1
                     | OverloadStatus.DATA_CH2 | OverloadStatus.DATA_CH3 | OverloadStatus.DATA_CH4)

#: full-scale sensitivities in V, ascending: 1 nV … 1 V in 1-2-5 steps (manual, SCAL)
SENSITIVITIES = (1e-9, 2e-9, 5e-9, 10e-9, 20e-9, 50e-9, 100e-9, 200e-9, 500e-9,
                 1e-6, 2e-6, 5e-6, 10e-6, 20e-6, 50e-6, 100e-6, 200e-6, 500e-6,
                 1e-3, 2e-3, 5e-3, 10e-3, 20e-3, 50e-3, 100e-3, 200e-3, 500e-3, 1.0)
#: SCAL index of each sensitivity: 0 = 1 V … 27 = 1 nV (reversed w.r.t. the list above)
_SCAL_INDEX = {s: len(SENSITIVITIES) - 1 - i for i, s in enumerate(SENSITIVITIES)}
#: output time constants in s, ascending; the OFLT index is the position (manual, OFLT)
TIME_CONSTANTS = (1e-6, 3e-6, 10e-6, 30e-6, 100e-6, 300e-6, 1e-3, 3e-3, 10e-3, 30e-3,
                  100e-3, 300e-3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1e3, 3e3, 10e3, 30e3)
FILTER_SLOPES = (6, 12, 18, 24)  # dB/octave, OFSL 0–3
REFERENCE_SOURCES = {"Internal": 0, "External": 1, "Dual": 2, "Chop": 3}  # RSRC; SR830 spelling


def _preset(kind: str, n: int, unit: str, span: Span, fmt: str) -> property:
    # front-panel preset buttons F1–F4, A1–A4, L1–L4; pymeasure clips them and misspells three
    # set commands without the space the manual requires ("PSTF2, …")
    quantity = {"PSTF": "preset frequency", "PSTA": "preset sine amplitude",
                "PSTL": "preset sine DC level"}[kind]
    return Instrument.control(
        f"{kind}? {n}", f"{kind} {n}, {fmt}",
        f"""Control front-panel {quantity} {n + 1} in {unit} ({span.low:g} to {span.high:g}).""",
        validator=in_range(f"lock-in {quantity} {n + 1}", unit), values=span)


class SR860(StrictValuesMixin, _PymeasureSR860):
    """SR860 over Ethernet (raw socket), GPIB or USB; commands and replies end with LF."""

    READ_TERMINATION = WRITE_TERMINATION = "\n"
    #: the voltage input (A or A−B): 10 MΩ + 25 pF (SR860 manual, specifications)
    INPUT_IMPEDANCE = (10.0e6, 25.0e-12)
    SENSITIVITIES = SENSITIVITIES
    TIME_CONSTANTS = TIME_CONSTANTS
    FREQUENCY_RANGE = Span(0.001, 500e3, "SR860 range")
    SINE_VOLTAGE_RANGE = Span(0.0, 2.0, "SR860 range")

    id = Instrument.measurement("*IDN?", """Get the identification string.""",
                                cast=str, maxsplit=0)

    sine_voltage = Instrument.control(
        "SLVL?", "SLVL %.9g",
        """Control the sine output amplitude in V rms (0 to 2 V; refused outside).""",
        validator=in_range("lock-in sine output", "V"),
        values=Span(0.0, 2.0, "SR860 range"),
        dynamic=True,
    )
    frequency = Instrument.control(
        "FREQ?", "FREQ %.10g",
        """Control the internal reference frequency in Hz (narrowed by the station).""",
        validator=in_range("lock-in reference frequency", "Hz"),
        values=Span(0.001, 500e3, "SR860 range"),
        dynamic=True,
    )
    internalfrequency = Instrument.control(
        "FREQINT?", "FREQINT %.10g",
        """Control the internal oscillator frequency in Hz (refused outside the range).""",
        validator=in_range("lock-in internal frequency", "Hz"),
        values=Span(0.001, 500e3, "SR860 range"),
        dynamic=True,
    )
    phase = Instrument.control(
        "PHAS?", "PHAS %.9g",
        """Control the reference phase shift in degrees (−360000 to 360000; wraps at ±180).""",
        validator=in_range("lock-in phase", "deg"),
        values=Span(-360e3, 360e3, "SR860 range"),
    )
    time_constant = Instrument.control(
        "OFLT?", "OFLT %d",
        """Control the output time constant in s; one of TIME_CONSTANTS exactly.""",
        validator=one_of("lock-in time constant", "s"),
        values=TIME_CONSTANTS,
        map_values=True,
    )
    sensitivity = Instrument.control(
        "SCAL?", "SCAL %d",
        """Control the full-scale sensitivity in V; one of SENSITIVITIES exactly.""",
        validator=one_of("lock-in sensitivity", "V"),
        values=_SCAL_INDEX,
        map_values=True,
    )
    filter_slope = Instrument.control(
        "OFSL?", "OFSL %d",
        """Control the output filter slope in dB/octave: 6, 12, 18 or 24.""",
        validator=one_of("lock-in filter slope", "dB/oct"),
        values=FILTER_SLOPES,
        map_values=True,
    )
    filter_synchronous = Instrument.control(
        "SYNC?", "SYNC %d",
        """Control the synchronous filter (True on, False off; below 4 kHz only).""",
        validator=one_of("lock-in synchronous filter"),
        values={False: 0, True: 1},
        map_values=True,
    )
    filter_advanced = Instrument.control(
        "ADVFILT?", "ADVFILT %d",
        """Control the advanced filter (True on, False off).""",
        validator=one_of("lock-in advanced filter"),
        values={False: 0, True: 1},
        map_values=True,
    )
    reference_source = Instrument.control(
        "RSRC?", "RSRC %d",
        """Control the reference source: 'Internal', 'External', 'Dual' or 'Chop'.""",
        validator=one_of("lock-in reference source"),
        values=REFERENCE_SOURCES,
        map_values=True,
    )
    reference_externalinput = Instrument.control(
        "REFZ?", "REFZ %d",
        """Control the external reference input impedance: '50OHMS' or '1MEG'.""",
        validator=one_of("lock-in reference input impedance"),
        values={"50OHMS": 0, "1MEG": 1},
        map_values=True,
    )

    aux_out_1, aux_out_2, aux_out_3, aux_out_4 = (
        Instrument.control(
            f"AUXV? {n}", f"AUXV {n}, %.9g",
            f"""Control Aux output {n + 1} in V (−10.5 to 10.5 V; refused outside).""",
            validator=in_range(f"lock-in aux output {n + 1}", "V"),
            values=Span(-10.5, 10.5, "SR860 range"),
        ) for n in (0, 1, 2, 3))
    dac1, dac2, dac3, dac4 = aux_out_1, aux_out_2, aux_out_3, aux_out_4

    frequencypreset1, frequencypreset2, frequencypreset3, frequencypreset4 = (
        _preset("PSTF", n, "Hz", Span(0.001, 500e3, "SR860 range"), "%.10g") for n in range(4))
    sine_amplitudepreset1, sine_amplitudepreset2, sine_amplitudepreset3, \
        sine_amplitudepreset4 = (
            _preset("PSTA", n, "V", Span(0.0, 2.0, "SR860 range"), "%.9g") for n in range(4))
    sine_dclevelpreset1, sine_dclevelpreset2, sine_dclevelpreset3, sine_dclevelpreset4 = (
        _preset("PSTL", n, "V", Span(-5.0, 5.0, "SR860 range"), "%.9g") for n in range(4))

    def __init__(self, adapter, name: str = "SRS SR860 lock-in amplifier", **kwargs) -> None:
        kwargs.setdefault("read_termination", self.READ_TERMINATION)
        kwargs.setdefault("write_termination", self.WRITE_TERMINATION)
        super().__init__(adapter, name, **kwargs)
        # the model's own range, even where a subclass (SR865) widens it
        self.frequency_values = self.FREQUENCY_RANGE
        self.internalfrequency_values = self.FREQUENCY_RANGE
        self.sine_voltage_values = self.SINE_VOLTAGE_RANGE

    def set_frequency_limits(self, low_Hz: float, high_Hz: float, source: str) -> None:
        """Narrow the accepted reference frequencies (e.g. to the station's 0.7–7 Hz)."""
        self.frequency_values = Span(max(low_Hz, self.FREQUENCY_RANGE.low),
                                     min(high_Hz, self.FREQUENCY_RANGE.high), source)

    def set_sine_voltage_limits(self, low_V: float, high_V: float, source: str) -> None:
        self.sine_voltage_values = Span(max(low_V, self.SINE_VOLTAGE_RANGE.low),
                                        min(high_V, self.SINE_VOLTAGE_RANGE.high), source)

    def snap_xyrt(self) -> LockinReading:
        """X, Y from one ``SNAP? 0,1`` (the same instant); R = √(X²+Y²), θ = atan2(Y, X)."""
        x, y = self.values("SNAP? 0,1")
        return _reading(x, y)

    def snap_with_status(self) -> tuple[LockinReading, bool]:
        """X, Y, R, θ and whether anything overloads, in one exchange
        (``SNAP? 0,1;CUROVLDSTAT?`` → ``x,y;status``, manual p. 103)."""
        command = "SNAP? 0,1;CUROVLDSTAT?"
        reply = self.ask(command).strip()
        try:
            snap, status = reply.split(";")
            x, y = (float(v) for v in snap.split(","))
            overloaded = self.is_overload(OverloadStatus(int(status)))
        except ValueError:
            raise ValueError(f"reply to {command!r} is not 'x,y;status': {reply!r}") from None
        return _reading(x, y), overloaded

    def read_status(self) -> OverloadStatus:
        """The overloads present now (``CUROVLDSTAT?``; nothing latches, nothing to clear)."""
        return OverloadStatus(int(self.values("CUROVLDSTAT?", cast=int)[0]))

    @staticmethod
    def is_overload(status: OverloadStatus) -> bool:
        return bool(int(status) & _OVERLOAD_BITS)

    def reconnect(self) -> None:
        self.adapter.reopen()

    def settle_time(self, precision: float = 0.99) -> float:
        """Seconds to wait after a change before a reading is within ``precision`` of final;
        the SR860's output filter is the same n-pole RC as the SR830's (6–24 dB/oct)."""
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

        The SR830's contract: explicit steps paced by the caller's clock (``wait``, which may be
        simulated) instead of the instrument's own auto-range. While anything overloads, go up a
        decade and wait three time constants; then choose from the reading. Returns the new
        sensitivity in V.
        """
        tau = self.time_constant
        for _ in range(max_steps):
            reading, overloaded = self.snap_with_status()
            if not overloaded and reading.r_V < self.sensitivity * 0.99:
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


class SR865(SR860):
    """SR865: the SR860's command set with the reference up to 2 MHz (QCoDeS SR865)."""

    FREQUENCY_RANGE = Span(0.001, 2e6, "SR865 range")

    def __init__(self, adapter, name: str = "SRS SR865 lock-in amplifier", **kwargs) -> None:
        super().__init__(adapter, name, **kwargs)


def _reading(x: float, y: float) -> LockinReading:
    return LockinReading(x, y, math.hypot(x, y), math.degrees(math.atan2(y, x)))
