"""The simulated SR830: its GPIB command set (SR830 manual ch. 5) on top of the shared world.

Mnemonics are four letters with an optional ``?`` and no required space (pymeasure sends
``FREQ3.33000e+00``, ``OUTP?1``); ``;`` separates commands and every query gets its own
LF-terminated reply. Errors never produce a reply: they set bits in ``*ESR?`` (4 EXE for a bad
parameter, 5 CMD for an unknown command). LIAS? bits latch until read or ``*CLS``.
"""

from __future__ import annotations

import cmath
import math
import re
from collections.abc import Callable

from cryolab.sim.world import World
from instruments.srs_sr830 import SR830

IDN = "Stanford_Research_Systems,SR830,s/n46117,ver1.07"
_COMMAND = re.compile(r"^(\*[A-Z]{3}|[A-Z]{4})(\?)?\s*(.*)$")
ESR_EXE, ESR_CMD = 16, 32
LIAS_INPUT_OVERLOAD, LIAS_OUTPUT_OVERLOAD = 1, 4
INPUT_OVERLOAD_V = 1.0  # the A input saturates around 1 V (SR830 spec, full-scale input)
#: integer settings the physics ignores but clients read back: name → (default, low, high)
PLAIN_SETTINGS = {
    "HARM": (1, 1, 19999), "FMOD": (1, 0, 1), "RSLP": (0, 0, 2), "ISRC": (0, 0, 3),
    "IGND": (0, 0, 1), "ICPL": (0, 0, 1), "ILIN": (0, 0, 3), "RMOD": (1, 0, 2),
    "SYNC": (0, 0, 1), "SRAT": (4, 0, 14), "SEND": (1, 0, 1), "TSTR": (0, 0, 1),
    "FAST": (0, 0, 2), "LIAE": (0, 0, 255), "ERRE": (0, 0, 255), "*ESE": (0, 0, 255),
    "*SRE": (0, 0, 255),
}


def _fmt(v: float) -> str:
    """SR830 replies are plain floats of about six significant digits."""
    return f"{v:.6g}"


