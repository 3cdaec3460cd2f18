"""Lake Shore 370 AC resistance bridge: scanner channel readings, excitation, and the heater loop.

pymeasure has no 370 driver; this one follows the 370 manual's command list (ch. 6, §6.3, pp.
6-20 ff.). What differs from the 372 (``lakeshore_372.py``):

* IEEE-488 and RS-232 only; replies end with CR LF, readings look like ``+012.034E-03``.
* One measurement input: scanner channels 1–16, no control input ``A``. Readings are asked with
  the manual's own ``RDGR? <ch>`` (Ω) and ``RDGK? <ch>`` (K); the 372's ``SRDG?``/``KRDG?``
  are not 370 commands. Range and excitation are set with ``RDGRNG`` (the 372's ``INTYPE``
  without the units field); there is no ``INNAME``.
* One heater, the sample heater, so ``HTRRNG``, ``SETP``, ``PID``, ``RAMP``, ``RAMPST?``,
  ``HTR?`` take no output argument. The loop is set up with ``CSET`` (control channel, filter,
  setpoint units, setpoint-change pause, heater display, heater range limit, heater resistance,
  all in one command) and ``CMODE`` (1 closed loop, 2 zone, 3 open loop, 4 off) where the 372
  has ``OUTMODE`` + ``HTRSET``. The still heater is analog output 2 in still mode (``STILL``).
* A chained line of queries is NOT answered query by query: "the instrument will respond only
  to the last query it receives" (§6.2.5), so :meth:`LakeShore370.read_values` asks one
  query at a time where the 372 driver chains them.
* There is no over-temperature interlock: the 370 has no ``TLIMIT`` (the 372's per-channel
  limit that switches every heater off). A station that needs one must watch the temperature
  itself.

Command fields, ranges and the RDGST? bits were checked against the 370 manual pages for
RDGRNG/RDGST?/RELAY and the interface commands, and against the 370 driver of the *slave*
library (p3trus/slave, ``lakeshore/ls370.py``) for CSET, CMODE, PID, RAMP, HTRST? and INSET.
"""

from __future__ import annotations

from typing import NamedTuple

from pymeasure.instruments import Channel, Instrument

from instruments.lakeshore_372 import ReadingStatus
from instruments.limits import LimitError, Span, in_range
from instruments.strict import StrictValuesMixin

CHANNEL_IDS = tuple(range(1, 17))
#: sample-heater full-scale currents by HTRRNG index (370 manual §3.7.4, HTRRNG)
HEATER_RANGES_A = (0.0, 31.6e-6, 100e-6, 316e-6, 1e-3, 3.16e-3, 10e-3, 31.6e-3, 100e-3)
#: CMODE codes (370 manual, CMODE), named as the 372 driver names its OUTMODE modes
CONTROL_MODES = {"closed_loop": 1, "zone": 2, "open_loop": 3, "off": 4}
SETPOINT_UNITS = {"K": 1, "ohm": 2}
HEATER_DISPLAYS = {"current": 1, "power": 2}
#: RDGRNG excitation index ranges by mode (370 manual, RDGRNG): 0 voltage 1–12, 1 current 1–22
EXCITATION_INDICES = {0: (1, 12), 1: (1, 22)}


class InputSetup(NamedTuple):
    """INSET? fields (tempco 1 negative, 2 positive)."""

    enabled: bool
    dwell_s: int
    pause_s: int
    curve: int
    tempco: int


class InputType(NamedTuple):
    """RDGRNG? fields, named as the 372's INTYPE fields: mode 0 voltage / 1 current excitation,
    excitation and resistance-range indices."""

    mode: int
    excitation_index: int
    autorange: int
    range_index: int
    current_source_off: bool


class ControlSetup(NamedTuple):
    """CSET? fields."""

    channel: int
    filtered: bool
    units: str  # "K" or "ohm"
    delay_s: int  # setpoint-change pause: the scanner stays on the control channel this long
    display: str  # heater output shown as "current" or "power"
    heater_limit: int  # the highest HTRRNG index the loop may use
    heater_resistance_ohm: float


