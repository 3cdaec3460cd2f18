"""The GUI's panels: live readings, the sequence, manual controls, the alarm banner, the log."""

from __future__ import annotations

import math

from PyQt5 import QtCore, QtGui, QtWidgets

from cryolab.gui.store import DataStore
from cryolab.gui.worker import Reading
from cryolab.measurement import Flag, Point
from cryolab.sequence import PlannedStep, format_duration

OK, WARN, BAD = "#2e7d32", "#b26a00", "#c62828"


def _si(value: float, unit: str, digits: int = 4) -> str:
    """A value with an SI prefix: 3.2e-10 A → '320 pA'."""
    if value is None or not math.isfinite(value):
        return "—"
    if value == 0:
        return f"0 {unit}"
    prefixes = [(1e-15, "f"), (1e-12, "p"), (1e-9, "n"), (1e-6, "µ"), (1e-3, "m"), (1, ""),
                (1e3, "k"), (1e6, "M")]
    for scale, prefix in reversed(prefixes):
        if abs(value) >= scale:
            return f"{value / scale:.{digits}g} {prefix}{unit}"
    return f"{value / 1e-15:.{digits}g} f{unit}"


class ReadingsPanel(QtWidgets.QGroupBox):
    """The instruments now: temperatures and their mismatch, field and magnet, lock-in, heater."""

    FIELDS = [("T_mc", "T_MC"), ("T_sample", "T_sample"), ("mismatch", "T_sample/T_MC − 1"),
              ("field", "field"), ("magnet", "magnet"), ("x", "X"), ("y", "Y"), ("R", "R"),
              ("rho", "ρ"), ("current", "current"), ("frequency", "frequency"),
              ("tau", "time constant"), ("heater", "heater"), ("lockin", "lock-in"),
              ("flags", "last point")]

    def __init__(self, threshold: float) -> None:
        super().__init__("instruments")
        self.threshold = threshold
        layout = QtWidgets.QFormLayout(self)
        self.labels: dict[str, QtWidgets.QLabel] = {}
        for key, title in self.FIELDS:
            label = QtWidgets.QLabel("—")
            label.setTextInteractionFlags(QtCore.Qt.TextSelectableByMouse)
            self.labels[key] = label
            layout.addRow(title, label)

    def _set(self, key: str, text: str, color: str | None = None) -> None:
        label = self.labels[key]
        label.setText(text)
        label.setStyleSheet(f"color: {color}; font-weight: bold;" if color else "")

    def _temperatures(self, T_mc: float, T_s: float) -> None:
        self._set("T_mc", _si(T_mc, "K"))
        self._set("T_sample", _si(T_s, "K"))
        ratio = T_s / T_mc - 1 if T_mc > 0 else math.nan
        color = OK if abs(ratio) <= self.threshold else WARN
        self._set("mismatch", f"{ratio:+.1%}" if math.isfinite(ratio) else "—", color)

    def show_point(self, point: Point, channel: int = 0) -> None:
        self._temperatures(point.T_mc_K, point.T_sample_K)
        self._set("field", f"{point.field_Oe:.1f} Oe")
        reading = point.channels[channel]
        self._set("x", _si(reading.x_V, "V"))
        self._set("y", _si(reading.y_V, "V"))
        self._set("R", _si(reading.R_ohm, "Ω"))
        self._set("rho", _si(reading.rho_ohm_sq, "Ω/□"))
        self._set("current", _si(reading.current_A, "A"))
        self._set("frequency", f"{reading.frequency_Hz:g} Hz")
        self._set("tau", f"{reading.time_constant_s:g} s")
        flags = Flag(reading.flags)
        overload = bool(flags & Flag.OVERLOAD)
        self._set("lockin", "overload" if overload else "ok", BAD if overload else OK)
        names = [f.name.lower().replace("_", " ") for f in Flag if f & flags]
        self._set("flags", ", ".join(names) if names else "valid", WARN if names else OK)

    def show_reading(self, r: Reading) -> None:
        self._temperatures(r.T_mc_K, r.T_sample_K)
        self._set("field", f"{r.field_Oe:.1f} Oe")
        self._set("magnet", r.magnet_state, BAD if r.magnet_state == "quench" else OK)
        self._set("x", _si(r.x_V, "V"))
        self._set("y", _si(r.y_V, "V"))
        self._set("current", _si(r.current_A, "A"))
        self._set("frequency", f"{r.frequency_Hz:g} Hz")
        self._set("tau", f"{r.time_constant_s:g} s")
        self._set("heater", f"range {r.heater_range}, {r.heater_percent:.1f} %")
        self._set("lockin", "overload" if r.overload else "ok", BAD if r.overload else OK)

    def show_status(self, magnet_state: str, heater_percent: float, heater_range: int) -> None:
        self._set("magnet", magnet_state, BAD if magnet_state == "quench" else OK)
        self._set("heater", f"range {heater_range}, {heater_percent:.1f} %")