class SR830Device:
    """Command interpreter of one simulated SR830 bound to a world."""

    reply_terminator = "\n"

    def __init__(self, world: World) -> None:
        self.world = world
        self._handlers: dict[tuple[str, bool], Callable[[list[str]], str | None]] = {}
        self._register()
        self.reset()

    def reset(self) -> None:
        """*RST defaults (⚠ protocols.md §7: assumed from the front-panel defaults)."""
        with self.world.lock:
            self.world.advance()
            s = self.world.lockin
            s.frequency_Hz, s.amplitude_V, s.phase_deg = 1000.0, 1.0, 0.0
            s.tau_s, s.slope_dB, s.sensitivity_V = 0.1, 12, 1.0
            self.world.lockin_changed()
        self.plain = {name: default for name, (default, _, _) in PLAIN_SETTINGS.items()}
        self.display = {1: (0, 0), 2: (0, 0)}
        self.aux_out = dict.fromkeys(range(1, 5), 0.0)
        self.offsets = {1: (0.0, 0), 2: (0.0, 0), 3: (0.0, 0)}
        self.esr = 0
        self.lias = 0
        self.errs = 0

    # ---------------------------------------------------------------- parsing
    def handle_line(self, line: str) -> list[str]:
        replies: list[str] = []
        for part in line.split(";"):
            part = part.strip()
            if not part:
                continue
            m = _COMMAND.match(part.upper())
            handler = m and self._handlers.get((m.group(1), bool(m.group(2))))
            if not handler:
                self.esr |= ESR_CMD
                continue
            args = [a.strip() for a in m.group(3).split(",")] if m.group(3).strip() else []
            try:
                with self.world.lock:
                    reply = handler(args)
            except (ValueError, IndexError, KeyError):
                self.esr |= ESR_EXE
                continue
            if m.group(2) and reply is not None:
                replies.append(reply)
        return replies

    def _register(self) -> None:
        h = self._handlers
        h[("*IDN", True)] = lambda a: IDN
        h[("*CLS", False)] = self._cls
        h[("*RST", False)] = lambda a: self.reset()
        h[("*ESR", True)] = self._read_esr
        h[("*STB", True)] = self._read_stb
        h[("*OPC", True)] = lambda a: "1"
        h[("*OPC", False)] = h[("*WAI", False)] = lambda a: None
        h[("FREQ", False)] = self._set_frequency
        h[("FREQ", True)] = lambda a: _fmt(self.world.lockin.frequency_Hz)
        h[("SLVL", False)] = self._set_amplitude
        h[("SLVL", True)] = lambda a: _fmt(self.world.lockin.amplitude_V)
        h[("PHAS", False)] = self._set_phase
        h[("PHAS", True)] = lambda a: _fmt(self.world.lockin.phase_deg)
        h[("OFLT", False)] = self._set_time_constant
        h[("OFLT", True)] = lambda a: str(_index(SR830.TIME_CONSTANTS, self.world.lockin.tau_s))
        h[("OFSL", False)] = self._set_slope
        h[("OFSL", True)] = lambda a: str(SR830.FILTER_SLOPES.index(self.world.lockin.slope_dB))
        h[("SENS", False)] = self._set_sensitivity
        h[("SENS", True)] = lambda a: str(
            _index(SR830.SENSITIVITIES, self.world.lockin.sensitivity_V))
        for name in PLAIN_SETTINGS:
            h[(name, False)] = self._plain_setter(name)
            h[(name, True)] = self._plain_getter(name)
        h[("OUTP", True)] = self._outp
        h[("SNAP", True)] = self._snap
        h[("OAUX", True)] = lambda a: _fmt(0.0)  # aux inputs are not wired
        h[("AUXV", False)] = self._set_aux
        h[("AUXV", True)] = lambda a: _fmt(self.aux_out[_int(a[0], 1, 4)])
        h[("DDEF", False)] = self._set_display
        h[("DDEF", True)] = lambda a: "{},{}".format(*self.display[_int(a[0], 1, 2)])
        h[("OEXP", False)] = self._set_offset
        h[("OEXP", True)] = lambda a: "{},{}".format(
            _fmt(self.offsets[_int(a[0], 1, 3)][0]), self.offsets[_int(a[0], 1, 3)][1])
        h[("AOFF", False)] = lambda a: None
        h[("LIAS", True)] = self._read_lias
        h[("ERRS", True)] = self._read_errs
        h[("AGAN", False)] = self._auto_gain
        h[("ARSV", False)] = lambda a: None
        h[("APHS", False)] = self._auto_phase
        for name in ("STRT", "PAUS", "REST", "TRIG", "STRD"):
            h[(name, False)] = lambda a: None
        h[("SPTS", True)] = lambda a: "0"

    # ---------------------------------------------------------------- settings
    def _changed(self, apply: Callable[[], None]) -> None:
        # the past ran with the old setting: integrate up to now, then change it
        self.world.advance()
        apply()
        self.world.lockin_changed()

    def _set_frequency(self, a: list[str]) -> None:
        f = _float(a[0], 0.001, 102000.0)
        self._changed(lambda: setattr(self.world.lockin, "frequency_Hz", f))

    def _set_amplitude(self, a: list[str]) -> None:
        v = _float(a[0], 0.004, 5.0)
        self._changed(lambda: setattr(self.world.lockin, "amplitude_V", round(v / 0.002) * 0.002))

    def _set_phase(self, a: list[str]) -> None:
        p = _float(a[0], -360.0, 729.99)
        p = (p + 180.0) % 360.0 - 180.0
        self._changed(lambda: setattr(self.world.lockin, "phase_deg", p))

    def _set_time_constant(self, a: list[str]) -> None:
        tau = SR830.TIME_CONSTANTS[_int(a[0], 0, 19)]
        self._changed(lambda: setattr(self.world.lockin, "tau_s", tau))

    def _set_slope(self, a: list[str]) -> None:
        slope = SR830.FILTER_SLOPES[_int(a[0], 0, 3)]
        self._changed(lambda: setattr(self.world.lockin, "slope_dB", slope))

    def _set_sensitivity(self, a: list[str]) -> None:
        self.world.lockin.sensitivity_V = SR830.SENSITIVITIES[_int(a[0], 0, 26)]

    def _plain_setter(self, name: str) -> Callable[[list[str]], None]:
        _, low, high = PLAIN_SETTINGS[name]

        def setter(a: list[str]) -> None:
            self.plain[name] = _int(a[-1], low, high)

        return setter

    def _plain_getter(self, name: str) -> Callable[[list[str]], str]:
        return lambda a: str(self.plain[name])

    def _set_aux(self, a: list[str]) -> None:
        self.aux_out[_int(a[0], 1, 4)] = _float(a[1], -10.5, 10.5)

    def _set_display(self, a: list[str]) -> None:
        self.display[_int(a[0], 1, 2)] = (_int(a[1], 0, 4), _int(a[2], 0, 2))

    def _set_offset(self, a: list[str]) -> None:
        self.offsets[_int(a[0], 1, 3)] = (_float(a[1], -105.0, 105.0), _int(a[2], 0, 2))

    # ---------------------------------------------------------------- readings
    def _output(self) -> complex:
        """X + iY now, with overload bits latched and the outputs saturating at 110 %."""
        z = self.world.lockin_output()
        sens = self.world.lockin.sensitivity_V
        if max(abs(z.real), abs(z.imag), abs(z)) > sens:
            self.lias |= LIAS_OUTPUT_OVERLOAD
        if abs(self.world.input_phasor()) > INPUT_OVERLOAD_V:
            self.lias |= LIAS_INPUT_OVERLOAD
        limit = 1.1 * sens
        return complex(max(-limit, min(limit, z.real)), max(-limit, min(limit, z.imag)))

    def _values(self, codes: list[int]) -> list[str]:
        z = self._output()
        out = []
        for code in codes:
            if code == 1:
                out.append(z.real)
            elif code == 2:
                out.append(z.imag)
            elif code == 3:
                out.append(abs(z))
            elif code == 4:
                out.append(math.degrees(cmath.phase(z)))
            elif 5 <= code <= 8:
                out.append(0.0)
            elif code == 9:
                out.append(self.world.lockin.frequency_Hz)
            elif code in (10, 11):  # displays show X and Y in their default setup
                out.append(z.real if code == 10 else z.imag)
            else:
                raise ValueError(code)
        return [_fmt(v) for v in out]

    def _outp(self, a: list[str]) -> str:
        return self._values([_int(a[0], 1, 4)])[0]

    def _snap(self, a: list[str]) -> str:
        if not 2 <= len(a) <= 6:
            raise ValueError("SNAP? takes 2 to 6 parameters")
        return ",".join(self._values([_int(x, 1, 11) for x in a]))

    def _auto_gain(self, a: list[str]) -> None:
        r = abs(self.world.lockin_output())
        self.world.lockin.sensitivity_V = SR830.sensitivity_for(r, headroom=0.8)

    def _auto_phase(self, a: list[str]) -> None:
        z = self.world.lockin_output()
        p = self.world.lockin.phase_deg + math.degrees(cmath.phase(z))
        self._changed(lambda: setattr(self.world.lockin, "phase_deg",
                                      (p + 180.0) % 360.0 - 180.0))

    # ---------------------------------------------------------------- status
    def _cls(self, a: list[str]) -> None:
        self.esr = self.lias = self.errs = 0

    def _read_esr(self, a: list[str]) -> str:
        if a:
            return str((self.esr >> _int(a[0], 0, 7)) & 1)
        value, self.esr = self.esr, 0
        return str(value)

    def _read_stb(self, a: list[str]) -> str:
        stb = 2  # IFC: no command executing
        if self.errs:
            stb |= 4
        if self.lias & self.plain["LIAE"]:
            stb |= 8
        if self.esr & self.plain["*ESE"]:
            stb |= 32
        return str(stb)

    def _read_lias(self, a: list[str]) -> str:
        self._output()  # overload is judged on the output as it is now
        if a:
            bit = _int(a[0], 0, 7)
            value = (self.lias >> bit) & 1
            self.lias &= ~(1 << bit)
            return str(value)
        value, self.lias = self.lias, 0
        return str(value)

    def _read_errs(self, a: list[str]) -> str:
        if a:
            return str((self.errs >> _int(a[0], 0, 7)) & 1)
        value, self.errs = self.errs, 0
        return str(value)


def _float(text: str, low: float, high: float) -> float:
    v = float(text)
    if not (math.isfinite(v) and low <= v <= high):
        raise ValueError(f"{v} outside {low}..{high}")
    return v


def _int(text: str, low: int, high: int) -> int:
    """An index argument; pymeasure sends some as floats (``SRAT4.000000``)."""
    v = float(text)
    if v != int(v) or not low <= v <= high:
        raise ValueError(f"{text} is not an integer in {low}..{high}")
    return int(v)


def _index(table: list[float], value: float) -> int:
    return min(range(len(table)), key=lambda i: abs(table[i] - value))