class OutputMode(NamedTuple):
    """The loop as a whole: CMODE? and the control channel, filter and delay from CSET?."""

    mode: str
    input: int
    filtered: bool
    delay_s: int
    units: str


def _ints(values: list) -> list[int]:
    return [int(float(v)) for v in values]


def _key(mapping: dict, code: int, what: str) -> str:
    for name, value in mapping.items():
        if value == code:
            return name
    raise ValueError(f"370 {what} code {code} is not one of {sorted(mapping.values())}")


class LS370Input(StrictValuesMixin, Channel):
    """One scanner channel, 1–16."""

    resistance_ohm = Channel.measurement(
        "RDGR? {ch}", """Get the resistance reading in Ω.""")
    temperature_K = Channel.measurement(
        "RDGK? {ch}", """Get the temperature in K (0 when the channel has no curve).""")
    excitation_power_W = Channel.measurement(
        "RDGPWR? {ch}", """Get the excitation power of the last reading in W.""")
    status = Channel.measurement(
        "RDGST? {ch}",
        """Get the reading status bits (a channel not being scanned keeps its last state).""",
        cast=int, get_process=lambda v: ReadingStatus(int(v)))

    @property
    def setup(self) -> InputSetup:
        on, dwell, pause, curve, tempco = _ints(self.values("INSET? {ch}"))
        return InputSetup(bool(on), dwell, pause, curve, tempco)

    def configure(self, enabled: bool = True, dwell_s: int = 10, pause_s: int = 3,
                  curve: int = 0, tempco: int = 1) -> None:
        """INSET: scanner dwell and pause (s), the curve number (0 none, 1–20) and the
        temperature coefficient (1 negative, 2 positive) used without a curve."""
        in_range("370 dwell", "s")(dwell_s, (1, 200))
        in_range("370 pause", "s")(pause_s, (3, 200))
        in_range("370 curve number", "")(curve, (0, 20))
        in_range("370 temperature coefficient", "")(tempco, (1, 2))
        self.write(f"INSET {{ch}},{int(enabled)},{int(dwell_s)},{int(pause_s)},{int(curve)},"
                   f"{int(tempco)}")

    @property
    def input_type(self) -> InputType:
        mode, exc, rng, auto, cs_off = _ints(self.values("RDGRNG? {ch}"))
        return InputType(mode, exc, auto, rng, bool(cs_off))

    def set_input_type(self, mode: int, excitation_index: int, autorange: int, range_index: int,
                       current_source_off: bool = False) -> None:
        """RDGRNG: excitation mode (0 voltage, 1 current) and index, resistance range index
        (1 = 2 mΩ … 22 = 2 MΩ), autorange; sent in the 370's field order."""
        if mode not in EXCITATION_INDICES:
            raise LimitError(f"370 excitation mode {mode!r} is not 0 (voltage) or 1 (current)")
        in_range("370 excitation index", "")(excitation_index, EXCITATION_INDICES[mode])
        in_range("370 resistance range index", "")(range_index, (1, 22))
        self.write(f"RDGRNG {{ch}},{int(mode)},{int(excitation_index)},{int(range_index)},"
                   f"{int(autorange)},{int(current_source_off)}")


