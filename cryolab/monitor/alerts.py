"""From what a watched run file shows to notices: new alarms, the end of the run, a stalled or
dead acquisition. Each notice is emitted once; routing and rate limits are the notifier's."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from cryolab.monitor.view import liveness
from cryolab.monitor.watch import TERMINAL, RunWatcher

#: the run file's alarm kinds → the notification event they are routed as
ALARM_EVENTS = {"quench": "quench", "over_temperature": "over_temperature",
                "instrument_down": "instrument_down", "instrument_back": "instrument_down",
                "thermal_mismatch": "thermal_mismatch", "disk_space_low": "disk_space_low",
                "write_failed": "run_failed"}
TITLES = {"run_ended": "run ended", "run_failed": "run stopped", "quench": "MAGNET QUENCH",
          "over_temperature": "over-temperature", "instrument_down": "instrument",
          "thermal_mismatch": "thermal mismatch", "disk_space_low": "disk space low",
          "run_stalled": "run stalled"}


@dataclass(frozen=True)
class Notice:
    """One thing to tell people: ``event`` is a notifications-file event name."""

    event: str
    run: str  # the run's name
    file: str  # the run file's name (not its path)
    message: str
    time_s: float  # when it happened (Unix seconds, on the run's clock)
    kind: str = ""  # the alarm kind when it came from one

    @property
    def title(self) -> str:
        return f"cryolab {self.run}: {TITLES.get(self.event, self.event)}"

    @property
    def time_iso(self) -> str:
        return datetime.fromtimestamp(self.time_s, UTC).isoformat(timespec="seconds")

    @property
    def severity(self) -> str:
        """apprise's notify type: success, info, warning or failure."""
        if self.event == "run_ended":
            return "success"
        if self.kind == "instrument_back":
            return "info"
        return "warning" if self.event in ("thermal_mismatch", "disk_space_low") else "failure"


class RunAlerts:
    """What one watcher has reported so far, and the notices its next state calls for.

    ``from_start``: the run was just started (a companion), so everything in the file is new;
    otherwise what the file already held when first seen (old alarms, an ended or long-dead
    run) is the baseline and is not reported.
    """

    def __init__(self, watcher: RunWatcher, stall_after_s: float, from_start: bool) -> None:
        self.watcher = watcher
        self.stall_after_s = stall_after_s
        self.from_start = from_start
        self._alarms_seen: int | None = None
        self._status: str | None = None
        self._stalled = False
        self._gone = False
        self._failed_reported = False
        #: the run is over for the notifications: ended, or its process gone and said so
        self.done = False

    def check(self, now: float | None = None) -> list[Notice]:
        state = self.watcher.state
        if state is None:
            return []
        now = time.time() if now is None else now
        first = self._alarms_seen is None
        out: list[Notice] = []

        def notice(event: str, message: str, when: float, kind: str = "") -> None:
            out.append(Notice(event, state.name, self.watcher.path.name, message, when, kind))

        baseline = first and not self.from_start
        alarms = state.alarms
        start = len(alarms) if baseline else (self._alarms_seen or 0)
        for alarm in alarms[start:]:
            kind = str(alarm.get("kind", ""))
            event = ALARM_EVENTS.get(kind)
            if event is None:
                continue
            if event == "run_failed":
                self._failed_reported = True
            notice(event, str(alarm.get("message", kind)), float(alarm.get("time_s", now)),
                   kind)
        self._alarms_seen = len(alarms)

        status = state.status
        if status != self._status:
            if status in TERMINAL and not baseline:
                reason = state.attrs.get("end_reason") or ""
                when = max([s.ended for s in state.steps if s.ended == s.ended] or [now])
                if status == "completed":
                    notice("run_ended", f"the run completed: {state.n_points} points in "
                           f"{len(state.steps)} steps", when)
                elif not self._failed_reported:
                    notice("run_failed", f"the run {status}" + (f": {reason}" if reason
                                                                 else ""), when)
            if status == "running":  # (again, after a resume): watch it afresh
                self._stalled = self._gone = self._failed_reported = False
            self._status = status
            self.done = status in TERMINAL
        if baseline and status == "running" and self.watcher.live.gone_since_wall is not None:
            self._gone = True  # killed before the monitor started: an old file, not news

        if status == "running":
            live = liveness(self.watcher, self.stall_after_s, now)
            if live["state"] == "gone" and not self._gone:
                self._gone = True
                if not baseline and self.watcher.live.writer_alive is False:
                    notice("run_stalled", f"{live['message']}; {state.n_points} points are "
                           f"in {self.watcher.path.name}, and `cryolab resume` continues it",
                           now)
            elif live["state"] == "stalled" and not self._stalled:
                self._stalled = True
                notice("run_stalled", live["message"], now)
            elif live["state"] == "running":
                self._stalled = False
            self.done = self._gone
        return out
