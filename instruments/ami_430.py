"""AMI 430 magnet power supply programmer: field in Oe, station limits enforced before sending.

Built on pymeasure's AMI430 (banner handling, SCPI basics, RAMP/PAUSE/ZERO), which assumes
kilogauss, sends targets as given (1000 kG included) and switches the persistent-switch heater on
in its ramp helpers. This subclass reads the supply's field and time units once, converts every
value to Oe and Oe/s, refuses targets and rates beyond the station's limits before anything is
written, and never touches a persistent switch. Waiting for a ramp is the caller's business (on
its own clock).
"""

from __future__ import annotations

import contextlib
from enum import IntEnum

from pymeasure.instruments.ami.ami430 import AMI430 as _PymeasureAMI430

from instruments.limits import LimitError, Span, in_range
from instruments.strict import StrictValuesMixin

BANNER = "American Magnetics Model 430 IP Interface"
OE_PER_UNIT = {0: 1.0e3, 1: 1.0e4}  # FIELD:UNITS 0 kilogauss, 1 tesla (protocols.md §3.2)
SECONDS_PER_UNIT = {0: 1.0, 1: 60.0}  # RAMP:RATE:UNITS 0 per second, 1 per minute


class MagnetState(IntEnum):
    """STATE? values (430 manual Table 4-5)."""

    RAMPING = 1
    HOLDING = 2
    PAUSED = 3
    MANUAL_UP = 4
    MANUAL_DOWN = 5
    ZEROING = 6
    QUENCH = 7
    AT_ZERO = 8
    HEATING_SWITCH = 9
    COOLING_SWITCH = 10

    @property
    def is_moving(self) -> bool:
        return self in (MagnetState.RAMPING, MagnetState.ZEROING, MagnetState.MANUAL_UP,
                        MagnetState.MANUAL_DOWN)


BANNER_TIMEOUT_MS = 2000


@contextlib.contextmanager
def _banner_timeout(adapter):
    """At least BANNER_TIMEOUT_MS for reading the welcome banner, then the usual timeout."""
    connection = getattr(adapter, "connection", None)
    usual = getattr(connection, "timeout", None)
    if not isinstance(usual, int | float) or usual >= BANNER_TIMEOUT_MS:
        yield  # no VISA timeout to raise (a test adapter), or already long enough
        return
    connection.timeout = BANNER_TIMEOUT_MS
    try:
        yield
    finally:
        connection.timeout = usual


def _read_only(prop: property, name: str) -> property:
    """pymeasure's setter without limits, made read-only (reading stays as pymeasure does it)."""

    def refuse(self, value: object) -> None:
        raise LimitError(f"AMI430.{name} cannot be set in cryolab: set fields and rates in Oe "
                         "through target_field_Oe, ramp_rate_Oe_per_s or start_ramp(), which "
                         "check the station's limits")

    return property(prop.fget, refuse, doc=prop.__doc__)


