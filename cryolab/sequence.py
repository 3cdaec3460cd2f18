"""Sequence files: the steps of a night, validated against the station before anything moves.

A sequence is YAML with run-wide ``settings`` and a list of ``steps``, each a one-key mapping
(``- set_field: {field_Oe: 100}``). The step kinds live in ``cryolab.steps`` (one module each,
owning its checks, description, estimate and execution); the same classes are used from Python
(notebooks): ``Sequence(steps=[SetField(field_Oe=100), RampTemperature(from_K=0.06, to_K=1.0)])``.
Validation reports every problem at once, each as ``steps[3].set_field.field_Oe: …``; a
sequence that passes is expanded into a plan of primitive steps (``field_sweep`` becomes a
``set_field`` and a ``ramp_temperature`` per field) with an estimated duration.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cryolab.inputs import (
    InputError,
    Name,
    Number,
    Text,
    WholeNumber,
    kind_of,
    near_miss,
    parse_yaml_mapping,
    read_yaml_mapping,
    validation_problems,
)
from cryolab.station import StationConfig
from cryolab.steps import (
    STEP_KINDS,
    Cooldown,
    FieldSweep,
    Hold,
    LinearityCheck,
    Measure,
    RampSpec,
    RampTemperature,
    SetExcitation,
    SetField,
    Step,
)
from cryolab.steps.base import (
    FieldRate,
    Fraction,
    Frequency,
    LimitChecker,
    PlanState,
    PositiveFinite,
)

__all__ = ["Cooldown", "FieldSweep", "Hold", "LinearityCheck", "Measure", "PlannedStep",
           "RampSpec", "RampTemperature", "RunSettings", "Sequence", "SetExcitation",
           "SetField", "Step", "check_against_station", "load_sequence", "make_plan",
           "parse_sequence", "read_sequence", "sequence_from_text"]
STEP_TYPES = STEP_KINDS


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
    """Used only with ``--sim``: which sample (default: the station's ``simulation.preset``),
    and where the simulated fridge starts."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    preset: Literal["S0", "S1"] | None = None
    #: the mixing chamber's temperature when the simulation starts (default: base)
    start_K: Annotated[Number, Field(gt=0, le=10)] | None = None


class Sequence(BaseModel):
    """A whole sequence: name, settings and steps (composite steps not yet expanded)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: Annotated[Name, Field(min_length=1, max_length=200)] = "sequence"
    description: Annotated[Text, Field(max_length=20_000)] = ""
    settings: RunSettings = RunSettings()
    simulation: SimulationSettings = SimulationSettings()
    steps: list[Step] = Field(min_length=1)

    def to_yaml(self) -> str:
        """The sequence as sequence-file text (for sequences built in Python)."""
        data = {"name": self.name, "description": self.description,
                "settings": self.settings.model_dump(), "simulation": self.simulation.model_dump(),
                "steps": [{step.kind: step.model_dump(exclude_none=True)} for step in self.steps]}
        return yaml.safe_dump(data, sort_keys=False)

    def plan(self) -> list[Step]:
        """The primitive steps, composite ones expanded, in execution order."""
        steps = [primitive for step in self.steps for primitive in step.expand()]
        return [step.planned(steps[i + 1:]) for i, step in enumerate(steps)]


# ------------------------------------------------------------------------------- parsing


def _parse_steps(raw_steps: Any) -> tuple[list[Step | None], list[str]]:
    """Validate each ``- kind: {…}`` entry on its own, so errors carry steps[i].kind.key.

    Steps that fail stay in the list as None, so later checks keep the original positions.
    """
    if not isinstance(raw_steps, list):
        return [], [f"steps: expected a list of steps ('- kind: {{settings}}' lines), got "
                    f"{kind_of(raw_steps)}"]
    steps: list[Step | None] = []
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
    return _station_problems(sequence.settings, list(sequence.steps), station)


def _station_problems(settings: RunSettings | None, steps: list[Step | None],
                      station: StationConfig) -> list[str]:
    checker = LimitChecker(station)
    # parts the schema refused are built leniently and may lack a value a check needs
    lenient = contextlib.suppress(AttributeError, TypeError)
    if settings is not None:
        with lenient:
            checker.field_rate("settings.field_rate_Oe_per_s", settings.field_rate_Oe_per_s)
        with lenient:
            checker.current("settings.current_nA", settings.current_nA)
        with lenient:
            checker.frequency("settings.frequency_Hz", settings.frequency_Hz)
    for i, step in enumerate(steps):
        if step is not None:
            with lenient:
                step.check(f"steps[{i}].{step.kind}", checker)
    return checker.problems


# ------------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class PlannedStep:
    index: int
    step: Step
    estimate_s: float

    @property
    def kind(self) -> str:
        return self.step.kind

    def describe(self) -> str:
        return self.step.describe()


DEFAULT_FIELD_RATE_OE_PER_S = 5.0


def default_field_rate(settings: RunSettings, station: StationConfig) -> float:
    """The rate of field ramps that give none: the sequence's setting, else 5 Oe/s or the
    station's limit, whichever is lower (a default never breaks a limit)."""
    if settings.field_rate_Oe_per_s is not None:
        return settings.field_rate_Oe_per_s
    return min(DEFAULT_FIELD_RATE_OE_PER_S, station.limits.max_field_ramp_Oe_per_s)


def make_plan(sequence: Sequence, station: StationConfig,
              T_start_K: float | None = None) -> list[PlannedStep]:
    """The expanded steps with estimated durations (s) for the ETA, starting from ``T_start_K``
    (default: the simulation's start temperature, else 50 mK, a fridge at base)."""
    state = PlanState(sequence.settings, station,
                      T_start_K if T_start_K is not None else sequence.simulation.start_K or 0.05)
    return [PlannedStep(i, step, step.estimate_s(state))
            for i, step in enumerate(sequence.plan())]


def format_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}"
