"""The GUI's panels: the sequence and its plan, manual controls, the alarm banner, the log."""

from __future__ import annotations

from cryolab.gui import format as fmt
from cryolab.gui.qt import QtCore, QtGui, QtWidgets
from cryolab.gui.store import DataStore, LogEntry
from cryolab.sequence import PlannedStep, format_duration

OK, WARN, BAD = "#2e7d32", "#b26a00", "#c62828"
#: what each alarm kind is called on the banner (the kinds of cryolab.events.Alarm, and the
#: GUI's own from point flags)
ALARM_TITLES = {"quench": "MAGNET QUENCH", "over_temperature": "OVER TEMPERATURE",
                "instrument_down": "INSTRUMENT NOT ANSWERING",
                "thermal_mismatch": "OUT OF EQUILIBRIUM", "disk_space_low": "DISK SPACE LOW",
                "write_failed": "RUN FILE NOT WRITTEN", "heating": "SELF-HEATING",
                "mismatch": "out of equilibrium",
                "overload": "lock-in overload"}


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
        self.kind: str | None = None  # the alarm kind shown
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
        self.label.setText(f"⚠ {ALARM_TITLES.get(key, key)}: {alarm.text}{more}")
        self.kind = key
        self.show()


class SequencePanel(QtWidgets.QGroupBox):
    """Open and validate a sequence, see the plan and its ETA, start/pause/resume/abort."""

    def __init__(self) -> None:
        super().__init__("sequence")
        self.path = QtWidgets.QLineEdit()
        self.path.setPlaceholderText("sequence file (YAML)")
        self.open_button = QtWidgets.QPushButton("open…")
        self.validate_button = QtWidgets.QPushButton("validate")
        # errors and warnings wrap at the panel's width and scroll: never cut off mid-sentence
        self.errors = QtWidgets.QLabel()
        self.errors.setWordWrap(True)
        self.errors.setTextFormat(QtCore.Qt.PlainText)
        self.errors.setTextInteractionFlags(QtCore.Qt.TextSelectableByMouse)
        self.errors.setAlignment(QtCore.Qt.AlignTop | QtCore.Qt.AlignLeft)
        self.errors_area = QtWidgets.QScrollArea()
        self.errors_area.setWidget(self.errors)
        self.errors_area.setWidgetResizable(True)
        self.errors_area.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarAlwaysOff)
        self.errors_area.setMaximumHeight(160)
        self.errors_area.hide()
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
        # red only when it can be pressed: a disabled abort must look disabled
        self.abort.setStyleSheet(f"QPushButton:enabled {{ color: {BAD}; font-weight: bold; }}")
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
        layout.addWidget(self.errors_area)
        layout.addWidget(self.plan, 1)
        layout.addWidget(self.eta)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.state)
        self.set_buttons(valid=False, state="idle")

    def show_errors(self, problems: list[str], warnings: list[str] = ()) -> None:
        """Every problem (red) or warning (orange), each wrapped to the panel's width."""
        lines = [f"• {p}" for p in problems] + [f"warning: {w}" for w in warnings]
        self.errors.setText("\n".join(lines))
        self.errors.setStyleSheet(f"color: {BAD if problems else WARN};")
        self.errors_area.setVisible(bool(lines))

    def show_plan(self, plan: list[PlannedStep], current: int | None = None,
                  ends: str = "") -> None:
        """The plan, its lab time and end by the clock; the current step highlighted, selected
        and scrolled into the middle of the table."""
        self.plan.setRowCount(len(plan))
        for row, p in enumerate(plan):
            for col, text in enumerate((str(p.index + 1), p.describe(),
                                        format_duration(p.estimate_s))):
                item = QtWidgets.QTableWidgetItem(text)
                if current is not None and p.index == current:
                    item.setBackground(QtGui.QColor("#bbdefb"))
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                self.plan.setItem(row, col, item)
        row = next((r for r, p in enumerate(plan) if p.index == current), None)
        if row is not None:
            self.plan.setCurrentCell(row, 1)
            self.plan.scrollToItem(self.plan.item(row, 1),
                                   QtWidgets.QAbstractItemView.PositionAtCenter)
        total = sum(p.estimate_s for p in plan)
        self.eta.setText(f"{len(plan)} steps, about {format_duration(total)} of lab time"
                         + (f"; {ends}" if ends else "") if plan else "no sequence")

    def set_buttons(self, valid: bool, state: str, instruments: bool = True) -> None:
        """Enable what can be done now: nothing runs without instruments (review only), and
        abort only while a run is under way."""
        busy = state in ("running", "paused", "waiting")
        self.start.setEnabled(instruments and valid and not busy and state != "starting")
        self.pause.setEnabled(state in ("running", "waiting"))
        self.resume.setEnabled(state == "paused")
        self.abort.setEnabled(busy)
        self.open_button.setEnabled(instruments and not busy)
        self.validate_button.setEnabled(instruments and not busy)
        self.path.setEnabled(instruments and not busy)


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
        self.apply_field = QtWidgets.QPushButton("ramp")
        self.apply_excitation = QtWidgets.QPushButton("set")
        self.apply_setpoint = QtWidgets.QPushButton("set")
        for button, what in ((self.apply_field, "ramp the magnet to this field at this rate"),
                             (self.apply_excitation, "set this current and frequency"),
                             (self.apply_setpoint, "regulate the mixing chamber at this "
                                                   "temperature")):
            button.setToolTip(what)
        self.message = QtWidgets.QLabel("")
        self.message.setWordWrap(True)
        grid = QtWidgets.QGridLayout(self)
        self.captions: dict[str, QtWidgets.QLabel] = {}
        # one labelled box a row; each button beside the last box it applies
        rows = [("field", "&field", self.field, None),
                ("field_rate", "at &rate", self.field_rate, self.apply_field),
                ("current", "&current", self.current, None),
                ("frequency", "f&requency", self.frequency, self.apply_excitation),
                ("setpoint", "&setpoint", self.setpoint, self.apply_setpoint)]
        for row, (key, caption, box, button) in enumerate(rows):
            label = QtWidgets.QLabel(caption)
            label.setBuddy(box)  # the label names the box (and Alt+letter focuses it)
            self.captions[key] = label
            grid.addWidget(label, row, 0)
            grid.addWidget(box, row, 1)
            if button is not None:
                grid.addWidget(button, row, 2)
        grid.setColumnStretch(1, 1)
        grid.addWidget(self.message, len(rows), 0, 1, 3)
        self.setToolTip(f"station limits: ±{limits.max_field_Oe:g} Oe, "
                        f"≤ {limits.max_field_ramp_Oe_per_s:g} Oe/s, "
                        f"{limits.current_nA[0]:g}–{limits.current_nA[1]:g} nA, "
                        f"{limits.frequency_Hz[0]:g}–{limits.frequency_Hz[1]:g} Hz, "
                        f"{limits.temperature_K[0]:g}–{limits.temperature_K[1]:g} K")

    def show_message(self, level: str, text: str) -> None:
        self.message.setText(text)
        self.message.setStyleSheet(f"color: {BAD};" if level == "error" else "")


class LogView(QtWidgets.QPlainTextEdit):
    """The run's notes, warnings and errors with their times, the newest at the bottom and in
    view (unless the user has scrolled up to read something)."""

    COLORS = {"warning": WARN, "error": BAD}

    def __init__(self) -> None:
        super().__init__()
        self.setReadOnly(True)
        self.setMaximumBlockCount(5000)
        self._shown = 0
        self._source: int | None = None

    def show_log(self, entries: list[LogEntry]) -> None:
        if id(entries) != self._source:  # a new run or file has a new log: start over
            self.clear()
            self._shown = 0
            self._source = id(entries)
        if self._shown == len(entries):
            return
        bar = self.verticalScrollBar()
        following = bar.value() >= bar.maximum() - 4
        for entry in entries[self._shown:]:
            color = self.COLORS.get(entry.level)
            text = f"{fmt.stamp(entry.lab_s, entry.wall_s)} {entry.text}"
            escaped = text.replace("&", "&amp;").replace("<", "&lt;")
            self.appendHtml(f'<span style="color:{color}">{escaped}</span>' if color else
                            escaped)
        self._shown = len(entries)
        if following:
            bar.setValue(bar.maximum())