class AMI430(StrictValuesMixin, _PymeasureAMI430):
    """AMI 430 over its Ethernet socket (port 7180); replies end with CR LF."""

    READ_TERMINATION = WRITE_TERMINATION = "\r\n"

    # inherited pymeasure controls that would send unchecked values (kG, A, coil constant)
    target_field = _read_only(_PymeasureAMI430.target_field, "target_field")
    target_current = _read_only(_PymeasureAMI430.target_current, "target_current")
    ramp_rate_field = _read_only(_PymeasureAMI430.ramp_rate_field, "ramp_rate_field")
    ramp_rate_current = _read_only(_PymeasureAMI430.ramp_rate_current, "ramp_rate_current")
    coilconst = _read_only(_PymeasureAMI430.coilconst, "coilconst")
    voltage_limit = _read_only(_PymeasureAMI430.voltage_limit, "voltage_limit")

    def __init__(self, adapter, name: str = "AMI 430 magnet supply", *,
                 max_field_Oe: float = 0.0, max_ramp_rate_Oe_per_s: float = 0.0,
                 **kwargs) -> None:
        kwargs.setdefault("read_termination", self.READ_TERMINATION)
        kwargs.setdefault("write_termination", self.WRITE_TERMINATION)
        # the parent reads the two banner lines (over GPIB there is no banner, so callers pass
        # a ProtocolAdapter or an adapter that answers those reads); the banner comes a moment
        # after the connection, whatever timeout the station chose for queries
        with _banner_timeout(adapter):
            super().__init__(adapter, name, **kwargs)
        # until a station sets them, the limits allow nothing but zero field
        self.set_limits(max_field_Oe, max_ramp_rate_Oe_per_s, "driver default: ")
        self._field_units = int(float(self.ask("FIELD:UNITS?")))
        self._rate_units = int(float(self.ask("RAMP:RATE:UNITS?")))
        if self._field_units not in OE_PER_UNIT or self._rate_units not in SECONDS_PER_UNIT:
            raise ValueError(f"unexpected AMI 430 units: field {self._field_units}, "
                             f"ramp rate {self._rate_units}")

    def set_limits(self, max_field_Oe: float, max_ramp_rate_Oe_per_s: float,
                   source_prefix: str) -> None:
        """Targets within ±max_field_Oe and rates up to max_ramp_rate_Oe_per_s, else refused."""
        self.field_limits_Oe = Span(-max_field_Oe, max_field_Oe, f"{source_prefix}max_field_Oe")
        self.ramp_rate_limits_Oe_per_s = Span(0.0, max_ramp_rate_Oe_per_s,
                                              f"{source_prefix}max_field_ramp_Oe_per_s")

    # conversions between the supply's units and Oe
    @property
    def oe_per_unit(self) -> float:
        return OE_PER_UNIT[self._field_units]

    def _to_oe(self, value: float) -> float:
        return value * self.oe_per_unit

    def _from_oe(self, field_Oe: float) -> float:
        return field_Oe / self.oe_per_unit

    @property
    def field_Oe(self) -> float:
        """The field in the magnet, Oe (from the magnet current)."""
        return self._to_oe(float(self.ask("FIELD:MAG?")))

    @property
    def target_field_Oe(self) -> float:
        return self._to_oe(float(self.ask("FIELD:TARG?")))

    @target_field_Oe.setter
    def target_field_Oe(self, field_Oe: float) -> None:
        field_Oe = in_range("magnet target field", "Oe")(field_Oe, self.field_limits_Oe)
        self.write(f"CONF:FIELD:TARG {self._from_oe(field_Oe):.6g}")

    @property
    def ramp_rate_Oe_per_s(self) -> float:
        """Segment 1 ramp rate in Oe/s (reply: ``rate,upper bound``)."""
        rate = float(self.ask("RAMP:RATE:FIELD:1?").split(",")[0])
        return self._to_oe(rate) / SECONDS_PER_UNIT[self._rate_units]

    @ramp_rate_Oe_per_s.setter
    def ramp_rate_Oe_per_s(self, rate_Oe_per_s: float) -> None:
        rate = in_range("magnet ramp rate", "Oe/s")(rate_Oe_per_s, self.ramp_rate_limits_Oe_per_s)
        if rate <= 0:
            raise LimitError("magnet ramp rate: must be above 0 Oe/s")
        per_unit_time = self._from_oe(rate) * SECONDS_PER_UNIT[self._rate_units]
        upper = self._from_oe(self.field_limits_Oe.high)
        # one segment; the last segment's upper bound is not a limit (protocols.md §3.3)
        self.write("CONF:RAMP:RATE:SEG 1")
        self.write(f"CONF:RAMP:RATE:FIELD 1,{per_unit_time:.6g},{upper:.6g}")

    @property
    def magnet_state(self) -> MagnetState:
        return MagnetState(int(float(self.ask("STATE?"))))

    @property
    def quenched(self) -> bool:
        return bool(int(float(self.ask("QU?"))))

    @property
    def coil_constant_Oe_per_A(self) -> float:
        return self._to_oe(float(self.ask("COIL?")))

    @property
    def current_limit_A(self) -> float:
        return float(self.ask("CURR:LIM?"))

    def start_ramp(self, target_Oe: float, rate_Oe_per_s: float) -> None:
        """Pause, set rate and target (both checked first), then RAMP. Does not wait."""
        in_range("magnet target field", "Oe")(target_Oe, self.field_limits_Oe)
        in_range("magnet ramp rate", "Oe/s")(rate_Oe_per_s, self.ramp_rate_limits_Oe_per_s)
        if not rate_Oe_per_s > 0:  # a rate of zero never arrives; refused before PAUSE is sent
            raise LimitError(f"magnet ramp rate: {rate_Oe_per_s:g} Oe/s must be above 0")
        self.pause()
        self.ramp_rate_Oe_per_s = rate_Oe_per_s
        self.target_field_Oe = target_Oe
        self.ramp()

    def reconnect(self) -> None:
        """Reopen the socket; the programmer greets every new connection with its banner."""
        self.adapter.reopen()
        with _banner_timeout(self.adapter):
            self.read()
            self.read()

    def clear_quench(self) -> None:
        self.write("QU 0")

    # pymeasure's helpers heat a persistent switch this setup does not have and skip the limit
    # checks: refuse them rather than inherit them.
    def ramp_to_field(self, field, rate):
        raise LimitError("AMI430.ramp_to_field bypasses cryolab's limits; use start_ramp()")

    def ramp_to_current(self, current, rate):
        raise LimitError("AMI430.ramp_to_current bypasses cryolab's limits; use start_ramp()")

    def enable_persistent_switch(self):
        raise LimitError("AMI430.enable_persistent_switch: this setup has no persistent switch")

    def wait_for_holding(self, *args, **kwargs):
        raise LimitError("AMI430.wait_for_holding sleeps on the wall clock; wait on the "
                         "runner's clock and poll magnet_state instead")

    def shutdown(self) -> None:
        """Leave the magnet where it is (PAUSE) and close the connection."""
        try:
            self.pause()
        finally:
            self.isShutdown = True
            self.adapter.close()
