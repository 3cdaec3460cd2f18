"""Lake Shore 372 AC resistance bridge: channel readings, excitation, and the sample-heater loop.

pymeasure has no 372 driver, so this one follows the 372 manual's command list (§6.6) line by
line. Inputs are the control input ``A`` and scanner channels 1–16; output 0 is the sample heater
that drives temperature ramps (closed loop on the MC thermometer, setpoint ramp, PID). Replies
end with CR LF; readings look like ``+012.034E-03`` and settings are zero-padded integers.
"""

from __future__ import annotations

from enum import IntFlag
from typing import NamedTuple

from pymeasure.instruments import Channel, Instrument

from instruments.limits import LimitError, Span, in_range
from instruments.strict import StrictValuesMixin

INPUT_IDS = ("A", *range(1, 17))
#: sample-heater (output 0) full-scale currents by range index (372 manual, RANGE)
HEATER_RANGES_A = (0.0, 31.6e-6, 100e-6, 316e-6, 1e-3, 3.16e-3, 10e-3, 31.6e-3, 100e-3)
OUTPUT_MODES = {"off": 0, "monitor": 1, "open_loop": 2, "zone": 3, "still": 4,
                "closed_loop": 5, "warm_up": 6}


class ReadingStatus(IntFlag):
    """RDGST? bits (372 manual p. 174)."""

    OK = 0
    CS_OVERLOAD = 1
    VCM_OVERLOAD = 2
    VMIX_OVERLOAD = 4
    VDIF_OVERLOAD = 8
    R_OVER = 16
    R_UNDER = 32
    T_OVER = 64
    T_UNDER = 128


class InputSetup(NamedTuple):
    """INSET? fields."""

    enabled: bool
    dwell_s: int
    pause_s: int
    curve: int
    tempco: int


class InputType(NamedTuple):
    """INTYPE? fields: mode 0 voltage / 1 current, excitation and range indices, units 1 K / 2 Ω."""

    mode: int
    excitation_index: int
    autorange: int
    range_index: int
    current_source_off: bool
    units: int


class OutputMode(NamedTuple):
    """OUTMODE? fields."""

    mode: int
    input: str
    powerup_enable: bool
    polarity: int
    filtered: bool
    delay_s: int


def _ints(values: list) -> list[int]:
    return [int(float(v)) for v in values]


class LS372Input(StrictValuesMixin, Channel):
    """One input: ``A`` (control input) or a scanner channel 1–16."""

    temperature_K = Channel.measurement(
        "KRDG? {ch}", """Get the temperature in K (0 when the channel has no curve).""")
    resistance_ohm = Channel.measurement(
        "SRDG? {ch}", """Get the resistance in Ω (sensor units).""")
    quadrature_ohm = Channel.measurement(
        "QRDG? {ch}", """Get the quadrature (imaginary) part of the reading in Ω.""")
    excitation_power_W = Channel.measurement(
        "RDGPWR? {ch}", """Get the excitation power of the last reading in W.""")
    status = Channel.measurement(
        "RDGST? {ch}", """Get the reading status bits.""",
        cast=int, get_process=lambda v: ReadingStatus(int(v)))
    sensor_name = Channel.control(
        "INNAME? {ch}", 'INNAME {ch},"%s"', """Control the sensor name (≤ 15 characters).""",
        cast=str,
        validator=lambda name, _: _check_sensor_name(name),
        preprocess_reply=lambda r: r.strip().strip('"'),
    )
    temperature_limit_K = Channel.control(
        "TLIMIT? {ch}", "TLIMIT {ch},%g",
        """Control the over-temperature limit in K that switches every heater off (0 = off).""",
        validator=in_range("372 temperature limit", "K"), values=Span(0.0, 1999.0, "372 range"),
    )

    @property
    def setup(self) -> InputSetup:
        on, dwell, pause, curve, tempco = _ints(self.values("INSET? {ch}"))
        return InputSetup(bool(on), dwell, pause, curve, tempco)

    def configure(self, enabled: bool = True, dwell_s: int = 10, pause_s: int = 3,
                  curve: int = 0, tempco: int = 1) -> None:
        """INSET: scanner dwell and pause (s), the curve number (0 none) and its coefficient."""
        in_range("372 dwell", "s")(dwell_s, (1, 200))
        in_range("372 pause", "s")(pause_s, (3, 200))
        in_range("372 curve number", "")(curve, (0, 59))
        self.write(f"INSET {{ch}},{int(enabled)},{int(dwell_s)},{int(pause_s)},{int(curve)},"
                   f"{int(tempco)}")

    @property
    def input_type(self) -> InputType:
        mode, exc, auto, rng, cs_off, units = _ints(self.values("INTYPE? {ch}"))
        return InputType(mode, exc, auto, rng, bool(cs_off), units)

    def set_input_type(self, mode: int, excitation_index: int, autorange: int, range_index: int,
                       current_source_off: bool = False, units: int = 1) -> None:
        """INTYPE: excitation mode and index, autorange, resistance range, units (1 K, 2 Ω)."""
        in_range("372 excitation index", "")(excitation_index, (1, 22))
        in_range("372 resistance range index", "")(range_index, (1, 22))
        self.write(f"INTYPE {{ch}},{int(mode)},{int(excitation_index)},{int(autorange)},"
                   f"{int(range_index)},{int(current_source_off)},{int(units)}")


