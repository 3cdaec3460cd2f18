"""What every step kind is: its settings (a strict pydantic model), and what it owns — its check
against the station's limits, its one-line description, its duration estimate, its traits and
its execution, which sees the run only through the narrow :class:`StepContext`.

A new step kind is one module in ``cryolab/steps/`` defining a subclass of :class:`Step` and
one line in ``cryolab/steps/__init__.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict, Field

from cryolab.inputs import Number, WholeNumber, number_or_auto

if TYPE_CHECKING:
    from cryolab.measurement import Acquisition, Point
    from cryolab.sequence import RunSettings
    from cryolab.station import LimitsConfig, StationConfig

DAY_S = 86400.0
#: the longest wait a step may ask for (durations and timeouts): a month
MAX_DURATION_S = 31 * DAY_S
#: the slowest field ramp: 0.1 mOe/s (600 Oe in 70 days); slower is a typo, and its duration
#: would not fit the clock
MIN_FIELD_RATE_OE_PER_S = 1e-4
#: a Lake Shore setpoint ramp takes 0.001 K/min at the finest (372 manual, RAMP)
MIN_TEMPERATURE_RATE_K_PER_MIN = 1e-3

Finite = Number
PositiveFinite = Annotated[Number, Field(gt=0)]
Fraction = Annotated[Number, Field(gt=0, lt=1)]
Duration = Annotated[Number, Field(gt=0, le=MAX_DURATION_S)]
FieldRate = Annotated[Number, Field(ge=MIN_FIELD_RATE_OE_PER_S)]
Temperature = Annotated[Number, Field(gt=0, le=400.0)]
TemperatureRate = number_or_auto(MIN_TEMPERATURE_RATE_K_PER_MIN, 100.0, "K/min",
                                 low_inclusive=True)
Frequency = number_or_auto(0.0, 102_000.0, "Hz")
Count = Annotated[WholeNumber, Field(ge=1, le=1_000_000)]
SettleTime = Annotated[Number, Field(ge=0, le=DAY_S)]

#: estimates used for the plan's duration when the fridge's own behaviour is not known
COOLING_TAU_ESTIMATE_S = 300.0  # MC: T² relaxes with about this time constant, heater off
STABILIZE_ESTIMATE_S = 300.0  # reaching and settling at a ramp's start temperature
TAU_ESTIMATE_S = 1.0  # the auto time constant at a few Hz


@dataclass
class PlanState:
    """Where the plan expects the fridge and the magnet to be as it walks its steps."""

    settings: RunSettings
    station: StationConfig
    T_K: float
    field_Oe: float = 0.0

    @property
    def point_interval_s(self) -> float:
        return self.settings.point_interval_tau * TAU_ESTIMATE_S


class LimitChecker:
    """Collects one message per value outside a station limit, naming the key and the limit."""

    def __init__(self, station: StationConfig) -> None:
        self.lim: LimitsConfig = station.limits
        self.station = station
        self.problems: list[str] = []

    def _bad(self, path: str, value: float, unit: str, why: str) -> None:
        self.problems.append(f"{path}: {value:g} {unit} {why}")

    def field(self, path: str, value: float) -> None:
        if abs(value) > self.lim.max_field_Oe:
            self._bad(path, value, "Oe", f"is beyond the magnet limit of "
                      f"±{self.lim.max_field_Oe:g} Oe (station: limits.max_field_Oe)")

    def field_rate(self, path: str, value: float | None) -> None:
        if value is not None and value > self.lim.max_field_ramp_Oe_per_s:
            self._bad(path, value, "Oe/s", f"is above the magnet ramp limit of "
                      f"{self.lim.max_field_ramp_Oe_per_s:g} Oe/s "
                      "(station: limits.max_field_ramp_Oe_per_s)")

    def temperature(self, path: str, value: float | None) -> None:
        low, high = self.lim.temperature_K
        if value is not None and not low <= value <= high:
            self._bad(path, value, "K", f"is outside the fridge's range {low:g} to {high:g} K "
                      "(station: limits.temperature_K)")

    def temperature_rate(self, path: str, value: float | str) -> None:
        if value != "auto" and value > self.lim.max_temperature_ramp_K_per_min:  # type: ignore[operator]
            self._bad(path, value, "K/min", f"is above the limit of "  # type: ignore[arg-type]
                      f"{self.lim.max_temperature_ramp_K_per_min:g} K/min "
                      "(station: limits.max_temperature_ramp_K_per_min)")

    def current(self, path: str, value: float) -> None:
        low, high = self.lim.current_nA
        if not low <= value <= high:
            self._bad(path, value, "nA", f"is outside the bias limits {low:g} to {high:g} nA "
                      "(station: limits.current_nA)")

    def frequency(self, path: str, value: float | str) -> None:
        low, high = self.lim.frequency_Hz
        if value != "auto" and not low <= value <= high:  # type: ignore[operator]
            self._bad(path, value, "Hz", f"is outside {low:g} to {high:g} Hz "  # type: ignore[arg-type]
                      "(station: limits.frequency_Hz)")

    def time_constant(self, path: str, value: float | str) -> None:
        """A fixed time constant must be on every lock-in's own grid."""
        from cryolab.roles.registry import time_constants_s

        if value == "auto":
            return
        for name in self.station.names_of("lockin"):
            model = self.station.instruments[name].model
            grid = time_constants_s(model)
            if not any(math.isclose(value, t, rel_tol=1e-9) for t in grid):  # type: ignore[arg-type]
                listed = ", ".join(f"{t:g}" for t in grid if 0.1 <= t <= 300)
                self.problems.append(f"{path}: {value:g} s is not a time constant of "
                                     f"{name} ({model}: {listed} s, …)")


