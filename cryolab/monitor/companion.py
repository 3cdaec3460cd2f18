"""The monitor as a companion process of a run (``cryolab run/resume/gui --notify FILE
--monitor-port P``): started once the run file exists, told that its run's process ended by its
stdin closing (which the kernel does however that process ends, SIGKILL included)."""

from __future__ import annotations

import contextlib
import logging
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

#: a run that ended normally waits this long for its companion's last notifications
STOP_WAIT_S = 30.0


@dataclass(frozen=True)
class CompanionOptions:
    notify: str | None  # the notifications file (absolute path), already validated
    port: int | None  # the page's port on 127.0.0.1; None: no page


def companion_options(notify: str | None, port: int | None) -> CompanionOptions | None:
    """Options for a run's companion; InputError (naming the key) for a bad notifications file,
    before anything moves. None when neither option was given."""
    if notify is None and port is None:
        return None
    if notify is not None:
        from cryolab.monitor.config import load_notifications

        load_notifications(notify)
        notify = str(Path(notify).resolve())
    return CompanionOptions(notify, port)


class Companion:
    """The running companion process of one run file."""

    def __init__(self, path: Path, options: CompanionOptions) -> None:
        command = [sys.executable, "-m", "cryolab", "monitor", str(path), "--companion"]
        if options.notify is not None:
            command += ["--notify", options.notify]
        if options.port is not None:
            command += ["--port", str(options.port)]
        # its own session: a Ctrl-C at the terminal goes to the run, which ends it in turn
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE,
                                        start_new_session=True)

    def stop(self, wait_s: float = STOP_WAIT_S) -> None:
        """The run ended: let the companion report it, then make sure it is gone."""
        with contextlib.suppress(OSError):
            assert self.process.stdin is not None
            self.process.stdin.close()
        try:
            self.process.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            log.warning("the monitor companion did not end within %g s; terminating it",
                        wait_s)
            self.process.terminate()
            try:
                self.process.wait(timeout=5.0)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5.0)