class LS372Heater(StrictValuesMixin, Channel):
    """Output 0, the sample heater, used for temperature control."""

    range_index = Channel.control(
        "RANGE? {ch}", "RANGE {ch},%d",
        """Control the heater range index, 0 (off) to 8 (100 mA); narrowed by the station.""",
        cast=int,
        validator=in_range("heater range index", ""),
        values=Span(0, 8, "372 range"),
        dynamic=True,
    )
    setpoint_K = Channel.control(
        "SETP? {ch}", "SETP {ch},%g",
        """Control the setpoint in K (the loop's input must be in kelvin units).""",
        validator=in_range("heater setpoint", "K"),
        values=Span(0.0, 1999.0, "372 range"),
        dynamic=True,
    )
    ramping = Channel.measurement(
        "RAMPST? {ch}", """Get whether the setpoint ramp is in progress.""",
        cast=int, get_process=bool)
    output_percent = Channel.measurement(
        "HTR?", """Get the sample-heater output in % of its range.""")

    #: setpoint ramp rates the 372 accepts, K/min (RAMP: 0.001 to 100)
    RAMP_RATE_RANGE = Span(0.001, 100.0, "372 range")
    #: the fastest setpoint ramp the station allows, K/min
    ramp_rate_limits = Span(0.0, 100.0, "372 range")

    @property
    def output_mode(self) -> OutputMode:
        fields = self.values("OUTMODE? {ch}", cast=str)
        mode, inp, powerup, polarity, filt, delay = (str(f).strip() for f in fields)
        return OutputMode(int(mode), inp.lstrip("0") or "0", bool(int(powerup)), int(polarity),
                          bool(int(filt)), int(delay))

    def set_output_mode(self, mode: str, input_channel: int | str, powerup_enable: bool = False,
                        polarity: int = 0, filtered: bool = True, delay_s: int = 1) -> None:
        """OUTMODE: e.g. ``set_output_mode("closed_loop", 1)`` to control on channel 1."""
        if mode not in OUTPUT_MODES:
            raise LimitError(f"heater mode {mode!r} is not one of {', '.join(OUTPUT_MODES)}")
        if str(input_channel) not in {str(i) for i in INPUT_IDS}:
            raise LimitError(f"heater input {input_channel!r} is not A or 1–16")
        self.write(f"OUTMODE {{ch}},{OUTPUT_MODES[mode]},{input_channel},{int(powerup_enable)},"
                   f"{int(polarity)},{int(filtered)},{int(delay_s)}")

    @property
    def ramp(self) -> tuple[bool, float]:
        """(enabled, rate in K/min) of the setpoint ramp."""
        on, rate = self.values("RAMP? {ch}")
        return bool(int(on)), float(rate)

    def set_ramp(self, enabled: bool, rate_K_per_min: float) -> None:
        rate = in_range("setpoint ramp rate", "K/min")(rate_K_per_min, self.RAMP_RATE_RANGE)
        in_range("setpoint ramp rate", "K/min")(rate, self.ramp_rate_limits)
        self.write(f"RAMP {{ch}},{int(enabled)},{rate:.4g}")

    @property
    def pid(self) -> tuple[float, float, float]:
        P, I, D = self.values("PID? {ch}")
        return float(P), float(I), float(D)

    def set_pid(self, P: float, I: float, D: float) -> None:
        P = in_range("PID P", "")(P, (0.0, 1000.0))
        I = in_range("PID I", "")(I, (0.0, 10000.0))
        D = in_range("PID D", "")(D, (0.0, 2500.0))
        self.write(f"PID {{ch}},{P:g},{I:g},{D:g}")

    @property
    def heater_setup(self) -> tuple[float, int, float, int]:
        """HTRSET? — the 372 answers four fields: resistance, max current, max user current,
        display (protocols.md §2.5)."""
        R, max_i, max_user, display = self.values("HTRSET? {ch}")
        return float(R), int(float(max_i)), float(max_user), int(float(display))

    def set_heater_resistance(self, resistance_ohm: float) -> None:
        R = in_range("heater resistance", "Ω")(resistance_ohm, (1.0, 2000.0))
        self.write(f"HTRSET {{ch}},{R:g},0,0,1")

    def off(self) -> None:
        """Heater range 0: no current, whatever the loop says."""
        self.write("RANGE {ch},0")