class AlarmBanner(QtWidgets.QFrame):
    """The most serious alarm, in colour, across the top of the window."""

    def __init__(self) -> None:
        super().__init__()
        self.label = QtWidgets.QLabel()
        self.label.setWordWrap(True)
        self.dismiss = QtWidgets.QPushButton("dismiss")
        layout = QtWidgets.QHBoxLayout(self)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.dismiss)
        self.dismissed: set[str] = set()
        self.dismiss.clicked.connect(self._dismiss)
        self._shown: str | None = None
        self.hide()

    def _dismiss(self) -> None:
        if self._shown:
            self.dismissed.add(self._shown)
        self.hide()

    def show_alarms(self, store: DataStore) -> None:
        active = {k: a for k, a in store.alarms.items() if f"{k}:{a.text}" not in self.dismissed}
        if not active:
            self._shown = None
            self.hide()
            return
        key, alarm = max(active.items(), key=lambda item: item[1].level == "error")
        self._shown = f"{key}:{alarm.text}"
        color = BAD if alarm.level == "error" else WARN
        self.setStyleSheet(f"background: {color}; color: white; font-weight: bold;")
        more = f"  (+{len(active) - 1} more)" if len(active) > 1 else ""
        self.label.setText(f"⚠ {alarm.text}{more}")
        self.show()


class SequencePanel(QtWidgets.QGroupBox):
    """Open and validate a sequence, see the plan and its ETA, start/pause/resume/abort."""

    def __init__(self) -> None:
        super().__init__("sequence")
        self.path = QtWidgets.QLineEdit()
        self.path.setPlaceholderText("sequence file (YAML)")
        self.open_button = QtWidgets.QPushButton("open…")
        self.validate_button = QtWidgets.QPushButton("validate")
        self.errors = QtWidgets.QListWidget()
        self.errors.setMaximumHeight(110)
        self.errors.hide()
        self.plan = QtWidgets.QTableWidget(0, 3)
        self.plan.setHorizontalHeaderLabels(["#", "step", "estimate"])
        self.plan.verticalHeader().hide()
        header = self.plan.horizontalHeader()
        header.setSectionResizeMode(0, QtWidgets.QHeaderView.ResizeToContents)
        header.setSectionResizeMode(1, QtWidgets.QHeaderView.Stretch)
        header.setSectionResizeMode(2, QtWidgets.QHeaderView.ResizeToContents)
        self.plan.setEditTriggers(QtWidgets.QAbstractItemView.NoEditTriggers)
        self.plan.setSelectionMode(QtWidgets.QAbstractItemView.NoSelection)
        self.eta = QtWidgets.QLabel("no sequence")
        self.progress = QtWidgets.QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setFormat("%p %")
        self.start = QtWidgets.QPushButton("start")
        self.pause = QtWidgets.QPushButton("pause")
        self.resume = QtWidgets.QPushButton("resume")
        self.abort = QtWidgets.QPushButton("abort")
        self.abort.setStyleSheet(f"color: {BAD}; font-weight: bold;")
        self.state = QtWidgets.QLabel("idle")
        for label in (self.eta, self.state):
            label.setWordWrap(True)  # a long status must not widen the panel over the plots
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.path, 1)
        row.addWidget(self.open_button)
        row.addWidget(self.validate_button)
        buttons = QtWidgets.QHBoxLayout()
        for b in (self.start, self.pause, self.resume, self.abort):
            buttons.addWidget(b)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.errors)
        layout.addWidget(self.plan, 1)
        layout.addWidget(self.eta)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.state)
        self.set_buttons(valid=False, state="idle")

    def show_errors(self, problems: list[str]) -> None:
        self.errors.clear()
        for problem in problems:
            item = QtWidgets.QListWidgetItem(problem)
            item.setForeground(QtGui.QColor(BAD))
            self.errors.addItem(item)
        self.errors.setVisible(bool(problems))

    def show_plan(self, plan: list[PlannedStep], current: int | None = None) -> None:
        self.plan.setRowCount(len(plan))
        for row, p in enumerate(plan):
            for col, text in enumerate((str(p.index + 1), p.describe(),
                                        format_duration(p.estimate_s))):
                item = QtWidgets.QTableWidgetItem(text)
                if current is not None and p.index == current:
                    item.setBackground(QtGui.QColor("#e3f2fd"))
                self.plan.setItem(row, col, item)
        total = sum(p.estimate_s for p in plan)
        self.eta.setText(f"{len(plan)} steps, about {format_duration(total)} of lab time"
                         if plan else "no sequence")

    def set_buttons(self, valid: bool, state: str) -> None:
        busy = state in ("running", "paused", "waiting")
        self.start.setEnabled(valid and not busy)
        self.pause.setEnabled(state in ("running", "waiting"))
        self.resume.setEnabled(state == "paused")
        self.abort.setEnabled(busy)
        self.open_button.setEnabled(not busy)
        self.validate_button.setEnabled(not busy)


