"""The simulated Cryomagnetics Model 4G: sweeps to upper and lower limits, rates per current
range, units and the status byte, as one command table over the world's magnet.

Commands as QCoDeS's driver and Lab::Measurement's (written from the 4G manual) send them:
arguments separated by spaces (``RANGE 0 10.0``, ``SWEEP UP FAST``), any case, no echo, replies
ending with CR LF. The 4G has no target-and-ramp: ``SWEEP UP`` sweeps to ``ULIM``, ``SWEEP
DOWN`` to ``LLIM``, ``SWEEP ZERO`` to zero, ``SWEEP PAUSE`` stops; the rate is ``RATE <i>`` (A/s)
of the range ``RANGE <i>`` the magnet current is in, ``RATE 5`` in fast mode. Field values
(``IMAG?``, ``IOUT?``, ``ULIM``, ``LLIM``) are in kilogauss in the field units ``G`` and ``T``
and in amperes in ``A``: QCoDeS writes kG and requires ``0.3000kG`` back even after ``UNITS T``.
``*STB?``: bit 0 sweeping, 1 standby, 2 quench, 3 power-module failure (as QCoDeS reads it).
Errors never produce a reply; they set ``*ESR?`` bit 4 (bad parameter) or 5 (unknown command).
"""

from __future__ import annotations

from cryolab.sim.magnet import RampState
from cryolab.sim.protocol import (
    Indexed,
    Row,
    Stored,
    Table,
    TableDevice,
    float_in,
    int_in,
    number,
    one_of,
    optional,
    rest,
    spaced,
)
from cryolab.sim.world import World

KG_PER_T = 10.0
ESR_EXE, ESR_CMD = 16, 32  # ⚠ the IEEE-488.2 layout; the 4G's own page was not read
STB_SWEEPING, STB_QUENCH = 1, 4
RANGES = 5  # rate ranges 0–4; RATE 5 is the fast mode
FAST = 5
RANGE = int_in(0, RANGES - 1)
RATE_INDEX = int_in(0, RANGES)
#: power-on range tops in A and rates in A/s (ranges 0–4, then fast) (⚠ not a real unit's)
RANGE_TOPS_A = (0.2, 0.4, 0.6, 0.8, 1.0)
RATES_A_PER_S = (0.01, 0.01, 0.01, 0.01, 0.01, 0.1)
SWEEPS = ("UP", "DOWN", "PAUSE", "ZERO")


#: SWEEP's words: a direction, then optionally FAST or SLOW
SWEEP_WORDS = rest(one_of(*SWEEPS, "FAST", "SLOW"), 1, 2)


