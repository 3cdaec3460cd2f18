"""The simulated Lake Shore 370: scanner channel readings, input setup and the sample-heater loop
(370 manual ch. 6, §6.3 command list) as one command table over the world's fridge.

It reads the same fridge and RuO₂ thermometers as the simulated 372 and drives the same heater
loop, through the 370's own commands: scanner channels 1–16 only (no control input ``A``),
``RDGR?``/``RDGK?`` (no ``SRDG?``/``KRDG?``), ``RDGRNG`` for range and excitation, ``CSET`` +
``CMODE`` for the loop, and ``HTRRNG``, ``SETP``, ``PID``, ``RAMP``, ``RAMPST?``, ``HTR?``
without an output argument (one sample heater). Replies end with CR LF; of several queries on
one line only the last is answered (§6.2.5). Readings are printed as ``+012.034E-03``, settings
as zero-padded integers. Invalid input gets no reply and sets ``*ESR?`` bit 4 (EXE).

Wiring of the simulated fridge, as on the 372: channel 1 is the mixing-chamber RuO₂ (its curve is
loaded as curve 1, so ``RDGK? 1`` gives kelvin), channel 2 the sample's on-chip RuO₂ (no curve);
the other channels are open (R. OVER).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from cryolab.sim.fridge import MODE_CLOSED_LOOP, MODE_OFF, MODE_OPEN_LOOP, MODE_ZONE
from cryolab.sim.protocol import (
    Row,
    Stored,
    Table,
    TableDevice,
    bit,
    channel,
    engineering,
    float_in,
    int_in,
    letters,
)
from cryolab.sim.sample import ruo2_mc_ohm, ruo2_sample_ohm
from cryolab.sim.world import World

CHANNELS = tuple(str(i) for i in range(1, 17))
MC_CHANNEL, SAMPLE_CHANNEL = "1", "2"
MC_CURVE = 1  # the 370 holds user curves 1–20
READING_NOISE = 5e-5  # relative rms of a resistance reading, as the 372 twin's
STATUS_R_OVER = 16  # RDGST? bit 4 (370 manual, RDGST?)
ESR_EXE = 16  # the only error bit of the 370's *ESR? (370 manual p. 6-21: OPC, EXE, PON)
STB_READING, STB_ESB = 4, 32  # *STB?: a valid reading is always there; ⚠ ESB bit position
#: CMODE → the fridge heater loop's mode (1 closed loop, 2 zone, 3 open loop, 4 off)
LOOP_MODES = {1: MODE_CLOSED_LOOP, 2: MODE_ZONE, 3: MODE_OPEN_LOOP, 4: MODE_OFF}
UNITS_KELVIN, UNITS_OHM = 1, 2
DISPLAY_CURRENT, DISPLAY_POWER = 1, 2

CHANNEL = channel(CHANNELS)  # 1–16; "A" and 0 are refused
NONNEGATIVE = float_in(0.0, 1.0e6)


@dataclass
class ChannelState:
    """One scanner channel's setup (INSET, RDGRNG, FILTER)."""

    enabled: int = 1
    dwell_s: int = 7
    pause_s: int = 3
    curve: int = 0
    tempco: int = 1
    mode: int = 0  # 0 voltage, 1 current excitation
    excitation: int = 7
    range_index: int = 10
    autorange: int = 1
    cs_off: int = 0
    filter_on: int = 1
    filter_settle_s: int = 10
    filter_window_pct: int = 10


@dataclass
class ControlState:
    """The sample heater loop: CSET's fields, CMODE, and the loop settings."""

    channel: int = 1
    filtered: int = 1
    units: int = UNITS_KELVIN
    delay_s: int = 1
    display: int = DISPLAY_CURRENT
    limit: int = 8  # the highest HTRRNG allowed
    heater_ohm: float = 120.0  # the fridge's heater, as the 372 twin sees it
    mode: int = 4  # CMODE: off
    range_index: int = 0
    setpoint: float = 0.0
    ramp_on: int = 0
    ramp_rate_K_per_min: float = 0.1
    P: float = 10.0
    I: float = 20.0
    D: float = 0.0
    manual_pct: float = 0.0


