"""The GUI's plots (pyqtgraph): ρ(T) of every channel with the live fit, temperatures and field
against time, and the field summary. They redraw from the data store on the window's timer,
never per point.

Live curves are drawn from incrementally kept min/max envelopes (cryolab.gui.decimate), so a
repaint costs the same at 10⁶ points as at a few thousand and the line always ends at the
newest point; the newest point also has its own marker. When the user zooms in (x auto-range
off), the points in view are taken from the raw data instead, and reduced the same way when
there are more than a few thousand of them. Auto-range follows the data only: a fit curve is
drawn over them but never sets the range (an Eq. 2 curve dives towards ρ_QF, which can be
10⁻¹⁵ Ω/□ early in a step, and would squeeze the data into a corner).
"""

from __future__ import annotations

import math

import numpy as np

from cryolab.gui.axes import LogAxis, plain_axis
from cryolab.gui.decimate import LiveEnvelope, reduce_to
from cryolab.gui.fittext import describe, fit_is_result
from cryolab.gui.qt import QtCore, QtWidgets, pg
from cryolab.gui.store import DataStore
from cryolab.units import R_Q_OHM

pg.setConfigOptions(antialias=False, background="w", foreground="k")

COLORS = {"valid": (31, 119, 180), "excluded": (160, 160, 160, 90), "fit": (214, 39, 40),
          "T_mc": (31, 119, 180), "T_s": (255, 127, 14), "field": (44, 160, 44),
          "newest": (214, 39, 40), "ins": (31, 119, 180), "sc": (44, 160, 44),
          "Ea": (0, 0, 0)}


#: fixed room for the left axis's tick labels ("2.5·10⁴"): the plot does not shift as they
#: change, and labels show from the first paint (pyqtgraph otherwise widens the axis a frame late)
AXIS_WIDTH = 76


def _masked(y: np.ndarray, keep: np.ndarray, log: bool) -> np.ndarray:
    """y with the points not kept set to NaN (breaks the line), and ρ ≤ 0 hidden on log y."""
    return np.where(keep & (y > 0) if log else keep, y, np.nan)


def _plot_widget(left_log: bool = True) -> pg.PlotWidget:
    """A plot whose axes label every scale and carry their units in the label."""
    axes = {"left": LogAxis("left") if left_log else plain_axis("left"),
            "bottom": LogAxis("bottom"), "right": plain_axis("right")}
    plot = pg.PlotWidget(axisItems=axes)
    plot.getAxis("left").setWidth(AXIS_WIDTH)
    plot.hideAxis("right")  # shown by the plots with a second quantity (the field, E_a)
    plot.showGrid(x=True, y=True, alpha=0.2)
    return plot


class LiveCurve:
    """One growing curve: an envelope fed with new points, or raw points while zoomed in."""

    def __init__(self, item: pg.PlotDataItem) -> None:
        self.item = item
        self.envelope = LiveEnvelope()
        self.zoomed = False  # drawn from raw points in view

    def draw(self, zoomed: bool, raw=None) -> None:
        """Draw the envelope; when zoomed, ``raw()`` gives the (x, y) of the points in view,
        reduced the same way (NaN-aware, in arrival order, ending at the last point) when they
        are many — pyqtgraph's own downsampling assumes evenly spaced x and loses NaN groups."""
        self.zoomed = zoomed and self.envelope.block > 1 and raw is not None
        if self.zoomed:
            self.item.setData(*reduce_to(*raw(), self.envelope.max_blocks))
        else:
            self.item.setData(*self.envelope.curve())


def _set_log_y(plot: pg.PlotWidget, on: bool) -> None:
    """Log y on the left axis only: pyqtgraph would put the right axis (H, E_a) in log too."""
    plot.setLogMode(y=on)
    plot.plotItem.getAxis("right").setLogMode(False, False)


def _x_zoomed(plot: pg.PlotWidget) -> bool:
    """True once the user has zoomed or panned x (pyqtgraph turns x auto-range off)."""
    return not plot.plotItem.vb.autoRangeEnabled()[0]


def _axis(value: float, log: bool) -> float:
    """ScatterPlotItem coordinates are in the view's (log10) units when log mode is on."""
    return math.log10(value) if log and value > 0 else value