class LS370Heater(StrictValuesMixin, Channel):
    """The sample heater, the 370's only current-source output; its commands take no output
    argument, so this channel's id appears in none of them."""

    range_index = Channel.control(
        "HTRRNG?", "HTRRNG %d",
        """Control the heater range index, 0 (off) to 8 (100 mA); narrowed by the station.""",
        cast=int,
        validator=in_range("heater range index", ""),
        values=Span(0, 8, "370 range"),
        dynamic=True,
    )
    setpoint_K = Channel.control(
        "SETP?", "SETP %g",
        """Control the setpoint in K (the loop's setpoint units must be kelvin).""",
        validator=in_range("heater setpoint", "K"),
        values=Span(0.0, 1999.0, "driver default"),
        dynamic=True,
    )
    ramping = Channel.measurement(
        "RAMPST?", """Get whether the setpoint ramp is in progress.""",
        cast=int, get_process=bool)
    output_percent = Channel.measurement(
        "HTR?", """Get the heater output in % of its range (or W if the display is power).""")
    manual_output_percent = Channel.control(
        "MOUT?", "MOUT %g",
        """Control the open-loop (manual) heater output in % of the range.""",
        validator=in_range("heater manual output", "%"),
        values=Span(0.0, 100.0, "370 range"),
    )
    error_code = Channel.measurement(
        "HTRST?", """Get the heater error code: 0 none, 1 heater open.""", cast=int)

    #: setpoint ramp rates the 370 accepts, K/min (RAMP)
    RAMP_RATE_RANGE = Span(0.001, 10.0, "370 range")
    #: the fastest setpoint ramp the station allows, K/min
    ramp_rate_limits = Span(0.001, 10.0, "370 range")

    @property
    def control_setup(self) -> ControlSetup:
        fields = [str(f).strip() for f in self.values("CSET?", cast=str)]
        channel, filtered, units, delay, display, limit = (int(float(f)) for f in fields[:6])
        return ControlSetup(channel, bool(filtered), _key(SETPOINT_UNITS, units, "setpoint units"),
                            delay, _key(HEATER_DISPLAYS, display, "heater display"), limit,
                            float(fields[6]))

    def set_control_setup(self, setup: ControlSetup) -> None:
        """CSET with every field given (the 370 sets the whole loop set-up in one command)."""
        if setup.channel not in CHANNEL_IDS:
            raise LimitError(f"370 control channel {setup.channel!r} is not 1–16")
        if setup.units not in SETPOINT_UNITS:
            raise LimitError(f"370 setpoint units {setup.units!r} are not 'K' or 'ohm'")
        if setup.display not in HEATER_DISPLAYS:
            raise LimitError(f"370 heater display {setup.display!r} is not 'current' or 'power'")
        in_range("370 setpoint change pause", "s")(setup.delay_s, (1, 255))
        in_range("heater range limit", "")(setup.heater_limit, Span(0, 8, "370 range"))
        R = in_range("heater resistance", "Ω")(setup.heater_resistance_ohm, (1.0, 100000.0))
        self.write(f"CSET {int(setup.channel)},{int(setup.filtered)},"
                   f"{SETPOINT_UNITS[setup.units]},{int(setup.delay_s)},"
                   f"{HEATER_DISPLAYS[setup.display]},{int(setup.heater_limit)},{R:g}")

    @property
    def control_mode(self) -> str:
        """'closed_loop', 'zone', 'open_loop' or 'off' (CMODE?)."""
        return _key(CONTROL_MODES, int(self.values("CMODE?", cast=int)[0]), "control mode")

    @property
    def output_mode(self) -> OutputMode:
        setup = self.control_setup
        return OutputMode(self.control_mode, setup.channel, setup.filtered, setup.delay_s,
                          setup.units)

    def set_output_mode(self, mode: str, input_channel: int, filtered: bool = True,
                        delay_s: int = 1, units: str = "K") -> None:
        """Control on ``input_channel``: CSET with the loop fields (heater display, limit and
        resistance kept as they are), then CMODE. ``set_output_mode("closed_loop", 1)``."""
        if mode not in CONTROL_MODES:
            raise LimitError(f"heater mode {mode!r} is not one of {', '.join(CONTROL_MODES)}")
        if int(input_channel) not in CHANNEL_IDS:
            raise LimitError(f"heater input {input_channel!r} is not 1–16")
        if units not in SETPOINT_UNITS:
            raise LimitError(f"370 setpoint units {units!r} are not 'K' or 'ohm'")
        in_range("370 setpoint change pause", "s")(delay_s, (1, 255))
        kept = self.control_setup
        self.set_control_setup(kept._replace(channel=int(input_channel), filtered=bool(filtered),
                                             units=units, delay_s=int(delay_s)))
        self.write(f"CMODE {CONTROL_MODES[mode]}")

    def set_heater_resistance(self, resistance_ohm: float) -> None:
        """The heater load in Ω (CSET's last field; the other fields are kept)."""
        R = in_range("heater resistance", "Ω")(resistance_ohm, (1.0, 100000.0))
        self.set_control_setup(self.control_setup._replace(heater_resistance_ohm=R))

    @property
    def ramp(self) -> tuple[bool, float]:
        """(enabled, rate in K/min) of the setpoint ramp."""
        on, rate = self.values("RAMP?")
        return bool(int(on)), float(rate)

    def set_ramp(self, enabled: bool, rate_K_per_min: float) -> None:
        rate = in_range("setpoint ramp rate", "K/min")(rate_K_per_min, self.RAMP_RATE_RANGE)
        in_range("setpoint ramp rate", "K/min")(rate, self.ramp_rate_limits)
        self.write(f"RAMP {int(enabled)},{rate:g}")

    @property
    def pid(self) -> tuple[float, float, float]:
        P, I, D = self.values("PID?")
        return float(P), float(I), float(D)

    def set_pid(self, P: float, I: float, D: float) -> None:
        P = in_range("PID P", "")(P, (0.001, 1000.0))
        I = in_range("PID I", "s")(I, (0.0, 10000.0))
        D = in_range("PID D", "s")(D, (0.0, 2500.0))
        self.write(f"PID {P:g},{I:g},{D:g}")

    def off(self) -> None:
        """Heater range 0: no current, whatever the loop says."""
        self.write("HTRRNG 0")


