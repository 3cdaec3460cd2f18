"""The simulated AMI 430: SCPI command set, units and ramp state machine (430 manual ch. 4), as
one command table over the world's magnet.

Keywords match in their short or long form (``CONF:FIELD:TARG`` = ``CONFigure:FIELD:TARGet``;
QCoDeS's ``CURR:LIMIT?`` too). Every field value, rate and the coil constant follow the present
``FIELD:UNITS`` (0 kG, 1 T) and ``RAMP:RATE:UNITS`` (0 per s, 1 per min). Integer replies are bare
integers (QCoDeS maps ``STATE?`` with ``int()``). Set commands and errors stay silent; errors
queue for ``SYST:ERR?``. Each connection is greeted with the two-line banner, late, so a client's
device clear cannot swallow it (pyvisa-py's socket clear drains input until 0.1 s of silence).
"""

from __future__ import annotations

import math
from collections import deque

from cryolab.sim.magnet import RampState
from cryolab.sim.protocol import (
    Row,
    ScpiTable,
    TableDevice,
    bit,
    int_in,
    number,
    optional,
    plain_decimal,
    positive,
)
from cryolab.sim.world import World

KG_PER_T = 10.0
SEGMENT = int_in(1, 10)  # ramp segments 1–10
#: STATE? codes (430 manual Table 4-5); 4, 5 (manual ramps) and 9, 10 (persistent switch
#: heating, cooling) are never entered: the twin has neither
STATE_CODES = {RampState.RAMPING: 1, RampState.HOLDING: 2, RampState.PAUSED: 3,
               RampState.ZEROING: 6, RampState.QUENCHED: 7, RampState.AT_ZERO: 8}


