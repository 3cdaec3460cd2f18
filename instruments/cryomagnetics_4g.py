"""Cryomagnetics Model 4G magnet supply: field in Oe, ramps as sweeps to ULIM/LLIM, rates in A/s.

No Cryomagnetics manual page was available here; the command set follows the Lab::Measurement
4G driver (``Lab::Moose::Instrument::Cryomagnetics_4G``, written from the manual) and QCoDeS's
``CryomagneticsModel4G``. What differs from the AMI 430 (``ami_430.py``):

* No target-and-ramp: the 4G sweeps *to a limit*. ``SWEEP UP`` goes to the upper limit
  ``ULIM``, ``SWEEP DOWN`` to the lower limit ``LLIM``, ``SWEEP PAUSE`` stops, ``SWEEP ZERO``
  goes to zero. :meth:`Cryomagnetics4G.start_ramp` therefore sets ULIM for a target above the
  present field and LLIM below it, then sweeps that way.
* Rates are per current range and in A/s: ``RANGE <i> <A>`` sets the top of range i (0–4,
  range 0 starting at 0 A, range 4 ending at the supply's maximum), ``RATE <i> <A/s>`` its rate
  (i = 5 is the fast mode without switch heater, not used here). The supply applies the rate of
  the range the present current is in, so the driver needs the magnet's coil constant (an
  explicit constructor argument, never guessed) and writes the requested rate into every range
  the sweep crosses.
* Field units are kilogauss (``UNITS G``; replies such as ``0.3000kG``) or amperes (``UNITS A``).
  The units are read once with ``UNITS?`` and never changed; ``T`` is refused because QCoDeS
  writes sweep limits in kG even after ``UNITS T``, so what the supply does then is unclear.
* Status is the IEEE-488.2 status byte ``*STB?``: bit 0 sweep mode active, 1 standby, 2 quench
  condition, 3 power-module failure (as QCoDeS reads it); ``QRESET`` clears a quench.
* ⚠ A community socket driver (J. Ridderbos, UTwente) says the 4G "first returns the command we
  sent"; the APS100 sibling echoes over USB, and Atomize's Ethernet driver reads no echo. This
  driver expects none, so a 4G that echoes over its socket would answer every query one line
  late.
* ⚠ Whether bit 0 of ``*STB?`` clears when a sweep reaches its limit, without ``SWEEP PAUSE``,
  was not verified: callers waiting for a ramp should also compare :attr:`field_Oe` with the
  target.

Limits are checked in Oe and Oe/s before anything is sent; the switch heater is never touched.
"""

from __future__ import annotations

import math
from enum import Enum, IntFlag

from pymeasure.instruments import Instrument

from instruments.formats import plain_decimal, split_number_unit
from instruments.limits import LimitError, Span, in_range
from instruments.strict import StrictValuesMixin

OE_PER_KG = 1.0e3
#: current ranges whose rates a sweep may use; range 4 ends at the supply's maximum current
RANGE_INDICES = (0, 1, 2, 3, 4)
#: UNITS? replies and the unit the supply then uses for ULIM/LLIM and IMAG?
SUPPLY_UNITS = {"A": "A", "G": "kG", "kG": "kG"}


class StatusByte(IntFlag):
    """``*STB?`` bits (QCoDeS CryomagneticsModel4G ``magnet_operating_state``)."""

    OK = 0
    SWEEPING = 1 << 0
    STANDBY = 1 << 1
    QUENCH = 1 << 2
    POWER_MODULE_FAILURE = 1 << 3


class MagnetState(Enum):
    """The 4G's state as cryolab needs it, from the status byte (worst condition first)."""

    QUENCHED = "quenched"
    POWER_MODULE_FAILURE = "power module failure"
    SWEEPING = "sweeping"
    STANDBY = "standby"
    HOLDING = "holding"

    @property
    def is_moving(self) -> bool:
        return self is MagnetState.SWEEPING

    @classmethod
    def from_status(cls, status: StatusByte) -> MagnetState:
        for bit, state in ((StatusByte.QUENCH, cls.QUENCHED),
                           (StatusByte.POWER_MODULE_FAILURE, cls.POWER_MODULE_FAILURE),
                           (StatusByte.SWEEPING, cls.SWEEPING), (StatusByte.STANDBY, cls.STANDBY)):
            if bit in status:
                return state
        return cls.HOLDING


def _range_of(current_A: float, tops_A: list[float]) -> int:
    """The rate range a current is in: 0 up to RANGE 0's top, …, 4 above RANGE 3's top."""
    for index, top in enumerate(tops_A):
        if abs(current_A) <= top:
            return index
    return RANGE_INDICES[-1]