def rho_label(channel: str, kind: str) -> str:
    """ρ_xx (Ω/□) for a longitudinal channel, ρ_xy (Ω) for a Hall channel."""
    return f"ρ_{channel} (Ω)" if kind == "hall" else f"ρ_{channel} (Ω/□)"


class RhoTPlot(QtWidgets.QWidget):
    """ρ against T for one channel and one step: valid points, excluded points (faint), the
    fit (longitudinal channels), the newest point."""

    def __init__(self, store: DataStore, channel: str = "xx", kind: str = "longitudinal",
                 step_box: QtWidgets.QComboBox | None = None,
                 log_x: QtWidgets.QCheckBox | None = None) -> None:
        super().__init__()
        self.store = store
        self.channel, self.kind = channel, kind
        self.step_box = step_box or QtWidgets.QComboBox()  # the tab's, shared by its plots
        self.log_x = log_x or QtWidgets.QCheckBox("log T")
        self.plot = _plot_widget()
        self.plot.setLabel("bottom", "T_sample (K)")
        self.plot.setLabel("left", rho_label(channel, kind))
        self.plot.setTitle(f"{channel} ({kind})")
        self.excluded = self.plot.plot(pen=pg.mkPen(COLORS["excluded"], width=1),
                                       connect="finite", name="excluded")
        self.valid = self.plot.plot(pen=pg.mkPen(COLORS["valid"], width=1.5),
                                    connect="finite", name="valid")
        self._curves = (LiveCurve(self.valid), LiveCurve(self.excluded))
        # (points store, step, points fed to the envelopes, log y) as drawn so far
        self._fed = (None, None, 0, None)
        self.fit = pg.PlotDataItem(pen=pg.mkPen(COLORS["fit"], width=2, style=2), name="fit")
        self.plot.addItem(self.fit, ignoreBounds=True)  # the data set the range, not the fit
        self.newest = pg.ScatterPlotItem(size=9, brush=pg.mkBrush(COLORS["newest"]))
        self.plot.addItem(self.newest)
        self.fit_label = QtWidgets.QLabel("no fit yet" if kind == "longitudinal" else
                                          "Hall channel: not fitted (Eq. 1 and 2 describe ρ_xx)")
        self.fit_label.setWordWrap(True)
        self.fit_label.setTextInteractionFlags(QtCore.Qt.TextSelectableByMouse)
        # two lines (model and quality; the values) from the start, so the plot does not jump
        self.fit_label.setMinimumHeight(2 * self.fit_label.fontMetrics().lineSpacing() + 4)
        self.log_y = QtWidgets.QCheckBox("log ρ")
        self.log_y.setChecked(kind == "longitudinal")  # ρ_xy changes sign with the field
        self.log_y.toggled.connect(self._axes_changed)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.log_y)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.fit_label)
        self._drawn_version = -1
        self._axes_changed()
        self.plot.plotItem.vb.sigXRangeChanged.connect(self._range_changed)

    def _range_changed(self) -> None:
        if _x_zoomed(self.plot) or self._curves[0].zoomed:  # zoomed, or back to auto-range
            self.redraw(force=True)

    def _axes_changed(self) -> None:
        self.plot.setLogMode(x=self.log_x.isChecked(), y=self.log_y.isChecked())
        self.plot.enableAutoRange()  # a zoomed range means something else on the other scale
        self.redraw(force=True)

    def shown_step(self) -> int | None:
        chosen = self.step_box.currentData()
        return self.store.current_step if chosen is None else chosen

    def column(self, quantity: str) -> str:
        return self.store.column(quantity, self.channel)

    def redraw(self, force: bool = False) -> None:
        if not force and self.store.version == self._drawn_version:
            return
        self._drawn_version = self.store.version
        step = self.shown_step()
        points = self.store.step_points(step)
        log_y = self.log_y.isChecked()
        self._feed(step, points, log_y)
        zoomed = _x_zoomed(self.plot)
        for curve, keep in zip(self._curves, (True, False), strict=True):
            curve.draw(zoomed, lambda keep=keep: self._in_view(points, keep, log_y))
        rho_column = self.column("rho_ohm_sq")
        if len(points) and (points[rho_column][-1] > 0 or not log_y):
            self.newest.setData([_axis(points["T_sample_K"][-1], self.log_x.isChecked())],
                                [_axis(points[rho_column][-1], log_y)])
        else:
            self.newest.setData([], [])
        if self.kind != "longitudinal":
            return
        choice = self.store.fits_of(self.channel).get(step) if step is not None else None
        self.fit_label.setText(describe(choice, len(points)))
        if choice is None or not fit_is_result(choice):  # a first look draws no curve
            self.fit.setData([], [])
            return
        best = choice.best
        grid = np.geomspace(best.T_min_K, best.T_max_K, 200)
        self.fit.setData(grid, best.rho(grid))

    def _feed(self, step: int | None, points: np.ndarray, log_y: bool) -> None:
        """Give the envelopes the points they have not seen (all again after a change)."""
        source, fed_step, fed, fed_log = self._fed
        if source is not self.store.points or (step, log_y) != (fed_step, fed_log) \
                or fed > len(points):
            for curve in self._curves:
                curve.envelope.clear()
            fed = 0
        new = points[fed:]
        if len(new):
            T, rho = new["T_sample_K"], new[self.column("rho_ohm_sq")]
            valid = new[self.column("valid")]
            self._curves[0].envelope.extend(T, _masked(rho, valid, log_y))
            self._curves[1].envelope.extend(T, _masked(rho, ~valid, log_y))
        self._fed = (self.store.points, step, len(points), log_y)

    def _in_view(self, points: np.ndarray, valid: bool, log_y: bool) -> tuple:
        """The raw points of one curve whose T is inside the zoomed view."""
        lo, hi = self.plot.plotItem.vb.viewRange()[0]
        if self.log_x.isChecked():
            lo, hi = 10.0**lo, 10.0**hi
        temps = points["T_sample_K"]
        shown = points[(temps >= lo) & (temps <= hi)]
        rho, ok = shown[self.column("rho_ohm_sq")], shown[self.column("valid")]
        return shown["T_sample_K"], _masked(rho, ok == valid, log_y)


