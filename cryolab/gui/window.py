"""The cooldown window: panels and plots wired to the instrument worker, repainted on a timer."""

from __future__ import annotations

import contextlib
import math
from pathlib import Path

import numpy as np
from PyQt5 import QtCore, QtWidgets

from cryolab.analysis.fit import Choice, FitError, choose_model
from cryolab.analysis.summary import analyze_points
from cryolab.events import InstrumentStatus, RunEnded, StepStarted
from cryolab.gui.panels import (
    AlarmBanner,
    LogView,
    ManualPanel,
    ReadingsPanel,
    SequencePanel,
)
from cryolab.gui.plots import RhoTPlot, SummaryPlot, TimePlot
from cryolab.gui.store import DataStore
from cryolab.gui.worker import InstrumentWorker, Reading, WorkerMessage
from cryolab.inputs import InputError
from cryolab.measurement import Point
from cryolab.runfile import RunFile, RunFileError
from cryolab.sequence import (
    Measure,
    PlannedStep,
    format_duration,
    make_plan,
    sequence_from_text,
)
from cryolab.session import RunSpec, validate

REFRESH_MS = 100  # repaint at most ten times a second, however fast the points arrive


class MainWindow(QtWidgets.QMainWindow):
    def __init__(self, worker: InstrumentWorker, station_path: str | None, simulated: bool,
                 speed: float, preset: str | None = None) -> None:
        super().__init__()
        self.worker = worker
        self.station_path = station_path
        self.simulated = simulated
        self.speed = speed
        self.preset = preset
        self.spec: RunSpec | None = None
        self._close_reason: str | None = None  # set when a script closes the window
        self.store = DataStore()
        config = worker.bench.config
        self.setWindowTitle(f"cryolab — {config.name}" + (" (simulated)" if simulated else ""))

        self.banner = AlarmBanner()
        self.readings = ReadingsPanel(threshold=0.10)
        self.sequence = SequencePanel()
        self.manual = ManualPanel(config.limits)
        self.log_view = LogView()
        self.rho_plot = RhoTPlot(self.store)
        self.time_plot = TimePlot(self.store)
        self.summary_plot = SummaryPlot(self.store)

        plots = QtWidgets.QTabWidget()
        plots.addTab(self.rho_plot, "ρ(T) and fit")
        plots.addTab(self.time_plot, "temperatures and field")
        plots.addTab(self.summary_plot, "field summary")
        self.plots = plots
        left = QtWidgets.QWidget()
        left_layout = QtWidgets.QVBoxLayout(left)
        left_layout.addWidget(self.readings)
        left_layout.addWidget(self.manual)
        left_layout.addStretch(1)
        right = QtWidgets.QSplitter(QtCore.Qt.Vertical)
        right.addWidget(self.sequence)
        right.addWidget(self.log_view)
        left.setFixedWidth(400)  # the plots get whatever the panels do not need
        right.setFixedWidth(470)
        center = QtWidgets.QHBoxLayout()
        center.addWidget(left)
        center.addWidget(plots, 1)
        center.addWidget(right)
        body = QtWidgets.QWidget()
        layout = QtWidgets.QVBoxLayout(body)
        layout.addWidget(self.banner)
        layout.addLayout(center, 1)
        self.setCentralWidget(body)
        self.resize(1600, 950)

        menu = self.menuBar().addMenu("&File")
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
        self.sequence.pause.clicked.connect(worker.pause)
        self.sequence.resume.clicked.connect(worker.resume)
        self.sequence.abort.clicked.connect(self.confirm_abort)
        self.manual.apply_field.clicked.connect(lambda: worker.set_field(
            self.manual.field.value(), self.manual.field_rate.value()))
        self.manual.apply_excitation.clicked.connect(lambda: worker.set_excitation(
            self.manual.current.value(), self.manual.frequency.value()))
        self.manual.apply_setpoint.clicked.connect(lambda: worker.set_setpoint(
            self.manual.setpoint.value()))

        self.timer = QtCore.QTimer(self)
        self.timer.timeout.connect(self.refresh)
        self.timer.start(REFRESH_MS)

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
        try:
            spec = validate(path, self.station_path, self.simulated,
                            self.speed if self.simulated else 1.0, preset=self.preset)
        except InputError as exc:
            self.sequence.show_errors(exc.problems)
            self.sequence.show_plan([])
            self.sequence.eta.setText("invalid: fix the keys above")
            self.sequence.set_buttons(False, self.store.state)
            return False
        self.spec = spec
        self.sequence.show_errors([])
        self.sequence.show_plan(make_plan(spec.sequence, spec.station))
        self.sequence.set_buttons(True, self.store.state)
        return True

    def start_run(self) -> None:
        if self.spec is None or self.worker.running:
            return
        self.store.clear()
        self.store.state = "starting"
        self.sequence.set_buttons(False, "running")
        self.worker.start_run(self.spec)

    def confirm_abort(self) -> bool:
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
        if self.worker.running:
            self.manual.show_message("error", "a run is in progress: open files after it")
            return False
        try:
            with RunFile(path) as run:
                steps = run.steps()
                points_per_step = [run.points(s.name) for s in steps]
                sequence_text = run.attrs.get("sequence", "")
                events = run.events()
                channels = run.channels
                channel = (run.longitudinal_channels() or run.channel_names)[0]
        except RunFileError as exc:
            QtWidgets.QMessageBox.warning(self, "Not a run file", str(exc))
            return False
        # one entry per step group, numbered as the groups are (a resumed run repeats a step)
        stored = _stored_plan(sequence_text)
        plan = [PlannedStep(i, stored[s.index] if 0 <= s.index < len(stored) else
                            Measure(points=max(s.n_points, 1)), s.attrs.get("estimate_s", 0.0))
                for i, s in enumerate(steps)]
        fits: dict[int, Choice] = {}
        for i, pts in enumerate(points_per_step):
            valid = pts[pts[f"{channel}_valid"]]
            if len(valid) >= 20:
                with contextlib.suppress(FitError):
                    fits[i] = choose_model(valid["T_sample_K"], valid[f"{channel}_rho_ohm_sq"])
        all_points = np.concatenate(points_per_step) if points_per_step else np.empty(0)
        step_of_point = np.concatenate([np.full(len(p), i) for i, p in
                                        enumerate(points_per_step)]) if points_per_step \
            else np.empty(0, dtype=int)
        summary = analyze_points(all_points, channel=channel)[0] if len(all_points) else None
        log = [(e["level"], e["text"]) for e in events]
        self.store.load_run(all_points, step_of_point, plan, fits, summary, log, channels)
        self.sequence.show_plan(plan)
        self.sequence.state.setText(f"reviewing {Path(path).name}")
        self.setWindowTitle(f"cryolab — {Path(path).name}")
        self.refresh()
        return True

    # ------------------------------------------------------------------ the timer
    def refresh(self) -> None:
        events = []
        while self.worker.events:
            events.append(self.worker.events.popleft())
        runner_events = []
        for event in events:
            if isinstance(event, Reading):
                self.readings.show_reading(event)
            elif isinstance(event, WorkerMessage):
                self.manual.show_message(event.level, event.text)
                self.store.log.append((event.level, event.text))
                self.store.version += 1
            else:
                runner_events.append(event)
        self.store.apply(runner_events)
        points = [e for e in runner_events if type(e) is Point]
        if points:
            names = [c["name"] for c in self.store.channels]
            channel = names.index(self.store.channel) if self.store.channel in names else 0
            self.readings.show_point(points[-1], channel)
        status = [e for e in runner_events if isinstance(e, InstrumentStatus)]
        if status:
            s = status[-1]
            self.readings.show_status(s.magnet_state, s.heater_percent, s.heater_range)
        if any(isinstance(e, StepStarted | RunEnded) for e in runner_events):
            self.sequence.show_plan(self.store.plan, self.store.current_step)
        self._show_state()
        self.banner.show_alarms(self.store)
        self.log_view.show_log(self.store.log)
        if self.plots.currentWidget() is self.rho_plot:
            self.rho_plot.redraw()
        elif self.plots.currentWidget() is self.time_plot:
            self.time_plot.redraw()
        else:
            self.summary_plot.redraw()

    def _show_state(self) -> None:
        state = self.store.state
        busy = self.worker.running
        if not busy and state == "starting":
            state = "idle"
        shown = state if busy or state not in ("running", "paused", "waiting") else "idle"
        self.sequence.set_buttons(self.spec is not None, shown)
        for widget in (self.manual.apply_field, self.manual.apply_excitation,
                       self.manual.apply_setpoint):
            widget.setEnabled(not busy)
        fraction, left = self.store.progress()
        self.sequence.progress.setValue(int(1000 * fraction))
        text = f"{shown}: {self.store.points.n} points"
        if busy and math.isfinite(left):
            text += f", about {format_duration(left)} of lab time left"
            if self.simulated and math.isfinite(self.speed):
                text += f" ({format_duration(left / self.speed)} at {self.speed:g}×)"
        if self.store.state != "review":
            self.sequence.state.setText(text)

    # ------------------------------------------------------------------ closing
    def close_without_asking(self, reason: str) -> None:
        """Close for a script (--exit-after, --screenshot): abort any run without a dialog."""
        self._close_reason = reason
        self.close()

    def closeEvent(self, event) -> None:
        if self.worker.running:
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


def _stored_plan(sequence_text: str) -> list:
    """The plan of a run file's stored sequence ([] if it cannot be read)."""
    try:
        return sequence_from_text(sequence_text).plan()
    except (InputError, ValueError):
        return []