class AMI430Device(TableDevice):
    """Command interpreter of one simulated 430 bound to a world's magnet."""

    role = "magnet"
    idn = "AMERICAN MAGNETICS INC.,MODEL 430,2.01"
    reply_terminator = "\r\n"
    banner = ("American Magnetics Model 430 IP Interface", "Hello.")
    # sent late on purpose: QCoDeS device-clears right after connecting and would swallow an
    # immediate banner; 0.12–0.3 s all worked with QCoDeS 0.58 over pyvisa-py 0.8.1, 0 s never
    # (the real unit's delay is not documented ⚠)
    banner_delay_s = 0.3

    def __init__(self, world: World, name: str = "magnet") -> None:
        super().__init__(world, name)
        self.magnet = world.magnet
        self.reset()

    def reset(self) -> None:
        self.field_units = 1  # tesla
        self.rate_units = 0  # per second
        self.segments = [(self.magnet.rate_A_per_s, self.magnet.current_limit_A)]
        self.segment_count = 1
        self.voltage_limit_V = 2.0
        self.errors: deque[str] = deque()
        self.esr = 0

    def before_line(self) -> None:
        self.world.advance()

    def after_line(self) -> None:
        self._update_ramp_rate()

    def command_error(self, query: bool, unknown: bool) -> None:
        if unknown:
            self.error('-201,"Unrecognized query"' if query else '-101,"Unrecognized command"')
        else:
            self.error('-102,"Invalid argument"')

    def error(self, text: str) -> None:
        """Queue an error for SYST:ERR? (10 entries, then the last one says overflow)."""
        if len(self.errors) >= 10:
            self.errors[-1] = '-304,"Error buffer overflow"'
        else:
            self.errors.append(text)

    def read_error(self) -> str:
        return self.errors.popleft() if self.errors else '0,"No errors"'

    # ---------------------------------------------------------------- units and settings
    def coil(self) -> float:
        """Coil constant in the present field units per ampere."""
        c = self.magnet.coil_T_per_A
        return c if self.field_units == 1 else c * KG_PER_T

    def _per_time(self) -> float:
        return 60.0 if self.rate_units == 1 else 1.0

    def set_coil(self, c: float) -> None:
        self.magnet.coil_T_per_A = c if self.field_units == 1 else c / KG_PER_T

    def set_target(self, current_A: float) -> None:
        if not math.isfinite(current_A):
            raise ValueError(current_A)
        if abs(current_A) > self.magnet.current_limit_A * (1 + 1e-9):
            self.error('-105,"Out of range"')  # the old target stays
            return
        self.magnet.target_A = current_A  # nothing moves until RAMP

    def set_segment_count(self, n: int) -> None:
        self.segment_count = n
        while len(self.segments) < n:
            self.segments.append(self.segments[-1])

    def get_segment(self, n: int, units_per_A: float) -> str:
        rate_A, upper_A = self.segments[n - 1]
        return (f"{plain_decimal(rate_A * units_per_A * self._per_time())},"
                f"{plain_decimal(upper_A * units_per_A)}")

    def set_segment(self, n: int, rate: float, upper: float | None, units_per_A: float) -> None:
        rate_A = rate / units_per_A / self._per_time()
        upper_A = self.magnet.current_limit_A if upper is None else abs(upper) / units_per_A
        while len(self.segments) < n:
            self.segments.append(self.segments[-1])
        self.segments[n - 1] = (rate_A, upper_A)

    def _update_ramp_rate(self) -> None:
        """The active segment is the first whose upper bound covers |I|; the last has no bound."""
        active = self.segments[: self.segment_count]
        for rate, upper in active:
            if abs(self.magnet.current_A) < upper:
                self.magnet.rate_A_per_s = rate
                return
        self.magnet.rate_A_per_s = active[-1][0]

    def set_quench(self, on: int) -> None:
        if on:
            self.magnet.quench()
        else:
            self.magnet.clear_quench()

    # ---------------------------------------------------------------- the command set
    table = ScpiTable([
        # common commands
        Row("*IDN", get=lambda d: d.idn),
        Row("*RST", apply=reset),
        Row("*CLS", apply=lambda d: d.errors.clear()),
        Row("*ESR", get=lambda d: str(d.esr)),
        Row("*STB", get=lambda d: "0"),
        Row("*OPC", get=lambda d: "1"),
        Row("SYSTem:ERRor", get=read_error),
        # units (§4.5.2)
        Row("FIELD:UNITS", get=lambda d: str(d.field_units)),
        Row("CONFigure:FIELD:UNITS", set=bit, apply=lambda d, u: setattr(d, "field_units", u)),
        Row("RAMP:RATE:UNITS", get=lambda d: str(d.rate_units)),
        Row("CONFigure:RAMP:RATE:UNITS", set=bit,
            apply=lambda d, u: setattr(d, "rate_units", u)),
        # supply and load setup
        Row("COILconst", get=lambda d: plain_decimal(d.coil())),
        Row("CONFigure:COILconst", set=positive, apply=set_coil),
        Row("CURRent:LIMit", get=lambda d: plain_decimal(d.magnet.current_limit_A)),
        Row("CONFigure:CURRent:LIMit", set=positive,
            apply=lambda d, limit_A: setattr(d.magnet, "current_limit_A", limit_A)),
        Row("VOLTage:LIMit", get=lambda d: plain_decimal(d.voltage_limit_V)),
        Row("CONFigure:VOLTage:LIMit", set=positive,
            apply=lambda d, v: setattr(d, "voltage_limit_V", v)),
        # readings
        Row("FIELD:MAGnet", get=lambda d: plain_decimal(d.magnet.current_A * d.coil())),
        Row("CURRent:MAGnet", get=lambda d: plain_decimal(d.magnet.current_A)),
        Row("CURRent:SUPPly", get=lambda d: plain_decimal(d.magnet.current_A)),
        Row("VOLTage:MAGnet", get=lambda d: plain_decimal(d.magnet.voltage_V)),
        Row("VOLTage:SUPPly", get=lambda d: plain_decimal(d.magnet.voltage_V)),
        # targets and ramp segments (§4.5.3)
        Row("FIELD:TARGet", get=lambda d: plain_decimal(d.magnet.target_A * d.coil())),
        Row("CONFigure:FIELD:TARGet", set=number, apply=lambda d, f: d.set_target(f / d.coil())),
        Row("CURRent:TARGet", get=lambda d: plain_decimal(d.magnet.target_A)),
        Row("CONFigure:CURRent:TARGet", set=number, apply=set_target),
        Row("RAMP:RATE:SEGments", get=lambda d: str(d.segment_count)),
        Row("CONFigure:RAMP:RATE:SEGments", set=SEGMENT, apply=set_segment_count),
        Row("RAMP:RATE:FIELD:#", get=lambda d, n: d.get_segment(n, d.coil()), get_args=SEGMENT),
        Row("RAMP:RATE:CURRent:#", get=lambda d, n: d.get_segment(n, 1.0), get_args=SEGMENT),
        Row("CONFigure:RAMP:RATE:FIELD", set=(SEGMENT, positive, optional(number)),
            apply=lambda d, n, rate, upper: d.set_segment(n, rate, upper, d.coil())),
        Row("CONFigure:RAMP:RATE:CURRent", set=(SEGMENT, positive, optional(number)),
            apply=lambda d, n, rate, upper: d.set_segment(n, rate, upper, 1.0)),
        # ramping state (§4.5.4, Table 4-5)
        Row("RAMP", apply=lambda d: d.magnet.ramp()),
        Row("PAUSE", apply=lambda d: d.magnet.pause()),
        Row("ZERO", apply=lambda d: d.magnet.zero()),
        Row("STATE", get=lambda d: str(STATE_CODES[d.magnet.state])),
        Row("QUench", get=lambda d: str(int(d.magnet.quenched)), set=bit, apply=set_quench),
        # persistent switch: none installed. Switching it is refused (⚠ the code a real unit
        # queues here is not documented; -102 is the documented "invalid argument")
        Row("PSwitch", get=lambda d: "0", apply=lambda d: d.error('-102,"Invalid argument"')),
        Row("PSwitch:INSTalled", get=lambda d: "0"),
        Row("PERSistent", get=lambda d: "0"),
        Row("PSwitch:CURRent", get=lambda d: "0.0"),
        Row("PSwitch:HeatTIME", get=lambda d: "20"),
        Row("PSwitch:CoolTIME", get=lambda d: "20"),
    ])