ALL_CHANNELS = "all, side by side"


class RhoTab(QtWidgets.QWidget):
    """ρ(T) of every channel of the run, side by side (ρ_xx and ρ_xy on a Hall bar), or one of
    them; one step list and one log-T switch for all."""

    def __init__(self, store: DataStore) -> None:
        super().__init__()
        self.store = store
        self.channel_box = QtWidgets.QComboBox()
        self.channel_box.setSizeAdjustPolicy(QtWidgets.QComboBox.AdjustToContents)
        self.step_box = QtWidgets.QComboBox()
        self.step_box.addItem("current step", None)
        self.log_x = QtWidgets.QCheckBox("log T")
        controls = QtWidgets.QHBoxLayout()
        controls.addWidget(QtWidgets.QLabel("channel:"))
        controls.addWidget(self.channel_box)
        controls.addWidget(QtWidgets.QLabel("step:"))
        controls.addWidget(self.step_box, 1)
        controls.addWidget(self.log_x)
        self.row = QtWidgets.QHBoxLayout()
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(controls)
        layout.addLayout(self.row, 1)
        self.plots: dict[str, RhoTPlot] = {}
        self._listed_plan: list | None = None  # the plan the step list was built from
        self._channels: list[tuple[str, str]] = []
        self.step_box.currentIndexChanged.connect(lambda _: self.redraw(force=True))
        self.channel_box.currentIndexChanged.connect(lambda _: self._show_chosen())
        self.log_x.toggled.connect(lambda _: [p._axes_changed() for p in self.plots.values()])
        self._update_channels()

    def _update_channels(self) -> None:
        """One plot per channel of the run (rebuilt when a run with other channels starts)."""
        channels = [(c["name"], c["kind"]) for c in self.store.channels]
        if channels == self._channels:
            return
        self._channels = channels
        for plot in self.plots.values():
            self.row.removeWidget(plot)
            plot.hide()
            plot.setParent(None)  # gone from the tab now (deleteLater waits for the event loop)
            plot.deleteLater()
        self.plots = {name: RhoTPlot(self.store, name, kind, self.step_box, self.log_x)
                      for name, kind in channels}
        for plot in self.plots.values():
            self.row.addWidget(plot, 1)
        self.channel_box.blockSignals(True)
        self.channel_box.clear()
        if len(channels) > 1:
            self.channel_box.addItem(ALL_CHANNELS, None)
        for name, kind in channels:
            self.channel_box.addItem(f"{name} ({kind})", name)
        self.channel_box.setCurrentIndex(0)
        self.channel_box.blockSignals(False)
        self.channel_box.setEnabled(len(channels) > 1)
        self._show_chosen()

    def _show_chosen(self) -> None:
        chosen = self.channel_box.currentData()
        for name, plot in self.plots.items():
            plot.setVisible(chosen is None or chosen == name)
        self.redraw(force=True)

    def _update_step_list(self) -> None:
        if self.store.plan is self._listed_plan:
            return
        current = self.step_box.currentData()
        self.step_box.blockSignals(True)
        self.step_box.clear()
        self.step_box.addItem("current step", None)
        for p in self.store.plan:
            self.step_box.addItem(f"{p.index + 1}: {p.describe()}", p.index)
        index = self.step_box.findData(current)
        self.step_box.setCurrentIndex(max(index, 0))
        self.step_box.blockSignals(False)
        self._listed_plan = self.store.plan

    @property
    def main(self) -> RhoTPlot:
        """The plot of the channel whose fits the window shows (the first longitudinal one)."""
        return self.plots.get(self.store.channel) or next(iter(self.plots.values()))

    def redraw(self, force: bool = False) -> None:
        self._update_channels()
        self._update_step_list()
        for plot in self.plots.values():
            if plot.isVisible() or force:
                plot.redraw(force)


