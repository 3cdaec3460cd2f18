"""Sequence files: the steps of a night, validated against the station before anything moves.

A sequence is YAML with run-wide ``settings`` and a list of ``steps``, each a one-key mapping
(``- set_field: {field_Oe: 100}``). The same step classes are used from Python (notebooks):
``Sequence(steps=[SetField(field_Oe=100), RampTemperature(from_K=0.06, to_K=1.0)])``.
Validation reports every problem at once, each as ``steps[3].set_field.field_Oe: …``; a
sequence that passes is expanded into a plan of primitive steps (``field_sweep`` becomes a
``set_field`` and a ``ramp_temperature`` per field) with an estimated duration.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from cryolab.inputs import (
    Flag,
    InputError,
    Name,
    NotBool,
    Number,
    Text,
    WholeNumber,
    kind_of,
    near_miss,
    number_or_auto,
    parse_yaml_mapping,
    read_yaml_mapping,
    validation_problems,
)
from cryolab.station import StationConfig
from instruments.srs_sr830 import SR830

TIME_CONSTANTS_S = SR830.TIME_CONSTANTS

DAY_S = 86400.0
#: the longest wait a step may ask for (durations and timeouts): a month
MAX_DURATION_S = 31 * DAY_S
#: the slowest field ramp: 0.1 mOe/s (600 Oe in 70 days); slower is a typo, and its duration
#: would not fit the clock
MIN_FIELD_RATE_OE_PER_S = 1e-4
#: the 372's setpoint ramp takes 0.001 K/min at the finest (372 manual, RAMP)
MIN_TEMPERATURE_RATE_K_PER_MIN = 1e-3

Finite = Number
PositiveFinite = Annotated[Number, Field(gt=0)]
Fraction = Annotated[Number, Field(gt=0, lt=1)]
Duration = Annotated[Number, Field(gt=0, le=MAX_DURATION_S)]
FieldRate = Annotated[Number, Field(ge=MIN_FIELD_RATE_OE_PER_S)]
Temperature = Annotated[Number, Field(gt=0, le=400.0)]
TemperatureRate = number_or_auto(MIN_TEMPERATURE_RATE_K_PER_MIN, 100.0, "K/min", low_inclusive=True)
Frequency = number_or_auto(0.0, 102_000.0, "Hz")
Count = Annotated[WholeNumber, Field(ge=1, le=1_000_000)]


class _Step(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: ClassVar[str]

    def targets(self) -> dict[str, Any]:
        """The step's targets, stored as attributes of its group in the run file."""
        return {k: v for k, v in self.model_dump().items() if v is not None}


class SetField(_Step):
    """Ramp the magnet to ``field_Oe`` at ``rate_Oe_per_s``, then wait ``settle_s``."""

    kind: ClassVar[str] = "set_field"
    field_Oe: Finite
    rate_Oe_per_s: FieldRate | None = None  # default: settings.field_rate_Oe_per_s
    settle_s: Annotated[Number, Field(ge=0, le=DAY_S)] = 30.0


class RampTemperature(_Step):
    """Go to ``from_K`` (if given) and wait until stable, then ramp to ``to_K``, measuring."""

    kind: ClassVar[str] = "ramp_temperature"
    from_K: Temperature | None = None
    to_K: Temperature
    rate_K_per_min: TemperatureRate = "auto"
    timeout_s: Duration | None = None  # default: 3 × the planned duration + 1 h


class Hold(_Step):
    """Wait (measuring) for ``duration_s``, or until the temperatures are stable."""

    kind: ClassVar[str] = "hold"
    duration_s: Duration | None = None
    until: Literal["stable"] | None = None
    tolerance: Fraction = 0.01  # T_MC within ± this fraction over the window
    window_s: Annotated[Number, Field(gt=0, le=DAY_S)] = 120.0
    timeout_s: Duration = 3600.0

    @model_validator(mode="after")
    def _one_way(self) -> Hold:
        if (self.duration_s is None) == (self.until is None):
            raise ValueError("give either duration_s or until: stable")
        return self


class Measure(_Step):
    """Take ``points`` points at fixed conditions."""

    kind: ClassVar[str] = "measure"
    points: Count


