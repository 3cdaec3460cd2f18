"""The simulated Oxford Instruments Mercury iPS: its SCPI-like READ/SET protocol (iPS manual,
issue 14, §10.3) as one table of nouns over the world's magnet.

Every line gets one reply, sets included: ``READ:DEV:GRPZ:PSU:SIG:FLD`` →
``STAT:DEV:GRPZ:PSU:SIG:FLD:0.0300T`` and ``SET:DEV:GRPZ:PSU:SIG:FSET:0.03`` →
``STAT:SET:DEV:GRPZ:PSU:SIG:FSET:0.03:VALID`` (§10.3.4). What cannot be interpreted is answered
with ``INVALID`` right after the term (§10.3.3, §10.3.6), an unknown device with ``NOT_FOUND``,
a function the device lacks with ``N/A``. Commands are case-sensitive, keywords at most four
characters (§10.3.1); lines end with LF. Values are plain decimals with the unit glued on, in
tesla, T/min, A and A/min.

The three groups GRPX, GRPY and GRPZ all answer (QCoDeS reads all three): GRPZ drives the
world's magnet, the field the sample sees; GRPX and GRPY ramp coils of their own that the sample
does not see. Firmware 2.6 renamed the PSU noun ``SPSU``: the twin answers the spelling its
firmware (``*IDN?``, set per instance) implies, and the other is INVALID.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from cryolab.sim.magnet import Magnet, RampState
from cryolab.sim.protocol import Row, Table, TableDevice
from cryolab.sim.world import World

AXES = ("GRPX", "GRPY", "GRPZ")
FIELD_AXIS = "GRPZ"  # the one whose field reaches the sample
#: temperature boards QCoDeS reads: the magnet and the two pulse-tube stages, fixed (⚠ not
#: modelled: the world has no 4 K plate)
TEMPERATURES_K = {"MB1.T1": 4.2, "DB8.T1": 45.0, "DB7.T1": 3.5}
#: ACTN words (§10.3, PSU nouns): hold, ramp to set point, ramp to zero, clamped
HOLD, TO_SET, TO_ZERO, CLAMP = "HOLD", "RTOS", "RTOZ", "CLMP"
ACTIONS = {RampState.RAMPING: TO_SET, RampState.ZEROING: TO_ZERO, RampState.HOLDING: HOLD,
           RampState.PAUSED: HOLD, RampState.AT_ZERO: HOLD, RampState.QUENCHED: CLAMP}
QUENCH_DETECTED = 1 << 8  # bit 8 of the PSU alarm word STAT
SECONDS_PER_MINUTE = 60.0


@dataclass
class Axis:
    """One group's supply: its magnet and whether its output is clamped."""

    magnet: Magnet
    clamped: bool = False


def _decimal(value: float, unit: str) -> str:
    """``0.0300T``: four decimals, no exponent, no ``+``, no ``-0.0000`` (QCoDeS keeps only the
    characters ``0-9 . -`` of a number; ⚠ the digits of a real unit were not verified)."""
    return f"{round(value, 4) + 0.0:.4f}{unit}"


