"""Oxford Instruments Mercury iPS magnet supply, one axis: field in Oe, every set confirmed.

Follows the Mercury iPS Operator's Manual, issue 14, §10.3 "SCPI command protocols" (pp.
108–120). What differs from the AMI 430 (``ami_430.py``):

* Raw socket on port 7020 (or USB/RS-232/GPIB); lines end with LF; commands are case-sensitive,
  keywords at most four characters, separated by ``:`` (§10.3.1).
* ``READ:<noun>`` and ``SET:<noun>:<value>`` are both answered with a ``STAT`` line (§10.3.4):
  ``STAT:DEV:GRPZ:PSU:SIG:FLD:0.0300T`` and ``STAT:SET:DEV:GRPZ:PSU:SIG:FSET:0.03:VALID``. This
  driver reads every answer, checks that it echoes the noun asked, and raises
  :class:`IPSRefusedError` on ``INVALID``, ``NOT_FOUND``, ``N/A`` or ``DENIED`` (§10.3.6).
* The supply works in tesla and tesla per *minute* (``SIG:RFST`` replies ``0.2000T/m``); values
  may carry an SI prefix (``30.000mT``). Numbers are written as plain decimals.
* The ramp is an action, ``ACTN``: ``HOLD``, ``RTOS`` (to the set point), ``RTOZ`` (to zero),
  ``CLMP`` (output clamped). A quench is not an action: it is bit 8 of the PSU's hexadecimal
  alarm word ``READ:DEV:<axis>:PSU:STAT``. Issue 14's pages 108–120 do not list those bits (ISIS
  cites the magnet-board alarms of issue 20, p. 162, not read here); the layout is the one the
  ESRF BLISS MercuryiPS controller and ISIS's IPS emulator (from Oxford Instruments) use.
* Firmware 2.6 renamed the PSU noun ``SPSU`` (as QCoDeS's driver does it); ``*IDN?`` is read at
  construction to choose.

Limits are checked in Oe and Oe/s before anything is sent; the switch heater is never touched.
"""

from __future__ import annotations

import re
from enum import Enum, IntFlag

from pymeasure.instruments import Instrument

from instruments.formats import plain_decimal, split_number_unit
from instruments.limits import LimitError, Span, in_range

OE_PER_T = 1.0e4
SECONDS_PER_MINUTE = 60.0
#: SI prefixes the iPS may put before a unit (QCoDeS MercuryiPS ``_signal_parser``)
SI_PREFIXES = {"": 1.0, "n": 1e-9, "u": 1e-6, "m": 1e-3, "k": 1e3, "M": 1e6}
#: replies that mean the iPS did not do what was asked (§10.3.6)
REFUSALS = ("INVALID", "NOT_FOUND", "N/A", "DENIED")
_UID = re.compile(r"^[A-Za-z0-9.]{1,16}$")


class IPSRefusedError(RuntimeError):
    """The iPS answered a command with INVALID, NOT_FOUND, N/A or DENIED: it understood the
    line (so this is no garbled reply to retry) and will not do it."""


class MagnetState(Enum):
    """``ACTN`` values (§10.3, PSU nouns)."""

    HOLD = "HOLD"
    TO_SET = "RTOS"
    TO_ZERO = "RTOZ"
    CLAMPED = "CLMP"

    @property
    def is_moving(self) -> bool:
        return self in (MagnetState.TO_SET, MagnetState.TO_ZERO)


class PSUAlarm(IntFlag):
    """Bits of the PSU alarm word ``STAT`` (8 hex digits); see the module docstring."""

    OK = 0
    SWITCH_HEATER_MISMATCH = 1 << 0
    OVER_TEMPERATURE_RUNDOWN_RESISTORS = 1 << 1
    OVER_TEMPERATURE_SENSE_RESISTOR = 1 << 2
    OVER_TEMPERATURE_PCB = 1 << 3
    CALIBRATION_FAILURE = 1 << 4
    MSP430_FIRMWARE_ERROR = 1 << 5
    RUNDOWN_RESISTORS_FAILED = 1 << 6
    MSP430_RS485_FAILURE = 1 << 7
    QUENCH_DETECTED = 1 << 8
    CATCH_DETECTED = 1 << 9
    OVER_TEMPERATURE_SENSE_AMPLIFIER = 1 << 12
    OVER_TEMPERATURE_AMPLIFIER_1 = 1 << 13
    OVER_TEMPERATURE_AMPLIFIER_2 = 1 << 14
    PWM_CUTOFF = 1 << 15
    VOLTAGE_ADC_ERROR = 1 << 16
    CURRENT_ADC_ERROR = 1 << 17


