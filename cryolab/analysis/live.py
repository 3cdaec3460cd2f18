"""Live fitting: refit the step in progress as points arrive, off the acquisition thread.

The fitter is a runner subscriber whose only work in the runner's thread is appending each
longitudinal channel's valid reading to that channel's list. A worker thread refits the current
temperature sweep at most every ``min_interval_s`` of wall time (and only when enough new points
arrived), fits each sweep once more when it ends, then recomputes each channel's field summary.
Results go to the fitter's own subscribers as events, named by channel (the writer stores them,
the GUI draws them). Hall channels are not fitted: Eq. 1 and 2 describe ρ_xx.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from array import array
from collections.abc import Iterable

import numpy as np

from cryolab.analysis.fit import Choice, FitError, choose_model, fit
from cryolab.analysis.summary import (
    FieldResult,
    curvature_zeros_data,
    curvature_zeros_model,
    summarize,
)
from cryolab.events import (
    Event,
    FitUpdated,
    RunEnded,
    StepEnded,
    StepStarted,
    SubscriberFunc,
    SummaryUpdated,
)
from cryolab.measurement import Point

log = logging.getLogger(__name__)


class _Sweep:
    """Valid points of one temperature sweep on one channel, appended from the runner's thread
    (typed arrays: 8 bytes a value instead of a Python float's 32, over 48-hour runs)."""

    def __init__(self, step_index: int, channel: str, index: int) -> None:
        self.step_index = step_index
        self.channel = channel
        self.index = index  # of the channel's reading in a point
        self.T = array("d")
        self.rho = array("d")
        self.field = array("d")
        self.fitted_count = 0
        self.ended = False

    def arrays(self) -> tuple[np.ndarray, np.ndarray, float]:
        field = float(np.round(np.median(self.field), 1)) if self.field else math.nan
        return np.array(self.T, dtype=float), np.array(self.rho, dtype=float), field


class LiveFitter:
    """Runner subscriber that keeps Eq. 1 / Eq. 2 fits of the running sweep up to date, for each
    longitudinal channel (``channels``: (index in the point, name))."""

    def __init__(self, channels: Iterable[tuple[int, str]] = ((0, "xx"),),
                 publish: Iterable[SubscriberFunc] = (), model: str = "auto",
                 min_interval_s: float = 1.0, min_new_points: int = 20) -> None:
        self.channels = list(channels)
        self.publish = list(publish)
        self.model = model
        self.min_interval_s = min_interval_s
        self.min_new_points = min_new_points
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._sweeps: list[_Sweep] = []  # one per channel while a fitted step runs
        self._ended: list[_Sweep] = []
        #: per channel and field: the final sweeps' points, for the field summary
        self._by_field: dict[str, dict[float, tuple[list[np.ndarray], list[np.ndarray]]]] = {
            name: {} for _, name in self.channels}
        self._results: dict[str, dict[float, FieldResult]] = {
            name: {} for _, name in self.channels}
        self._stop = False
        #: wall-clock seconds spent fitting, and how many fits (for the benchmark's cadence)
        self.fit_seconds = 0.0
        self.fit_count = 0
        self._thread = threading.Thread(target=self._work, name="live-fitter", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ runner thread
    def __call__(self, event: Event) -> None:
        if type(event) is Point:
            sweeps = self._sweeps
            if sweeps:
                readings = event.channels
                with self._lock:
                    for sweep in sweeps:
                        reading = readings[sweep.index]
                        if reading.valid:
                            sweep.T.append(event.T_sample_K)
                            sweep.rho.append(reading.rho_ohm_sq)
                            sweep.field.append(event.field_Oe)
        elif isinstance(event, StepStarted):
            with self._lock:
                self._sweeps = [_Sweep(event.index, name, index)
                                for index, name in self.channels] \
                    if event.planned.step.fitted else []
        elif isinstance(event, StepEnded):
            with self._lock:
                if self._sweeps and self._sweeps[0].step_index == event.index:
                    for sweep in self._sweeps:
                        sweep.ended = True
                    self._ended.extend(self._sweeps)
                    self._sweeps = []
            self._wake.set()
        elif isinstance(event, RunEnded):
            self._wake.set()

    # ------------------------------------------------------------------ worker thread
    def _work(self) -> None:
        while True:
            self._wake.wait(self.min_interval_s)
            self._wake.clear()
            with self._lock:
                ended, self._ended = self._ended, []
                running = list(self._sweeps)
                stop = self._stop
            for sweep in ended:
                self._fit(sweep, final=True)
            for sweep in running:
                if len(sweep.T) - sweep.fitted_count >= self.min_new_points:
                    self._fit(sweep, final=False)
            if ended:
                self._update_summary()
            if stop:
                return

    def _fit(self, sweep: _Sweep, final: bool) -> None:
        with self._lock:
            T, rho, field = sweep.arrays()
            sweep.fitted_count = len(T)
        if len(T) == 0:
            return
        t0 = time.perf_counter()
        try:
            if self.model == "auto":
                choice = choose_model(T, rho)
            else:
                choice = Choice(self.model, True, f"{self.model} requested",
                                 {self.model: fit(T, rho, self.model)}, math.nan, math.nan)
        except FitError as exc:
            # steps counted from 1 in the log, as on the terminal and in the GUI
            log.info("step %d not fitted yet: %s", sweep.step_index + 1, exc)
            return
        finally:
            self.fit_seconds += time.perf_counter() - t0
            self.fit_count += 1
        if final and math.isfinite(field):
            Ts, rhos = self._by_field[sweep.channel].setdefault(field, ([], []))
            Ts.append(T)
            rhos.append(rho)
        self._emit(FitUpdated(sweep.step_index, field, final, choice, sweep.channel))

    def _update_summary(self) -> None:
        for _, channel in self.channels:
            self._update_channel_summary(channel)

    def _update_channel_summary(self, channel: str) -> None:
        results = self._results[channel]
        for field, (Ts, rhos) in self._by_field[channel].items():
            T, rho = np.concatenate(Ts), np.concatenate(rhos)
            if field in results and results[field].fit.n_points == len(T):
                continue  # no new sweep at this field since the last summary
            try:
                choice = choose_model(T, rho) if self.model == "auto" else \
                    Choice(self.model, True, "", {self.model: fit(T, rho, self.model)},
                            math.nan, math.nan)
            except FitError:
                continue
            best = choice.best
            results[field] = FieldResult(
                field, choice, curvature_zeros_data(T, rho),
                curvature_zeros_model(best, best.T_min_K, best.T_max_K))
        if results:
            self._emit(SummaryUpdated(summarize(list(results.values())), channel))

    def _emit(self, event: Event) -> None:
        for subscriber in self.publish:
            try:
                subscriber(event)
            except Exception:  # a display problem must not stop the fits or the run
                log.exception("live-fit subscriber failed")

    def close(self) -> None:
        """Finish pending fits (the last sweep's final fit, the summary) and stop."""
        with self._lock:
            self._stop = True
        self._wake.set()
        self._thread.join(timeout=60.0)