class TimePlot(QtWidgets.QWidget):
    """T_MC and T_sample (left, log by default) and the field (right) against run time."""

    COLUMNS = ("T_mc_K", "T_sample_K", "field_Oe")

    def __init__(self, store: DataStore) -> None:
        super().__init__()
        self.store = store
        self.plot = _plot_widget()
        self.plot.setLabel("bottom", "time since the start (min)")
        self.plot.setLabel("left", "T (K)")
        self.plot.addLegend(offset=(10, 10))
        self.T_mc = self.plot.plot(pen=pg.mkPen(COLORS["T_mc"], width=1.5), name="T_MC")
        self.T_s = self.plot.plot(pen=pg.mkPen(COLORS["T_s"], width=1.5), name="T_sample")
        self.field_view = pg.ViewBox()
        self.plot.plotItem.showAxis("right")
        self.plot.plotItem.scene().addItem(self.field_view)
        self.plot.plotItem.getAxis("right").linkToView(self.field_view)
        self.plot.plotItem.getAxis("right").setLabel("H (Oe)")
        self.field_view.setXLink(self.plot.plotItem)
        self.field = pg.PlotDataItem(pen=pg.mkPen(COLORS["field"], width=1.5))
        self.field_view.addItem(self.field)
        self.plot.plotItem.legend.addItem(self.field, "H (right axis)")
        self.plot.plotItem.vb.sigResized.connect(self._sync_views)
        self.newest = pg.ScatterPlotItem(size=8, brush=pg.mkBrush(COLORS["newest"]))
        self.plot.addItem(self.newest)
        self.log_T = QtWidgets.QCheckBox("log T")
        self.log_T.setChecked(True)
        self.log_T.toggled.connect(lambda on: (_set_log_y(self.plot, on),
                                               self.plot.enableAutoRange(), self.redraw(True)))
        _set_log_y(self.plot, True)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.log_T)
        layout.addWidget(self.plot, 1)
        self._drawn_version = -1
        self._curves = tuple(LiveCurve(item) for item in (self.T_mc, self.T_s, self.field))
        self._fed = (None, 0, math.nan)  # (points store, points fed, run start) drawn so far
        self.plot.plotItem.vb.sigXRangeChanged.connect(self._range_changed)

    def _range_changed(self) -> None:
        if _x_zoomed(self.plot) or self._curves[0].zoomed:  # zoomed, or back to auto-range
            self.redraw(force=True)

    def _sync_views(self) -> None:
        self.field_view.setGeometry(self.plot.plotItem.vb.sceneBoundingRect())
        self.field_view.linkedViewChanged(self.plot.plotItem.vb, self.field_view.XAxis)

    def redraw(self, force: bool = False) -> None:
        if not force and self.store.version == self._drawn_version:
            return
        self._drawn_version = self.store.version
        points = self.store.points.view
        t0 = self.store.run_started if math.isfinite(self.store.run_started) or not len(points) \
            else points["time_s"][0]
        source, fed, fed_t0 = self._fed
        if source is not self.store.points or fed > len(points) or t0 != fed_t0:
            for curve in self._curves:
                curve.envelope.clear()
            fed = 0
        new = points[fed:]
        if len(new):
            minutes = (new["time_s"] - t0) / 60.0
            for curve, column in zip(self._curves, self.COLUMNS, strict=True):
                curve.envelope.extend(minutes, new[column])
        self._fed = (self.store.points, len(points), t0)
        zoomed = _x_zoomed(self.plot)
        for curve, column in zip(self._curves, self.COLUMNS, strict=True):
            curve.draw(zoomed, lambda column=column: self._in_view(points, t0, column))
        if not len(points):
            self.newest.setData([], [])
            return
        self.newest.setData([(points["time_s"][-1] - t0) / 60.0],
                            [_axis(points["T_mc_K"][-1], self.log_T.isChecked())])

    def _in_view(self, points: np.ndarray, t0: float, column: str) -> tuple:
        """The raw points inside the zoomed time range (time only grows: a binary search)."""
        lo, hi = self.plot.plotItem.vb.viewRange()[0]
        times = points["time_s"]
        first, last = np.searchsorted(times, (t0 + 60.0 * lo, t0 + 60.0 * hi))
        shown = points[max(first - 1, 0): last + 1]
        return (shown["time_s"] - t0) / 60.0, shown[column]


