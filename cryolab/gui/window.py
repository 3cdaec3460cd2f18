"""The cooldown window: panels and plots wired to the instrument worker, repainted on a timer.

Without a worker (``cryolab gui --open RUN.h5`` alone) it is a review window: no instrument is
contacted, the readings and manual panels are not shown, and nothing can be started or aborted.
"""

from __future__ import annotations

import contextlib
import math
from pathlib import Path

import numpy as np

from cryolab.analysis.fit import Choice, FitError, choose_model
from cryolab.analysis.summary import analyze_points
from cryolab.eta import ends_by_the_clock
from cryolab.events import InstrumentStatus, RunEnded, StepStarted
from cryolab.gui.panels import AlarmBanner, LogView, ManualPanel, SequencePanel
from cryolab.gui.plots import RhoTab, SummaryPlot, TimePlot
from cryolab.gui.qt import QtCore, QtWidgets
from cryolab.gui.readings import ReadingsPanel
from cryolab.gui.status import NightStatus
from cryolab.gui.store import DataStore, LogEntry
from cryolab.gui.worker import InstrumentWorker, Reading, WorkerMessage
from cryolab.inputs import InputError
from cryolab.lint import sequence_warnings
from cryolab.measurement import Point
from cryolab.runfile import RunFile, RunFileError
from cryolab.sequence import (
    Measure,
    PlannedStep,
    make_plan,
    sequence_from_text,
)
from cryolab.session import RunSpec, validate

REFRESH_MS = 100  # repaint at most ten times a second, however fast the points arrive