class Cryomagnetics4G(StrictValuesMixin, Instrument):
    """Cryomagnetics 4G over GPIB, RS-232 or its socket; replies end with LF (CR stripped)."""

    READ_TERMINATION = WRITE_TERMINATION = "\n"

    id = Instrument.measurement("*IDN?", """Get the identification string.""",
                                cast=str, maxsplit=0)
    status = Instrument.measurement(
        "*STB?", """Get the status byte (sweeping, standby, quench, power-module failure).""",
        cast=int, get_process=lambda v: StatusByte(int(v)))
    magnet_voltage_V = Instrument.measurement(
        "VMAG?", """Get the magnet voltage in V.""",
        preprocess_reply=lambda r: r.strip().removesuffix("V"))
    output_voltage_V = Instrument.measurement(
        "VOUT?", """Get the supply output voltage in V.""",
        preprocess_reply=lambda r: r.strip().removesuffix("V"))
    sweep_mode = Instrument.measurement(
        "SWEEP?", """Get the sweep mode as the 4G words it (e.g. 'sweep up', 'Pause').""",
        cast=str, maxsplit=0)

    def __init__(self, adapter, name: str = "Cryomagnetics 4G magnet supply", *,
                 coil_constant_Oe_per_A: float, max_field_Oe: float = 0.0,
                 max_ramp_rate_Oe_per_s: float = 0.0, **kwargs) -> None:
        if not (math.isfinite(coil_constant_Oe_per_A) and coil_constant_Oe_per_A > 0):
            raise ValueError(f"4G coil constant {coil_constant_Oe_per_A!r} Oe/A must be a "
                             "positive number (the magnet's, from its data sheet)")
        kwargs.setdefault("read_termination", self.READ_TERMINATION)
        kwargs.setdefault("write_termination", self.WRITE_TERMINATION)
        super().__init__(adapter, name, includeSCPI=False, **kwargs)
        self.coil_constant_Oe_per_A = float(coil_constant_Oe_per_A)
        # until a station sets them, the limits allow nothing but zero field
        self.set_limits(max_field_Oe, max_ramp_rate_Oe_per_s, "driver default: ")
        self._direction: str | None = None  # "UP" or "DOWN" of the last target set
        # setting commands are taken in remote mode only (QCoDeS sends REMOTE first too)
        self.remote()
        units = self.ask("UNITS?").strip()
        if units not in SUPPLY_UNITS:
            raise ValueError(f"4G units {units!r}: cryolab works with UNITS G (kG) or A; "
                             "set one of them on the supply")
        self._units = SUPPLY_UNITS[units]

    def set_limits(self, max_field_Oe: float, max_ramp_rate_Oe_per_s: float,
                   source_prefix: str) -> None:
        """Targets within ±max_field_Oe and rates up to max_ramp_rate_Oe_per_s, else refused."""
        self.field_limits_Oe = Span(-max_field_Oe, max_field_Oe, f"{source_prefix}max_field_Oe")
        self.ramp_rate_limits_Oe_per_s = Span(0.0, max_ramp_rate_Oe_per_s,
                                              f"{source_prefix}max_field_ramp_Oe_per_s")

    def remote(self) -> None:
        self.write("REMOTE")

    def local(self) -> None:
        self.write("LOCAL")

    # conversions between the supply's units and Oe
    def _to_oe(self, reply: str, command: str) -> float:
        try:
            value, unit = split_number_unit(reply)
        except ValueError:
            raise ValueError(f"reply to {command!r} is not a field or current: {reply!r}") \
                from None
        if unit == "kG":
            return value * OE_PER_KG
        if unit == "A":
            return value * self.coil_constant_Oe_per_A
        raise ValueError(f"reply to {command!r} is in {unit!r}, not kG or A: {reply!r}")

    def _from_oe(self, field_Oe: float) -> str:
        scale = OE_PER_KG if self._units == "kG" else self.coil_constant_Oe_per_A
        return plain_decimal(field_Oe / scale)

    def _number(self, command: str, unit: str) -> float:
        reply = self.ask(command)
        try:
            value, suffix = split_number_unit(reply)
        except ValueError:
            raise ValueError(f"reply to {command!r} is not a number: {reply!r}") from None
        if suffix not in ("", unit):
            raise ValueError(f"reply to {command!r} is in {suffix!r}, not {unit}: {reply!r}")
        return value

    @property
    def field_Oe(self) -> float:
        """The field in the magnet, Oe (``IMAG?``: the magnet current in the supply's units)."""
        return self._to_oe(self.ask("IMAG?"), "IMAG?")

    @property
    def output_field_Oe(self) -> float:
        """The field the supply's output current would make, Oe (``IOUT?``)."""
        return self._to_oe(self.ask("IOUT?"), "IOUT?")

    @property
    def upper_limit_Oe(self) -> float:
        return self._to_oe(self.ask("ULIM?"), "ULIM?")

    @property
    def lower_limit_Oe(self) -> float:
        return self._to_oe(self.ask("LLIM?"), "LLIM?")

    @property
    def supply_units(self) -> str:
        """The units the supply reads and sets fields in: 'kG' or 'A' (from ``UNITS?``)."""
        return self._units

    def set_range_top(self, index: int, top_A: float) -> None:
        """``RANGE <i> <A>``: the top current of rate range ``index`` (0–4). A range above the
        station's largest field (in A through the coil constant) would serve no sweep."""
        if index not in RANGE_INDICES:
            raise LimitError(f"4G rate range {index!r} is not one of 0–4")
        max_A = self.field_limits_Oe.high / self.coil_constant_Oe_per_A
        top = in_range(f"4G range {index} top current", "A")(
            top_A, Span(0.0, max_A, f"{self.field_limits_Oe.source} ÷ coil constant"))
        self.write(f"RANGE {index} {plain_decimal(top)}")

    def range_tops_A(self) -> list[float]:
        """The top current of rate ranges 0–3 (``RANGE? i``); range 4 goes on to the maximum."""
        return [self._number(f"RANGE? {i}", "A") for i in RANGE_INDICES[:-1]]

    @property
    def target_field_Oe(self) -> float:
        """The limit the last target set points the sweep at (ULIM going up, LLIM down)."""
        if self._direction is None:
            raise LookupError("the 4G keeps an upper and a lower sweep limit, not a target: "
                              "set target_field_Oe or call start_ramp() first")
        return self.upper_limit_Oe if self._direction == "UP" else self.lower_limit_Oe

    @target_field_Oe.setter
    def target_field_Oe(self, field_Oe: float) -> None:
        """ULIM for a target at or above the present field, LLIM below it; does not sweep."""
        field_Oe = in_range("magnet target field", "Oe")(field_Oe, self.field_limits_Oe)
        self._set_target(field_Oe, self.field_Oe)

    def _set_target(self, target_Oe: float, present_Oe: float) -> None:
        direction = "UP" if target_Oe >= present_Oe else "DOWN"
        self.write(f"{'ULIM' if direction == 'UP' else 'LLIM'} {self._from_oe(target_Oe)}")
        self._direction = direction

    @property
    def ramp_rate_Oe_per_s(self) -> float:
        """The sweep rate of the range the magnet current is in now, Oe/s (``RATE? i``)."""
        present_A = self.field_Oe / self.coil_constant_Oe_per_A
        index = _range_of(present_A, self.range_tops_A())
        return self._number(f"RATE? {index}", "A/s") * self.coil_constant_Oe_per_A

    @ramp_rate_Oe_per_s.setter
    def ramp_rate_Oe_per_s(self, rate_Oe_per_s: float) -> None:
        """The same rate in every range (0–4): without a target the driver cannot know which
        ranges a later sweep crosses, and the station's maximum is the only cap it knows."""
        rate = self._checked_rate(rate_Oe_per_s)
        self._write_rates(rate, RANGE_INDICES)

    def _checked_rate(self, rate_Oe_per_s: float) -> float:
        rate = in_range("magnet ramp rate", "Oe/s")(rate_Oe_per_s, self.ramp_rate_limits_Oe_per_s)
        if rate <= 0:
            raise LimitError("magnet ramp rate: must be above 0 Oe/s")
        return rate

    def _write_rates(self, rate_Oe_per_s: float, indices) -> None:
        rate_A_per_s = plain_decimal(rate_Oe_per_s / self.coil_constant_Oe_per_A)
        for index in indices:
            self.write(f"RATE {index} {rate_A_per_s}")

    @property
    def magnet_state(self) -> MagnetState:
        return MagnetState.from_status(self.status)

    @property
    def quenched(self) -> bool:
        return StatusByte.QUENCH in self.status

    # sweeps; none of them waits
    def start_ramp(self, target_Oe: float, rate_Oe_per_s: float) -> None:
        """Pause; the rate (A/s) into every range between the present current and the
        target's; ULIM or LLIM to the target; SWEEP UP or DOWN. Both values checked first."""
        in_range("magnet target field", "Oe")(target_Oe, self.field_limits_Oe)
        rate = self._checked_rate(rate_Oe_per_s)
        self.pause()
        present_Oe = self.field_Oe
        tops_A = self.range_tops_A()
        present_A = present_Oe / self.coil_constant_Oe_per_A
        target_A = target_Oe / self.coil_constant_Oe_per_A
        # through zero (a sign change) the sweep also crosses every range below both ends
        low_A = 0.0 if present_A * target_A < 0 else min(abs(present_A), abs(target_A))
        high_A = max(abs(present_A), abs(target_A))
        self._write_rates(rate, range(_range_of(low_A, tops_A), _range_of(high_A, tops_A) + 1))
        self._set_target(target_Oe, present_Oe)
        self.ramp()

    def pause(self) -> None:
        """Stop the sweep where it is (``SWEEP PAUSE``)."""
        self.write("SWEEP PAUSE")

    def ramp(self) -> None:
        """Sweep toward the last target set (``SWEEP UP`` to ULIM or ``SWEEP DOWN`` to LLIM)."""
        if self._direction is None:
            raise LookupError("no target set on this 4G yet: use start_ramp()")
        self.write(f"SWEEP {self._direction}")

    def zero(self) -> None:
        """Sweep to zero current (``SWEEP ZERO``)."""
        self.write("SWEEP ZERO")

    def clear_quench(self) -> None:
        self.write("QRESET")

    def reconnect(self) -> None:
        self.adapter.reopen()

    def shutdown(self) -> None:
        """Leave the magnet where it is (SWEEP PAUSE) and close the connection."""
        try:
            self.pause()
        finally:
            self.isShutdown = True
            self.adapter.close()
