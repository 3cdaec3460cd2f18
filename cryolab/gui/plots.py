"""The GUI's plots (pyqtgraph): ρ(T) with the live fit, temperatures and field against time,
and the field summary. They redraw from the data store on the window's timer, never per point.

Large curves are drawn with pyqtgraph's peak downsampling and clip-to-view; because peak
downsampling can leave the newest samples out of what is drawn, the newest point also has its
own marker, so it is always on screen.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PyQt5 import QtWidgets

from cryolab.gui.store import DataStore
from cryolab.units import R_Q_OHM

pg.setConfigOptions(antialias=False, background="w", foreground="k")

COLORS = {"valid": (31, 119, 180), "excluded": (160, 160, 160, 90), "fit": (214, 39, 40),
          "T_mc": (31, 119, 180), "T_s": (255, 127, 14), "field": (44, 160, 44),
          "newest": (214, 39, 40), "ins": (31, 119, 180), "sc": (44, 160, 44),
          "Ea": (0, 0, 0)}


def _fast(item: pg.PlotDataItem) -> pg.PlotDataItem:
    item.setDownsampling(auto=True, method="peak")
    item.setClipToView(True)
    return item


def _masked(x: np.ndarray, y: np.ndarray, keep: np.ndarray, log: bool) -> tuple:
    """x, y with the points not kept set to NaN (breaks the line), and ρ ≤ 0 hidden on log y."""
    y = np.where(keep & (~log | (y > 0)), y, np.nan)
    return x, y


class RhoTPlot(QtWidgets.QWidget):
    """ρ against T for one step: valid points, excluded points (faint), the fit, the newest."""

    def __init__(self, store: DataStore) -> None:
        super().__init__()
        self.store = store
        self.plot = pg.PlotWidget()
        self.plot.setLabel("bottom", "T_sample", units="K")
        self.plot.setLabel("left", "ρ (Ω/□)")
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.excluded = _fast(self.plot.plot(pen=pg.mkPen(COLORS["excluded"], width=1),
                                             connect="finite", name="excluded"))
        self.valid = _fast(self.plot.plot(pen=pg.mkPen(COLORS["valid"], width=1.5),
                                          connect="finite", name="valid"))
        self.fit = self.plot.plot(pen=pg.mkPen(COLORS["fit"], width=2, style=2), name="fit")
        self.newest = pg.ScatterPlotItem(size=9, brush=pg.mkBrush(COLORS["newest"]))
        self.plot.addItem(self.newest)
        self.fit_label = QtWidgets.QLabel("no fit yet")
        self.fit_label.setWordWrap(True)
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
        self._step_count = 0
        self._axes_changed()

    def _axes_changed(self) -> None:
        self.plot.setLogMode(x=self.log_x.isChecked(), y=self.log_y.isChecked())
        self.redraw(force=True)

    def shown_step(self) -> int | None:
        chosen = self.step_box.currentData()
        return self.store.current_step if chosen is None else chosen

    def _update_step_list(self) -> None:
        if len(self.store.plan) == self._step_count:
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
        self._step_count = len(self.store.plan)

    def redraw(self, force: bool = False) -> None:
        if not force and self.store.version == self._drawn_version:
            return
        self._drawn_version = self.store.version
        self._update_step_list()
        step = self.shown_step()
        points = self.store.step_points(step)
        log_y = self.log_y.isChecked()
        T, rho, valid = points["T_sample_K"], points["rho_ohm_sq"], points["valid"]
        self.valid.setData(*_masked(T, rho, valid, log_y))
        self.excluded.setData(*_masked(T, rho, ~valid, log_y))
        if len(points) and (rho[-1] > 0 or not log_y):
            self.newest.setData([_axis(T[-1], self.log_x.isChecked())],
                                [_axis(rho[-1], log_y)])
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
        self.fit_label.setText(f"{best.model} ({'decided' if choice.decided else 'undecided'}): "
                               f"{values}; χ²_red {best.chi2_red:.3g}, {best.n_points} points")


def _axis(value: float, log: bool) -> float:
    """ScatterPlotItem coordinates are in the view's (log10) units when log mode is on."""
    return math.log10(value) if log and value > 0 else value


class TimePlot(QtWidgets.QWidget):
    """T_MC and T_sample (left, log by default) and the field (right) against run time."""

    def __init__(self, store: DataStore) -> None:
        super().__init__()
        self.store = store
        self.plot = pg.PlotWidget()
        self.plot.setLabel("bottom", "time since start (min)")
        self.plot.setLabel("left", "T (K)")
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.addLegend(offset=(10, 10))
        self.T_mc = _fast(self.plot.plot(pen=pg.mkPen(COLORS["T_mc"], width=1.5), name="T_MC"))
        self.T_s = _fast(self.plot.plot(pen=pg.mkPen(COLORS["T_s"], width=1.5),
                                        name="T_sample"))
        self.field_view = pg.ViewBox()
        self.plot.plotItem.showAxis("right")
        self.plot.plotItem.scene().addItem(self.field_view)
        self.plot.plotItem.getAxis("right").linkToView(self.field_view)
        self.plot.plotItem.getAxis("right").setLabel("H (Oe)")
        self.field_view.setXLink(self.plot.plotItem)
        self.field = _fast(pg.PlotDataItem(pen=pg.mkPen(COLORS["field"], width=1.5)))
        self.field_view.addItem(self.field)
        self.plot.plotItem.vb.sigResized.connect(self._sync_views)
        self.newest = pg.ScatterPlotItem(size=8, brush=pg.mkBrush(COLORS["newest"]))
        self.plot.addItem(self.newest)
        self.log_T = QtWidgets.QCheckBox("log T")
        self.log_T.setChecked(True)
        self.log_T.toggled.connect(lambda on: (self.plot.setLogMode(y=on), self.redraw(True)))
        self.plot.setLogMode(y=True)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.log_T)
        layout.addWidget(self.plot, 1)
        self._drawn_version = -1

    def _sync_views(self) -> None:
        self.field_view.setGeometry(self.plot.plotItem.vb.sceneBoundingRect())
        self.field_view.linkedViewChanged(self.plot.plotItem.vb, self.field_view.XAxis)

    def redraw(self, force: bool = False) -> None:
        if not force and self.store.version == self._drawn_version:
            return
        self._drawn_version = self.store.version
        points = self.store.points.view
        if not len(points):
            for item in (self.T_mc, self.T_s, self.field):
                item.setData([], [])
            self.newest.setData([], [])
            return
        t0 = self.store.run_started if math.isfinite(self.store.run_started) else \
            points["time_s"][0]
        minutes = (points["time_s"] - t0) / 60.0
        self.T_mc.setData(minutes, points["T_mc_K"])
        self.T_s.setData(minutes, points["T_sample_K"])
        self.field.setData(minutes, points["field_Oe"])
        self.newest.setData([minutes[-1]], [_axis(points["T_mc_K"][-1], self.log_T.isChecked())])


class SummaryPlot(QtWidgets.QWidget):
    """σ_QF (Eq. 1) and 1/ρ_QF (Eq. 2) against H, log axis; E_a/k_B on the right; 1/R_Q."""

    def __init__(self, store: DataStore) -> None:
        super().__init__()
        self.store = store
        self.plot = pg.PlotWidget()
        self.plot.setLabel("bottom", "H (Oe)")
        self.plot.setLabel("left", "σ_QF or 1/ρ_QF (S/□)")
        self.plot.setLogMode(y=True)
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
