"""The simulated Lake Shore 372: readings, input setup and the sample-heater loop (manual §6.6).

Replies end with CR LF; several queries on one line are answered in one line joined by ``;``.
Readings are printed the way the hardware prints them (``+012.034E-03``), settings as zero-padded
integers (``INSET?`` → ``1,007,003,21,1``). Both the manual's ``RDGK?``/``RDGR?`` and the drivers'
``KRDG?``/``SRDG?`` are answered. Invalid input gets no reply. ``HTRSET?`` answers four fields, as
a real 372 does (QCoDeS's five-field parse fails against hardware too; protocols.md §5.2).

Wiring of the simulated fridge: channel 1 is the mixing-chamber RuO₂ (its curve is loaded as
curve 21, so KRDG? 1 gives kelvin), channel 2 the sample's on-chip RuO₂ (no curve: cryolab
converts its resistance with the user's .340 file); the other channels are open (R. OVER).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from cryolab.sim.fridge import MODE_CLOSED_LOOP
from cryolab.sim.sample import ruo2_mc_ohm, ruo2_sample_ohm
from cryolab.sim.world import World

IDN = "LSCI,MODEL372,LSA2245,1.3"
_COMMAND = re.compile(r"^(\*?[A-Z]+)(\?)?\s*(.*)$")
INPUTS = ("A", *(str(i) for i in range(1, 17)))
MC_CHANNEL, SAMPLE_CHANNEL = "1", "2"
MC_CURVE = 21
READING_NOISE = 5e-5  # relative rms of a resistance reading
STATUS_R_OVER = 16


def reading(v: float) -> str:
    """372 reading format: sign, three integer digits, three decimals, exponent a multiple of 3."""
    if v == 0 or not math.isfinite(v):
        return "+000.000E+00"
    exp = 3 * math.floor(math.log10(abs(v)) / 3)
    mant = v / 10**exp
    if abs(round(mant, 3)) >= 1000:
        exp += 3
        mant /= 1000
    return f"{mant:+08.3f}E{exp:+03d}"


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


class LS372Device:
    """Command interpreter of one simulated 372 bound to a world."""

    reply_terminator = "\r\n"

    def __init__(self, world: World) -> None:
        self.world = world
        self._handlers: dict[tuple[str, bool], Callable[[list[str]], str | None]] = {}
        self._register()
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
        self._push_heater()

    # ---------------------------------------------------------------- parsing
    def handle_line(self, line: str) -> list[str]:
        answers: list[str] = []
        with self.world.lock:
            self.world.advance()
            self._enforce_temperature_limits()
            for part in _split_commands(line):
                m = _COMMAND.match(part.strip().upper())
                if not m:
                    continue
                handler = self._handlers.get((m.group(1), bool(m.group(2))))
                if handler is None:
                    self.esr |= 32
                    continue
                args = _split_args(part.strip()[m.start(3):]) if m.group(3).strip() else []
                try:
                    reply = handler(args)
                except (ValueError, IndexError, KeyError):
                    self.esr |= 16
                    continue
                if m.group(2) and reply is not None:
                    answers.append(reply)
            self._push_heater()
        return [";".join(answers)] if answers else []

    def _register(self) -> None:
        h = self._handlers
        h[("*IDN", True)] = lambda a: IDN
        h[("*RST", False)] = lambda a: self.reset()
        h[("*CLS", False)] = lambda a: setattr(self, "esr", 0)
        h[("*ESR", True)] = self._read_esr
        h[("*OPC", True)] = lambda a: "1"
        h[("*STB", True)] = lambda a: "000"
        for name in ("KRDG", "RDGK"):
            h[(name, True)] = self._read_kelvin
        for name in ("SRDG", "RDGR"):
            h[(name, True)] = self._read_ohms
        h[("QRDG", True)] = lambda a: reading(self._resistance(self._ch(a[0])) * 1e-4)
        h[("RDGPWR", True)] = self._read_power
        h[("RDGST", True)] = lambda a: f"{self._status(self._ch(a[0])):03d}"
        h[("SCAN", False)] = self._set_scan
        h[("SCAN", True)] = lambda a: f"{self.scan[0]:02d},{self.scan[1]}"
        h[("INSET", False)] = self._set_inset
        h[("INSET", True)] = self._get_inset
        h[("INTYPE", False)] = self._set_intype
        h[("INTYPE", True)] = self._get_intype
        h[("INNAME", False)] = self._set_name
        h[("INNAME", True)] = lambda a: self.inputs[self._ch(a[0])].name
        h[("TLIMIT", False)] = self._set_tlimit
        h[("TLIMIT", True)] = self._get_tlimit
        h[("FILTER", False)] = self._set_filter
        h[("FILTER", True)] = self._get_filter
        h[("FREQ", False)] = self._set_frequency
        h[("FREQ", True)] = lambda a: str(self.frequency_index[_freq_input(a[0] if a else "0")])
        h[("OUTMODE", False)] = self._set_outmode
        h[("OUTMODE", True)] = self._get_outmode
        h[("HTRSET", False)] = self._set_htrset
        h[("HTRSET", True)] = self._get_htrset
        h[("RANGE", False)] = self._set_range
        h[("RANGE", True)] = lambda a: str(self._out(a[0]).range_index)
        h[("HTR", True)] = lambda a: reading(self.world.fridge.heater.output_percent)
        h[("AOUT", True)] = self._get_aout
        h[("STILL", False)] = self._set_still
        h[("STILL", True)] = lambda a: f"{self.still_pct:+07.3f}"
        h[("SETP", False)] = self._set_setpoint
        h[("SETP", True)] = lambda a: reading(self._out(a[0]).setpoint)
        h[("RAMP", False)] = self._set_ramp
        h[("RAMP", True)] = self._get_ramp
        h[("RAMPST", True)] = self._get_rampst
        h[("PID", False)] = self._set_pid
        h[("PID", True)] = self._get_pid
        h[("MOUT", False)] = self._set_mout
        h[("MOUT", True)] = lambda a: reading(self._out(a[0]).manual_pct)
        h[("CRVHDR", True)] = self._get_crvhdr

    # ---------------------------------------------------------------- helpers
    def _ch(self, text: str) -> str:
        t = text.strip().upper()
        key = t if t == "A" else str(int(float(t)))
        if key not in self.inputs:
            raise KeyError(text)
        return key

    def _out(self, text: str) -> OutputState:
        return self.outputs[int(float(text))]

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

    def _status(self, ch: str) -> int:
        return 0 if ch in (MC_CHANNEL, SAMPLE_CHANNEL) else STATUS_R_OVER

    def _read_kelvin(self, a: list[str]) -> str:
        ch = self._ch(a[0])
        if self.inputs[ch].curve == 0 or ch not in (MC_CHANNEL, SAMPLE_CHANNEL):
            return reading(0.0)
        # noise enters through the resistance; dlnR/dlnT of a RuO₂ is of order −1 here
        return reading(self._temperature(ch) * self.world.relative_noise(READING_NOISE))

    def _read_ohms(self, a: list[str]) -> str:
        ch = self._ch(a[0])
        return reading(self._resistance(ch) * self.world.relative_noise(READING_NOISE))

    def _read_power(self, a: list[str]) -> str:
        ch = self._ch(a[0])
        R = self._resistance(ch)
        if R <= 0:
            return reading(0.0)
        v_exc = 2e-6 * math.sqrt(10.0) ** (self.inputs[ch].excitation - 1)  # voltage mode
        return reading(v_exc**2 / R)

    def _read_esr(self, a: list[str]) -> str:
        value, self.esr = self.esr, 0
        return f"{value:03d}"

    # ---------------------------------------------------------------- inputs
    def _set_scan(self, a: list[str]) -> None:
        ch = int(float(a[0]))
        if not 1 <= ch <= 16:
            raise ValueError(ch)
        self.scan = (ch, _flag(a[1]))

    def _set_inset(self, a: list[str]) -> None:
        s = self.inputs[self._ch(a[0])]
        s.enabled, s.dwell_s, s.pause_s = _flag(a[1]), _bounded(a[2], 1, 200), \
            _bounded(a[3], 3, 200)
        s.curve, s.tempco = _bounded(a[4], 0, 59), _bounded(a[5], 1, 2)

    def _get_inset(self, a: list[str]) -> str:
        s = self.inputs[self._ch(a[0])]
        return f"{s.enabled},{s.dwell_s:03d},{s.pause_s:03d},{s.curve:02d},{s.tempco}"

    def _set_intype(self, a: list[str]) -> None:
        s = self.inputs[self._ch(a[0])]
        s.mode, s.excitation, s.autorange = _flag(a[1]), _bounded(a[2], 1, 22), \
            _bounded(a[3], 0, 2)
        s.range_index, s.cs_off, s.units = _bounded(a[4], 1, 22), _flag(a[5]), \
            _bounded(a[6], 1, 2)

    def _get_intype(self, a: list[str]) -> str:
        s = self.inputs[self._ch(a[0])]
        return f"{s.mode},{s.excitation:02d},{s.autorange},{s.range_index:02d},{s.cs_off},{s.units}"

    def _set_name(self, a: list[str]) -> None:
        name = a[1].strip().strip('"')
        if len(name) > 15:
            raise ValueError(name)
        self.inputs[self._ch(a[0])].name = name

    def _set_tlimit(self, a: list[str]) -> None:
        self.inputs[self._ch(a[0])].tlimit_K = _nonneg(a[1])

    def _get_tlimit(self, a: list[str]) -> str:
        v = self.inputs[self._ch(a[0])].tlimit_K
        return "+0000" if v == 0 else f"{v:+09.3f}"

    def _set_filter(self, a: list[str]) -> None:
        chans = INPUTS if a[0].strip() == "0" else (self._ch(a[0]),)
        for ch in chans:
            s = self.inputs[ch]
            s.filter_on, s.filter_settle_s, s.filter_window_pct = _flag(a[1]), \
                _bounded(a[2], 1, 200), _bounded(a[3], 1, 80)

    def _get_filter(self, a: list[str]) -> str:
        s = self.inputs[self._ch(a[0])]
        return f"{s.filter_on},{s.filter_settle_s:03d},{s.filter_window_pct:02d}"

    def _set_frequency(self, a: list[str]) -> None:
        self.frequency_index[_freq_input(a[0])] = _bounded(a[1], 1, 5)

    def _get_crvhdr(self, a: list[str]) -> str:
        curve = _bounded(a[0], 1, 59)
        if curve == MC_CURVE:
            return '"RuO2-MC-SIM    ","SIM00021  ",4,+40.000,1'
        return '"               ","          ",0,+000.000,0'

    # ---------------------------------------------------------------- outputs
    def _set_outmode(self, a: list[str]) -> None:
        o = self._out(a[0])
        o.mode = _bounded(a[1], 0, 6)
        o.input = self._ch(a[2]) if a[2].strip() != "0" else "0"
        o.powerup, o.polarity = _flag(a[3]), _flag(a[4])
        o.filtered, o.delay_s = _flag(a[5]), _bounded(a[6], 1, 255)

    def _get_outmode(self, a: list[str]) -> str:
        o = self._out(a[0])
        return f"{o.mode},{o.input},{o.powerup},{o.polarity},{o.filtered},{o.delay_s:03d}"

    def _set_htrset(self, a: list[str]) -> None:
        o = self._out(a[0])
        o.heater_ohm = _float_in(a[1], 1.0, 2000.0)
        o.max_current = _bounded(a[2], 0, 8) if len(a) > 2 else o.max_current
        o.max_user_A = _nonneg(a[3]) if len(a) > 3 else o.max_user_A
        o.display = _bounded(a[4], 1, 2) if len(a) > 4 else o.display

    def _get_htrset(self, a: list[str]) -> str:
        o = self._out(a[0])
        return f"{o.heater_ohm:+08.3f},{o.max_current},{o.max_user_A:+08.2f},{o.display}"

    def _set_range(self, a: list[str]) -> None:
        out = int(float(a[0]))
        self._out(a[0]).range_index = _bounded(a[1], 0, 8 if out == 0 else 1)

    def _get_aout(self, a: list[str]) -> str:
        out = _bounded(a[0], 1, 2)
        on = self.outputs[out].range_index
        value = self.still_pct if out == 2 else self.outputs[out].manual_pct
        return reading(value if on else 0.0)

    def _set_still(self, a: list[str]) -> None:
        self.still_pct = _float_in(a[0], 0.0, 100.0)

    def _set_setpoint(self, a: list[str]) -> None:
        # with ramping on, the loop's working setpoint walks from the old setpoint to this one
        self._out(a[0]).setpoint = _nonneg(a[1])

    def _set_ramp(self, a: list[str]) -> None:
        o = self._out(a[0])
        o.ramp_on, o.ramp_rate = _flag(a[1]), _float_in(a[2], 0.0, 100.0)

    def _get_ramp(self, a: list[str]) -> str:
        o = self._out(a[0])
        return f"{o.ramp_on},{o.ramp_rate:+08.3f}"

    def _get_rampst(self, a: list[str]) -> str:
        out = int(float(a[0]))
        return "1" if out == 0 and self.world.fridge.heater.ramping else "0"

    def _set_pid(self, a: list[str]) -> None:
        o = self._out(a[0])
        o.P, o.I, o.D = _float_in(a[1], 0, 1000), _float_in(a[2], 0, 10000), \
            _float_in(a[3], 0, 2500)

    def _get_pid(self, a: list[str]) -> str:
        o = self._out(a[0])
        return f"{o.P:+08.2f},{o.I:+08.2f},{o.D:+08.2f}"

    def _set_mout(self, a: list[str]) -> None:
        self._out(a[0]).manual_pct = _float_in(a[1], 0.0, 100.0)

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


def _split_commands(line: str) -> list[str]:
    """Split on ``;`` outside double quotes."""
    parts, current, quoted = [], [], False
    for c in line:
        if c == '"':
            quoted = not quoted
        if c == ";" and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(c)
    parts.append("".join(current))
    return [p for p in parts if p.strip()]


def _split_args(text: str) -> list[str]:
    args, current, quoted = [], [], False
    for c in text:
        if c == '"':
            quoted = not quoted
        if c == "," and not quoted:
            args.append("".join(current).strip())
            current = []
        else:
            current.append(c)
    args.append("".join(current).strip())
    return args


def _flag(text: str) -> int:
    return _bounded(text, 0, 1)


def _bounded(text: str, low: int, high: int) -> int:
    v = float(text)
    if v != int(v) or not low <= v <= high:
        raise ValueError(text)
    return int(v)


def _float_in(text: str, low: float, high: float) -> float:
    v = float(text)
    if not (math.isfinite(v) and low <= v <= high):
        raise ValueError(text)
    return v


def _nonneg(text: str) -> float:
    return _float_in(text, 0.0, 1.0e6)


def _freq_input(text: str) -> str:
    t = text.strip().upper()
    if t not in ("0", "A"):
        raise ValueError(text)
    return t


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
