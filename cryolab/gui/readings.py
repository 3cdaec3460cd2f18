"""The instruments now: temperatures and their mismatch, the field and the magnet, the heater,
and every channel's lock-in side by side (a Hall bar's ρ_xx and ρ_xy in two columns).

During a run the values come from the runner's points (and the magnet and heater from its
status events); between runs from the instrument thread's readings, about once a second.
"""

from __future__ import annotations

import math

from cryolab.gui import format as fmt
from cryolab.gui.qt import QtCore, QtWidgets
from cryolab.gui.worker import Reading
from cryolab.measurement import Flag, Point

OK, WARN, BAD = "#2e7d32", "#b26a00", "#c62828"

#: the channel table's rows: key, what it shows
CHANNEL_ROWS = [("x", "X"), ("y", "Y"), ("R", "R"), ("rho", "ρ"), ("current", "current"),
                ("frequency", "frequency"), ("tau", "time constant"), ("lockin", "lock-in"),
                ("flags", "last point")]


def flag_names(flags: int) -> list[str]:
    return [f.name.lower().replace("_", " ") for f in Flag if f & flags]


class ReadingsPanel(QtWidgets.QGroupBox):
    """The instruments' values, labelled; one table column per measurement channel."""

    FIELDS = [("T_mc", "T_MC"), ("T_sample", "T_sample"), ("mismatch", "T_sample/T_MC − 1"),
              ("field", "field"), ("magnet", "magnet"), ("heater", "heater")]

    def __init__(self, threshold: float, heater_resistance_ohm: float,
                 channels: list[dict[str, str]]) -> None:
        super().__init__("instruments (live)")
        self.threshold = threshold
        self.heater_resistance_ohm = heater_resistance_ohm
        form = QtWidgets.QFormLayout()
        self.labels: dict[str, QtWidgets.QLabel] = {}
        for key, title in self.FIELDS:
            label = QtWidgets.QLabel("—")
            label.setTextInteractionFlags(QtCore.Qt.TextSelectableByMouse)
            label.setWordWrap(True)
            self.labels[key] = label
            form.addRow(title, label)
        self.table = QtWidgets.QTableWidget(len(CHANNEL_ROWS), 0)
        self.table.setVerticalHeaderLabels([title for _, title in CHANNEL_ROWS])
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.NoEditTriggers)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.NoSelection)
        self.table.horizontalHeader().setSectionResizeMode(QtWidgets.QHeaderView.Stretch)
        self.table.setVerticalScrollBarPolicy(QtCore.Qt.ScrollBarAlwaysOff)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.table)
        self.channels: list[dict[str, str]] = []
        self.set_channels(channels)

    # ------------------------------------------------------------------ cells
    def set_channels(self, channels: list[dict[str, str]]) -> None:
        if [c["name"] for c in channels] == [c["name"] for c in self.channels]:
            return
        self.channels = list(channels)
        self.table.setColumnCount(len(channels))
        self.table.setHorizontalHeaderLabels([f"{c['name']} ({c['kind']})" for c in channels])
        for col in range(len(channels)):
            for row in range(len(CHANNEL_ROWS)):
                self.table.setItem(row, col, QtWidgets.QTableWidgetItem("—"))
        rows_height = sum(self.table.rowHeight(r) for r in range(len(CHANNEL_ROWS)))
        self.table.setFixedHeight(rows_height + self.table.horizontalHeader().height() + 4)

    def cell(self, key: str, channel: str) -> QtWidgets.QTableWidgetItem:
        row = next(i for i, (k, _) in enumerate(CHANNEL_ROWS) if k == key)
        col = next(i for i, c in enumerate(self.channels) if c["name"] == channel)
        return self.table.item(row, col)

    def _cell(self, key: str, channel: str, text: str, color: str | None = None) -> None:
        item = self.cell(key, channel)
        item.setText(text)
        item.setForeground(QtWidgets.QApplication.palette().text() if color is None else
                           _brush(color))

    def _set(self, key: str, text: str, color: str | None = None) -> None:
        label = self.labels[key]
        label.setText(text)
        label.setStyleSheet(f"color: {color}; font-weight: bold;" if color else "")

    # ------------------------------------------------------------------ sources
    def _temperatures(self, T_mc: float, T_s: float) -> None:
        self._set("T_mc", fmt.temperature(T_mc))
        self._set("T_sample", fmt.temperature(T_s))
        ratio = T_s / T_mc - 1 if T_mc > 0 else math.nan
        color = OK if abs(ratio) <= self.threshold else WARN
        self._set("mismatch", f"{ratio:+.1%}" if math.isfinite(ratio) else "—", color)

    def _rho_text(self, kind: str, rho: float) -> str:
        return fmt.si(rho, "Ω" if kind == "hall" else "Ω/□")

    def show_point(self, point: Point) -> None:
        self._temperatures(point.T_mc_K, point.T_sample_K)
        self._set("field", f"{point.field_Oe:.1f} Oe")
        for channel, reading in zip(self.channels, point.channels, strict=False):
            name = channel["name"]
            self._cell("x", name, fmt.si(reading.x_V, "V"))
            self._cell("y", name, fmt.si(reading.y_V, "V"))
            self._cell("R", name, fmt.si(reading.R_ohm, "Ω"))
            self._cell("rho", name, self._rho_text(channel["kind"], reading.rho_ohm_sq))
            self._cell("current", name, fmt.current(reading.current_A))
            self._cell("frequency", name, f"{reading.frequency_Hz:g} Hz")
            self._cell("tau", name, f"{reading.time_constant_s:g} s")
            overload = bool(reading.flags & Flag.OVERLOAD)
            self._cell("lockin", name, "overload" if overload else "ok", BAD if overload else OK)
            names = flag_names(reading.flags)
            self._cell("flags", name, ", ".join(names) if names else "valid",
                       WARN if names else OK)

    def show_reading(self, r: Reading) -> None:
        self._temperatures(r.T_mc_K, r.T_sample_K)
        self._set("field", f"{r.field_Oe:.1f} Oe")
        self.show_status(r.magnet_state, r.heater_percent, r.heater_range)
        for now in r.channels:
            if now.name not in [c["name"] for c in self.channels]:
                continue
            self._cell("x", now.name, fmt.si(now.x_V, "V"))
            self._cell("y", now.name, fmt.si(now.y_V, "V"))
            self._cell("current", now.name, fmt.current(now.current_A))
            self._cell("frequency", now.name, f"{now.frequency_Hz:g} Hz")
            self._cell("tau", now.name, f"{now.time_constant_s:g} s")
            self._cell("lockin", now.name, "overload" if now.overload else "ok",
                       BAD if now.overload else OK)

    def show_status(self, magnet_state: str, heater_percent: float, heater_range: int) -> None:
        self._set("magnet", magnet_state, BAD if magnet_state == "quench" else OK)
        self._set("heater", fmt.heater(heater_range, heater_percent, self.heater_resistance_ohm))


def _brush(color: str):
    from cryolab.gui.qt import QtGui

    return QtGui.QBrush(QtGui.QColor(color))
