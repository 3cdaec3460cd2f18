"""What the runner needs from each kind of instrument, as typed protocols (never a model).

A lock-in reads X, Y and its overload state and is set to a frequency, time constant, slope,
sensitivity and sine amplitude from its own grids; a bridge reads the mixing-chamber and sample
thermometers and drives the sample heater's loop; a magnet supply ramps to a field and reports
a model-neutral state. One adapter per model (``cryolab.roles.lockins``, ``bridges``,
``magnets``) maps a driver onto its role; above the adapters nothing names a model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import Enum
from typing import NamedTuple, Protocol

from instruments.limits import Span


class LockinReading(NamedTuple):
    """X, Y, R in V rms and θ in degrees, taken at one instant, and whether anything
    (input, filter, output) overloaded since the last reading."""

    x_V: float
    y_V: float
    r_V: float
    theta_deg: float
    overloaded: bool


class Instrument(Protocol):
    """What every role shares: its station name and model, and the session's upkeep."""

    name: str
    model: str

    def identify(self) -> str:
        """The instrument's identification string (``*IDN?`` or its model's equivalent)."""
        ...

    def reconnect(self) -> None:
        """Reopen the session: drops a half-read reply or a dead socket."""
        ...

    def confirm(self) -> None:
        """Make sure every command sent so far has been processed."""
        ...

    def close(self) -> None: ...


class LockIn(Instrument, Protocol):
    #: the model's output time constants (s) and full-scale sensitivities (V), ascending
    time_constants_s: Sequence[float]
    sensitivities_V: Sequence[float]
    #: what the sine output can put out now, V rms (the model's range narrowed by the station)
    sine_limits_V: Span

    frequency_Hz: float
    time_constant_s: float
    slope_dB_per_oct: int
    sensitivity_V: float
    sine_V: float

    def read(self) -> LockinReading:
        """X, Y, R, θ and the overload state in one exchange."""
        ...

    def set_synchronous_filter(self, on: bool) -> None: ...

    def set_reference(self, external: bool) -> None:
        """Internal oscillator, or locked to the reference input (a second lock-in on the
        same current)."""
        ...

    def auto_range(self, wait: Callable[[float], object]) -> float:
        """Choose the sensitivity from readings, pacing itself with ``wait`` (the run's clock);
        return the new sensitivity in V."""
        ...


class Bridge(Instrument, Protocol):
    """A resistance bridge: the MC and sample thermometers and the sample heater's loop."""

    def read_thermometers(self, mc_channel: int | str, mc_in_kelvin: bool,
                          sample_channel: int | str) -> tuple[float, float]:
        """(MC reading — K from the bridge's own curve, or Ω —, sample thermometer in Ω),
        as close to one instant as the model allows."""
        ...

    def regulate_on(self, channel: int | str) -> None:
        """Closed-loop control of the sample heater on this input (kelvin units)."""
        ...

    heater_range: int  # 0 is off
    setpoint_K: float
    heater_percent: float  # output in % of the range's full scale

    def ramp(self) -> tuple[bool, float]:
        """(setpoint ramp on, rate in K/min)."""
        ...

    def set_ramp(self, on: bool, rate_K_per_min: float) -> None: ...

    @property
    def ramping(self) -> bool: ...

    def set_heater_resistance(self, ohm: float) -> None: ...

    def heaters_off(self) -> None:
        """Every output the bridge drives to zero (the safe state)."""
        ...

    def set_temperature_limit(self, channel: int | str, limit_K: float) -> bool:
        """The bridge's own over-temperature interlock, if the model has one (False if not)."""
        ...


class MagnetStatus(Enum):
    """What a magnet supply is doing, whatever its model calls it."""

    RAMPING = "ramping"
    HOLDING = "holding"
    PAUSED = "paused"
    ZEROING = "zeroing"
    AT_ZERO = "at zero"
    QUENCH = "quench"
    OTHER = "other"

    @property
    def is_moving(self) -> bool:
        return self in (MagnetStatus.RAMPING, MagnetStatus.ZEROING)


class MagnetSupply(Instrument, Protocol):
    field_Oe: float

    @property
    def status(self) -> MagnetStatus: ...

    def set_limits(self, max_field_Oe: float, max_rate_Oe_per_s: float, source: str) -> None:
        """Refuse targets and rates beyond these in the driver (before anything is sent)."""
        ...

    def start_ramp(self, target_Oe: float, rate_Oe_per_s: float) -> None:
        """Set rate and target (both checked against the limits first) and start; returns
        at once: the runner waits on its own clock."""
        ...

    def hold(self) -> None:
        """Stop where the field is."""
        ...

    def continue_ramp(self) -> None:
        """Go on toward the last target after a hold."""
        ...

    def zero(self) -> None: ...