class LakeShore370(StrictValuesMixin, Instrument):
    """Lake Shore Model 370 over GPIB or RS-232 (through a serial server for a socket)."""

    READ_TERMINATION = WRITE_TERMINATION = "\r\n"
    #: setpoint ramp rates the sample heater's loop accepts, K/min
    RAMP_RATE_RANGE = LS370Heater.RAMP_RATE_RANGE

    channels = Instrument.MultiChannelCreator(LS370Input, list(CHANNEL_IDS), prefix="ch_")
    sample_heater = Instrument.ChannelCreator(LS370Heater, "sample")

    id = Instrument.measurement("*IDN?", """Get the identification string.""",
                                cast=str, maxsplit=0)
    still_percent = Instrument.control(
        "STILL?", "STILL %g",
        """Control the still heater (analog output 2 in still mode) in % of full scale.""",
        validator=in_range("still heater output", "%"),
        values=Span(0.0, 100.0, "370 range"),
        dynamic=True,
    )

    def __init__(self, adapter, name: str = "Lake Shore 370 AC resistance bridge", **kwargs
                 ) -> None:
        kwargs.setdefault("read_termination", self.READ_TERMINATION)
        kwargs.setdefault("write_termination", self.WRITE_TERMINATION)
        super().__init__(adapter, name, includeSCPI=False, **kwargs)

    def reconnect(self) -> None:
        self.adapter.reopen()

    def read_values(self, queries: list[str]) -> list[float]:
        """Several readings, one exchange each: the 370 answers only the last query of a
        chained line (§6.2.5), so unlike the 372 the values are not taken at one instant."""
        return [float(self.values(query)[0]) for query in queries]

    def input(self, channel: int | str) -> LS370Input:
        """The scanner channel 1–16 (the 370 has no control input ``A``)."""
        try:
            return self.channels[int(channel)]
        except (KeyError, TypeError, ValueError):
            raise LimitError(f"370 input {channel!r} is not 1–16") from None

    @property
    def scan(self) -> tuple[int, bool]:
        """(scanner channel, autoscan on)."""
        ch, auto = self.values("SCAN?")
        return int(ch), bool(int(auto))

    def set_scan(self, channel: int, autoscan: bool) -> None:
        in_range("370 scanner channel", "")(channel, (1, 16))
        self.write(f"SCAN {int(channel)},{int(autoscan)}")

    def all_heaters_off(self) -> None:
        """The 370's safe state: sample heater range 0 and still output 0 %.

        The still heater is driven by analog output 2 in still mode, so ``STILL 0`` removes its
        power without rewriting that output's configuration. Analog output 1 is left alone: the
        370 does not make it a heater, and ``ANALOG 1,…`` would overwrite whatever it monitors.
        """
        self.write("HTRRNG 0")
        self.write("STILL 0")
