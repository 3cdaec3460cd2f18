"""Live fitting: refit the step in progress as points arrive, off the acquisition thread.

The fitter is a runner subscriber whose only work in the runner's thread is appending a valid
point to a list. A worker thread refits the current temperature sweep at most every
``min_interval_s`` of wall time (and only when enough new points arrived), fits each sweep once
more when it ends, then recomputes the field summary. Results go to the fitter's own subscribers
as events (the writer stores them, the GUI draws them).
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
    PointTaken,
    RunEnded,
    StepEnded,
    StepStarted,
    Subscriber,
    SummaryUpdated,
)
from cryolab.measurement import COLUMN

log = logging.getLogger(__name__)

FITTED_KINDS = ("ramp_temperature", "cooldown")
_T, _RHO, _FIELD, _VALID = (COLUMN["T_sample_K"], COLUMN["rho_ohm_sq"], COLUMN["field_Oe"],
                            COLUMN["valid"])


class _Sweep:
    """Valid points of one temperature sweep, appended from the runner's thread (typed arrays:
    8 bytes a value instead of a Python float's 32, over 48-hour runs)."""

    def __init__(self, step_index: int) -> None:
        self.step_index = step_index
        self.T = array("d")
        self.rho = array("d")
        self.field = array("d")
        self.fitted_count = 0
        self.ended = False

    def arrays(self) -> tuple[np.ndarray, np.ndarray, float]:
        field = float(np.round(np.median(self.field), 1)) if self.field else math.nan
        return np.array(self.T, dtype=float), np.array(self.rho, dtype=float), field


class LiveFitter:
    """Runner subscriber that keeps Eq. 1 / Eq. 2 fits of the running sweep up to date."""

    def __init__(self, publish: Iterable[Subscriber] = (), model: str = "auto",
                 min_interval_s: float = 1.0, min_new_points: int = 20) -> None:
        self.publish = list(publish)
        self.model = model
        self.min_interval_s = min_interval_s
        self.min_new_points = min_new_points
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._sweep: _Sweep | None = None
        self._ended: list[_Sweep] = []
        self._by_field: dict[float, tuple[list[np.ndarray], list[np.ndarray]]] = {}
        self._results: dict[float, FieldResult] = {}
        self._stop = False
        #: wall-clock seconds spent fitting, and how many fits (for the benchmark's cadence)
        self.fit_seconds = 0.0
        self.fit_count = 0
        self._thread = threading.Thread(target=self._work, name="live-fitter", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ runner thread
    def __call__(self, event: Event) -> None:
        if isinstance(event, PointTaken):
            sweep = self._sweep
            if sweep is not None and event.row[_VALID]:
                row = event.row
                with self._lock:
                    sweep.T.append(row[_T])
                    sweep.rho.append(row[_RHO])
                    sweep.field.append(row[_FIELD])
        elif isinstance(event, StepStarted):
            with self._lock:
                self._sweep = _Sweep(event.index) if event.planned.kind in FITTED_KINDS else None
        elif isinstance(event, StepEnded):
            with self._lock:
                if self._sweep is not None and self._sweep.step_index == event.index:
                    self._sweep.ended = True
                    self._ended.append(self._sweep)
                    self._sweep = None
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
                running = self._sweep
                stop = self._stop
            for sweep in ended:
                self._fit(sweep, final=True)
            if running is not None and len(running.T) - running.fitted_count >= \
                    self.min_new_points:
                self._fit(running, final=False)
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
            log.info("step %d not fitted yet: %s", sweep.step_index, exc)
            return
        finally:
            self.fit_seconds += time.perf_counter() - t0
            self.fit_count += 1
        if final and math.isfinite(field):
            Ts, rhos = self._by_field.setdefault(field, ([], []))
            Ts.append(T)
            rhos.append(rho)
        self._emit(FitUpdated(sweep.step_index, field, final, choice))

    def _update_summary(self) -> None:
        for field, (Ts, rhos) in self._by_field.items():
            T, rho = np.concatenate(Ts), np.concatenate(rhos)
            if field in self._results and self._results[field].fit.n_points == len(T):
                continue  # no new sweep at this field since the last summary
            try:
                choice = choose_model(T, rho) if self.model == "auto" else \
                    Choice(self.model, True, "", {self.model: fit(T, rho, self.model)},
                            math.nan, math.nan)
            except FitError:
                continue
            best = choice.best
            self._results[field] = FieldResult(
                field, choice, curvature_zeros_data(T, rho),
                curvature_zeros_model(best, best.T_min_K, best.T_max_K))
        if self._results:
            self._emit(SummaryUpdated(summarize(list(self._results.values()))))

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
