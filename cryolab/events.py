"""What the runner tells its subscribers (writer, live fitter, GUI, progress bar, log).

Data flow is one way: the runner emits these, subscribers react, none knows about the others
(the way Bluesky separates plans from callbacks). A subscriber is any callable taking an event;
:class:`Subscriber` dispatches each event type to a method named after it (``on_point``,
``on_step_started``, …), so a subscriber handles only what it declares. A point is the
:class:`~cryolab.measurement.Point` record itself. Something that needs a person is an
:class:`Alarm` of a named kind, never a word to match in a note.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from cryolab.measurement import Point
from cryolab.sequence import PlannedStep


@dataclass(frozen=True)
class RunStarted:
    time: float
    plan: list[PlannedStep]
    first_index: int  # > 0 when resuming
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StepStarted:
    time: float
    planned: PlannedStep

    @property
    def index(self) -> int:
        return self.planned.index


@dataclass(frozen=True)
class Note:
    """Something the runner decided or noticed, for the log and the file."""

    time: float
    step_index: int | None
    level: str  # "info", "warning", "error"
    text: str


#: what can need a person; notifications are routed by these names
AlarmKind = Literal["quench", "over_temperature", "instrument_down", "instrument_back",
                    "thermal_mismatch", "disk_space_low", "write_failed"]
ALARM_KINDS: tuple[str, ...] = AlarmKind.__args__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Alarm:
    """Something that may need a person: a quench, an instrument down, the disk filling."""

    time: float
    step_index: int | None
    kind: AlarmKind
    message: str


@dataclass(frozen=True)
class StepEnded:
    time: float
    index: int
    status: str  # completed | aborted | failed
    results: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunEnded:
    time: float
    status: str  # completed | aborted | failed
    reason: str = ""


@dataclass(frozen=True)
class RunStateChanged:
    """Paused, resumed, waiting for an instrument: for the GUI and the progress bar."""

    time: float
    state: str  # running | paused | waiting
    reason: str = ""


@dataclass(frozen=True)
class FitUpdated:
    """A (re)fit of one step's valid points of one channel, from the live fitter."""

    step_index: int
    field_Oe: float
    final: bool  # True once the step has ended
    choice: Any  # cryolab.analysis.fit.Choice
    channel: str = "xx"


@dataclass(frozen=True)
class SummaryUpdated:
    """The field summary of one channel, recomputed after a field's ramp ended."""

    summary: Any  # cryolab.analysis.summary.FieldSummary
    channel: str = "xx"


@dataclass(frozen=True)
class FaultOccurred:
    """An instrument fault: retried, given up on (down), or over (recovered)."""

    time: float
    step_index: int | None
    report: Any  # cryolab.guard.FaultReport


@dataclass(frozen=True)
class InstrumentStatus:
    """States a point does not carry, read by the runner every few points (for displays)."""

    time: float
    magnet_state: str
    heater_percent: float
    heater_range: int


@dataclass(frozen=True)
class HeatingFound:
    """A linearity check found self-heating on a current path, at a power I²R_xx of ``power_W``
    and a sample temperature ``T_K``. The hot electrons' T_e⁵ − T⁵ = P/Σ makes ΔT/T grow with
    P/T⁵, so every point of the path's channels (taken before or after) with I²R_xx/T⁵ ≥
    power_W/T_K⁵ is heated at least as much: it is flagged HEATED and not valid."""

    time: float
    step_index: int | None
    source: str  # the current path (its driving lock-in)
    channels: tuple[str, ...]  # the channels on that path
    power_W: float
    T_K: float
    reason: str


Event = (RunStarted | StepStarted | Point | Note | Alarm | StepEnded | RunEnded
         | RunStateChanged | FitUpdated | SummaryUpdated | FaultOccurred | InstrumentStatus
         | HeatingFound)
SubscriberFunc = Callable[[Event], None]


def _handler_name(event_type: type) -> str:
    return "on_" + re.sub(r"(?<!^)(?=[A-Z])", "_", event_type.__name__).lower()


class Subscriber:
    """Base for subscribers: ``self(event)`` calls ``self.on_<event_type>(event)`` if defined
    (``on_point``, ``on_step_started``, ``on_alarm``, …) and ignores the rest."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._dispatch = {t: name for t in (RunStarted, StepStarted, Point, Note, Alarm,
                                           StepEnded, RunEnded, RunStateChanged, FitUpdated,
                                           SummaryUpdated, FaultOccurred, InstrumentStatus,
                                           HeatingFound)
                         if hasattr(cls, name := _handler_name(t))}

    _dispatch: dict[type, str] = {}

    def __call__(self, event: Event) -> None:
        name = self._dispatch.get(type(event))
        if name is not None:
            getattr(self, name)(event)
