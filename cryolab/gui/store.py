"""What the GUI shows, kept in one place: points in growing arrays, steps, each channel's fits
and field summary, the log with its times and the alarms. Filled from runner events on the
repaint timer, or from a run file."""

from __future__ import annotations

import math
import time
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
    HeatingFound,
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


@dataclass(frozen=True)
class LogEntry:
    """One line of the GUI's log: what happened, on the run's clock and on the wall clock."""

    level: str  # "info", "warning", "error"
    text: str
    lab_s: float = math.nan  # the run's clock (simulated time in --sim)
    wall_s: float = math.nan  # when it happened by the wall clock


@dataclass
class StepInfo:
    planned: PlannedStep
    started: float
    status: str = "running"


#: the paper's threshold (Methods): a point is out of equilibrium beyond ±10 %
DEFAULT_MISMATCH_THRESHOLD = 0.10


@dataclass
class DataStore:
    points: GrowingPoints = field(default_factory=GrowingPoints)
    #: the run's channels (name, kind) and the one whose fits and summary are shown
    channels: list[dict[str, str]] = field(
        default_factory=lambda: [{"name": "xx", "kind": "longitudinal"}])
    channel: str = "xx"
    plan: list[PlannedStep] = field(default_factory=list)
    steps: dict[int, StepInfo] = field(default_factory=dict)
    current_step: int | None = None
    #: live (or re-made) fits of each longitudinal channel, by step
    fits_by_channel: dict[str, dict[int, Choice]] = field(default_factory=dict)
    summaries: dict[str, FieldSummary] = field(default_factory=dict)
    log: list[LogEntry] = field(default_factory=list)
    state: str = "idle"  # idle, running, paused, waiting, completed, aborted, failed, review
    #: a reviewed file's own status (completed, aborted, interrupted, …)
    review_status: str = ""
    run_started: float = math.nan
    last_time: float = math.nan
    alarms: dict[str, Alarm] = field(default_factory=dict)  # by kind
    mismatch_streak: int = 0
    mismatch_threshold: float = DEFAULT_MISMATCH_THRESHOLD
    version: int = 0  # bumped on every change, so views redraw only when needed

    def clear(self, channels: list[dict[str, str]] | None = None) -> None:
        fresh = DataStore()
        fresh.version = self.version + 1  # never back to a version a view has already drawn
        fresh.mismatch_threshold = self.mismatch_threshold
        if channels:
            fresh.channels = channels
            fresh.channel = next((c["name"] for c in channels if c["kind"] == "longitudinal"),
                                 channels[0]["name"])
            fresh.points = GrowingPoints([c["name"] for c in channels])
        self.__dict__.update(fresh.__dict__)

    @property
    def channel_names(self) -> list[str]:
        return [c["name"] for c in self.channels]

    def kind_of(self, channel: str) -> str:
        return next((c["kind"] for c in self.channels if c["name"] == channel), "longitudinal")

    @property
    def fits(self) -> dict[int, Choice]:
        """The shown channel's fits, by step."""
        return self.fits_by_channel.get(self.channel, {})

    def fits_of(self, channel: str) -> dict[int, Choice]:
        return self.fits_by_channel.get(channel, {})

    @property
    def summary(self) -> FieldSummary | None:
        """The shown channel's field summary."""
        return self.summaries.get(self.channel)

    def column(self, quantity: str, channel: str | None = None) -> str:
        """The column of a channel's quantity (``rho_ohm_sq`` → ``xx_rho_ohm_sq``); the shown
        channel unless one is named."""
        return f"{channel or self.channel}_{quantity}"

    def note(self, level: str, text: str, lab_s: float = math.nan) -> None:
        """A line for the log, stamped now by the wall clock."""
        self.log.append(LogEntry(level, text, lab_s, time.time()))

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
        if self.mismatch_streak >= MISMATCH_ALARM_POINTS:  # persistent: a banner, not a flicker
            ratio = last["T_sample_K"] / last["T_mc_K"] - 1
            self.alarms["mismatch"] = Alarm(
                "warning", f"sample out of equilibrium for {self.mismatch_streak} points "
                           f"(T_sample/T_MC − 1 = {ratio:+.0%}); these points are excluded")
        else:
            self.alarms.pop("mismatch", None)
        overloaded = [name for name in self.channel_names
                      if last[self.column("flags", name)] & Flag.OVERLOAD]
        if overloaded:
            self.alarms["overload"] = Alarm(
                "warning", f"lock-in overload on {', '.join(overloaded)} (re-ranging)")
        else:
            self.alarms.pop("overload", None)

    def _apply_one(self, event) -> None:
        if isinstance(event, RunStarted):
            self.clear(event.meta.get("channels"))
            self.plan = event.plan
            self.state = "running"
            self.run_started = event.time
            first = event.first_index
            self.note("info", f"run started: {len(event.plan)} steps" if first == 0 else
                      f"run resumed at step {first + 1} of {len(event.plan)}", event.time)
        elif isinstance(event, StepStarted):
            self.current_step = event.index
            self.steps[event.index] = StepInfo(event.planned, event.time)
            self.note("info", f"step {event.index + 1}/{len(self.plan)}: "
                      f"{event.planned.describe()}", event.time)
        elif isinstance(event, StepEnded):
            if event.index in self.steps:
                self.steps[event.index].status = event.status
        elif isinstance(event, Note):
            self.note(event.level, event.text, event.time)
        elif isinstance(event, AlarmEvent):
            # typed alarms set and clear the banner; their text is already in the log (a Note)
            if event.kind == "instrument_back":
                self.alarms.pop("instrument_down", None)
            else:
                self.alarms[event.kind] = Alarm("error", event.message)
        elif isinstance(event, HeatingFound):
            self.alarms["heating"] = Alarm(
                "warning", f"self-heating on {', '.join(event.channels)}: points at ≥ "
                           f"{event.power_W:.3g} W (I²R) and ≤ {event.T_K * 1e3:.4g} mK are "
                           "flagged heated and excluded; a lower current would not heat")
        elif isinstance(event, FaultOccurred):
            r = event.report
            self.note("warning", f"{r.instrument}: {r.kind} ({r.action})", event.time)
        elif isinstance(event, RunStateChanged):
            self.state = event.state
        elif isinstance(event, RunEnded):
            self.state = event.status
            self.note("info" if event.status == "completed" else "error",
                      f"run {event.status}" + (f": {event.reason}" if event.reason else ""),
                      event.time)
        elif isinstance(event, FitUpdated):
            self.fits_by_channel.setdefault(event.channel, {})[event.step_index] = event.choice
        elif isinstance(event, SummaryUpdated):
            self.summaries[event.channel] = event.summary

    # ------------------------------------------------------------------ review
    def load_run(self, points: np.ndarray, step_of_point: np.ndarray, plan: list[PlannedStep],
                 fits: dict[str, dict[int, Choice]], summaries: dict[str, FieldSummary],
                 log: list[LogEntry], channels: list[dict[str, str]] | None = None,
                 status: str = "", step_statuses: list[str] | None = None) -> None:
        """A run file's content: its points by step group, the fits and summaries re-made for
        each longitudinal channel, its events, its status and each step group's status."""
        self.clear(channels)
        self.points.set(points, step_of_point)
        self.plan = plan
        self.fits_by_channel = fits
        self.summaries = summaries
        self.log = log
        self.state = "review"
        self.review_status = status
        for p, step_status in zip(plan, step_statuses or [], strict=False):
            self.steps[p.index] = StepInfo(p, math.nan, step_status)
        self.current_step = int(step_of_point[-1]) if len(step_of_point) else None
        if len(points):
            self.last_time = float(points["time_s"][-1])
        self.version += 1

    # ------------------------------------------------------------------ queries for views
    def equilibrium(self) -> tuple[float, int]:
        """(T_sample/T_MC − 1 of the newest point, how many points in a row were out of
        equilibrium); NaN without points."""
        if not self.points.n:
            return math.nan, 0
        last = self.points.view[-1]
        T_mc, T_s = float(last["T_mc_K"]), float(last["T_sample_K"])
        return (T_s / T_mc - 1 if T_mc > 0 else math.nan), self.mismatch_streak

    def step_points(self, index: int | None) -> np.ndarray:
        if index is None:
            return self.points.view[:0]
        return self.points.of_step(index)

    def progress(self) -> tuple[float, float]:
        """(fraction of the plan's estimated lab time done, estimated lab seconds left)."""
        total = sum(p.estimate_s for p in self.plan)
        if self.state == "review":  # what the file says was done, not where its last point is
            if self.review_status == "completed":
                return 1.0, 0.0
            done = sum(p.estimate_s for p in self.plan
                       if self.steps.get(p.index, StepInfo(p, 0.0, "")).status == "completed")
            return (done / total, total - done) if total > 0 else (0.0, math.nan)
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