class SetExcitation(_Step):
    """Set the bias current and the lock-in's frequency and time constant (``auto`` or fixed)."""

    kind: ClassVar[str] = "set_excitation"
    current_nA: PositiveFinite
    frequency_Hz: Frequency = "auto"
    time_constant_s: number_or_auto(0.0, 30_000.0, "s") = "auto"  # type: ignore[valid-type]
    slope_dB_per_oct: Annotated[Literal[6, 12, 18, 24], NotBool] = 24

    @field_validator("time_constant_s")
    @classmethod
    def _on_the_lockin_grid(cls, tau: float | str) -> float | str:
        if tau != "auto" and not any(math.isclose(tau, t, rel_tol=1e-9) for t in TIME_CONSTANTS_S):
            listed = ", ".join(f"{t:g}" for t in TIME_CONSTANTS_S if 0.1 <= t <= 300)
            raise ValueError(f"must be 'auto' or an SR830 time constant ({listed} s, …)")
        return tau


class LinearityCheck(_Step):
    """ρ at two or three currents; flagged when they differ by more than ``tolerance``."""

    kind: ClassVar[str] = "linearity_check"
    currents_nA: list[PositiveFinite] = Field(min_length=2, max_length=3)
    tolerance: Fraction = 0.02
    points: Annotated[WholeNumber, Field(ge=1, le=10_000)] = 10


class Cooldown(_Step):
    """Heater off; measure while the fridge cools, to ``to_K`` or for ``duration_s``."""

    kind: ClassVar[str] = "cooldown"
    to_K: Temperature | None = None
    duration_s: Duration | None = None
    timeout_s: Duration = 4 * 3600.0

    @model_validator(mode="after")
    def _end(self) -> Cooldown:
        if self.to_K is None and self.duration_s is None:
            raise ValueError("give to_K, duration_s or both")
        return self


class RampSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    from_K: Temperature
    to_K: Temperature
    rate_K_per_min: TemperatureRate = "auto"


class FieldSweep(_Step):
    """The overnight plan: for each field, set it and ramp the temperature (``ramp``) — or,
    at fixed temperature, take ``measure_points`` points.

    With ``alternate`` the ramps go up and down in turn (from→to, to→from, …), so no time is
    spent going back to the start temperature.
    """

    kind: ClassVar[str] = "field_sweep"
    fields_Oe: list[Finite] = Field(min_length=1, max_length=1000)
    rate_Oe_per_s: FieldRate | None = None
    settle_s: Annotated[Number, Field(ge=0, le=DAY_S)] = 30.0
    ramp: RampSpec | None = None
    measure_points: Count | None = None
    alternate: Flag = True

    @model_validator(mode="after")
    def _one_action(self) -> FieldSweep:
        if (self.ramp is None) == (self.measure_points is None):
            raise ValueError("give either ramp (a temperature ramp at each field) or "
                             "measure_points (points at each field)")
        return self

    def expand(self) -> list[_Step]:
        out: list[_Step] = []
        for i, field_Oe in enumerate(self.fields_Oe):
            out.append(SetField(field_Oe=field_Oe, rate_Oe_per_s=self.rate_Oe_per_s,
                                settle_s=self.settle_s))
            if self.ramp is None:
                out.append(Measure(points=self.measure_points))
                continue
            a, b = self.ramp.from_K, self.ramp.to_K
            if self.alternate and i % 2 == 1:
                a, b = b, a
            out.append(RampTemperature(from_K=a, to_K=b, rate_K_per_min=self.ramp.rate_K_per_min))
        return out


STEP_TYPES: dict[str, type[_Step]] = {
    cls.kind: cls for cls in (SetField, RampTemperature, Hold, Measure, SetExcitation,
                              LinearityCheck, Cooldown, FieldSweep)
}
Step = SetField | RampTemperature | Hold | Measure | SetExcitation | LinearityCheck | Cooldown


