"""The simulated Lake Shore 372: readings, input setup and the sample-heater loop (manual §6.6),
as one command table over the world.

Replies end with CR LF; several queries on one line are answered in one line joined by ``;``.
Readings are printed the way the hardware prints them (``+012.034E-03``), settings as zero-padded
integers (``INSET?`` → ``1,007,003,21,1``). Both the manual's ``RDGK?``/``RDGR?`` and the drivers'
``KRDG?``/``SRDG?`` are answered. Invalid input gets no reply. ``HTRSET?`` answers four fields, as
a real 372 does (QCoDeS's five-field parse fails against hardware too; protocols.md §5.2).

Wiring of the simulated fridge: channel 1 is the mixing-chamber RuO₂ (its curve is loaded as
curve 21, so KRDG? 1 gives kelvin), channel 2 the sample's on-chip RuO₂ (no curve: cryolab
converts its resistance with the user's .340 file); the other channels are open (R. OVER).

Temperatures come from the loaded curves as on the instrument: a channel's resistance reading
is converted through the curve its INSET names, linearly between breakpoints in the curve's
format (CRVHDR, manual §6.6.1 p. 158: 3 = Ω/K linear, 4 = log Ω/K linear; 5 = log Ω/log K as
the Model 340 defines it, manual p. 9-29). User curves 21–59 are written with CRVHDR / CRVPT
(6 significant digits, p. 159) and deleted with CRVDEL. A reading is taken once per instant of
the clock, so KRDG? and SRDG? asked together describe the same reading.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from cryolab.sim.fridge import MODE_CLOSED_LOOP
from cryolab.sim.protocol import (
    Row,
    Table,
    TableDevice,
    bit,
    channel,
    channels,
    engineering,
    float_in,
    int_in,
    letters,
    number,
    one_of,
    optional,
    positive,
    quoted,
)
from cryolab.sim.sample import ruo2_mc_ohm, ruo2_sample_ohm
from cryolab.sim.world import World

INPUTS = ("A", *(str(i) for i in range(1, 17)))
MC_CHANNEL, SAMPLE_CHANNEL = "1", "2"
MC_CURVE = 21
READING_NOISE = 5e-5  # relative rms of a resistance reading
STATUS_R_OVER, STATUS_T_OVER, STATUS_T_UNDER = 16, 64, 128
#: curve formats the twin converts: 3 Ω/K and 4 log Ω/K (372 manual p. 158), 5 log Ω/log K
#: (the Model 340's, manual p. 9-29; accepted here so a .340 of that format can be loaded ⚠ the
#: 372 lists 3, 4 and 7, cubic spline, which the twin does not model)
CURVE_FORMATS = (3, 4, 5)
ESR_EXE, ESR_CMD = 16, 32  # ⚠ the 372's own *ESR? bits were not checked (protocols.md §2.1)

# argument parsers of the 372's command list
INPUT = channel(INPUTS)  # A or 1–16
OUTPUT = int_in(0, 2)  # 0 sample heater, 1 warm-up heater, 2 analog / still
NONNEGATIVE = float_in(0.0, 1.0e6)
CURVE_FORMAT = int_in(min(CURVE_FORMATS), max(CURVE_FORMATS))


def six_significant(v: float) -> float:
    """What the instrument keeps of a curve value: 6 significant digits (CRVPT, p. 159)."""
    return float(f"{v:.6g}")


@dataclass
class Curve:
    """A curve in the instrument: its header and breakpoints (units, kelvin) by index."""

    name: str = ""
    serial: str = ""
    data_format: int = 4
    limit_K: float = 375.0
    coefficient: int = 1
    points: dict[int, tuple[float, float]] = field(default_factory=dict)
    _table: tuple[list[float], list[float]] | None = field(default=None, repr=False)

    def set_point(self, index: int, units: float, temp_K: float) -> None:
        self.points[index] = (units, temp_K)
        self._table = None

    def table(self) -> tuple[list[float], list[float]]:
        """The breakpoints in index order, as (units, temperatures); kept until a point changes
        (every KRDG? reads through it)."""
        if self._table is None:
            pts = [self.points[i] for i in sorted(self.points)]
            self._table = ([u for u, _ in pts], [t for _, t in pts])
        return self._table


def curve_temperature_K(data_format: int, units: list[float], temperatures_K: list[float],
                        R_ohm: float) -> float | None:
    """T for a resistance through a curve, the instrument's way: linear between breakpoints in
    the format's coordinates (3: T against R; 4: T against log10 R; 5: log10 T against
    log10 R). None outside the curve (T.OVER / T.UNDER)."""
    if data_format == 3:
        x = R_ohm
    elif R_ohm > 0:
        x = math.log10(R_ohm)
    else:
        return None
    xs, ys = units, temperatures_K
    if len(xs) < 2:
        return None
    if xs[0] > xs[-1]:  # the instrument takes either order of a monotonic curve
        xs, ys = xs[::-1], ys[::-1]
    if data_format == 5:
        ys = [math.log10(t) for t in ys]
    if not xs[0] <= x <= xs[-1]:
        return None
    i = min(max(bisect.bisect_left(xs, x), 1), len(xs) - 1)
    x0, x1, y0, y1 = xs[i - 1], xs[i], ys[i - 1], ys[i]
    y = y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return 10.0**y if data_format == 5 else y


def _mc_curve() -> Curve:
    """Curve 21, the mixing-chamber RuO₂: 200 breakpoints of ruo2_mc_ohm, 10 mK–40 K, log Ω/K
    (the linear interpolation in log R reproduces the sensor's law to 3.3·10⁻⁴ in T)."""
    n = 200
    temps = [0.010 * (40.0 / 0.010) ** (i / (n - 1)) for i in range(n)]
    points = {i + 1: (six_significant(math.log10(ruo2_mc_ohm(t))), six_significant(t))
              for i, t in enumerate(reversed(temps))}  # increasing units, as loaded
    return Curve("RuO2-MC-SIM", "SIM00021", 4, 40.0, 1, points)


def CONTROL_INPUT(text: str) -> str:
    """OUTMODE's control input: a channel, or 0 for none."""
    return "0" if text.strip() == "0" else INPUT(text)


@dataclass
class InputState:
    name: str
    enabled: int = 1
    dwell_s: int = 7
    pause_s: int = 3
    curve: int = 0
    tempco: int = 1
    mode: int = 0  # voltage excitation
    excitation: int = 7
    autorange: int = 1
    range_index: int = 10
    cs_off: int = 0
    units: int = 1  # 1 kelvin, 2 ohms
    tlimit_K: float = 0.0
    filter_on: int = 1
    filter_settle_s: int = 10
    filter_window_pct: int = 10


@dataclass
class OutputState:
    mode: int = 0
    input: str = "1"
    powerup: int = 0
    polarity: int = 0
    filtered: int = 1
    delay_s: int = 1
    range_index: int = 0
    setpoint: float = 0.0
    ramp_on: int = 0
    ramp_rate: float = 0.1
    P: float = 10.0
    I: float = 20.0
    D: float = 0.0
    manual_pct: float = 0.0
    heater_ohm: float = 120.0
    max_current: int = 8
    max_user_A: float = 0.0
    display: int = 1


class LS372Device(TableDevice):
    """Command interpreter of one simulated 372 bound to a world."""

    role = "bridge"
    idn = "LSCI,MODEL372,LSA2245,1.3"
    reply_terminator = "\r\n"
    join_replies = ";"
    # a real 372 allows two sockets (manual §6.4.3); the twin allows any number unless a lab
    # limits it (--bridge-max-connections), so extra clients can watch a run
    max_connections = None

    def __init__(self, world: World, name: str = "bridge") -> None:
        super().__init__(world, name)
        self.reset()

    def reset(self) -> None:
        self.inputs = {ch: InputState(name=f"Channel {ch}") for ch in INPUTS}
        self.inputs[MC_CHANNEL] = InputState(name="MC RuO2", curve=MC_CURVE, units=1)
        self.inputs[SAMPLE_CHANNEL] = InputState(name="Sample RuO2", curve=0, units=2)
        self.outputs = {o: OutputState() for o in (0, 1, 2)}
        self.outputs[0].input = MC_CHANNEL
        self.scan = (1, 0)
        self.still_pct = 0.0
        self.frequency_index = {"0": 1, "A": 1}
        self.esr = 0
        # curves live in the instrument's memory; *RST does not erase them, but a new twin
        # starts with only the MC curve loaded
        if not hasattr(self, "curves"):
            self.curves: dict[int, Curve] = {MC_CURVE: _mc_curve()}
        self._readings: dict[str, tuple[float, float]] = {}  # channel → (time, resistance)
        self._push_heater()

    def before_line(self) -> None:
        self.world.advance()
        self._enforce_temperature_limits()

    def after_line(self) -> None:
        self._push_heater()

    def command_error(self, query: bool, unknown: bool) -> None:
        self.esr |= ESR_CMD if unknown else ESR_EXE

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
        return 0.0

    def reading_ohm(self, ch: str) -> float:
        """The channel's resistance reading (with its noise), one per instant of the clock."""
        last = self._readings.get(ch)
        if last is not None and last[0] == self.world.t:
            return last[1]
        R = self._resistance(ch) * self.world.relative_noise(READING_NOISE)
        self._readings[ch] = (self.world.t, R)
        return R

    def curve_temperature_K(self, curve_number: int, R_ohm: float) -> float | None:
        """The kelvin value of a resistance through one of the loaded curves (None: no such
        curve, or R outside it)."""
        curve = self.curves.get(curve_number)
        if curve is None:
            return None
        units, temps = curve.table()
        return curve_temperature_K(curve.data_format, units, temps, R_ohm)

    def _kelvin(self, ch: str) -> float | None:
        """The channel's reading through its curve (RDGK?: zero without a curve, p. 174)."""
        if self.inputs[ch].curve == 0 or ch not in (MC_CHANNEL, SAMPLE_CHANNEL):
            return None
        return self.curve_temperature_K(self.inputs[ch].curve, self.reading_ohm(ch))

    def _status(self, ch: str) -> int:
        if ch not in (MC_CHANNEL, SAMPLE_CHANNEL):
            return STATUS_R_OVER
        curve = self.curves.get(self.inputs[ch].curve)
        if self.inputs[ch].curve == 0 or curve is None or self._kelvin(ch) is not None:
            return 0
        units, _ = curve.table()
        if len(units) < 2:  # a header without breakpoints: no conversion, nothing to flag
            return 0
        # outside the curve: a resistance above its top is colder than its coldest point
        R = self.reading_ohm(ch)
        x = R if curve.data_format == 3 else math.log10(max(R, 1e-300))
        return STATUS_T_UNDER if x > max(units) else STATUS_T_OVER

    def read_kelvin(self, ch: str) -> str:
        T = self._kelvin(ch)
        return engineering(0.0 if T is None else T)

    def read_ohms(self, ch: str) -> str:
        return engineering(self.reading_ohm(ch))

    def read_power(self, ch: str) -> str:
        R = self._resistance(ch)
        if R <= 0:
            return engineering(0.0)
        v_exc = 2e-6 * math.sqrt(10.0) ** (self.inputs[ch].excitation - 1)  # voltage mode
        return engineering(v_exc**2 / R)

    def read_esr(self) -> str:
        value, self.esr = self.esr, 0
        return f"{value:03d}"

    # ---------------------------------------------------------------- inputs
    def set_scan(self, ch: int, autoscan: int) -> None:
        self.scan = (ch, autoscan)

    def set_inset(self, ch: str, on: int, dwell_s: int, pause_s: int, curve: int,
                  tempco: int) -> None:
        s = self.inputs[ch]
        s.enabled, s.dwell_s, s.pause_s, s.curve, s.tempco = on, dwell_s, pause_s, curve, tempco

    def get_inset(self, ch: str) -> str:
        s = self.inputs[ch]
        return f"{s.enabled},{s.dwell_s:03d},{s.pause_s:03d},{s.curve:02d},{s.tempco}"

    def set_intype(self, ch: str, mode: int, excitation: int, autorange: int, range_index: int,
                   cs_off: int, units: int) -> None:
        s = self.inputs[ch]
        s.mode, s.excitation, s.autorange = mode, excitation, autorange
        s.range_index, s.cs_off, s.units = range_index, cs_off, units

    def get_intype(self, ch: str) -> str:
        s = self.inputs[ch]
        return f"{s.mode},{s.excitation:02d},{s.autorange},{s.range_index:02d},{s.cs_off},{s.units}"

    def set_name(self, ch: str, name: str) -> None:
        self.inputs[ch].name = name

    def set_tlimit(self, ch: str, limit_K: float) -> None:
        self.inputs[ch].tlimit_K = limit_K

    def get_tlimit(self, ch: str) -> str:
        v = self.inputs[ch].tlimit_K
        return "+0000" if v == 0 else f"{v:+09.3f}"

    def set_filter(self, chans: tuple[str, ...], on: int, settle_s: int, window_pct: int) -> None:
        for ch in chans:
            s = self.inputs[ch]
            s.filter_on, s.filter_settle_s, s.filter_window_pct = on, settle_s, window_pct

    def get_filter(self, ch: str) -> str:
        s = self.inputs[ch]
        return f"{s.filter_on},{s.filter_settle_s:03d},{s.filter_window_pct:02d}"

    def set_frequency(self, which: str, index: int) -> None:
        self.frequency_index[which] = index

    # ---------------------------------------------------------------- curves (p. 158–159)
    def get_crvhdr(self, curve: int) -> str:
        c = self.curves.get(curve)
        if c is None:
            return '"               ","          ",0,+000.000,0'
        return (f'"{c.name:<15}","{c.serial:<10}",{c.data_format},{c.limit_K:+08.3f},'
                f"{c.coefficient}")

    def set_crvhdr(self, curve: int, name: str, serial: str, data_format: int, limit_K: float,
                   coefficient: int) -> None:
        c = self.curves.setdefault(curve, Curve())
        c.name, c.serial, c.data_format, c.limit_K = name, serial, data_format, limit_K
        c.coefficient = coefficient
        self._recompute_coefficient(c)

    def set_crvpt(self, curve: int, index: int, units: float, temp_K: float,
                  curvature: float | None) -> None:
        c = self.curves.setdefault(curve, Curve())
        c.set_point(index, six_significant(units), six_significant(temp_K))
        self._recompute_coefficient(c)

    def get_crvpt(self, curve: int, index: int) -> str:
        c = self.curves.get(curve)
        units, temp = (c.points.get(index, (0.0, 0.0)) if c is not None else (0.0, 0.0))
        return f"{engineering(units)},{engineering(temp)}"

    def delete_curve(self, curve: int) -> None:
        self.curves.pop(curve, None)

    @staticmethod
    def _recompute_coefficient(c: Curve) -> None:
        """"The coefficient parameter will be calculated automatically based on the first 2
        curve datapoints" (p. 158)."""
        if 1 in c.points and 2 in c.points:
            (u1, t1), (u2, t2) = c.points[1], c.points[2]
            if t1 != t2:
                c.coefficient = 1 if (u2 - u1) / (t2 - t1) < 0 else 2

    # ---------------------------------------------------------------- outputs
    def set_outmode(self, out: int, mode: int, source: str, powerup: int, polarity: int,
                    filtered: int, delay_s: int) -> None:
        o = self.outputs[out]
        o.mode, o.input, o.powerup, o.polarity = mode, source, powerup, polarity
        o.filtered, o.delay_s = filtered, delay_s

    def get_outmode(self, out: int) -> str:
        o = self.outputs[out]
        return f"{o.mode},{o.input},{o.powerup},{o.polarity},{o.filtered},{o.delay_s:03d}"

    def set_htrset(self, out: int, heater_ohm: float, max_current: int | None,
                   max_user_A: float | None, display: int | None) -> None:
        o = self.outputs[out]
        o.heater_ohm = heater_ohm
        if max_current is not None:
            o.max_current = max_current
        if max_user_A is not None:
            o.max_user_A = max_user_A
        if display is not None:
            o.display = display

    def get_htrset(self, out: int) -> str:
        o = self.outputs[out]
        return f"{o.heater_ohm:+08.3f},{o.max_current},{o.max_user_A:+08.2f},{o.display}"

    def set_range(self, out: int, range_index: int) -> None:
        # output 0 has eight current ranges, the warm-up and still outputs are on/off
        if range_index > (8 if out == 0 else 1):
            raise ValueError(f"range {range_index} for output {out}")
        self.outputs[out].range_index = range_index

    def get_aout(self, out: int) -> str:
        on = self.outputs[out].range_index
        value = self.still_pct if out == 2 else self.outputs[out].manual_pct
        return engineering(value if on else 0.0)

    def set_still(self, percent: float) -> None:
        self.still_pct = percent

    def set_setpoint(self, out: int, value: float) -> None:
        # with ramping on, the loop's working setpoint walks from the old setpoint to this one
        self.outputs[out].setpoint = value

    def set_ramp(self, out: int, on: int, rate_K_per_min: float) -> None:
        o = self.outputs[out]
        o.ramp_on, o.ramp_rate = on, rate_K_per_min

    def get_ramp(self, out: int) -> str:
        o = self.outputs[out]
        return f"{o.ramp_on},{o.ramp_rate:+08.3f}"

    def get_rampst(self, out: int) -> str:
        return "1" if out == 0 and self.world.fridge.heater.ramping else "0"

    def set_pid(self, out: int, P: float, I: float, D: float) -> None:
        o = self.outputs[out]
        o.P, o.I, o.D = P, I, D

    def get_pid(self, out: int) -> str:
        o = self.outputs[out]
        return f"{o.P:+08.2f},{o.I:+08.2f},{o.D:+08.2f}"

    def set_mout(self, out: int, percent: float) -> None:
        self.outputs[out].manual_pct = percent

    # ---------------------------------------------------------------- physics coupling
    def _setpoint_K(self, value: float) -> float:
        """The setpoint is in the control input's preferred units (K, or Ω via its curve)."""
        o = self.outputs[0]
        if o.input in self.inputs and self.inputs[o.input].units == 2 and value > 0:
            return _invert(ruo2_mc_ohm, value) if o.input == MC_CHANNEL else 0.0
        return value

    def _push_heater(self) -> None:
        """Hand output 0's settings to the fridge's heater loop."""
        o, loop = self.outputs[0], self.world.fridge.heater
        controllable = o.input == MC_CHANNEL and self.inputs[MC_CHANNEL].curve != 0
        loop.mode = o.mode if (o.mode != MODE_CLOSED_LOOP or controllable) else 0
        loop.input_channel = o.input
        loop.range_index = o.range_index
        loop.resistance_ohm = o.heater_ohm
        loop.setpoint_K = self._setpoint_K(o.setpoint)
        loop.ramp_enabled = bool(o.ramp_on)
        loop.ramp_rate_K_per_min = o.ramp_rate
        loop.P, loop.I, loop.D = o.P, o.I, o.D
        loop.manual_percent = o.manual_pct

    def _enforce_temperature_limits(self) -> None:
        """TLIMIT: a channel above its limit switches every output off (372 manual)."""
        for ch in (MC_CHANNEL, SAMPLE_CHANNEL):
            limit = self.inputs[ch].tlimit_K
            if limit > 0 and self._temperature(ch) > limit:
                for o in self.outputs.values():
                    o.range_index = 0
                self.world.fridge.heater_off()

    # ---------------------------------------------------------------- the command set
    table = Table(grammar=letters, rows=[
        # common commands (manual §6.6)
        Row("*IDN", get=lambda d: d.idn),
        Row("*RST", apply=reset),
        Row("*CLS", apply=lambda d: setattr(d, "esr", 0)),
        Row("*ESR", get=read_esr),
        Row("*OPC", get=lambda d: "1"),
        Row("*STB", get=lambda d: "000"),
        # readings: the manual's spelling, then the one QCoDeS, socs and Lake Shore's driver send
        Row(("RDGK", "KRDG"), get=read_kelvin, get_args=INPUT),
        Row(("RDGR", "SRDG"), get=read_ohms, get_args=INPUT),
        Row("QRDG", get=lambda d, ch: engineering(d._resistance(ch) * 1e-4), get_args=INPUT),
        Row("RDGPWR", get=read_power, get_args=INPUT),
        Row("RDGST", get=lambda d, ch: f"{d._status(ch):03d}", get_args=INPUT),
        # inputs
        Row("SCAN", get=lambda d: f"{d.scan[0]:02d},{d.scan[1]}",
            set=(int_in(1, 16), bit), apply=set_scan),
        Row("INSET", get=get_inset, get_args=INPUT, apply=set_inset,
            set=(INPUT, bit, int_in(1, 200), int_in(3, 200), int_in(0, 59), int_in(1, 2))),
        Row("INTYPE", get=get_intype, get_args=INPUT, apply=set_intype,
            set=(INPUT, bit, int_in(1, 22), int_in(0, 2), int_in(1, 22), bit, int_in(1, 2))),
        Row("INNAME", get=lambda d, ch: d.inputs[ch].name, get_args=INPUT,
            set=(INPUT, quoted(15)), apply=set_name),
        Row("TLIMIT", get=get_tlimit, get_args=INPUT, set=(INPUT, NONNEGATIVE), apply=set_tlimit),
        Row("FILTER", get=get_filter, get_args=INPUT, apply=set_filter,
            set=(channels(INPUTS, everything="0"), bit, int_in(1, 200), int_in(1, 80))),
        Row("FREQ", get=lambda d, which: str(d.frequency_index[which]),
            get_args=optional(one_of("0", "A"), "0"), set=(one_of("0", "A"), int_in(1, 5)),
            apply=set_frequency),
        Row("CRVHDR", get=get_crvhdr, get_args=int_in(1, 59), apply=set_crvhdr,
            set=(int_in(21, 59), quoted(15), quoted(10), CURVE_FORMAT, float_in(0.0, 1000.0),
                 int_in(1, 2))),
        Row("CRVPT", get=get_crvpt, get_args=(int_in(1, 59), int_in(1, 200)), apply=set_crvpt,
            set=(int_in(21, 59), int_in(1, 200), number, positive, optional(number))),
        Row("CRVDEL", apply=delete_curve, set=int_in(21, 59)),
        # heater outputs and control
        Row("OUTMODE", get=get_outmode, get_args=OUTPUT, apply=set_outmode,
            set=(OUTPUT, int_in(0, 6), CONTROL_INPUT, bit, bit, bit, int_in(1, 255))),
        Row("HTRSET", get=get_htrset, get_args=OUTPUT, apply=set_htrset,
            set=(OUTPUT, float_in(1.0, 2000.0), optional(int_in(0, 8)), optional(NONNEGATIVE),
                 optional(int_in(1, 2)))),
        Row("RANGE", get=lambda d, out: str(d.outputs[out].range_index), get_args=OUTPUT,
            set=(OUTPUT, int_in(0, 8)), apply=set_range),
        # the manual's HTR? takes no argument; QCoDeS sends HTR? 0|1|2, which is ignored
        Row("HTR", get=lambda d: engineering(d.world.fridge.heater.output_percent)),
        Row("AOUT", get=get_aout, get_args=int_in(1, 2)),
        Row("STILL", get=lambda d: f"{d.still_pct:+07.3f}", set=float_in(0.0, 100.0),
            apply=set_still),
        Row("SETP", get=lambda d, out: engineering(d.outputs[out].setpoint), get_args=OUTPUT,
            set=(OUTPUT, NONNEGATIVE), apply=set_setpoint),
        Row("RAMP", get=get_ramp, get_args=OUTPUT, set=(OUTPUT, bit, float_in(0.0, 100.0)),
            apply=set_ramp),
        Row("RAMPST", get=get_rampst, get_args=OUTPUT),
        Row("PID", get=get_pid, get_args=OUTPUT, apply=set_pid,
            set=(OUTPUT, float_in(0, 1000), float_in(0, 10000), float_in(0, 2500))),
        Row("MOUT", get=lambda d, out: engineering(d.outputs[out].manual_pct), get_args=OUTPUT,
            set=(OUTPUT, float_in(0.0, 100.0)), apply=set_mout),
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