class ManualPanel(QtWidgets.QGroupBox):
    """Field, excitation and setpoint by hand — through the same limit checks as a sequence."""

    def __init__(self, limits) -> None:
        super().__init__("manual control (between runs)")

        def spin(low, high, value, step, decimals, suffix):
            box = QtWidgets.QDoubleSpinBox()
            box.setRange(low, high)
            box.setDecimals(decimals)
            box.setSingleStep(step)
            box.setValue(value)
            box.setSuffix(suffix)
            return box

        # the boxes allow more than the station so that a refusal can be shown, not hidden
        self.field = spin(-1e5, 1e5, 0.0, 10, 1, " Oe")
        self.field_rate = spin(0.01, 1e3, 5.0, 1, 2, " Oe/s")
        self.current = spin(0.001, 100, 0.5, 0.1, 3, " nA")
        self.frequency = spin(0.01, 1e5, 3.33, 0.1, 2, " Hz")
        self.setpoint = spin(0.0, 400, 0.1, 0.01, 4, " K")
        self.apply_field = QtWidgets.QPushButton("ramp field")
        self.apply_excitation = QtWidgets.QPushButton("set excitation")
        self.apply_setpoint = QtWidgets.QPushButton("set setpoint")
        self.message = QtWidgets.QLabel("")
        self.message.setWordWrap(True)
        grid = QtWidgets.QGridLayout(self)
        grid.addWidget(self.field, 0, 0)
        grid.addWidget(self.field_rate, 0, 1)
        grid.addWidget(self.apply_field, 0, 2)
        grid.addWidget(self.current, 1, 0)
        grid.addWidget(self.frequency, 1, 1)
        grid.addWidget(self.apply_excitation, 1, 2)
        grid.addWidget(self.setpoint, 2, 0)
        grid.addWidget(self.apply_setpoint, 2, 2)
        grid.addWidget(self.message, 3, 0, 1, 3)
        self.setToolTip(f"station limits: ±{limits.max_field_Oe:g} Oe, "
                        f"≤ {limits.max_field_ramp_Oe_per_s:g} Oe/s, "
                        f"{limits.current_nA[0]:g}–{limits.current_nA[1]:g} nA, "
                        f"{limits.frequency_Hz[0]:g}–{limits.frequency_Hz[1]:g} Hz, "
                        f"{limits.temperature_K[0]:g}–{limits.temperature_K[1]:g} K")

    def show_message(self, level: str, text: str) -> None:
        self.message.setText(text)
        self.message.setStyleSheet(f"color: {BAD};" if level == "error" else "")


class LogView(QtWidgets.QPlainTextEdit):
    COLORS = {"warning": WARN, "error": BAD}

    def __init__(self) -> None:
        super().__init__()
        self.setReadOnly(True)
        self.setMaximumBlockCount(5000)
        self._shown = 0
        self._source: int | None = None

    def show_log(self, entries: list[tuple[str, str]]) -> None:
        if id(entries) != self._source:  # a new run or file has a new log: start over
            self.clear()
            self._shown = 0
            self._source = id(entries)
        for level, text in entries[self._shown:]:
            color = self.COLORS.get(level)
            escaped = text.replace("&", "&amp;").replace("<", "&lt;")
            self.appendHtml(f'<span style="color:{color}">{escaped}</span>' if color else
                            escaped)
        self._shown = len(entries)