class RunSettings(BaseModel):
    """Run-wide settings (the ``settings`` mapping of a sequence file)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    #: a point is excluded when |T_sample − T_MC| / T_MC exceeds this (paper, Methods: 10 %)
    mismatch_threshold: Fraction = 0.10
    #: |θ| beyond this flags capacitive leakage (only when the signal is above phase_min_signal_V)
    phase_limit_deg: Annotated[Number, Field(gt=0, le=90)] = 10.0
    phase_min_signal_V: Annotated[Number, Field(gt=0, le=10)] = 20e-9
    #: points are taken every this many lock-in time constants
    point_interval_tau: Annotated[Number, Field(ge=1, le=100)] = 3.0
    #: ``rate_K_per_min: auto`` ramps at this fraction of T per minute
    auto_ramp_percent_per_min: Annotated[Number, Field(ge=0.01, le=100)] = 5.0
    #: a ramp slows to half after this many consecutive out-of-equilibrium points
    slow_down_after_points: Annotated[WholeNumber, Field(ge=1, le=10_000)] = 5
    #: field ramps without a rate of their own; default: 5 Oe/s, or the station's limit if lower
    field_rate_Oe_per_s: FieldRate | None = None
    #: excitation used until a set_excitation step says otherwise
    current_nA: PositiveFinite = 0.5
    frequency_Hz: Frequency = "auto"


class SimulationSettings(BaseModel):
    """Used only with ``--sim``: which sample, and where the simulated fridge starts."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    preset: Literal["S0", "S1"] = "S1"
    #: the mixing chamber's temperature when the simulation starts (default: base)
    start_K: Annotated[Number, Field(gt=0, le=10)] | None = None


class Sequence(BaseModel):
    """A whole sequence: name, settings and steps (composite steps not yet expanded)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: Annotated[Name, Field(min_length=1, max_length=200)] = "sequence"
    description: Annotated[Text, Field(max_length=20_000)] = ""
    settings: RunSettings = RunSettings()
    simulation: SimulationSettings = SimulationSettings()
    steps: list[_Step] = Field(min_length=1)

    def to_yaml(self) -> str:
        """The sequence as sequence-file text (for sequences built in Python)."""
        data = {"name": self.name, "description": self.description,
                "settings": self.settings.model_dump(), "simulation": self.simulation.model_dump(),
                "steps": [{step.kind: step.model_dump(exclude_none=True)} for step in self.steps]}
        return yaml.safe_dump(data, sort_keys=False)

    def plan(self) -> list[Step]:
        """The primitive steps, composite ones expanded, in execution order."""
        out: list[Step] = []
        for step in self.steps:
            out.extend(step.expand() if isinstance(step, FieldSweep) else [step])
        return out


# ------------------------------------------------------------------------------- parsing


def _parse_steps(raw_steps: Any) -> tuple[list[_Step | None], list[str]]:
    """Validate each ``- kind: {…}`` entry on its own, so errors carry steps[i].kind.key.

    Steps that fail stay in the list as None, so later checks keep the original positions.
    """
    if not isinstance(raw_steps, list):
        return [], [f"steps: expected a list of steps ('- kind: {{settings}}' lines), got "
                    f"{kind_of(raw_steps)}"]
    steps: list[_Step | None] = []
    problems: list[str] = []
    known = ", ".join(STEP_TYPES)
    for i, entry in enumerate(raw_steps):
        where = f"steps[{i}]"
        if isinstance(entry, str) and entry in STEP_TYPES:
            entry = {entry: {}}
        steps.append(None)
        if not isinstance(entry, dict) or not entry:
            problems.append(f"{where}: expected one step as 'kind: {{settings}}' ({known})")
            continue
        kinds = [k for k in entry if k in STEP_TYPES]
        if len(entry) != 1:
            problems.append(_several_keys_problem(where, entry, kinds))
            continue
        (kind, params), = entry.items()
        if kind not in STEP_TYPES:
            problems.append(f"{where}: unknown step kind {_short_key(kind)}"
                            f"{near_miss(str(kind), STEP_TYPES)}; known kinds: {known}")
            continue
        if params is None:
            params = {}
        if not isinstance(params, dict):
            problems.append(f"{where}.{kind}: expected a mapping of settings "
                            f"({', '.join(STEP_TYPES[kind].model_fields)}), got {params!r}"[:300])
            continue
        try:
            steps[-1] = STEP_TYPES[kind].model_validate(params)
        except ValidationError as exc:
            problems.extend(validation_problems(exc, prefix=("steps", i, kind),
                                                model=STEP_TYPES[kind]))
    return steps, problems


def _short_key(key: Any) -> str:
    text = repr(key)
    return text if len(text) <= 40 else text[:37] + "..."


def _several_keys_problem(where: str, entry: dict, kinds: list[str]) -> str:
    """A list entry with more than one key: usually a setting that lost its indentation."""
    if len(kinds) == 1:
        kind = kinds[0]
        extra = [k for k in entry if k != kind]
        names = ", ".join(_short_key(k) for k in extra)
        fields = STEP_TYPES[kind].model_fields
        hints = [f"{_short_key(k)}{near_miss(str(k), fields)}" for k in extra if k not in fields]
        advice = (f"{kind} has no setting {', '.join(hints)}" if hints else
                  f"indent {names} under {kind} to make it one of its settings")
        return (f"{where}: {names} beside {kind!r}: a step is one 'kind: {{settings}}' "
                f"mapping; {advice}")
    listed = ", ".join(_short_key(k) for k in entry)
    return (f"{where}: one step per list entry, got {len(entry)} keys ({listed}); "
            "start each step with its own '- '")


def parse_sequence(data: dict[str, Any], source: str,
                   station: StationConfig | None = None) -> Sequence:
    """A validated Sequence from a parsed YAML mapping; InputError lists every problem —
    the schema's and, with a station, every limit the parts that parsed would exceed."""
    data = dict(data)
    raw_steps = data.pop("steps", None)
    steps, problems = _parse_steps(raw_steps) if raw_steps is not None \
        else ([], ["steps: required, but missing (the list of steps)"])
    if raw_steps is not None and not steps and not problems:
        problems.append("steps: the sequence has no steps")
    head = None
    try:
        head = Sequence.model_validate({**data, "steps": [Measure(points=1)]})
    except ValidationError as exc:
        problems = validation_problems(exc, model=Sequence) + problems
    if station is not None:
        # check the limits even of the parts the schema refused, from their raw values, so
        # that one pass reports every problem
        settings = head.settings if head is not None else _lenient(RunSettings,
                                                                   data.get("settings"))
        lenient_steps = [step if step is not None else _lenient_step(raw)
                         for step, raw in zip(steps, raw_steps or [], strict=False)]
        refused_keys = {p.split(": ", 1)[0] for p in problems}
        problems += [p for p in _station_problems(settings, lenient_steps, station)
                     if p.split(": ", 1)[0] not in refused_keys]
    if problems or head is None:
        raise InputError(source, problems)
    return head.model_copy(update={"steps": steps})


