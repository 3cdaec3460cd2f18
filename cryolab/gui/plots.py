"""The GUI's plots (pyqtgraph): ρ(T) with the live fit, temperatures and field against time,
and the field summary. They redraw from the data store on the window's timer, never per point.

Live curves are drawn from incrementally kept min/max envelopes (cryolab.gui.decimate), so a
repaint costs the same at 10⁶ points as at a few thousand and the line always ends at the
newest point; the newest point also has its own marker. When the user zooms in (x auto-range
off), the points in view are taken from the raw data instead, and reduced the same way when
there are more than a few thousand of them.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PyQt5 import QtWidgets

from cryolab.gui.decimate import LiveEnvelope, reduce_to
from cryolab.gui.store import DataStore
from cryolab.units import R_Q_OHM

pg.setConfigOptions(antialias=False, background="w", foreground="k")

COLORS = {"valid": (31, 119, 180), "excluded": (160, 160, 160, 90), "fit": (214, 39, 40),
          "T_mc": (31, 119, 180), "T_s": (255, 127, 14), "field": (44, 160, 44),
          "newest": (214, 39, 40), "ins": (31, 119, 180), "sc": (44, 160, 44),
          "Ea": (0, 0, 0)}


#: fixed room for the left axis's tick labels ("3·10⁴"): the plot does not shift as they change,
#: and labels show from the first paint (pyqtgraph otherwise widens the axis a frame late)
AXIS_WIDTH = 76


def _masked(y: np.ndarray, keep: np.ndarray, log: bool) -> np.ndarray:
    """y with the points not kept set to NaN (breaks the line), and ρ ≤ 0 hidden on log y."""
    return np.where(keep & (y > 0) if log else keep, y, np.nan)


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


class RhoTPlot(QtWidgets.QWidget):
    """ρ against T for one step: valid points, excluded points (faint), the fit, the newest."""

    def __init__(self, store: DataStore) -> None:
        super().__init__()
        self.store = store
        self.plot = pg.PlotWidget()
        self.plot.setLabel("bottom", "T_sample", units="K")
        self.plot.setLabel("left", "ρ (Ω/□)")
        self.plot.getAxis("left").setWidth(AXIS_WIDTH)
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.excluded = self.plot.plot(pen=pg.mkPen(COLORS["excluded"], width=1),
                                       connect="finite", name="excluded")
        self.valid = self.plot.plot(pen=pg.mkPen(COLORS["valid"], width=1.5),
                                    connect="finite", name="valid")
        self._curves = (LiveCurve(self.valid), LiveCurve(self.excluded))
        # (points store, step, points fed to the envelopes, log y) as drawn so far
        self._fed = (None, None, 0, None)
        self.fit = self.plot.plot(pen=pg.mkPen(COLORS["fit"], width=2, style=2), name="fit")
        self.newest = pg.ScatterPlotItem(size=9, brush=pg.mkBrush(COLORS["newest"]))
        self.plot.addItem(self.newest)
        self.fit_label = QtWidgets.QLabel("no fit yet")
        self.fit_label.setWordWrap(True)
        # two lines (model and quality; the values) from the start, so the plot does not jump
        self.fit_label.setMinimumHeight(2 * self.fit_label.fontMetrics().lineSpacing() + 4)
        self.step_box = QtWidgets.QComboBox()
        self.step_box.addItem("current step", None)
        self.log_y = QtWidgets.QCheckBox("log ρ")
        self.log_y.setChecked(True)
        self.log_x = QtWidgets.QCheckBox("log T")
        for box in (self.log_y, self.log_x):
            box.toggled.connect(self._axes_changed)
        self.step_box.currentIndexChanged.connect(lambda _: self.redraw(force=True))
        controls = QtWidgets.QHBoxLayout()
        controls.addWidget(QtWidgets.QLabel("step:"))
        controls.addWidget(self.step_box, 1)
        controls.addWidget(self.log_y)
        controls.addWidget(self.log_x)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(controls)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.fit_label)
        self._drawn_version = -1
        self._listed_plan: list | None = None  # the plan the step list was built from
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

    def redraw(self, force: bool = False) -> None:
        if not force and self.store.version == self._drawn_version:
            return
        self._drawn_version = self.store.version
        self._update_step_list()
        step = self.shown_step()
        points = self.store.step_points(step)
        log_y = self.log_y.isChecked()
        self._feed(step, points, log_y)
        zoomed = _x_zoomed(self.plot)
        for curve, keep in zip(self._curves, (True, False), strict=True):
            curve.draw(zoomed, lambda keep=keep: self._in_view(points, keep, log_y))
        rho_column = self.store.column("rho_ohm_sq")
        if len(points) and (points[rho_column][-1] > 0 or not log_y):
            self.newest.setData([_axis(points["T_sample_K"][-1], self.log_x.isChecked())],
                                [_axis(points[rho_column][-1], log_y)])
        else:
            self.newest.setData([], [])
        choice = self.store.fits.get(step) if step is not None else None
        if choice is None:
            self.fit.setData([], [])
            self.fit_label.setText("no fit yet" if len(points) else "")
            return
        best = choice.best
        grid = np.geomspace(best.T_min_K, best.T_max_K, 200)
        self.fit.setData(grid, best.rho(grid))
        values = ", ".join(f"{k} = {v:.4g} ± {best.stderr[k]:.2g}" for k, v in best.values.items())
        self.fit_label.setText(f"{best.model} ({'decided' if choice.decided else 'undecided'}), "
                               f"χ²_red {best.chi2_red:.3g}, {best.n_points} points\n{values}")


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
            T, rho = new["T_sample_K"], new[self.store.column("rho_ohm_sq")]
            valid = new[self.store.column("valid")]
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
        rho, ok = shown[self.store.column("rho_ohm_sq")], shown[self.store.column("valid")]
        return shown["T_sample_K"], _masked(rho, ok == valid, log_y)


def _axis(value: float, log: bool) -> float:
    """ScatterPlotItem coordinates are in the view's (log10) units when log mode is on."""
    return math.log10(value) if log and value > 0 else value


