"""When a night ends, said by the clock: lab seconds left → the local wall time of the end.

Lab time is the run's clock (the instruments' time; in ``--sim`` it runs ``speed`` times faster
than the wall clock). A physicist plans the morning by the wall clock on the lab's wall, so
every estimate is turned into a local time of day, with the weekday when it is not today.
"""

from __future__ import annotations

import math
import time

from cryolab.sequence import format_duration


def hours_minutes(seconds: float) -> str:
    """``2:05`` for 2 h 5 min (rounded to the minute); ``—`` when unknown."""
    if not math.isfinite(seconds):
        return "—"
    minutes = max(0, round(seconds / 60.0))
    return f"{minutes // 60}:{minutes % 60:02d}"


def clock_time(epoch_s: float, now_s: float | None = None) -> str:
    """Local time of day, ``06:41``; ``Wed 06:41`` on another day within a week; else the
    date."""
    if not math.isfinite(epoch_s):
        return "—"
    now = time.localtime(time.time() if now_s is None else now_s)
    then = time.localtime(epoch_s)
    if (then.tm_year, then.tm_yday) == (now.tm_year, now.tm_yday):
        return time.strftime("%H:%M", then)
    if abs(epoch_s - time.mktime(now)) < 6 * 86400:
        return time.strftime("%a %H:%M", then)
    return time.strftime("%Y-%m-%d %H:%M", then)


def wall_end(lab_left_s: float, speed: float, now_s: float | None = None) -> float:
    """The wall-clock time (epoch s) at which ``lab_left_s`` of lab time will have passed at
    ``speed`` lab seconds per wall second; NaN under the virtual clock (``--speed max``), whose
    pace is the computer's."""
    if not (math.isfinite(lab_left_s) and math.isfinite(speed) and speed > 0):
        return math.nan
    return (time.time() if now_s is None else now_s) + lab_left_s / speed


def ends_by_the_clock(lab_left_s: float, speed: float = 1.0, now_s: float | None = None) -> str:
    """``ends about 06:41 local time`` (and, faster than real time, how long that is)."""
    if math.isinf(speed):
        return "--speed max: as fast as the computer runs, no end by the clock"
    end = wall_end(lab_left_s, speed, now_s)
    if not math.isfinite(end):
        return "end unknown"
    text = f"ends about {clock_time(end, now_s)} local time"
    if speed != 1.0:
        text += f" ({format_duration(lab_left_s / speed)} of wall time at {speed:g}×)"
    return text