def _lenient(model: type[BaseModel], raw: Any) -> Any:
    """A model built from only the numeric values of a raw mapping, without validation, so the
    station's limits can be checked on the parts the schema did accept."""
    if not isinstance(raw, dict):
        return None
    fields = model.model_fields
    usable = {k: v for k, v in raw.items() if k in fields and isinstance(v, int | float | list)
              and not isinstance(v, bool)}
    return model.model_construct(**usable)


def _lenient_step(raw: Any) -> Any:
    if isinstance(raw, dict) and len(raw) == 1:
        (kind, params), = raw.items()
        if kind in STEP_TYPES:
            return _lenient(STEP_TYPES[kind], params)
    return None


def read_sequence(path: str | Path, station: StationConfig | None = None
                  ) -> tuple[Sequence, str]:
    """Read a sequence file; with a station, its limits are checked too (InputError).
    Returns the sequence and the file's text, read once (the run file keeps that text)."""
    data, text = read_yaml_mapping(path)
    return parse_sequence(data, str(path), station), text


def load_sequence(path: str | Path, station: StationConfig | None = None) -> Sequence:
    """Read a sequence file; with a station, its limits are checked too (InputError)."""
    return read_sequence(path, station)[0]


def sequence_from_text(text: str, source: str = "<sequence>",
                       station: StationConfig | None = None) -> Sequence:
    return parse_sequence(parse_yaml_mapping(text, source), source, station)


# ------------------------------------------------------------------------------- station checks


def check_against_station(sequence: Sequence, station: StationConfig) -> list[str]:
    """Every way the sequence would exceed the station's limits, with the key and the limit."""
    return _station_problems(sequence.settings, sequence.steps, station)