#: room on each side of the fields shown, as a fraction of their span (at least 10 Oe)
FIELD_PAD = 0.06


class SummaryPlot(QtWidgets.QWidget):
    """σ_QF (Eq. 1) and 1/ρ_QF (Eq. 2) against H, log axis; E_a/k_B on the right; 1/R_Q.

    The field axis always shows every fitted field from 0 Oe (or the lowest) to the highest:
    a field whose saturation cannot go on the log axis (ρ_QF = 0 within its error, a
    superconductor) still has its E_a point, and the axis does not zoom onto the others.
    """

    def __init__(self, store: DataStore) -> None:
        super().__init__()
        self.store = store
        self.channel_box = QtWidgets.QComboBox()  # longitudinal channels: each has a summary
        self.channel_box.currentIndexChanged.connect(self._channel_chosen)
        self.plot = _plot_widget()
        self.plot.setLabel("bottom", "H (Oe)")
        self.plot.setLabel("left", "σ_QF or 1/ρ_QF (S/□)")
        self.plot.addLegend(offset=(-10, 10))  # top right: the low fields are on the left
        self.ins = pg.ScatterPlotItem(size=9, symbol="d", brush=pg.mkBrush(COLORS["ins"]),
                                      name="σ_QF (Eq. 1)")
        self.sc = pg.ScatterPlotItem(size=9, symbol="s", brush=pg.mkBrush(COLORS["sc"]),
                                     name="1/ρ_QF (Eq. 2)")
        self.plot.addItem(self.ins)
        self.plot.addItem(self.sc)
        self.rq = pg.InfiniteLine(pos=math.log10(1 / R_Q_OHM), angle=0,
                                  pen=pg.mkPen((214, 39, 40), width=1),
                                  label="1/R_Q = 4e²/h",
                                  labelOpts={"position": 0.92, "color": (214, 39, 40)})
        self.plot.addItem(self.rq)
        self.energy_view = pg.ViewBox()
        self.plot.plotItem.showAxis("right")
        self.plot.plotItem.scene().addItem(self.energy_view)
        self.plot.plotItem.getAxis("right").linkToView(self.energy_view)
        self.plot.plotItem.getAxis("right").setLabel("E_a/k_B (K)")
        self.energy_view.setXLink(self.plot.plotItem)
        self.energy = pg.PlotDataItem(pen=pg.mkPen(COLORS["Ea"], width=1), symbol="o",
                                      symbolSize=6, symbolBrush=pg.mkBrush(COLORS["Ea"]),
                                      name="E_a/k_B (right axis)")
        self.energy_view.addItem(self.energy)
        self.plot.plotItem.legend.addItem(self.energy, "E_a/k_B (right axis)")
        self.plot.plotItem.vb.sigResized.connect(self._sync_views)
        _set_log_y(self.plot, True)
        self._user_range = False  # the user zoomed or panned: leave the field axis alone
        self.plot.plotItem.vb.sigRangeChangedManually.connect(self._zoomed_by_user)
        self.plot.plotItem.autoBtn.clicked.connect(self._auto_again)
        self.text = QtWidgets.QLabel("the summary grows as each field's sweep ends")
        self.text.setWordWrap(True)
        top = QtWidgets.QHBoxLayout()
        top.addWidget(QtWidgets.QLabel("channel:"))
        top.addWidget(self.channel_box)
        top.addStretch(1)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.text)
        self._drawn = None
        self._listed: list[str] = []

    def _zoomed_by_user(self, *_) -> None:
        self._user_range = True

    def _auto_again(self) -> None:
        self._user_range = False
        self.redraw(force=True)

    def _channel_chosen(self) -> None:
        name = self.channel_box.currentData()
        if name is not None and name != self.store.channel:
            self.store.channel = name
            self.store.version += 1
        self.redraw(force=True)

    def _update_channels(self) -> None:
        names = [c["name"] for c in self.store.channels if c["kind"] == "longitudinal"]
        if names == self._listed:
            return
        self._listed = names
        self.channel_box.blockSignals(True)
        self.channel_box.clear()
        for name in names:
            self.channel_box.addItem(name, name)
        self.channel_box.setCurrentIndex(max(self.channel_box.findData(self.store.channel), 0))
        self.channel_box.blockSignals(False)
        self.channel_box.setEnabled(len(names) > 1)

    def _sync_views(self) -> None:
        self.energy_view.setGeometry(self.plot.plotItem.vb.sceneBoundingRect())
        self.energy_view.linkedViewChanged(self.plot.plotItem.vb, self.energy_view.XAxis)

    def redraw(self, force: bool = False) -> None:
        self._update_channels()
        summary = self.store.summary
        if summary is self._drawn and not force:
            return
        self._drawn = summary
        if summary is None:
            for item in (self.ins, self.sc):
                item.setData([], [])
            self.energy.setData([], [])
            return
        ins = [r for r in summary.rows if r.fit.model == "eq1"]
        sc = [r for r in summary.rows if r.fit.model == "eq2" and _determined_rho_qf(r.fit)]
        off_axis = [r for r in summary.rows if r.fit.model == "eq2" and r not in sc]
        self.ins.setData([r.field_Oe for r in ins],
                         [math.log10(r.fit.values["sigma_qf"]) for r in ins])
        self.sc.setData([r.field_Oe for r in sc],
                        [math.log10(1 / r.fit.values["rho_qf"]) for r in sc])
        self.energy.setData([r.field_Oe for r in summary.rows],
                            [r.fit.values["Ea_K"] for r in summary.rows])
        self._show_every_field([r.field_Oe for r in summary.rows])
        parts = []
        for name, law in (("σ_QF", summary.insulating), ("1/ρ_QF", summary.superconducting)):
            if law is not None:
                parts.append(f"{name} ∝ H^({law.exponent:.3g} ± {law.exponent_err:.2g})")
        if math.isfinite(summary.H_star_Oe):
            parts.append(f"H* ≈ {summary.H_star_Oe:.0f} Oe")
        if off_axis:
            fields = ", ".join(f"{r.field_Oe:g}" for r in off_axis)
            parts.append(f"{fields} Oe: ρ_QF = 0 within its error (superconducting), so 1/ρ_QF "
                         "is off the log axis; E_a is shown")
        self.text.setText("; ".join(parts) or f"{len(summary.rows)} field(s) fitted")

    def _show_every_field(self, fields: list[float]) -> None:
        """x from the lowest field (0 Oe at the latest) to the highest, unless the user zoomed."""
        if self._user_range or not fields:
            return
        low, high = min(min(fields), 0.0), max(fields)
        pad = max(FIELD_PAD * (high - low), 10.0)
        self.plot.plotItem.vb.setXRange(low - pad, high + pad, padding=0)


def _determined_rho_qf(fit) -> bool:
    """ρ_QF > 0 and known to better than its own size: drawable as 1/ρ_QF on a log axis."""
    value, error = fit.values["rho_qf"], fit.stderr["rho_qf"]
    return value > 0 and math.isfinite(error) and error < value
