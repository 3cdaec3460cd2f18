"""Terminal progress for headless runs: a bar over the plan's estimated duration, with ETA."""

from __future__ import annotations

import sys

from tqdm import tqdm

from cryolab.events import Note, RunEnded, RunStarted, StepStarted, Subscriber
from cryolab.measurement import Point
from cryolab.sequence import format_duration


class ProgressBar(Subscriber):
    """Runner subscriber: progress in simulated/lab seconds of the plan, step by step."""

    def __init__(self, stream=None) -> None:
        self.stream = stream or sys.stderr
        self.bar: tqdm | None = None
        self.t_start = 0.0
        self.offsets: list[float] = []
        self.n_steps = 0
        self.points = 0
        self.flagged = 0
        self._step_offset = 0.0
        self._step_started = 0.0
        self._step_estimate = 0.0

    def on_point(self, point: Point) -> None:
        self.points += 1
        if point.flags or not all(c.valid for c in point.channels):
            self.flagged += 1
        if self.bar is not None and not self.bar.disable and self.points % 25 == 0:
            elapsed = min(point.time_s - self._step_started, self._step_estimate)
            self.bar.n = int(self._step_offset + max(elapsed, 0.0))
            self.bar.set_postfix_str(
                f"T_mc {point.T_mc_K:.4g} K, H {point.field_Oe:.4g} Oe, "
                f"{self.points} pts ({self.flagged} flagged)", refresh=False)
            self.bar.refresh()

    def on_step_started(self, event: StepStarted) -> None:
        p = event.planned
        self._step_offset = self.offsets[p.index]
        self._step_started = event.time
        self._step_estimate = p.estimate_s
        if self.bar is not None and not self.bar.disable:
            self.bar.n = int(self._step_offset)
            self.bar.set_description_str(f"step {p.index + 1}/{self.n_steps} {p.kind}")
            self.bar.refresh()
        else:
            print(f"step {p.index + 1}/{self.n_steps}: {p.describe()}", file=self.stream,
                  flush=True)

    def on_note(self, event: Note) -> None:
        if event.level != "info":
            tqdm.write(f"{event.level}: {event.text}", file=self.stream)

    def on_run_started(self, event: RunStarted) -> None:
        total, self.offsets = 0.0, []
        for p in event.plan:
            self.offsets.append(total)
            total += p.estimate_s
        self.n_steps = len(event.plan)
        print(f"plan: {len(event.plan)} steps, about {format_duration(total)} of lab time",
              file=self.stream, flush=True)
        # on a terminal a live bar; in a log file (disable=None) only the step lines
        self.bar = tqdm(total=int(total), initial=int(self.offsets[event.first_index])
                        if event.plan else 0, file=self.stream, dynamic_ncols=True,
                        mininterval=0.5, disable=None,
                        bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} "
                                   "lab-s [{elapsed}<{remaining}{postfix}]")

    def on_run_ended(self, event: RunEnded) -> None:
        if self.bar is not None:
            if event.status == "completed":
                self.bar.n = self.bar.total
            self.bar.refresh()
            self.bar.close()
            self.bar = None