class MainWindow(QtWidgets.QMainWindow):
    def __init__(self, worker: InstrumentWorker | None, station_path: str | None,
                 simulated: bool, speed: float, preset: str | None = None) -> None:
        super().__init__()
        self.worker = worker
        self.station_path = station_path
        self.simulated = simulated
        self.speed = speed
        self.preset = preset
        self.spec: RunSpec | None = None
        self._close_reason: str | None = None  # set when a script or a signal closes
        self._plan_shown: tuple | None = None  # (plan, current step) the table shows
        self.store = DataStore()
        config = worker.bench.config if worker is not None else None
        self.setWindowTitle("cryolab — review (no instruments)" if config is None else
                            f"cryolab — {config.name}" + (" (simulated)" if simulated else ""))

        self.readings: ReadingsPanel | None = None
        self.manual: ManualPanel | None = None
        if config is not None:
            channels = [{"name": c.name, "kind": c.kind} for c in config.channel_specs()]
            self.store.clear(channels)  # the station's channels, before the plots are made
            self.readings = ReadingsPanel(self.store.mismatch_threshold,
                                          config.bridge.heater_resistance_ohm, channels)
            self.manual = ManualPanel(config.limits)
        self.status = NightStatus()
        self.banner = AlarmBanner()
        self.sequence = SequencePanel()
        self.log_view = LogView()
        self.rho_tab = RhoTab(self.store)
        self.time_plot = TimePlot(self.store)
        self.summary_plot = SummaryPlot(self.store)

        plots = QtWidgets.QTabWidget()
        plots.addTab(self.rho_tab, "ρ(T) and fit")
        plots.addTab(self.time_plot, "temperatures and field")
        plots.addTab(self.summary_plot, "field summary")
        self.plots = plots
        right = QtWidgets.QSplitter(QtCore.Qt.Vertical)
        right.addWidget(self.sequence)
        right.addWidget(self.log_view)
        right.setFixedWidth(470)
        center = QtWidgets.QHBoxLayout()
        if config is not None:
            left = QtWidgets.QWidget()
            left_layout = QtWidgets.QVBoxLayout(left)
            left_layout.setContentsMargins(0, 0, 0, 0)
            left_layout.addWidget(self.readings)
            left_layout.addWidget(self.manual)
            left_layout.addStretch(1)
            left.setFixedWidth(400)  # the plots get whatever the panels do not need
            center.addWidget(left)
        center.addWidget(plots, 1)
        center.addWidget(right)
        body = QtWidgets.QWidget()
        layout = QtWidgets.QVBoxLayout(body)
        layout.addWidget(self.status)
        layout.addWidget(self.banner)
        layout.addLayout(center, 1)
        self.setCentralWidget(body)
        self.resize(1600, 950)

        menu = self.menuBar().addMenu("&File")
        if worker is not None:
            menu.addAction("Open sequence…", self.choose_sequence)
        menu.addAction("Open run file…", self.choose_run_file)
        menu.addSeparator()
        menu.addAction("Quit", self.close)

        self.sequence.open_button.clicked.connect(self.choose_sequence)
        self.sequence.validate_button.clicked.connect(
            lambda: self.load_sequence(self.sequence.path.text()))
        self.sequence.path.returnPressed.connect(
            lambda: self.load_sequence(self.sequence.path.text()))
        self.sequence.start.clicked.connect(self.start_run)
        self.sequence.abort.clicked.connect(self.confirm_abort)
        if worker is not None and self.manual is not None:
            self.sequence.pause.clicked.connect(worker.pause)
            self.sequence.resume.clicked.connect(worker.resume)
            manual = self.manual
            manual.apply_field.clicked.connect(lambda: worker.set_field(
                manual.field.value(), manual.field_rate.value()))
            manual.apply_excitation.clicked.connect(lambda: worker.set_excitation(
                manual.current.value(), manual.frequency.value()))
            manual.apply_setpoint.clicked.connect(lambda: worker.set_setpoint(
                manual.setpoint.value()))
        self.sequence.set_buttons(False, "idle", instruments=worker is not None)

        self.timer = QtCore.QTimer(self)
        self.timer.timeout.connect(self.refresh)
        self.timer.start(REFRESH_MS)

    @property
    def busy(self) -> bool:
        return self.worker is not None and self.worker.running

    @property
    def rho_plot(self):
        """The ρ(T) plot of the channel whose fits are shown (the first longitudinal one)."""
        return self.rho_tab.main

    def _message(self, level: str, text: str) -> None:
        """A message for the user: under the manual controls (if any) and in the log."""
        if self.manual is not None:
            self.manual.show_message(level, text)
        self.store.note(level, text)
        self.store.version += 1

    # ------------------------------------------------------------------ sequences
    def choose_sequence(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open sequence", "sequences",
                                                        "Sequences (*.yaml *.yml)")
        if path:
            self.load_sequence(path)

    def load_sequence(self, path: str) -> bool:
        """Validate the file against the station; show the plan, or every error by key."""
        self.sequence.path.setText(path)
        self.spec = None
        if self.worker is None:
            return False
        try:
            spec = validate(path, self.station_path, self.simulated,
                            self.speed if self.simulated else 1.0, preset=self.preset)
        except InputError as exc:
            self.sequence.show_errors(exc.problems)
            self.sequence.show_plan([])
            self.sequence.eta.setText("invalid: fix the keys above")
            self.sequence.set_buttons(False, self.store.state)
            self._plan_shown = None
            return False
        self.spec = spec
        self.sequence.show_errors([], sequence_warnings(spec.sequence))
        plan = make_plan(spec.sequence, spec.station)
        total = sum(p.estimate_s for p in plan)
        ends = f"started now, it {ends_by_the_clock(total, self._speed)}"
        self.sequence.show_plan(plan, ends=ends)
        self._plan_shown = None
        self.sequence.set_buttons(True, self.store.state)
        return True

    @property
    def _speed(self) -> float:
        """Lab seconds per wall second of the runs this window starts."""
        return self.speed if self.simulated else 1.0

    def start_run(self) -> None:
        if self.spec is None or self.worker is None or self.worker.running:
            return
        self.store.mismatch_threshold = self.spec.sequence.settings.mismatch_threshold
        if self.readings is not None:
            self.readings.threshold = self.store.mismatch_threshold
        self.store.clear([{"name": c.name, "kind": c.kind}
                          for c in self.spec.station.channel_specs()])
        self.store.state = "starting"  # nothing to pause or abort until the run has begun
        self.sequence.set_buttons(False, "starting")
        self.worker.start_run(self.spec)

    def confirm_abort(self) -> bool:
        if not self.busy:
            return False
        answer = QtWidgets.QMessageBox.question(
            self, "Abort the run?", "Abort the run? The instruments go to the station's safe "
            "state; the file keeps everything measured so far.")
        if answer == QtWidgets.QMessageBox.Yes:
            self.worker.abort()
            return True
        return False

    # ------------------------------------------------------------------ review
    def choose_run_file(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open run file", "runs",
                                                        "Run files (*.h5)")
        if path:
            self.open_run_file(path)

    def open_run_file(self, path: str) -> bool:
        """Show a run file's data, its fits and its field summary in the same plots."""
        if self.busy:
            self._message("error", "a run is in progress: open files after it")
            return False
        try:
            with RunFile(path) as run:
                steps = run.steps()
                points_per_step = [run.points(s.name) for s in steps]
                sequence_text = run.attrs.get("sequence", "")
                events = run.events()
                channels = run.channels
                longitudinal = run.longitudinal_channels()
                status, attrs = run.status, dict(run.attrs)
        except RunFileError as exc:
            QtWidgets.QMessageBox.warning(self, "Not a run file", str(exc))
            return False
        # one entry per step group, numbered as the groups are (a resumed run repeats a step)
        stored = _stored_plan(sequence_text)
        plan = [PlannedStep(i, stored[s.index] if 0 <= s.index < len(stored) else
                            Measure(points=max(s.n_points, 1)), s.attrs.get("estimate_s", 0.0))
                for i, s in enumerate(steps)]
        fits: dict[str, dict[int, Choice]] = {}
        for channel in longitudinal:  # every longitudinal channel: each has its own fits
            fits[channel] = {}
            for i, pts in enumerate(points_per_step):
                valid = pts[pts[f"{channel}_valid"]]
                if len(valid) >= 20:
                    with contextlib.suppress(FitError):
                        fits[channel][i] = choose_model(valid["T_sample_K"],
                                                        valid[f"{channel}_rho_ohm_sq"])
        all_points = np.concatenate(points_per_step) if points_per_step else np.empty(0)
        step_of_point = np.concatenate([np.full(len(p), i) for i, p in
                                        enumerate(points_per_step)]) if points_per_step \
            else np.empty(0, dtype=int)
        summaries = {channel: analyze_points(all_points, channel=channel)[0]
                     for channel in longitudinal} if len(all_points) else {}
        to_wall = _wall_clock_of(attrs)
        log = [LogEntry(e["level"], e["text"], e["time_s"], to_wall(e["time_s"]))
               for e in events]
        self.store.mismatch_threshold = float(attrs.get("mismatch_threshold", 0.10))
        self.store.load_run(all_points, step_of_point, plan, fits, summaries, log, channels,
                            status, [s.status for s in steps])
        self._plan_shown = None
        self.sequence.state.setText(f"reviewing {Path(path).name} ({status})")
        self.setWindowTitle(f"cryolab — {Path(path).name}")
        self.refresh()
        return True

    # ------------------------------------------------------------------ the timer
    def refresh(self) -> None:
        events = []
        while self.worker is not None and self.worker.events:
            events.append(self.worker.events.popleft())
        runner_events = []
        for event in events:
            if isinstance(event, Reading):
                if self.readings is not None:
                    self.readings.show_reading(event)
            elif isinstance(event, WorkerMessage):
                if self.manual is not None:
                    self.manual.show_message(event.level, event.text)
                self.store.note(event.level, event.text, event.time)
                self.store.version += 1
            else:
                runner_events.append(event)
        self.store.apply(runner_events)
        if self.readings is not None:
            self.readings.set_channels(self.store.channels)
            points = [e for e in runner_events if type(e) is Point]
            if points:
                self.readings.show_point(points[-1])
            status = [e for e in runner_events if isinstance(e, InstrumentStatus)]
            if status:
                s = status[-1]
                self.readings.show_status(s.magnet_state, s.heater_percent, s.heater_range)
        shown_plan = (id(self.store.plan), self.store.current_step)
        if shown_plan != self._plan_shown or any(isinstance(e, StepStarted | RunEnded)
                                                 for e in runner_events):
            self._plan_shown = shown_plan
            if self.store.plan:
                self.sequence.show_plan(self.store.plan, self.store.current_step)
        self._show_state()
        self.banner.show_alarms(self.store)
        self.log_view.show_log(self.store.log)
        current = self.plots.currentWidget()
        if current is self.rho_tab:
            self.rho_tab.redraw()
        elif current is self.time_plot:
            self.time_plot.redraw()
        else:
            self.summary_plot.redraw()

    def _show_state(self) -> None:
        state = self.store.state
        busy = self.busy
        if not busy and state == "starting" and self.worker is not None and \
                not self.worker.starting:
            state = "idle"  # the run could not start (its message is in the log)
        shown = state if busy or state not in ("running", "paused", "waiting") else "idle"
        self.sequence.set_buttons(self.spec is not None, shown,
                                  instruments=self.worker is not None)
        if self.manual is not None:
            for widget in (self.manual.apply_field, self.manual.apply_excitation,
                           self.manual.apply_setpoint):
                widget.setEnabled(not busy and state != "starting")
        fraction, left = self.store.progress()
        self.sequence.progress.setValue(int(1000 * fraction))
        self.status.update_from(self.store, busy, self._speed, self.simulated)
        if self.store.state == "review":
            return
        text = f"{shown}: {self.store.points.n} points"
        if busy and math.isfinite(left):
            text += f"; {ends_by_the_clock(left, self._speed)}"
        self.sequence.state.setText(text)

    # ------------------------------------------------------------------ closing
    def close_without_asking(self, reason: str) -> None:
        """Close for a script (--exit-after, --screenshot): abort any run without a dialog."""
        self._close_reason = reason
        self.close()

    def closeEvent(self, event) -> None:
        if self.busy:
            reason = self._close_reason
            if reason is None:
                answer = QtWidgets.QMessageBox.question(
                    self, "A run is in progress", "A run is in progress. Abort it (the "
                    "instruments go to the station's safe state) and close?")
                if answer != QtWidgets.QMessageBox.Yes:
                    event.ignore()
                    return
                reason = "the window was closed during the run"
            self.worker.abort(reason)
            deadline = QtCore.QDeadlineTimer(120_000)
            while self.worker.running and not deadline.hasExpired():
                QtWidgets.QApplication.processEvents(QtCore.QEventLoop.AllEvents, 100)
                QtCore.QThread.msleep(20)
        self.timer.stop()
        event.accept()


def _wall_clock_of(attrs: dict):
    """lab time → wall time for a run file's events: the same on hardware; in a simulated run
    on a scaled clock, back through the clock's origins (w = wall + (t − sim) / speed); unknown
    (NaN) under the virtual clock of --speed max, or when the origins are missing."""
    if not attrs.get("simulated", False):
        return lambda t: t
    speed = float(attrs.get("speed", math.nan))
    wall0 = float(attrs.get("clock_wall_origin_s", math.nan))
    sim0 = float(attrs.get("clock_sim_origin_s", math.nan))
    if not all(math.isfinite(v) for v in (speed, wall0, sim0)):
        return lambda t: math.nan
    return lambda t: wall0 + (t - sim0) / speed


def _stored_plan(sequence_text: str) -> list:
    """The plan of a run file's stored sequence ([] if it cannot be read)."""
    try:
        return sequence_from_text(sequence_text).plan()
    except (InputError, ValueError):
        return []