class Cryomagnetics4GDevice(TableDevice):
    """Command interpreter of one simulated 4G bound to a world's magnet."""

    role = "magnet"
    idn = "Cryomagnetics,4G,2239,1.02,208"
    reply_terminator = "\r\n"

    def __init__(self, world: World, name: str = "magnet") -> None:
        super().__init__(world, name)
        self.magnet = world.magnet
        self.reset()

    def reset(self) -> None:
        """Power-on settings; a sweep in progress is left alone."""
        self.stored = self.table.defaults()
        self.units = "G"  # kilogauss (⚠ the power-on units of a real unit)
        self.upper_A = self.lower_A = 0.0
        self.direction = "PAUSE"  # of the last SWEEP
        self.fast = False
        self.remote = False
        self.esr = 0

    def before_line(self) -> None:
        self.world.advance()

    def after_line(self) -> None:
        self._apply_rate()

    def command_error(self, query: bool, unknown: bool) -> None:
        self.esr |= ESR_CMD if unknown else ESR_EXE

    # ---------------------------------------------------------------- units
    def _per_A(self) -> float:
        """The present units per ampere: kG/A in field units, 1 in A."""
        return 1.0 if self.units == "A" else self.magnet.coil_T_per_A * KG_PER_T

    def _value(self, current_A: float) -> str:
        """``0.3000kG`` or ``0.3000A``: four decimals, the unit glued on."""
        unit = "A" if self.units == "A" else "kG"
        return f"{round(current_A * self._per_A(), 4) + 0.0:.4f}{unit}"

    def _to_A(self, value: float) -> float:
        current_A = value / self._per_A()
        if abs(current_A) > self.magnet.current_limit_A * (1 + 1e-9):
            raise ValueError(f"{value} is beyond the supply's {self.magnet.current_limit_A} A")
        return current_A

    def set_units(self, units: str) -> None:
        self.units = "G" if units == "kG" else units

    # ---------------------------------------------------------------- sweeps
    def sweep(self, words: list[str]) -> None:
        """UP and DOWN head for their limit only if it lies that way; otherwise they hold."""
        direction, *speed = words
        if direction not in SWEEPS or speed not in ([], ["FAST"], ["SLOW"]):
            raise ValueError(f"SWEEP {' '.join(words)}")
        self.direction, self.fast = direction, speed == ["FAST"]
        magnet, now_A = self.magnet, self.magnet.current_A
        if direction == "ZERO":
            magnet.zero()
        elif direction == "UP" and self.upper_A > now_A:
            magnet.target_A = self.upper_A
            magnet.ramp()
        elif direction == "DOWN" and self.lower_A < now_A:
            magnet.target_A = self.lower_A
            magnet.ramp()
        else:
            magnet.pause()

    def sweep_text(self) -> str:
        """SWEEP? (⚠ the 4G's exact words): the sweep under way, or Pause once it stopped."""
        state = self.magnet.state
        if state == RampState.ZEROING:
            text = "zeroing"
        elif state == RampState.RAMPING:
            text = f"sweep {self.direction.lower()}"
        else:
            return "Pause"
        return f"{text} fast" if self.fast else text

    def _apply_rate(self) -> None:
        """The rate of the range |I| is in (or the fast rate), re-read after every line."""
        rates = self.stored["RATE"]
        if self.fast:
            self.magnet.rate_A_per_s = rates[FAST]
            return
        present_A = abs(self.magnet.current_A)
        for index, top in enumerate(self.stored["RANGE"]):
            if present_A <= top:
                self.magnet.rate_A_per_s = rates[index]
                return
        self.magnet.rate_A_per_s = rates[RANGES - 1]

    def set_rate(self, index: int, rate_A_per_s: float) -> None:
        rates = list(self.stored["RATE"])
        rates[index] = rate_A_per_s
        self.stored["RATE"] = tuple(rates)

    def get_rate(self, index: int | None) -> str:
        """RATE? i: range i's rate; RATE? alone: the rate a sweep uses now (⚠ what a real 4G
        answers without a range; QCoDeS's ``rate()`` asks so)."""
        if index is None:
            self._apply_rate()
            return f"{self.magnet.rate_A_per_s:.4f}"
        return f"{self.stored['RATE'][index]:.4f}"

    def status_byte(self) -> str:
        stb = STB_QUENCH if self.magnet.quenched else 0
        if self.magnet.state in (RampState.RAMPING, RampState.ZEROING):
            stb |= STB_SWEEPING
        return str(stb)

    def refuse(self, *values: object) -> None:
        raise ValueError("no persistent switch is fitted")

    def read_esr(self) -> str:
        value, self.esr = self.esr, 0
        return str(value)

    # ---------------------------------------------------------------- the command set
    table = Table(grammar=spaced, rows=[
        # common commands
        Row("*IDN", get=lambda d: d.idn),
        Row("*RST", apply=reset),
        Row("*CLS", apply=lambda d: setattr(d, "esr", 0)),
        Row("*ESR", get=read_esr),
        Row("*STB", get=status_byte),
        Row("*OPC", get=lambda d: "1", apply=lambda d: None),
        Row("REMOTE", apply=lambda d: setattr(d, "remote", True)),
        Row("LOCAL", apply=lambda d: setattr(d, "remote", False)),
        # units and readings
        Row("UNITS", get=lambda d: d.units, set=one_of("A", "G", "kG", "T"), apply=set_units),
        Row("IMAG", get=lambda d: d._value(d.magnet.current_A)),
        Row("IOUT", get=lambda d: d._value(d.magnet.current_A)),  # no switch: supply = magnet
        Row("VMAG", get=lambda d: f"{d.magnet.voltage_V:.3f}V"),
        Row("VOUT", get=lambda d: f"{d.magnet.voltage_V:.3f}V"),
        Stored("VLIM", 10.0, set=float_in(0.0, 10.0), get=lambda d: f"{d.stored['VLIM']:.3f}V"),
        # sweep limits and sweeps
        Row("ULIM", get=lambda d: d._value(d.upper_A), set=number,
            apply=lambda d, v: setattr(d, "upper_A", d._to_A(v))),
        Row("LLIM", get=lambda d: d._value(d.lower_A), set=number,
            apply=lambda d, v: setattr(d, "lower_A", d._to_A(v))),
        Row("SWEEP", get=sweep_text, set=SWEEP_WORDS, apply=sweep),
        # rate ranges: the top current of ranges 0–4 (A), their rates and the fast rate (A/s)
        Indexed("RANGE", RANGE_TOPS_A, index=RANGE, set=float_in(0.0, 1000.0),
                fmt=lambda top: f"{top:.4f}"),
        Stored("RATE", RATES_A_PER_S, set=(RATE_INDEX, float_in(0.0, 100.0)), apply=set_rate,
               get=get_rate, get_args=optional(RATE_INDEX)),
        # quench and the persistent switch (none fitted: its heater reads off, PSHTR ON fails)
        Row("QRESET", apply=lambda d: d.magnet.clear_quench()),
        Row("PSHTR", get=lambda d: "0", set=one_of("ON", "OFF"), apply=refuse),
        Row("MODE", get=lambda d: "Manual"),
    ])
