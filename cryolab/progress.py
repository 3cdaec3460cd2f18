"""Terminal progress for headless runs: one line that fits the terminal, and when the night ends.

On a terminal the line is redrawn in place (tqdm draws it and keeps the run's warnings above
it); in a log file or a pipe each step gets a plain line instead. The line says, most important
first: the step number and what the step does, how far the plan is in h:mm of lab time (with a
bar), T_MC, the field, and the points taken and flagged. When the terminal is narrow the least
important parts go first; the bar keeps a readable width or goes altogether, and the step's
description is shortened last.
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass

from tqdm import tqdm

from cryolab.eta import ends_by_the_clock, hours_minutes
from cryolab.events import Note, RunEnded, RunStarted, StepStarted, Subscriber
from cryolab.measurement import Point
from cryolab.sequence import format_duration

BAR_MIN, BAR_MAX = 10, 30  # characters between the bar's two '|'
DESCRIPTION_MIN = 12  # a description cut shorter than this says nothing; it goes instead
REDRAW_S = 0.25  # wall seconds between redraws: a terminal need not show every point
SEPARATOR = " · "


@dataclass
class LineState:
    """What the progress line shows (kept by the bar, drawn by :func:`progress_line`)."""

    step: int = 0  # counted from 1
    n_steps: int = 0
    description: str = ""
    done_s: float = 0.0  # lab seconds of the plan done
    total_s: float = 0.0
    T_mc_K: float = math.nan
    field_Oe: float = math.nan
    points: int = 0
    flagged: int = 0


def _kelvin(T: float) -> str:
    if not math.isfinite(T):
        return "—"
    return f"{T * 1e3:.3g} mK" if T < 1.0 else f"{T:.3g} K"


def _bar(fraction: float, width: int) -> str:
    """``|████▍     |`` at eighth-character resolution."""
    eighths = round(min(max(fraction, 0.0), 1.0) * width * 8)
    full, part = divmod(eighths, 8)
    text = "█" * full + (" ▏▎▍▌▋▊▉"[part] if part else "")
    return "|" + text.ljust(width) + "|"


def progress_line(s: LineState, width: int) -> str:
    """The line for a terminal ``width`` columns wide (never longer than ``width - 1``, so the
    cursor never wraps).

    In order of importance: the step number and its description, the progress in h:mm of lab
    time, T_MC, the field, the points and flagged points, and the bar (which only repeats the
    percentage). What does not fit goes, least important first; the bar is never drawn
    narrower than BAR_MIN; the description is shortened only when nothing else is left to
    drop, and the step number and the progress always stay.
    """
    room = width - 1
    head = f"step {s.step}/{s.n_steps}"
    fraction = s.done_s / s.total_s if s.total_s > 0 else 0.0
    progress = f"{fraction:.0%} {hours_minutes(s.done_s)}/{hours_minutes(s.total_s)}"
    optional = [f"T_MC {_kelvin(s.T_mc_K)}",
                f"H {s.field_Oe:.4g} Oe" if math.isfinite(s.field_Oe) else "H —",
                f"{s.points} pts, {s.flagged} flagged"]
    description = s.description
    bar_width = BAR_MIN

    def compose() -> str:
        parts = [head, description] if description else [head]
        if bar_width:
            parts.append(_bar(fraction, bar_width))
        parts.append(progress)
        return " ".join(parts) + "".join(SEPARATOR + o for o in optional)

    while len(compose()) > room:
        if bar_width:  # first the bar, whole: a bar of one character says nothing
            bar_width = 0
        elif optional:  # then points, the field, T_MC
            optional.pop()
        elif description:  # then the end of the description, then all of it
            cut = len(description) - (len(compose()) - room) - 1
            description = description[:cut] + "…" if cut >= DESCRIPTION_MIN else ""
        else:
            return compose()[:room]
    if bar_width:  # room to spare widens the bar
        bar_width = min(BAR_MAX, bar_width + room - len(compose()))
    return compose()


class ProgressBar(Subscriber):
    """Runner subscriber: the plan and its end by the clock, then one line per step or a live
    line. ``speed``: lab seconds per wall second (inf: the virtual clock of ``--speed max``);
    ``width``: columns, else the terminal's."""

    def __init__(self, stream=None, speed: float = 1.0, width: int | None = None) -> None:
        self.stream = stream or sys.stderr
        self.speed = speed
        self.width = width
        self.bar: tqdm | None = None
        self.state = LineState()
        self.offsets: list[float] = []
        self._step_started = 0.0
        self._step_estimate = 0.0
        self._drawn_at = -math.inf

    # ------------------------------------------------------------------ drawing
    def _columns(self) -> int:
        if self.width:
            return self.width
        try:
            return os.get_terminal_size(self.stream.fileno()).columns
        except (OSError, ValueError, AttributeError):
            return 80

    def _draw(self, force: bool = False) -> None:
        if self.bar is None or self.bar.disable:
            return
        now = time.monotonic()
        if not force and now - self._drawn_at < REDRAW_S:
            return
        self._drawn_at = now
        columns = self._columns()
        self.bar.ncols = columns  # the terminal may have been resized since the last line
        self.bar.set_description_str(progress_line(self.state, columns), refresh=False)
        self.bar.refresh()

    # ------------------------------------------------------------------ events
    def on_run_started(self, event: RunStarted) -> None:
        total, self.offsets = 0.0, []
        for p in event.plan:
            self.offsets.append(total)
            total += p.estimate_s
        n, first = len(event.plan), event.first_index
        left = total - (self.offsets[first] if first < n else total)
        steps = f"{n} steps" if first == 0 else f"steps {first + 1}–{n} of {n} left"
        print(f"plan: {steps}, about {format_duration(left)} of lab time; "
              f"{ends_by_the_clock(left, self.speed)}", file=self.stream, flush=True)
        self.state = LineState(n_steps=n, total_s=total,
                               done_s=self.offsets[first] if first < n else total)
        # on a terminal a live line; in a log file (disable=None: not a tty) only step lines
        self.bar = tqdm(total=None, file=self.stream, bar_format="{desc}", disable=None,
                        mininterval=REDRAW_S, dynamic_ncols=False, ncols=self._columns())

    def on_step_started(self, event: StepStarted) -> None:
        p = event.planned
        self._step_started = event.time
        self._step_estimate = p.estimate_s
        self.state.step = p.index + 1
        self.state.description = p.describe()
        self.state.done_s = self.offsets[p.index] if p.index < len(self.offsets) else 0.0
        if self.bar is not None and not self.bar.disable:
            self._draw(force=True)
        else:
            print(f"step {p.index + 1}/{self.state.n_steps}: {p.describe()}", file=self.stream,
                  flush=True)

    def on_point(self, point: Point) -> None:
        s = self.state
        s.points += 1
        if point.flags or not all(c.valid for c in point.channels):
            s.flagged += 1
        s.T_mc_K, s.field_Oe = point.T_mc_K, point.field_Oe
        elapsed = min(max(point.time_s - self._step_started, 0.0), self._step_estimate)
        offset = self.offsets[point.step_index] if 0 <= point.step_index < len(self.offsets) \
            else 0.0
        s.done_s = offset + elapsed
        self._draw()

    def on_note(self, event: Note) -> None:
        if event.level != "info":
            tqdm.write(f"{event.level}: {event.text}", file=self.stream)

    def on_run_ended(self, event: RunEnded) -> None:
        if self.bar is not None:
            if event.status == "completed":
                self.state.done_s = self.state.total_s
            self._draw(force=True)
            self.bar.close()
            self.bar = None