class _LimitChecker:
    """Collects one message per value outside a station limit, naming the key and the limit."""

    def __init__(self, station: StationConfig) -> None:
        self.lim = station.limits
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
        if value != "auto" and value > self.lim.max_temperature_ramp_K_per_min:
            self._bad(path, value, "K/min", f"is above the limit of "
                      f"{self.lim.max_temperature_ramp_K_per_min:g} K/min "
                      "(station: limits.max_temperature_ramp_K_per_min)")

    def current(self, path: str, value: float) -> None:
        low, high = self.lim.current_nA
        if not low <= value <= high:
            self._bad(path, value, "nA", f"is outside the bias limits {low:g} to {high:g} nA "
                      "(station: limits.current_nA)")

    def frequency(self, path: str, value: float | str) -> None:
        low, high = self.lim.frequency_Hz
        if value != "auto" and not low <= value <= high:
            self._bad(path, value, "Hz", f"is outside {low:g} to {high:g} Hz "
                      "(station: limits.frequency_Hz)")

    def settings(self, s: RunSettings) -> None:
        self.field_rate("settings.field_rate_Oe_per_s", s.field_rate_Oe_per_s)  # None: fine
        self.current("settings.current_nA", s.current_nA)
        self.frequency("settings.frequency_Hz", s.frequency_Hz)

    def step(self, p: str, step: _Step) -> None:
        if isinstance(step, SetField | FieldSweep):
            self.field_rate(f"{p}.rate_Oe_per_s", step.rate_Oe_per_s)
        if isinstance(step, SetField):
            self.field(f"{p}.field_Oe", step.field_Oe)
        elif isinstance(step, FieldSweep):
            for j, value in enumerate(step.fields_Oe):
                self.field(f"{p}.fields_Oe[{j}]", value)
            if step.ramp is not None:
                self.temperature(f"{p}.ramp.from_K", step.ramp.from_K)
                self.temperature(f"{p}.ramp.to_K", step.ramp.to_K)
                self.temperature_rate(f"{p}.ramp.rate_K_per_min", step.ramp.rate_K_per_min)
        elif isinstance(step, RampTemperature):
            self.temperature(f"{p}.from_K", step.from_K)
            self.temperature(f"{p}.to_K", step.to_K)
            self.temperature_rate(f"{p}.rate_K_per_min", step.rate_K_per_min)
        elif isinstance(step, Cooldown):
            self.temperature(f"{p}.to_K", step.to_K)
        elif isinstance(step, SetExcitation):
            self.current(f"{p}.current_nA", step.current_nA)
            self.frequency(f"{p}.frequency_Hz", step.frequency_Hz)
        elif isinstance(step, LinearityCheck):
            for j, value in enumerate(step.currents_nA):
                self.current(f"{p}.currents_nA[{j}]", value)


def _station_problems(settings: RunSettings | None, steps: list[_Step | None],
                      station: StationConfig) -> list[str]:
    checker = _LimitChecker(station)
    parts: list[tuple[str, _Step | RunSettings | None]] = [("settings", settings)]
    parts += [(f"steps[{i}].{step.kind}", step) for i, step in enumerate(steps)
              if step is not None]
    for path, part in parts:
        try:
            if isinstance(part, RunSettings):
                checker.settings(part)
            elif part is not None:
                checker.step(path, part)
        except (AttributeError, TypeError):
            pass  # a part the schema refused, built leniently, lacks a value a check needs
    return checker.problems


# ------------------------------------------------------------------------------- the plan

#: estimates used for the plan's duration when the fridge's own behaviour is not known
COOLING_TAU_ESTIMATE_S = 300.0  # MC: T² relaxes with about this time constant, heater off
STABILIZE_ESTIMATE_S = 300.0  # reaching and settling at a ramp's start temperature


@dataclass(frozen=True)
class PlannedStep:
    index: int
    step: Step
    estimate_s: float

    @property
    def kind(self) -> str:
        return self.step.kind

    def describe(self) -> str:
        return describe(self.step)