def _check_sensor_name(name: object) -> str:
    if not isinstance(name, str) or len(name) > 15 or '"' in name:
        raise LimitError(f"372 sensor name {name!r}: at most 15 characters, no quotes")
    return name


class LakeShore372(StrictValuesMixin, Instrument):
    """Lake Shore Model 372 over its Ethernet socket (port 7777) or GPIB/USB."""

    READ_TERMINATION = WRITE_TERMINATION = "\r\n"
    #: setpoint ramp rates the sample heater's loop accepts, K/min
    RAMP_RATE_RANGE = LS372Heater.RAMP_RATE_RANGE

    channels = Instrument.MultiChannelCreator(LS372Input, list(INPUT_IDS), prefix="ch_")
    sample_heater = Instrument.ChannelCreator(LS372Heater, 0)

    id = Instrument.measurement("*IDN?", """Get the identification string.""",
                                cast=str, maxsplit=0)

    def __init__(self, adapter, name: str = "Lake Shore 372 AC resistance bridge", **kwargs
                 ) -> None:
        kwargs.setdefault("read_termination", self.READ_TERMINATION)
        kwargs.setdefault("write_termination", self.WRITE_TERMINATION)
        super().__init__(adapter, name, includeSCPI=False, **kwargs)

    def reconnect(self) -> None:
        self.adapter.reopen()

    def read_values(self, queries: list[str]) -> list[float]:
        """Several readings in one exchange: the 372 answers a ``;``-chained line with one line
        of ``;``-separated values (372 manual §6.3), taken at the same instant."""
        reply = self.ask(";".join(queries))
        values = [float(v) for v in reply.split(";")]
        if len(values) != len(queries):
            raise ValueError(f"372 answered {len(values)} values to {len(queries)} queries: "
                             f"{reply!r}")
        return values

    def input(self, channel: int | str) -> LS372Input:
        """The input ``A`` or 1–16."""
        key = channel if channel == "A" else int(channel)
        try:
            return self.channels[key]
        except KeyError:
            raise LimitError(f"372 input {channel!r} is not A or 1–16") from None

    @property
    def scan(self) -> tuple[int, bool]:
        """(scanner channel, autoscan on)."""
        ch, auto = self.values("SCAN?")
        return int(ch), bool(int(auto))

    def set_scan(self, channel: int, autoscan: bool) -> None:
        in_range("372 scanner channel", "")(channel, (1, 16))
        self.write(f"SCAN {int(channel)},{int(autoscan)}")

    def all_heaters_off(self) -> None:
        """The 372's safe state: every output's range to 0."""
        for output in (0, 1, 2):
            self.write(f"RANGE {output},0")
