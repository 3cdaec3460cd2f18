"""The simulated AMI 430: SCPI command set, units and ramp state machine (430 manual ch. 4).

Keywords match in their short or long form (``CONF:FIELD:TARG`` = ``CONFigure:FIELD:TARGet``;
QCoDeS's ``CURR:LIMIT?`` too). Every field value, rate and the coil constant follow the present
``FIELD:UNITS`` (0 kG, 1 T) and ``RAMP:RATE:UNITS`` (0 per s, 1 per min). Integer replies are bare
integers (QCoDeS maps ``STATE?`` with ``int()``). Set commands and errors stay silent; errors
queue for ``SYST:ERR?``. Each connection is greeted with the two-line banner, late, so a client's
device clear cannot swallow it (protocols.md §3.1).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

from cryolab.sim.world import World

IDN = "AMERICAN MAGNETICS INC.,MODEL 430,2.01"
BANNER = ("American Magnetics Model 430 IP Interface", "Hello.")
BANNER_DELAY_S = 0.3
KG_PER_T = 10.0


def _node(spec: str) -> tuple[str, str]:
    """(short, long) forms of a SCPI keyword written as e.g. ``CONFigure``."""
    short = "".join(c for c in spec if c.isupper() or c.isdigit() or c in "*#")
    return short, spec.upper()


def _matches(token: str, node: tuple[str, str]) -> bool:
    short, long = node
    if short == "#":
        return token.isdigit()
    return token in (short, long) or (long.startswith(token) and long.startswith(short)
                                      and len(token) >= len(short))


def plain(v: float) -> str:
    """The 430 prints plain decimals (no exponent)."""
    if v == 0 or not math.isfinite(v):
        return "0.0"
    text = f"{v:.10f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


class AMI430Device:
    """Command interpreter of one simulated 430 bound to a world's magnet."""

    reply_terminator = "\r\n"

    def __init__(self, world: World) -> None:
        self.world = world
        self.magnet = world.magnet
        self._commands: list[tuple[list[tuple[str, str]], bool, Callable]] = []
        self._register()
        self.reset()

    def reset(self) -> None:
        self.field_units = 1  # tesla
        self.rate_units = 0  # per second
        self.segments = [(self.magnet.rate_A_per_s, self.magnet.current_limit_A)]
        self.segment_count = 1
        self.voltage_limit_V = 2.0
        self.errors: deque[str] = deque()
        self.esr = 0

    # ---------------------------------------------------------------- parsing
    def handle_line(self, line: str) -> list[str]:
        replies: list[str] = []
        with self.world.lock:
            self.world.advance()
            for part in line.split(";"):
                part = part.strip()
                if not part:
                    continue
                header, _, arg_text = part.partition(" ")
                query = header.endswith("?")
                tokens = header.rstrip("?").upper().split(":")
                args = [a.strip() for a in arg_text.split(",")] if arg_text.strip() else []
                handler = self._find(tokens, query)
                if handler is None:
                    self._error('-201,"Unrecognized query"' if query
                                else '-101,"Unrecognized command"')
                    continue
                try:
                    reply = handler(tokens, args)
                except (ValueError, IndexError):
                    self._error('-102,"Invalid argument"')
                    continue
                if query and reply is not None:
                    replies.append(reply)
            self._update_ramp_rate()
        return replies

    def _find(self, tokens: list[str], query: bool) -> Callable | None:
        for nodes, is_query, handler in self._commands:
            if is_query == query and len(nodes) == len(tokens) and all(
                    _matches(t, n) for t, n in zip(tokens, nodes, strict=True)):
                return handler
        return None

    def _add(self, path: str, query: bool, handler: Callable) -> None:
        self._commands.append(([_node(p) for p in path.split(":")], query, handler))

    def _register(self) -> None:
        q, s = True, False
        add = self._add
        add("*IDN", q, lambda t, a: IDN)
        add("*RST", s, lambda t, a: self.reset())
        add("*CLS", s, lambda t, a: self.errors.clear())
        add("*ESR", q, lambda t, a: str(self.esr))
        add("*STB", q, lambda t, a: "0")
        add("*OPC", q, lambda t, a: "1")
        add("SYSTem:ERRor", q, lambda t, a: self.errors.popleft() if self.errors
            else '0,"No errors"')
        add("FIELD:UNITS", q, lambda t, a: str(self.field_units))
        add("CONFigure:FIELD:UNITS", s, lambda t, a: setattr(self, "field_units", _bit(a[0])))
        add("RAMP:RATE:UNITS", q, lambda t, a: str(self.rate_units))
        add("CONFigure:RAMP:RATE:UNITS", s, lambda t, a: setattr(self, "rate_units", _bit(a[0])))
        add("COILconst", q, lambda t, a: plain(self._coil()))
        add("CONFigure:COILconst", s, self._set_coil)
        add("CURRent:LIMit", q, lambda t, a: plain(self.magnet.current_limit_A))
        add("CONFigure:CURRent:LIMit", s, self._set_current_limit)
        add("VOLTage:LIMit", q, lambda t, a: plain(self.voltage_limit_V))
        add("CONFigure:VOLTage:LIMit", s,
            lambda t, a: setattr(self, "voltage_limit_V", _positive(a[0])))
        add("FIELD:MAGnet", q, lambda t, a: plain(self.magnet.current_A * self._coil()))
        add("CURRent:MAGnet", q, lambda t, a: plain(self.magnet.current_A))
        add("CURRent:SUPPly", q, lambda t, a: plain(self.magnet.current_A))
        add("VOLTage:MAGnet", q, lambda t, a: plain(self.magnet.voltage_V))
        add("VOLTage:SUPPly", q, lambda t, a: plain(self.magnet.voltage_V))
        add("FIELD:TARGet", q, lambda t, a: plain(self.magnet.target_A * self._coil()))
        add("CONFigure:FIELD:TARGet", s, lambda t, a: self._set_target(float(a[0]) / self._coil()))
        add("CURRent:TARGet", q, lambda t, a: plain(self.magnet.target_A))
        add("CONFigure:CURRent:TARGet", s, lambda t, a: self._set_target(float(a[0])))
        add("RAMP:RATE:SEGments", q, lambda t, a: str(self.segment_count))
        add("CONFigure:RAMP:RATE:SEGments", s, self._set_segment_count)
        add("RAMP:RATE:FIELD:#", q, lambda t, a: self._get_segment(int(t[-1]), self._coil()))
        add("RAMP:RATE:CURRent:#", q, lambda t, a: self._get_segment(int(t[-1]), 1.0))
        add("CONFigure:RAMP:RATE:FIELD", s, lambda t, a: self._set_segment(a, self._coil()))
        add("CONFigure:RAMP:RATE:CURRent", s, lambda t, a: self._set_segment(a, 1.0))
        add("RAMP", s, lambda t, a: self.magnet.ramp())
        add("PAUSE", s, lambda t, a: self.magnet.pause())
        add("ZERO", s, lambda t, a: self.magnet.zero())
        add("STATE", q, lambda t, a: str(int(self.magnet.state)))
        add("QUench", q, lambda t, a: str(int(self.magnet.quenched)))
        add("QUench", s, self._set_quench)
        add("PSwitch", q, lambda t, a: "0")
        add("PSwitch:INSTalled", q, lambda t, a: "0")
        add("PERSistent", q, lambda t, a: "0")
        add("PSwitch:CURRent", q, lambda t, a: "0.0")
        add("PSwitch:HeatTIME", q, lambda t, a: "20")
        add("PSwitch:CoolTIME", q, lambda t, a: "20")
        # no persistent switch is installed: switching it is refused (⚠ the code a real unit
        # queues here is not documented; -102 is the documented "invalid argument")
        add("PSwitch", s, lambda t, a: self._error('-102,"Invalid argument"'))

    # ---------------------------------------------------------------- units and settings
    def _coil(self) -> float:
        """Coil constant in the present field units per ampere."""
        c = self.magnet.coil_T_per_A
        return c if self.field_units == 1 else c * KG_PER_T

    def _per_time(self) -> float:
        return 60.0 if self.rate_units == 1 else 1.0

    def _error(self, text: str) -> None:
        if len(self.errors) >= 10:
            self.errors[-1] = '-304,"Error buffer overflow"'
        else:
            self.errors.append(text)

    def _set_coil(self, t: list[str], a: list[str]) -> None:
        c = _positive(a[0])
        self.magnet.coil_T_per_A = c if self.field_units == 1 else c / KG_PER_T

    def _set_current_limit(self, t: list[str], a: list[str]) -> None:
        self.magnet.current_limit_A = _positive(a[0])

    def _set_target(self, current_A: float) -> None:
        if not math.isfinite(current_A):
            raise ValueError(current_A)
        if abs(current_A) > self.magnet.current_limit_A * (1 + 1e-9):
            self._error('-105,"Out of range"')  # the old target stays
            return
        self.magnet.target_A = current_A  # nothing moves until RAMP

    def _set_segment_count(self, t: list[str], a: list[str]) -> None:
        n = int(float(a[0]))
        if not 1 <= n <= 10:
            raise ValueError(n)
        self.segment_count = n
        while len(self.segments) < n:
            self.segments.append(self.segments[-1])

    def _get_segment(self, n: int, units_per_A: float) -> str:
        rate_A, upper_A = self.segments[n - 1]
        return f"{plain(rate_A * units_per_A * self._per_time())},{plain(upper_A * units_per_A)}"

    def _set_segment(self, a: list[str], units_per_A: float) -> None:
        n = int(float(a[0]))
        if not 1 <= n <= 10:
            raise ValueError(n)
        rate = _positive(a[1]) / units_per_A / self._per_time()
        upper = abs(float(a[2])) / units_per_A if len(a) > 2 else self.magnet.current_limit_A
        while len(self.segments) < n:
            self.segments.append(self.segments[-1])
        self.segments[n - 1] = (rate, upper)

    def _update_ramp_rate(self) -> None:
        """The active segment is the first whose upper bound covers |I|; the last has no bound."""
        active = self.segments[: self.segment_count]
        for rate, upper in active:
            if abs(self.magnet.current_A) < upper:
                self.magnet.rate_A_per_s = rate
                return
        self.magnet.rate_A_per_s = active[-1][0]

    def _set_quench(self, t: list[str], a: list[str]) -> None:
        if _bit(a[0]):
            self.magnet.quench()
        else:
            self.magnet.clear_quench()


def _bit(text: str) -> int:
    v = float(text)
    if v not in (0.0, 1.0):
        raise ValueError(text)
    return int(v)


def _positive(text: str) -> float:
    v = float(text)
    if not (math.isfinite(v) and v > 0):
        raise ValueError(text)
    return v
