"""The GUI's instrument thread: it owns the bench and does everything that talks to hardware.

The GUI thread never touches an instrument. It queues jobs here (run a sequence, a manual move)
and reads what comes back from a thread-safe deque on its repaint timer. Between runs this
thread polls the instruments about once a second, so the readings stay live.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryolab.events import Event, Note, RunEnded
from cryolab.guard import classify
from cryolab.inputs import InputError
from cryolab.runner.controls import hold_setpoint
from cryolab.sequence import Sequence, SetExcitation, SetField, check_against_station
from cryolab.session import Bench, RunSpec, Session, new_run_path
from instruments.limits import LimitError

log = logging.getLogger(__name__)

POLL_INTERVAL_S = 1.0  # wall seconds between idle readings


@dataclass(frozen=True)
class ChannelNow:
    """One channel's lock-in, read between runs."""

    name: str
    x_V: float
    y_V: float
    overload: bool
    current_A: float  # what the channel's current source is set to
    frequency_Hz: float
    time_constant_s: float


@dataclass(frozen=True)
class Reading:
    """What the instruments say now, read between runs: every channel's lock-in."""

    time: float
    T_mc_K: float
    T_sample_K: float
    field_Oe: float
    magnet_state: str
    heater_percent: float
    heater_range: int
    channels: tuple[ChannelNow, ...]


@dataclass(frozen=True)
class WorkerMessage:
    """A result of a job for the GUI (a manual move refused, a run that could not start)."""

    level: str
    text: str
    time: float = math.nan  # on the bench's clock


class InstrumentWorker:
    """Runs jobs against one bench in its own thread; events go to ``events``."""

    def __init__(self, bench: Bench, out_dir: Path) -> None:
        self.bench = bench
        self.out_dir = out_dir
        self.events: deque[Event | Reading | WorkerMessage] = deque()
        self.session: Session | None = None
        #: a run was asked for and is not under way yet (or could not start)
        self.starting = False
        self._jobs: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="instrument-worker", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ GUI thread
    @property
    def running(self) -> bool:
        return self.session is not None

    def start_run(self, spec: RunSpec) -> None:
        self.starting = True
        self._jobs.put(lambda: self._run(spec))

    def pause(self) -> None:
        if self.session and self.session.runner:
            self.session.runner.pause()

    def resume(self) -> None:
        if self.session and self.session.runner:
            self.session.runner.resume()

    def abort(self, reason: str = "aborted from the GUI") -> None:
        if self.session and self.session.runner:
            self.session.runner.abort(reason)

    def set_field(self, field_Oe: float, rate_Oe_per_s: float) -> None:
        self._manual(SetField(field_Oe=field_Oe, rate_Oe_per_s=rate_Oe_per_s),
                     lambda st: st.magnet.start_ramp(field_Oe, rate_Oe_per_s),
                     f"field to {field_Oe:g} Oe at {rate_Oe_per_s:g} Oe/s")

    def set_excitation(self, current_nA: float, frequency_Hz: float) -> None:
        def apply(st) -> None:
            for name, source in st.sources.items():  # every current path, as a run would
                st.lockins[name].frequency_Hz = frequency_Hz
                source.set_current(current_nA * 1e-9)

        self._manual(SetExcitation(current_nA=current_nA, frequency_Hz=frequency_Hz), apply,
                     f"excitation {current_nA:g} nA at {frequency_Hz:g} Hz")

    def set_setpoint(self, T_K: float) -> None:
        def apply(st) -> None:
            hold_setpoint(st, T_K)  # what a temperature step does, at the station's ramp limit

        low, high = self.bench.config.limits.temperature_K
        check = None if low <= T_K <= high else (
            f"setpoint: {T_K:g} K is outside the fridge's range {low:g} to {high:g} K "
            "(station: limits.temperature_K)")
        self._jobs.put(lambda: self._apply(apply, f"setpoint {T_K:g} K", check))

    def close(self) -> None:
        self.abort("the GUI was closed")
        self._jobs.put(None)
        self._thread.join(timeout=120)

    # ------------------------------------------------------------------ worker thread
    def _manual(self, step, apply: Callable, what: str) -> None:
        """A manual move passes the same checks as a sequence step, then the driver's own."""
        problems = check_against_station(Sequence(steps=[step]), self.bench.config)
        problem = problems[0].replace("steps[0].", "") if problems else None
        self._jobs.put(lambda: self._apply(apply, what, problem))

    def _apply(self, apply: Callable, what: str, problem: str | None) -> None:
        if problem is not None:
            self._message("error", f"refused: {problem}")
            return
        try:
            apply(self.bench.station)
            self._message("info", what)
        except LimitError as exc:
            self._message("error", f"refused: {exc}")
        except Exception as exc:
            if classify(exc) is None:
                raise
            self._message("error", f"{what} failed: {exc}")

    def _message(self, level: str, text: str) -> None:
        self.events.append(WorkerMessage(level, text, self.bench.clock.now()))

    def _run(self, spec: RunSpec) -> None:
        path = new_run_path(self.out_dir, spec.sequence.name)
        try:
            self.session = Session(spec, path, bench=self.bench,
                                   subscribers=[self.events.append])
        except (InputError, OSError, LimitError) as exc:
            self._message("error", f"the run could not start: {exc}")
            return
        finally:
            self.starting = False
        try:
            self.session.run()
        except Exception as exc:  # the runner ends every run itself; this is a last resort
            log.exception("run crashed")
            self.events.append(RunEnded(math.nan, "failed", str(exc)))
        finally:
            session, self.session = self.session, None
            session.close()
            self.events.append(Note(math.nan, None, "info", f"run file: {path}"))

    def _loop(self) -> None:
        while True:
            try:
                job = self._jobs.get(timeout=POLL_INTERVAL_S)
            except queue.Empty:
                self._poll()
                continue
            if job is None:
                return
            try:
                job()
            except Exception as exc:
                log.exception("instrument job failed")
                self._message("error", f"{type(exc).__name__}: {exc}")

    def _poll(self) -> None:
        st = self.bench.station
        try:
            channels = []
            for channel in st.channels:  # every channel: a Hall bar has two lock-ins
                lockin = channel.lockin
                reading = lockin.read()
                channels.append(ChannelNow(
                    channel.spec.name, reading.x_V, reading.y_V, reading.overloaded,
                    st.sources[channel.spec.source].current_A, lockin.frequency_Hz,
                    lockin.time_constant_s))
            T_mc, T_s, _ = st.read_temperatures()
            bridge = st.bridge
            self.events.append(Reading(
                self.bench.clock.now(), T_mc, T_s, st.magnet.field_Oe, st.magnet.status.value,
                bridge.heater_percent, bridge.heater_range, tuple(channels)))
        except Exception as exc:
            if classify(exc) is None:
                raise
            for inst in st.instruments.values():  # resynchronise after a garbled reply
                try:
                    inst.reconnect()
                except Exception as again:
                    log.debug("reconnect after a failed poll: %s", again)
            self._message("warning", f"instrument not answering: {exc}")