class TimePlot(QtWidgets.QWidget):
    """T_MC and T_sample (left, log by default) and the field (right) against run time."""

    COLUMNS = ("T_mc_K", "T_sample_K", "field_Oe")

    def __init__(self, store: DataStore) -> None:
        super().__init__()
        self.store = store
        self.plot = pg.PlotWidget()
        self.plot.setLabel("bottom", "time since start (min)")
        self.plot.setLabel("left", "T (K)")
        self.plot.getAxis("left").setWidth(AXIS_WIDTH)
        self.plot.showGrid(x=True, y=True, alpha=0.2)
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


class SummaryPlot(QtWidgets.QWidget):
    """σ_QF (Eq. 1) and 1/ρ_QF (Eq. 2) against H, log axis; E_a/k_B on the right; 1/R_Q."""

    def __init__(self, store: DataStore) -> None:
        super().__init__()
        self.store = store
        self.plot = pg.PlotWidget()
        self.plot.setLabel("bottom", "H (Oe)")
        self.plot.setLabel("left", "σ_QF or 1/ρ_QF (S/□)")
        self.plot.getAxis("left").setWidth(AXIS_WIDTH)
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.addLegend(offset=(10, 10))
        self.ins = pg.ScatterPlotItem(size=9, symbol="d", brush=pg.mkBrush(COLORS["ins"]),
                                      name="σ_QF (Eq. 1)")
        self.sc = pg.ScatterPlotItem(size=9, symbol="s", brush=pg.mkBrush(COLORS["sc"]),
                                     name="1/ρ_QF (Eq. 2)")
        self.plot.addItem(self.ins)
        self.plot.addItem(self.sc)
        self.rq = pg.InfiniteLine(pos=math.log10(1 / R_Q_OHM), angle=0,
                                  pen=pg.mkPen((214, 39, 40), width=1), label="1/R_Q",
                                  labelOpts={"position": 0.05})
        self.plot.addItem(self.rq)
        self.energy_view = pg.ViewBox()
        self.plot.plotItem.showAxis("right")
        self.plot.plotItem.scene().addItem(self.energy_view)
        self.plot.plotItem.getAxis("right").linkToView(self.energy_view)
        self.plot.plotItem.getAxis("right").setLabel("E_a/k_B (K)")
        self.energy_view.setXLink(self.plot.plotItem)
        self.energy = pg.PlotDataItem(pen=pg.mkPen(COLORS["Ea"], width=1), symbol="o",
                                      symbolSize=6, symbolBrush=pg.mkBrush(COLORS["Ea"]))
        self.energy_view.addItem(self.energy)
        self.plot.plotItem.vb.sigResized.connect(self._sync_views)
        _set_log_y(self.plot, True)
        self.text = QtWidgets.QLabel("the summary grows as each field's sweep ends")
        self.text.setWordWrap(True)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.text)
        self._drawn = None

    def _sync_views(self) -> None:
        self.energy_view.setGeometry(self.plot.plotItem.vb.sceneBoundingRect())
        self.energy_view.linkedViewChanged(self.plot.plotItem.vb, self.energy_view.XAxis)

    def redraw(self, force: bool = False) -> None:
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
        sc = [r for r in summary.rows if r.fit.model == "eq2" and r.fit.values["rho_qf"] > 0]
        self.ins.setData([r.field_Oe for r in ins],
                         [math.log10(r.fit.values["sigma_qf"]) for r in ins])
        self.sc.setData([r.field_Oe for r in sc],
                        [math.log10(1 / r.fit.values["rho_qf"]) for r in sc])
        self.energy.setData([r.field_Oe for r in summary.rows],
                            [r.fit.values["Ea_K"] for r in summary.rows])
        parts = []
        for name, law in (("σ_QF", summary.insulating), ("1/ρ_QF", summary.superconducting)):
            if law is not None:
                parts.append(f"{name} ∝ H^({law.exponent:.3g} ± {law.exponent_err:.2g})")
        if math.isfinite(summary.H_star_Oe):
            parts.append(f"H* ≈ {summary.H_star_Oe:.0f} Oe")
        self.text.setText("; ".join(parts) or f"{len(summary.rows)} field(s) fitted")