def _plain(text: str) -> float:
    """A set value: a finite plain number (``0.03``, ``-0.5``)."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def _non_negative(text: str) -> float:
    value = _plain(text)
    if value < 0:
        raise ValueError(text)
    return value


def _word(*words: str) -> Callable[[str], str]:
    """One of ``words``, exactly (the iPS is case-sensitive)."""

    def parse(text: str) -> str:
        if text not in words:
            raise ValueError(text)
        return text

    return parse


def _firmware(version: str) -> tuple[int, int]:
    major, minor, *_ = version.split(".")
    return int(major), int(minor)


class MercuryIPSDevice(TableDevice):
    """Command interpreter of one simulated Mercury iPS bound to a world's magnet."""

    role = "magnet"
    reply_terminator = "\n"
    answers_every_line = True

    def __init__(self, world: World, name: str = "magnet", *,
                 firmware: str = "2.5.09.000") -> None:
        super().__init__(world, name)
        self.idn = f"IDN:OXFORD INSTRUMENTS:MERCURY IPS:SIM0001:{firmware}"
        self.psu = "SPSU" if _firmware(firmware) >= (2, 6) else "PSU"
        self.axes = {uid: Axis(world.magnet if uid == FIELD_AXIS else Magnet())
                     for uid in AXES}
        self._t = world.t  # when the coils of GRPX and GRPY were last stepped

    def before_line(self) -> None:
        # the world steps its own magnet (GRPZ); the other coils are stepped here, exactly:
        # a ramp at a constant rate needs no sub-steps
        now = self.world.advance()
        for uid, axis in self.axes.items():
            if uid != FIELD_AXIS and now > self._t:
                axis.magnet.step(now - self._t)
        self._t = now

    def command_error(self, query: bool, unknown: bool) -> None:
        """Never called: every error is answered in the reply line itself."""

    # ---------------------------------------------------------------- the line
    def handle_line(self, line: str) -> list[str]:
        with self.world.lock:
            self.before_line()
            reply = self.answer(line.strip())
            self.after_line()
        return [reply]

    def answer(self, line: str) -> str:
        """The one reply to a line (§10.3.3–10.3.6)."""
        if line in ("*IDN?", "*OPC?"):
            return self.idn if line == "*IDN?" else "1"
        verb, _, rest = line.partition(":")
        if verb not in ("READ", "SET"):
            return f"{verb}:INVALID"
        query = verb == "READ"
        echo = "STAT:" if query else "STAT:SET:"
        terms = rest.split(":")
        if query and terms[-1].endswith("?"):  # QCoDeS asks temperatures with a trailing ? (⚠)
            terms[-1] = terms[-1][:-1]
        if terms[0] != "DEV" or len(terms) < 2:
            return f"{echo}{terms[0]}:INVALID"
        uid = terms[1]
        if uid in self.axes:
            kind, keyword = "PSU", self.psu
        elif uid in TEMPERATURES_K:
            kind = keyword = "TEMP"
        else:
            return "NOT_FOUND"
        if len(terms) < 3 or terms[2] != keyword:
            return f"{echo}{':'.join(terms[:3])}:INVALID"
        noun, value = (terms[3:], None) if query else (terms[3:-1], terms[-1])
        path = ":".join(terms[:3] + noun)
        found = self.table.lookup(":".join([kind, *noun]), query)
        if found is None or (value is None and not query):
            return f"{echo}{path}:INVALID"
        side, _ = found
        if value is None:  # a query: only a set carries a value, its last term
            return f"STAT:{path}:{side(self, [uid])}"
        try:
            refusal = side(self, [uid, value])
        except (ValueError, IndexError, KeyError):
            refusal = "INVALID"
        return f"STAT:SET:{path}:{value}:{refusal or 'VALID'}"

    # ---------------------------------------------------------------- nouns
    def action(self, uid: str) -> str:
        axis = self.axes[uid]
        return CLAMP if axis.clamped else ACTIONS[axis.magnet.state]

    def set_action(self, uid: str, action: str) -> str | None:
        """HOLD stops where it is and releases a clamp (or a quench's: ⚠ how a real iPS resets
        a quench was not verified); RTOS ramps to the set point, RTOZ to zero; CLMP clamps."""
        axis = self.axes[uid]
        magnet = axis.magnet
        if action == HOLD:
            axis.clamped = False
            magnet.clear_quench()
            magnet.pause()
        elif action == CLAMP:
            axis.clamped = True
            magnet.pause()
        elif axis.clamped or magnet.quenched:
            return "INVALID"  # a clamped output does not ramp (QCoDeS: "unclamp first")
        elif action == TO_SET:
            magnet.ramp()
        else:
            magnet.zero()
        return None

    def set_target_A(self, uid: str, current_A: float) -> str | None:
        magnet = self.axes[uid].magnet
        if abs(current_A) > magnet.current_limit_A * (1 + 1e-9):
            return "INVALID"  # beyond the supply's limit: the old target stays (⚠)
        magnet.target_A = current_A
        return None

    def set_rate_A_per_s(self, uid: str, rate_A_per_s: float) -> None:
        self.axes[uid].magnet.rate_A_per_s = rate_A_per_s

    def set_atob(self, uid: str, A_per_T: float) -> str | None:
        if A_per_T <= 0:
            return "INVALID"
        self.axes[uid].magnet.coil_T_per_A = 1.0 / A_per_T
        return None

    def alarms(self, uid: str) -> str:
        """The PSU alarm word, 8 hex digits; only bit 8 (quench detected) is ever set."""
        return f"{QUENCH_DETECTED if self.axes[uid].magnet.quenched else 0:08X}"

    def _m(self, uid: str) -> Magnet:
        return self.axes[uid].magnet

    # ---------------------------------------------------------------- the command set
    # rows by noun, prefixed with the device type: READ answers ``get(device, uid)``, SET calls
    # ``apply(device, uid, value)``, whose return is the refusal word or None (VALID). answer()
    # splits the line itself (a value may follow the noun), so the table needs no grammar
    table = Table(grammar=lambda part: None, rows=[
        # the power supply of each group (§10.3.5; the nouns QCoDeS's driver uses)
        Row("PSU:SIG:FLD", get=lambda d, u: _decimal(d._m(u).field_T, "T"), get_args=str),
        Row("PSU:SIG:PFLD", get=lambda d, u: _decimal(d._m(u).field_T, "T"), get_args=str),
        Row("PSU:SIG:FSET", get=lambda d, u: _decimal(d._m(u).target_A * d._m(u).coil_T_per_A,
                                                      "T"), get_args=str,
            set=(str, _plain), apply=lambda d, u, B: d.set_target_A(u, B / d._m(u).coil_T_per_A)),
        Row("PSU:SIG:RFST", get=lambda d, u: _decimal(
            d._m(u).rate_A_per_s * d._m(u).coil_T_per_A * SECONDS_PER_MINUTE, "T/m"),
            get_args=str, set=(str, _non_negative),
            apply=lambda d, u, r: d.set_rate_A_per_s(
                u, r / SECONDS_PER_MINUTE / d._m(u).coil_T_per_A)),
        Row("PSU:SIG:CURR", get=lambda d, u: _decimal(d._m(u).current_A, "A"), get_args=str),
        Row("PSU:SIG:PCUR", get=lambda d, u: _decimal(d._m(u).current_A, "A"), get_args=str),
        Row("PSU:SIG:CSET", get=lambda d, u: _decimal(d._m(u).target_A, "A"), get_args=str,
            set=(str, _plain), apply=set_target_A),
        Row("PSU:SIG:RCST", get=lambda d, u: _decimal(
            d._m(u).rate_A_per_s * SECONDS_PER_MINUTE, "A/m"), get_args=str,
            set=(str, _non_negative),
            apply=lambda d, u, r: d.set_rate_A_per_s(u, r / SECONDS_PER_MINUTE)),
        Row("PSU:SIG:VOLT", get=lambda d, u: _decimal(d._m(u).voltage_V, "V"), get_args=str),
        # no persistent switch is fitted: its heater reads OFF and cannot be switched
        Row("PSU:SIG:SWHT", get=lambda d, u: "OFF", get_args=str, set=(str, _word("ON", "OFF")),
            apply=lambda d, u, on: "N/A"),
        Row("PSU:ATOB", get=lambda d, u: _decimal(1.0 / d._m(u).coil_T_per_A, "A/T"),
            get_args=str, set=(str, _plain), apply=set_atob),
        Row("PSU:ACTN", get=action, get_args=str, set=(str, _word(HOLD, TO_SET, TO_ZERO, CLAMP)),
            apply=set_action),
        Row("PSU:STAT", get=alarms, get_args=str),
        # temperature boards
        Row("TEMP:SIG:TEMP", get=lambda d, u: _decimal(TEMPERATURES_K[u], "K"), get_args=str),
    ])
