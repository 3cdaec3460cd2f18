"""What the GUI shows, kept in one place: points in growing arrays, steps, fits, the summary,
the log and the alarms. Filled from runner events on the repaint timer, or from a run file."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from cryolab.analysis.fit import Choice
from cryolab.analysis.summary import FieldSummary
from cryolab.events import (
    Alarm as AlarmEvent,
)
from cryolab.events import (
    FaultOccurred,
    FitUpdated,
    Note,
    RunEnded,
    RunStarted,
    RunStateChanged,
    StepEnded,
    StepStarted,
    SummaryUpdated,
)
from cryolab.measurement import Flag, Point
from cryolab.runfile.schema import point_dtype, point_row
from cryolab.sequence import PlannedStep

#: consecutive out-of-equilibrium points before the mismatch alarm shows
MISMATCH_ALARM_POINTS = 10


class GrowingPoints:
    """Rows of the run file's point columns with amortised appends; ``view`` is what has been
    filled.

    Steps run one after another, so each step's points are one contiguous range: a step's
    points are a slice (no copy, no scan of the whole run), which keeps the GUI's repaint cost
    independent of the run's length.
    """

    def __init__(self, channels: list[str] | None = None, capacity: int = 4096) -> None:
        self.dtype = point_dtype(channels or ["xx"])
        self._data = np.zeros(capacity, dtype=self.dtype)
        self._steps = np.zeros(capacity, dtype=np.int32)
        self.n = 0
        self._ranges: dict[int, tuple[int, int]] = {}  # step → (first, last + 1)
        self._contiguous = True  # False if a step's points were interleaved with another's

    def extend(self, rows: list[tuple], steps: list[int]) -> None:
        need = self.n + len(rows)
        if need > len(self._data):
            size = max(need, 2 * len(self._data))
            data = np.zeros(size, dtype=self.dtype)
            data[: self.n] = self._data[: self.n]
            step_index = np.zeros(size, dtype=np.int32)
            step_index[: self.n] = self._steps[: self.n]
            self._data, self._steps = data, step_index
        self._data[self.n:need] = np.array(rows, dtype=self.dtype)
        self._steps[self.n:need] = steps
        for offset, step in enumerate(steps, start=self.n):
            first, last = self._ranges.get(step, (offset, offset))
            if last != offset:
                self._contiguous = False
            self._ranges[step] = (first, offset + 1)
        self.n = need

    def set(self, data: np.ndarray, steps: np.ndarray) -> None:
        self.dtype = data.dtype
        self._data = np.array(data, dtype=self.dtype)
        self._steps = np.asarray(steps, dtype=np.int32).copy()
        self.n = len(data)
        changes = np.flatnonzero(np.diff(self._steps)) + 1
        starts = np.concatenate(([0], changes)) if self.n else np.empty(0, int)
        stops = np.concatenate((changes, [self.n])) if self.n else np.empty(0, int)
        self._ranges = {}
        self._contiguous = True
        for first, stop in zip(starts.tolist(), stops.tolist(), strict=True):
            step = int(self._steps[first])
            self._contiguous &= step not in self._ranges
            self._ranges[step] = (first, stop)

    @property
    def view(self) -> np.ndarray:
        return self._data[: self.n]

    @property
    def steps(self) -> np.ndarray:
        return self._steps[: self.n]

    def of_step(self, step: int) -> np.ndarray:
        """The points of one step, in order."""
        if not self._contiguous:
            return self.view[self.steps == step]
        first, stop = self._ranges.get(step, (0, 0))
        return self._data[first:stop]


@dataclass
class Alarm:
    level: str  # "warning" or "error"
    text: str


@dataclass
class StepInfo:
    planned: PlannedStep
    started: float
    status: str = "running"


@dataclass
class DataStore:
    points: GrowingPoints = field(default_factory=GrowingPoints)
    #: the run's channels (name, kind) and the one the plots show
    channels: list[dict[str, str]] = field(
        default_factory=lambda: [{"name": "xx", "kind": "longitudinal"}])
    channel: str = "xx"
    plan: list[PlannedStep] = field(default_factory=list)
    steps: dict[int, StepInfo] = field(default_factory=dict)
    current_step: int | None = None
    fits: dict[int, Choice] = field(default_factory=dict)
    summary: FieldSummary | None = None
    log: list[tuple[str, str]] = field(default_factory=list)  # (level, text)
    state: str = "idle"  # idle, running, paused, waiting, completed, aborted, failed, review
    run_started: float = math.nan
    last_time: float = math.nan
    alarms: dict[str, Alarm] = field(default_factory=dict)  # by kind
    mismatch_streak: int = 0
    version: int = 0  # bumped on every change, so views redraw only when needed

    def clear(self, channels: list[dict[str, str]] | None = None) -> None:
        fresh = DataStore()
        fresh.version = self.version + 1  # never back to a version a view has already drawn
        if channels:
            fresh.channels = channels
            fresh.channel = next((c["name"] for c in channels if c["kind"] == "longitudinal"),
                                 channels[0]["name"])
            fresh.points = GrowingPoints([c["name"] for c in channels])
        self.__dict__.update(fresh.__dict__)

    def column(self, quantity: str) -> str:
        """The column of a quantity of the shown channel (``rho_ohm_sq`` → ``xx_rho_ohm_sq``)."""
        return f"{self.channel}_{quantity}"

    # ------------------------------------------------------------------ live events
    def apply(self, events: list) -> None:
        """Take a batch of runner (and live-fitter) events, in order."""
        rows: list[tuple] = []
        steps: list[int] = []
        for event in events:
            if type(event) is Point:
                rows.append(point_row(event))
                steps.append(event.step_index)
                continue
            if rows:
                self._add_points(rows, steps)
                rows, steps = [], []
            self._apply_one(event)
        if rows:
            self._add_points(rows, steps)
        if events:
            self.version += 1

    def _add_points(self, rows: list[tuple], steps: list[int]) -> None:
        first = self.points.n
        self.points.extend(rows, steps)
        added = self.points.view[first:]
        for flags in added["point_flags"]:
            self.mismatch_streak = self.mismatch_streak + 1 if flags & Flag.THERMAL_MISMATCH \
                else 0
        last = added[-1]
        self.last_time = float(last["time_s"])
        if self.mismatch_streak >= MISMATCH_ALARM_POINTS:
            ratio = last["T_sample_K"] / last["T_mc_K"] - 1
            self.alarms["mismatch"] = Alarm(
                "warning", f"sample out of equilibrium for {self.mismatch_streak} points "
                           f"(T_sample/T_MC − 1 = {ratio:+.0%}); these points are excluded")
        else:
            self.alarms.pop("mismatch", None)
        if last[self.column("flags")] & Flag.OVERLOAD:
            self.alarms["overload"] = Alarm("warning", "lock-in overload (re-ranging)")
        else:
            self.alarms.pop("overload", None)

    def _apply_one(self, event) -> None:
        if isinstance(event, RunStarted):
            self.clear(event.meta.get("channels"))
            self.plan = event.plan
            self.state = "running"
            self.run_started = event.time
            self.log.append(("info", f"run started: {len(event.plan)} steps"))
        elif isinstance(event, StepStarted):
            self.current_step = event.index
            self.steps[event.index] = StepInfo(event.planned, event.time)
            self.log.append(("info", f"step {event.index + 1}: {event.planned.describe()}"))
        elif isinstance(event, StepEnded):
            if event.index in self.steps:
                self.steps[event.index].status = event.status
        elif isinstance(event, Note):
            self.log.append((event.level, event.text))
        elif isinstance(event, AlarmEvent):
            if event.kind == "instrument_back":
                self.alarms.pop("instrument_down", None)
            else:
                self.alarms[event.kind] = Alarm("error", event.message)
        elif isinstance(event, FaultOccurred):
            r = event.report
            self.log.append(("warning", f"{r.instrument}: {r.kind} ({r.action})"))
        elif isinstance(event, RunStateChanged):
            self.state = event.state
        elif isinstance(event, RunEnded):
            self.state = event.status
            self.log.append(("info" if event.status == "completed" else "error",
                             f"run {event.status}" + (f": {event.reason}" if event.reason else "")))
        elif isinstance(event, FitUpdated):
            if event.channel == self.channel:
                self.fits[event.step_index] = event.choice
        elif isinstance(event, SummaryUpdated) and event.channel == self.channel:
            self.summary = event.summary

    # ------------------------------------------------------------------ review
    def load_run(self, points: np.ndarray, step_of_point: np.ndarray, plan: list[PlannedStep],
                 fits: dict[int, Choice], summary: FieldSummary | None, log: list,
                 channels: list[dict[str, str]] | None = None) -> None:
        self.clear(channels)
        self.points.set(points, step_of_point)
        self.plan = plan
        self.fits = fits
        self.summary = summary
        self.log = log
        self.state = "review"
        self.current_step = int(step_of_point[-1]) if len(step_of_point) else None
        self.version += 1

    # ------------------------------------------------------------------ queries for views
    def step_points(self, index: int | None) -> np.ndarray:
        if index is None:
            return self.points.view[:0]
        return self.points.of_step(index)

    def progress(self) -> tuple[float, float]:
        """(fraction of the plan's estimated lab time done, estimated lab seconds left)."""
        total = sum(p.estimate_s for p in self.plan)
        if not self.plan or total <= 0 or self.current_step is None:
            return 0.0, math.nan
        done = sum(p.estimate_s for p in self.plan[: self.current_step])
        info = self.steps.get(self.current_step)
        if info is not None and math.isfinite(self.last_time):
            done += min(max(self.last_time - info.started, 0.0),
                        self.plan[self.current_step].estimate_s)
        if self.state == "completed":
            done = total
        return done / total, total - done
