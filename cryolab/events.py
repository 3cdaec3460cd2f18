"""What the runner tells its subscribers (writer, live fitter, GUI, progress bar, log).

Data flow is one way: the runner emits these, subscribers react, none knows about the others
(the way bluesky separates plans from callbacks). A subscriber is any callable taking an event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

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


class PointTaken(NamedTuple):
    """One row in POINT_FIELDS order (cryolab.measurement). A named tuple, not a frozen
    dataclass like the other events: one is made per point, and it is 4× cheaper to build."""

    step_index: int
    row: tuple


@dataclass(frozen=True)
class Note:
    """Something the runner decided or noticed, for the log and the file."""

    time: float
    step_index: int | None
    level: str  # "info", "warning", "error"
    text: str


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
    """A (re)fit of one step's valid points, from the live fitter."""

    step_index: int
    field_Oe: float
    final: bool  # True once the step has ended
    choice: Any  # cryolab.analysis.fit.Choice


@dataclass(frozen=True)
class SummaryUpdated:
    """The field summary, recomputed after a field's ramp ended."""

    summary: Any  # cryolab.analysis.summary.FieldSummary


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


Event = (RunStarted | StepStarted | PointTaken | Note | StepEnded | RunEnded | RunStateChanged
         | FitUpdated | SummaryUpdated | FaultOccurred | InstrumentStatus)
Subscriber = Callable[[Event], None]