def _firmware_version(idn: str) -> tuple[int, int]:
    """``IDN:OXFORD INSTRUMENTS:MERCURY IPS:<serial>:2.5.09.000`` → (2, 5) (§10.3.2)."""
    fields = idn.strip().split(":")
    match = re.match(r"^(\d+)\.(\d+)", fields[-1]) if len(fields) >= 5 else None
    if not fields[0] == "IDN" or match is None:
        raise ValueError(f"reply to '*IDN?' is not an iPS identification: {idn!r}")
    return int(match.group(1)), int(match.group(2))


def _quantity(value: str, unit: str) -> float:
    """``'30.000mT'`` with unit ``'T'`` → 0.03 (SI value in ``unit``)."""
    number, suffix = split_number_unit(value)
    prefix = suffix[: len(suffix) - len(unit)] if suffix.endswith(unit) else None
    if prefix not in SI_PREFIXES:
        raise ValueError(f"iPS value {value!r} is not in {unit}")
    return number * SI_PREFIXES[prefix]


class MercuryiPS(Instrument):
    """One axis of a Mercury iPS over its socket (port 7020); every line is answered."""

    READ_TERMINATION = WRITE_TERMINATION = "\n"

    id = Instrument.measurement("*IDN?", """Get the identification string.""",
                                cast=str, maxsplit=0)

    def __init__(self, adapter, name: str = "Oxford Instruments Mercury iPS", *,
                 axis: str = "GRPZ", max_field_Oe: float = 0.0,
                 max_ramp_rate_Oe_per_s: float = 0.0, **kwargs) -> None:
        if not _UID.match(axis):
            raise ValueError(f"iPS axis {axis!r} is not a device UID such as GRPZ or PSU.M1")
        kwargs.setdefault("read_termination", self.READ_TERMINATION)
        kwargs.setdefault("write_termination", self.WRITE_TERMINATION)
        super().__init__(adapter, name, includeSCPI=False, **kwargs)
        self.axis = axis
        # until a station sets them, the limits allow nothing but zero field
        self.set_limits(max_field_Oe, max_ramp_rate_Oe_per_s, "driver default: ")
        self.firmware = _firmware_version(self.id)
        self.psu = "SPSU" if self.firmware >= (2, 6) else "PSU"

    def set_limits(self, max_field_Oe: float, max_ramp_rate_Oe_per_s: float,
                   source_prefix: str) -> None:
        """Targets within ±max_field_Oe and rates up to max_ramp_rate_Oe_per_s, else refused."""
        self.field_limits_Oe = Span(-max_field_Oe, max_field_Oe, f"{source_prefix}max_field_Oe")
        self.ramp_rate_limits_Oe_per_s = Span(0.0, max_ramp_rate_Oe_per_s,
                                              f"{source_prefix}max_field_ramp_Oe_per_s")

    # the SCPI-like exchange: one line out, one STAT line back
    def _noun(self, noun: str) -> str:
        return f"DEV:{self.axis}:{self.psu}:{noun}"

    def _exchange(self, command: str, expected_prefix: str) -> str:
        reply = self.ask(command).strip()
        if any(word in reply.split(":") for word in REFUSALS):
            raise IPSRefusedError(f"iPS refused {command!r}: {reply!r}")
        if not reply.startswith(expected_prefix):
            raise ValueError(f"reply to {command!r} does not echo it: {reply!r}")
        return reply[len(expected_prefix):]

    def read_noun(self, noun: str) -> str:
        """``READ:DEV:<axis>:<PSU>:<noun>`` → the value after the echoed noun."""
        path = self._noun(noun)
        return self._exchange(f"READ:{path}", f"STAT:{path}:")

    def set_noun(self, noun: str, value: str) -> None:
        """``SET:DEV:<axis>:<PSU>:<noun>:<value>``; returns once the iPS answered VALID."""
        path = self._noun(noun)
        rest = self._exchange(f"SET:{path}:{value}", f"STAT:SET:{path}:")
        if not rest.endswith(":VALID") and rest != "VALID":
            raise ValueError(f"iPS answer to SET {noun} is neither VALID nor a refusal: {rest!r}")

    # readings and settings in Oe
    @property
    def field_Oe(self) -> float:
        """The field from the supply's output current, Oe (``SIG:FLD``)."""
        return _quantity(self.read_noun("SIG:FLD"), "T") * OE_PER_T

    @property
    def persistent_field_Oe(self) -> float:
        """The field in the magnet when persistent, Oe (``SIG:PFLD``)."""
        return _quantity(self.read_noun("SIG:PFLD"), "T") * OE_PER_T

    @property
    def target_field_Oe(self) -> float:
        return _quantity(self.read_noun("SIG:FSET"), "T") * OE_PER_T

    @target_field_Oe.setter
    def target_field_Oe(self, field_Oe: float) -> None:
        field_Oe = in_range("magnet target field", "Oe")(field_Oe, self.field_limits_Oe)
        self.set_noun("SIG:FSET", plain_decimal(field_Oe / OE_PER_T))

    @property
    def ramp_rate_Oe_per_s(self) -> float:
        """The field sweep rate in Oe/s (the iPS keeps T/min: ``SIG:RFST``, ``0.2000T/m``)."""
        return _quantity(self.read_noun("SIG:RFST"), "T/m") * OE_PER_T / SECONDS_PER_MINUTE

    @ramp_rate_Oe_per_s.setter
    def ramp_rate_Oe_per_s(self, rate_Oe_per_s: float) -> None:
        rate = self._checked_rate(rate_Oe_per_s)
        self.set_noun("SIG:RFST", plain_decimal(rate / OE_PER_T * SECONDS_PER_MINUTE))

    def _checked_rate(self, rate_Oe_per_s: float) -> float:
        rate = in_range("magnet ramp rate", "Oe/s")(rate_Oe_per_s, self.ramp_rate_limits_Oe_per_s)
        if rate <= 0:
            raise LimitError("magnet ramp rate: must be above 0 Oe/s")
        return rate

    @property
    def current_A(self) -> float:
        """The supply output current, A (``SIG:CURR``)."""
        return _quantity(self.read_noun("SIG:CURR"), "A")

    @property
    def voltage_V(self) -> float:
        return _quantity(self.read_noun("SIG:VOLT"), "V")

    @property
    def coil_constant_Oe_per_A(self) -> float:
        """The magnet's field per ampere, Oe/A, from the iPS's current-to-field ratio ``ATOB``
        (``100.0000A/T`` → 1e4 Oe / 100 A = 100 Oe/A)."""
        return OE_PER_T / _quantity(self.read_noun("ATOB"), "A/T")

    @property
    def magnet_state(self) -> MagnetState:
        """HOLD, TO_SET, TO_ZERO or CLAMPED (``ACTN``); a quench shows in :attr:`quenched`."""
        value = self.read_noun("ACTN")
        try:
            return MagnetState(value)
        except ValueError:
            raise ValueError(f"iPS action {value!r} is not HOLD, RTOS, RTOZ or CLMP") from None

    @property
    def alarms(self) -> PSUAlarm:
        """The PSU alarm word (``STAT``, 8 hexadecimal digits)."""
        value = self.read_noun("STAT")
        if not re.fullmatch(r"[0-9A-Fa-f]{1,8}", value):
            raise ValueError(f"iPS alarm word {value!r} is not hexadecimal")
        return PSUAlarm(int(value, 16))

    @property
    def quenched(self) -> bool:
        return PSUAlarm.QUENCH_DETECTED in self.alarms

    # ramps; none of them waits
    def start_ramp(self, target_Oe: float, rate_Oe_per_s: float) -> None:
        """Hold, set rate and target (both checked first), then ramp to the set point."""
        in_range("magnet target field", "Oe")(target_Oe, self.field_limits_Oe)
        self._checked_rate(rate_Oe_per_s)
        self.pause()
        self.ramp_rate_Oe_per_s = rate_Oe_per_s
        self.target_field_Oe = target_Oe
        self.ramp()

    def pause(self) -> None:
        """Hold the field where it is (``ACTN:HOLD``; also the way out of CLMP)."""
        self.set_noun("ACTN", "HOLD")

    def ramp(self) -> None:
        """Ramp toward the set point at the set rate (``ACTN:RTOS``)."""
        self.set_noun("ACTN", "RTOS")

    def zero(self) -> None:
        """Ramp to zero field (``ACTN:RTOZ``)."""
        self.set_noun("ACTN", "RTOZ")

    def reconnect(self) -> None:
        self.adapter.reopen()

    def shutdown(self) -> None:
        """Leave the magnet where it is (HOLD) and close the connection."""
        try:
            self.pause()
        finally:
            self.isShutdown = True
            self.adapter.close()
