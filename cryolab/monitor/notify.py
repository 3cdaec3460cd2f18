"""Delivering notices to people through apprise: one thread per target, so a target that hangs
or cannot be reached delays nobody else and never the run; a rate limit per target and event;
retries with a doubling delay; every outcome in the log.

A ``json://`` (``jsons://``) target receives apprise's JSON body (title, message, type) with
``event``, ``run``, ``file``, ``time`` (ISO 8601, UTC), ``time_s`` and ``kind`` added through
apprise's payload extras (``:key=value`` URL options), so a webhook can route on them.
"""

from __future__ import annotations

import collections
import logging
import queue
import threading
import time
from collections.abc import Callable
from urllib.parse import quote

from cryolab.monitor.alerts import Notice
from cryolab.monitor.config import NotifyConfig, Target

log = logging.getLogger(__name__)


def send_with_apprise(target: Target, notice: Notice) -> bool:
    """One attempt to deliver; True if the target took it."""
    import apprise

    url = target.url
    if url.split("://", 1)[0].lower() in ("json", "jsons"):
        extras = {"event": notice.event, "run": notice.run, "file": notice.file,
                  "time": notice.time_iso, "time_s": f"{notice.time_s:.3f}",
                  "kind": notice.kind or notice.event}
        url += ("&" if "?" in url else "?") + "&".join(
            f":{k}={quote(v, safe='')}" for k, v in extras.items())
    sender = apprise.Apprise()
    if not sender.add(url):
        log.error("notification target %s: apprise refused its URL", target.label)
        return False
    return bool(sender.notify(body=notice.message, title=notice.title,
                              notify_type=notice.severity))


class TargetWorker:
    """One target's queue and thread: rate limit, delivery, retries."""

    def __init__(self, target: Target, config: NotifyConfig,
                 send: Callable[[Target, Notice], bool]) -> None:
        self.target = target
        self.config = config
        self.send = send
        self.queue: queue.Queue[Notice | None] = queue.Queue()
        self.sent: list[Notice] = []
        self.failed: list[Notice] = []
        self._history: dict[str, collections.deque[float]] = collections.defaultdict(
            collections.deque)
        self._held_back: collections.Counter[str] = collections.Counter()
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._pending = 0
        self._lock = threading.Lock()
        self.thread = threading.Thread(target=self._loop, name=f"notify-{target.label}",
                                       daemon=True)
        self.thread.start()

    def submit(self, notice: Notice) -> None:
        """Queue a notice unless the rate limit holds it back (never blocks)."""
        limit = self.config.rate_limit
        now = time.monotonic()
        history = self._history[notice.event]
        while history and now - history[0] >= limit.window_s:
            history.popleft()
        if len(history) >= limit.max_per_window:
            self._held_back[notice.event] += 1
            log.warning("notification to %s held back by the rate limit (%d %s in %g s): %s",
                        self.target.label, limit.max_per_window, notice.event, limit.window_s,
                        notice.message)
            return
        history.append(now)
        held = self._held_back.pop(notice.event, 0)
        if held:
            notice = Notice(notice.event, notice.run, notice.file,
                            f"{notice.message} ({held} more {notice.event.replace('_', ' ')} "
                            f"notices were held back by the rate limit)", notice.time_s,
                            notice.kind)
        with self._lock:
            self._pending += 1
            self._idle.clear()
        self.queue.put(notice)

    def _loop(self) -> None:
        while True:
            notice = self.queue.get()
            if notice is None:
                return
            try:
                self._deliver(notice)
            finally:
                with self._lock:
                    self._pending -= 1
                    if self._pending == 0:
                        self._idle.set()

    def _deliver(self, notice: Notice) -> None:
        retry = self.config.retry
        delay = retry.first_delay_s
        for attempt in range(1, retry.attempts + 1):
            try:
                ok = self.send(self.target, notice)
            except Exception:  # a library's bug must not end the thread
                log.exception("notification to %s raised", self.target.label)
                ok = False
            if ok:
                log.info("notified %s: %s: %s", self.target.label, notice.event, notice.message)
                self.sent.append(notice)
                return
            if attempt == retry.attempts or self._stop.is_set():
                break
            log.warning("notification to %s not delivered (attempt %d of %d); again in %g s",
                        self.target.label, attempt, retry.attempts, delay)
            if self._stop.wait(delay):
                break
            delay *= 2
        log.error("gave up notifying %s after %d attempts: %s: %s", self.target.label,
                  attempt, notice.event, notice.message)
        self.failed.append(notice)

    def wait_idle(self, timeout_s: float) -> bool:
        return self._idle.wait(timeout_s)

    def close(self) -> None:
        self._stop.set()
        self.queue.put(None)


class Notifier:
    """Routes each notice to the targets that asked for its event."""

    def __init__(self, config: NotifyConfig,
                 send: Callable[[Target, Notice], bool] = send_with_apprise) -> None:
        self.config = config
        self.workers = [TargetWorker(t, config, send) for t in config.targets]

    def submit(self, notice: Notice) -> None:
        log.info("%s: %s", notice.event, notice.message)
        for worker in self.workers:
            if notice.event in worker.target.events:
                worker.submit(notice)

    def drain(self, timeout_s: float) -> bool:
        """Wait until every queued notice was delivered or given up (at most timeout_s)."""
        deadline = time.monotonic() + timeout_s
        return all(w.wait_idle(max(0.0, deadline - time.monotonic())) for w in self.workers)

    def close(self) -> None:
        for worker in self.workers:
            worker.close()