class LS370Device(TableDevice):
    """Command interpreter of one simulated 370 bound to a world."""

    role = "bridge"
    idn = "LSCI,MODEL370,370665,04102008"
    reply_terminator = "\r\n"
    last_reply_only = True

    def __init__(self, world: World, name: str = "bridge") -> None:
        super().__init__(world, name)
        self.reset()

    def reset(self) -> None:
        self.channels = {ch: ChannelState() for ch in CHANNELS}
        self.channels[MC_CHANNEL].curve = MC_CURVE
        self.control = ControlState()
        self.scan = (1, 0)
        self.still_pct = 0.0
        self.esr = 0
        self.stored = self.table.defaults()
        self._push_heater()

    def before_line(self) -> None:
        self.world.advance()

    def after_line(self) -> None:
        self._push_heater()

    def command_error(self, query: bool, unknown: bool) -> None:
        self.esr |= ESR_EXE

    # ---------------------------------------------------------------- readings
    def _temperature(self, ch: str) -> float:
        if ch == MC_CHANNEL:
            return self.world.fridge.T_mc_K
        if ch == SAMPLE_CHANNEL:
            return self.world.fridge.T_sample_K
        return math.nan

    def _resistance(self, ch: str) -> float:
        if ch == MC_CHANNEL:
            return ruo2_mc_ohm(self.world.fridge.T_mc_K)
        if ch == SAMPLE_CHANNEL:
            return ruo2_sample_ohm(self.world.fridge.T_sample_K)
        return 0.0  # open: nothing to measure

    def read_kelvin(self, ch: str) -> str:
        if self.channels[ch].curve == 0 or ch not in (MC_CHANNEL, SAMPLE_CHANNEL):
            return engineering(0.0)
        return engineering(self._temperature(ch) * self.world.relative_noise(READING_NOISE))

    def read_ohms(self, ch: str) -> str:
        return engineering(self._resistance(ch) * self.world.relative_noise(READING_NOISE))

    def read_status(self, ch: str) -> str:
        return "000" if ch in (MC_CHANNEL, SAMPLE_CHANNEL) else f"{STATUS_R_OVER:03d}"

    def read_power(self, ch: str) -> str:
        """Excitation power: V²/R in voltage mode (2 µV · √10^(i−1)), I²R in current mode
        (1 pA · √10^(i−1)); the 370's excitation tables, as the 372's."""
        s, R = self.channels[ch], self._resistance(ch)
        if R <= 0:
            return engineering(0.0)
        step = math.sqrt(10.0) ** (s.excitation - 1)
        return engineering((2e-6 * step) ** 2 / R if s.mode == 0 else (1e-12 * step) ** 2 * R)

    def read_esr(self) -> str:
        value, self.esr = self.esr, 0
        return f"{value:03d}"

    def read_stb(self) -> str:
        return f"{STB_READING | (STB_ESB if self.esr & self.stored['*ESE'] else 0):03d}"

    # ---------------------------------------------------------------- scanner channels
    def set_inset(self, ch: str, on: int, dwell_s: int, pause_s: int, curve: int,
                  tempco: int) -> None:
        s = self.channels[ch]
        s.enabled, s.dwell_s, s.pause_s, s.curve, s.tempco = on, dwell_s, pause_s, curve, tempco

    def get_inset(self, ch: str) -> str:
        s = self.channels[ch]
        return f"{s.enabled},{s.dwell_s:03d},{s.pause_s:03d},{s.curve:02d},{s.tempco}"

    def set_rdgrng(self, ch: str, mode: int, excitation: int, range_index: int, autorange: int,
                   cs_off: int) -> None:
        # voltage excitation has 12 steps, current excitation 22 (370 manual, RDGRNG)
        if excitation > (12 if mode == 0 else 22):
            raise ValueError(f"excitation {excitation} in mode {mode}")
        s = self.channels[ch]
        s.mode, s.excitation, s.range_index, s.autorange, s.cs_off = \
            mode, excitation, range_index, autorange, cs_off

    def get_rdgrng(self, ch: str) -> str:
        s = self.channels[ch]
        return f"{s.mode},{s.excitation:02d},{s.range_index:02d},{s.autorange},{s.cs_off}"

    def set_filter(self, ch: str, on: int, settle_s: int, window_pct: int) -> None:
        s = self.channels[ch]
        s.filter_on, s.filter_settle_s, s.filter_window_pct = on, settle_s, window_pct

    def get_filter(self, ch: str) -> str:
        s = self.channels[ch]
        return f"{s.filter_on},{s.filter_settle_s:03d},{s.filter_window_pct:02d}"

    def get_crvhdr(self, curve: int) -> str:
        if curve == MC_CURVE:
            return '"RuO2-MC-SIM    ","SIM00001  ",4,+40.000,1'
        return '"               ","          ",0,+000.000,0'

    # ---------------------------------------------------------------- the heater loop
    def set_cset(self, ch: str, filtered: int, units: int, delay_s: int, display: int,
                 limit: int, heater_ohm: float) -> None:
        c = self.control
        c.channel, c.filtered, c.units, c.delay_s = int(ch), filtered, units, delay_s
        c.display, c.limit, c.heater_ohm = display, limit, heater_ohm
        c.range_index = min(c.range_index, limit)

    def get_cset(self) -> str:
        c = self.control
        return (f"{c.channel:02d},{c.filtered},{c.units},{c.delay_s:03d},{c.display},{c.limit},"
                f"{c.heater_ohm:+08.3f}")

    def set_range(self, range_index: int) -> None:
        if range_index > self.control.limit:  # CSET's heater limit caps the range (⚠ refused)
            raise ValueError(f"range {range_index} above the limit {self.control.limit}")
        self.control.range_index = range_index

    def get_heater_output(self) -> str:
        """HTR?: % of the range's current, or W when CSET displays power."""
        loop = self.world.fridge.heater
        if self.control.display == DISPLAY_POWER:
            return engineering(loop.power_W)
        return engineering(loop.output_percent)

    def set_ramp(self, on: int, rate_K_per_min: float) -> None:
        self.control.ramp_on, self.control.ramp_rate_K_per_min = on, rate_K_per_min

    def set_pid(self, P: float, I: float, D: float) -> None:
        self.control.P, self.control.I, self.control.D = P, I, D

    def _setpoint_K(self) -> float:
        """The setpoint is in CSET's units: K, or Ω through the MC curve."""
        c = self.control
        if c.units == UNITS_OHM:
            ohm = c.setpoint
            return _invert(ruo2_mc_ohm, ohm) if c.channel == 1 and ohm > 0 else 0.0
        return c.setpoint

    def _push_heater(self) -> None:
        """Hand the loop's settings to the fridge's heater."""
        c, loop = self.control, self.world.fridge.heater
        mode = LOOP_MODES[c.mode]
        # closed loop needs the MC thermometer with its curve as the control channel
        controllable = c.channel == 1 and self.channels[MC_CHANNEL].curve != 0
        loop.mode = mode if (mode != MODE_CLOSED_LOOP or controllable) else MODE_OFF
        loop.input_channel = str(c.channel)
        loop.range_index = c.range_index
        loop.resistance_ohm = c.heater_ohm
        loop.setpoint_K = self._setpoint_K()
        loop.ramp_enabled = bool(c.ramp_on)
        loop.ramp_rate_K_per_min = c.ramp_rate_K_per_min
        loop.P, loop.I, loop.D = c.P, c.I, c.D
        loop.manual_percent = c.manual_pct

    # ---------------------------------------------------------------- the command set
    table = Table(grammar=letters, rows=[
        # interface commands (370 manual p. 6-21); *WAI is not supported: ignored
        Row("*IDN", get=lambda d: d.idn),
        Row("*RST", apply=reset),
        Row("*CLS", apply=lambda d: setattr(d, "esr", 0)),
        Row("*ESR", get=read_esr),
        Stored("*ESE", 0, set=int_in(0, 255)),
        Stored("*SRE", 0, set=int_in(0, 255)),
        Row("*STB", get=read_stb),
        Row("*OPC", get=lambda d: "1", apply=lambda d: None),
        Row("*TST", get=lambda d: "0"),
        Row("*WAI", apply=lambda d: None),
        # readings
        Row("RDGK", get=read_kelvin, get_args=CHANNEL),
        Row("RDGR", get=read_ohms, get_args=CHANNEL),
        Row("RDGST", get=read_status, get_args=CHANNEL),
        Row("RDGPWR", get=read_power, get_args=CHANNEL),
        # scanner and channel setup
        Row("SCAN", get=lambda d: f"{d.scan[0]:02d},{d.scan[1]}", set=(int_in(1, 16), bit),
            apply=lambda d, ch, auto: setattr(d, "scan", (ch, auto))),
        Row("INSET", get=get_inset, get_args=CHANNEL, apply=set_inset,
            set=(CHANNEL, bit, int_in(1, 200), int_in(3, 200), int_in(0, 20), int_in(1, 2))),
        Row("RDGRNG", get=get_rdgrng, get_args=CHANNEL, apply=set_rdgrng,
            set=(CHANNEL, bit, int_in(1, 22), int_in(1, 22), bit, bit)),
        Row("FILTER", get=get_filter, get_args=CHANNEL, apply=set_filter,
            set=(CHANNEL, bit, int_in(1, 200), int_in(1, 80))),
        Row("CRVHDR", get=get_crvhdr, get_args=int_in(1, 20)),
        # the sample heater loop: no output argument anywhere
        Row("CSET", get=get_cset, apply=set_cset,
            set=(CHANNEL, bit, int_in(1, 2), int_in(1, 255), int_in(1, 2), int_in(0, 8),
                 float_in(1.0, 100000.0))),
        Row("CMODE", get=lambda d: str(d.control.mode), set=int_in(1, 4),
            apply=lambda d, m: setattr(d.control, "mode", m)),
        Row("HTRRNG", get=lambda d: str(d.control.range_index), set=int_in(0, 8),
            apply=set_range),
        Row("SETP", get=lambda d: engineering(d.control.setpoint), set=NONNEGATIVE,
            apply=lambda d, v: setattr(d.control, "setpoint", v)),
        Row("PID", get=lambda d: f"{d.control.P:+08.2f},{d.control.I:+08.2f},"
                                 f"{d.control.D:+08.2f}",
            set=(float_in(0.001, 1000), float_in(0, 10000), float_in(0, 2500)), apply=set_pid),
        Row("RAMP", get=lambda d: f"{d.control.ramp_on},{d.control.ramp_rate_K_per_min:+08.3f}",
            set=(bit, float_in(0.001, 10.0)), apply=set_ramp),
        Row("RAMPST", get=lambda d: str(int(d.world.fridge.heater.ramping))),
        Row("HTR", get=get_heater_output),
        Row("HTRST", get=lambda d: "0"),  # the simulated heater is never open or shorted
        Row("MOUT", get=lambda d: f"{d.control.manual_pct:+08.3f}", set=float_in(0.0, 100.0),
            apply=lambda d, pct: setattr(d.control, "manual_pct", pct)),
        Row("STILL", get=lambda d: f"{d.still_pct:+08.3f}", set=float_in(0.0, 100.0),
            apply=lambda d, pct: setattr(d, "still_pct", pct)),
    ])


def _invert(f: Callable[[float], float], R_ohm: float) -> float:
    """T with f(T) = R for a decreasing RuO₂ curve (bisection in log T)."""
    lo, hi = math.log(1e-3), math.log(100.0)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if f(math.exp(mid)) > R_ohm:
            lo = mid
        else:
            hi = mid
    return math.exp(0.5 * (lo + hi))