class StepContext(Protocol):
    """What a step sees of the run while it executes (the engine provides it)."""

    settings: RunSettings
    acq: Acquisition
    limits: LimitsConfig

    def now(self) -> float: ...

    def note(self, text: str, level: str = "info") -> None: ...

    def sleep(self, duration_s: float) -> None: ...

    def point(self, moving: bool = False) -> Point: ...

    def acquire_until(self, done: Callable[[Point], bool], timeout_s: float | None = None,
                      on_point: Callable[[Point], None] | None = None) -> bool: ...

    def stable(self, target_K: float | None, fraction: float,
               window_s: float) -> Callable[[Point], bool]: ...

    @property
    def field(self) -> Any: ...  # cryolab.runner.controls.FieldControl

    @property
    def temperature(self) -> Any: ...  # cryolab.runner.controls.TemperatureControl

    @property
    def excitation(self) -> Any: ...  # cryolab.runner.controls.ExcitationControl

    def alarm(self, kind: str, message: str) -> None: ...

    def flag_heating(self, source: str, power_W: float, T_K: float, reason: str) -> None: ...


class Step(BaseModel):
    """A step of a sequence: its settings, validated strictly (unknown keys refused)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: ClassVar[str]
    #: a temperature sweep: the live fitter fits its points (Eq. 1 / Eq. 2)
    fitted: ClassVar[bool] = False
    #: with 'auto' frequency, re-choose the frequency for the sample as it is at the start
    retunes_frequency: ClassVar[bool] = False

    def targets(self) -> dict[str, Any]:
        """The step's targets, stored as attributes of its row in the run file."""
        return {k: v for k, v in self.model_dump().items() if v is not None}

    def expand(self) -> list[Step]:
        """The primitive steps this one stands for (itself, unless it is composite)."""
        return [self]

    def visits(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """The temperatures (K) and fields (Oe) the step takes the fridge and the magnet to."""
        return (), ()

    def planned(self, later: list[Step]) -> Step:
        """This step as it runs in a plan whose following steps are ``later`` (a step whose
        defaults depend on the rest of the night fills them in here)."""
        return self

    def check(self, path: str, checker: LimitChecker) -> None:
        """Add a problem to the checker for every value beyond the station's limits."""

    def describe(self) -> str:
        """One line a physicist reads in the plan: what the step does."""
        return self.kind

    def estimate_s(self, state: PlanState) -> float:
        """Duration estimate for the plan's ETA; updates ``state`` to after the step."""
        return 0.0

    def execute(self, ctx: StepContext) -> dict[str, Any]:
        """Do it; return the results stored with the step."""
        raise NotImplementedError(f"{self.kind} is composite: run its expansion")