def describe(step: Step) -> str:
    """One line a physicist reads in the plan: what the step does."""
    t = step.targets()
    if isinstance(step, SetField):
        rate = f" at {step.rate_Oe_per_s:g} Oe/s" if step.rate_Oe_per_s else ""
        return f"field to {step.field_Oe:g} Oe{rate}"
    if isinstance(step, RampTemperature):
        start = f"from {step.from_K:g} K " if step.from_K else ""
        rate = "auto rate" if step.rate_K_per_min == "auto" else f"{step.rate_K_per_min:g} K/min"
        return f"ramp {start}to {step.to_K:g} K ({rate})"
    if isinstance(step, Hold):
        return (f"hold {step.duration_s:g} s" if step.duration_s
                else f"hold until stable (±{step.tolerance:.2g} relative, ≤ {step.timeout_s:g} s)")
    if isinstance(step, Measure):
        return f"measure {step.points} points"
    if isinstance(step, SetExcitation):
        return f"excitation {step.current_nA:g} nA, f = {t['frequency_Hz']}, τ = " \
               f"{t['time_constant_s']}"
    if isinstance(step, LinearityCheck):
        return "linearity check at " + ", ".join(f"{c:g}" for c in step.currents_nA) + " nA"
    if isinstance(step, Cooldown):
        return "cooldown" + (f" to {step.to_K:g} K" if step.to_K else "") + \
            (f" for {step.duration_s:g} s" if step.duration_s else "")
    return step.kind


DEFAULT_FIELD_RATE_OE_PER_S = 5.0


def default_field_rate(settings: RunSettings, station: StationConfig) -> float:
    """The rate of field ramps that give none: the sequence's setting, else 5 Oe/s or the
    station's limit, whichever is lower (a default never breaks a limit)."""
    if settings.field_rate_Oe_per_s is not None:
        return settings.field_rate_Oe_per_s
    return min(DEFAULT_FIELD_RATE_OE_PER_S, station.limits.max_field_ramp_Oe_per_s)


def approach_duration_s(T_from: float, T_to: float, max_rate_K_per_min: float) -> float:
    """Going to a ramp's start temperature: at the station's fastest allowed rate."""
    return abs(T_to - T_from) / max_rate_K_per_min * 60.0


def ramp_duration_s(T_from: float, T_to: float, rate: float | str, auto_percent: float) -> float:
    """Planned ramp time: linear at a fixed rate, exponential in T at ``auto``."""
    if rate == "auto":
        return abs(math.log(T_to / T_from)) / (auto_percent / 100.0) * 60.0
    return abs(T_to - T_from) / float(rate) * 60.0


def make_plan(sequence: Sequence, station: StationConfig,
              T_start_K: float | None = None) -> list[PlannedStep]:
    """The expanded steps with estimated durations (s) for the ETA, starting from ``T_start_K``
    (default: the simulation's start temperature, else 50 mK, a fridge at base)."""
    if T_start_K is None:
        T_start_K = sequence.simulation.start_K or 0.05
    s = sequence.settings
    tau_estimate = 1.0  # the auto time constant at a few Hz
    interval = s.point_interval_tau * tau_estimate
    field, T = 0.0, T_start_K
    out = []
    for i, step in enumerate(sequence.plan()):
        if isinstance(step, SetField):
            rate = step.rate_Oe_per_s or default_field_rate(s, station)
            est = abs(step.field_Oe - field) / rate + step.settle_s
            field = step.field_Oe
        elif isinstance(step, RampTemperature):
            start = step.from_K or T
            est = (STABILIZE_ESTIMATE_S + approach_duration_s(
                T, step.from_K, station.limits.max_temperature_ramp_K_per_min)
                if step.from_K and abs(step.from_K - T) > 0.02 * T else 0.0)
            est += ramp_duration_s(start, step.to_K, step.rate_K_per_min,
                                   s.auto_ramp_percent_per_min)
            T = step.to_K
        elif isinstance(step, Hold):
            est = step.duration_s or step.window_s * 2
        elif isinstance(step, Measure):
            est = step.points * interval
        elif isinstance(step, SetExcitation):
            est = 10.0 * tau_estimate * 2
        elif isinstance(step, LinearityCheck):
            est = len(step.currents_nA) * (14.0 * tau_estimate + step.points * interval)
        elif isinstance(step, Cooldown):
            goal = step.to_K or max(station.limits.temperature_K[0], 0.02)
            # T² relaxes toward a base of roughly goal/2 with the cooling time constant
            est = step.duration_s or COOLING_TAU_ESTIMATE_S * math.log(
                max(T, goal) ** 2 / (0.75 * goal**2))
            T = goal
        else:  # pragma: no cover - every primitive kind is handled above
            raise TypeError(step)
        out.append(PlannedStep(i, step, est))
    return out


def format_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}"
