"""The cooldown GUI, offscreen, clicked through its real widgets (pytest-qt), read back from
what the widgets show: texts, axis ranges and tick labels, enabled states, the table's row."""

import math
import re
import signal
import subprocess
import sys

import numpy as np
import pytest

from cryolab.analysis.fit import Choice, FitResult, fit
from cryolab.analysis.summary import FieldResult, summarize
from cryolab.events import (
    Alarm,
    FitUpdated,
    HeatingFound,
    Note,
    RunStarted,
    StepStarted,
    SummaryUpdated,
)
from cryolab.gui.app import install_signal_handlers
from cryolab.gui.qt import QtCore, QtWidgets
from cryolab.gui.window import MainWindow
from cryolab.gui.worker import InstrumentWorker
from cryolab.measurement import ChannelReading, Point
from cryolab.models import rho_eq2
from cryolab.runfile import RunFile
from cryolab.runfile.schema import point_dtype, point_row
from cryolab.sequence import PlannedStep, RampTemperature, SetField
from cryolab.session import Bench, Session, validate
from cryolab.station import load_station

RAMP = """
name: gui test
steps:
  - set_excitation: {current_nA: 0.5}
  - set_field: {field_Oe: 400, rate_Oe_per_s: 10}
  - ramp_temperature: {from_K: 0.07, to_K: 0.6}
"""
TWO_FIELDS = ("steps:\n  - set_excitation: {current_nA: 0.5}\n  - field_sweep:\n"
              "      fields_Oe: [100, 450]\n      ramp: {from_K: 0.07, to_K: 0.4}\n")
NANOAMPS = re.compile(r"^\d\.\d{3} nA$")  # the one current format: "0.500 nA"


def make_gui(qtbot, tmp_path, speed, station=None):
    bench = Bench(load_station(station), True, speed, lab_options={"banner_delay_s": 0.0})
    worker = InstrumentWorker(bench, tmp_path / "runs")
    window = MainWindow(worker, str(station) if station else None, True, speed)
    window.show()  # closed by the gui fixture (not qtbot.addWidget: see there)
    return window


@pytest.fixture
def gui(qtbot, tmp_path, monkeypatch):
    # A modal question offscreen would wait forever: unless a test says otherwise, answer
    # "yes". The fixture closes its windows itself, after the run is aborted, because
    # pytest-qt's own close-and-delete would destroy a window whose close a test refused.
    monkeypatch.setattr(QtWidgets.QMessageBox, "question",
                        lambda *a, **k: QtWidgets.QMessageBox.Yes)
    windows = []

    def factory(speed=600.0, station=None):
        window = make_gui(qtbot, tmp_path, speed, station)
        windows.append(window)
        return window

    yield factory
    monkeypatch.setattr(QtWidgets.QMessageBox, "question",
                        lambda *a, **k: QtWidgets.QMessageBox.Yes)
    for window in windows:
        window.close()
        window.worker.close()
        window.worker.bench.close()


@pytest.fixture
def review(qtbot):
    """A window with no instruments at all, as `cryolab gui --open RUN.h5` alone makes."""
    windows = []

    def factory():
        window = MainWindow(None, None, False, 1.0)
        window.show()
        windows.append(window)
        return window

    yield factory
    for window in windows:
        window.close()


@pytest.fixture(scope="module")
def run_file(tmp_path_factory):
    """A completed simulated run of two fields (100 Oe: superconducting side, 450 Oe:
    insulating side), made once for the tests that review it."""
    folder = tmp_path_factory.mktemp("review")
    seq = folder / "two.yaml"
    seq.write_text(TWO_FIELDS)
    session = Session(validate(seq, None, True, math.inf), folder / "review.h5",
                      lab_options={"banner_delay_s": 0.0})
    try:
        session.run()
    finally:
        session.close()
    return folder / "review.h5"


def load(window, tmp_path, text):
    path = tmp_path / "seq.yaml"
    path.write_text(text)
    window.sequence.path.setText(str(path))
    window.sequence.validate_button.click()
    return path


def click(qtbot, button):
    assert button.isEnabled()
    qtbot.mouseClick(button, QtCore.Qt.LeftButton)


def settle(window):
    """Let the window draw what the store holds (the timer's work, done now)."""
    window.refresh()
    QtWidgets.QApplication.processEvents()


def _ramp_points(n: int, rho=lambda T: 2e4 / T, channels: int = 1) -> list[Point]:
    """n points of a 1 K → 0.1 K ramp, every 10th excluded (a thermal mismatch)."""
    points = []
    for i in range(n):
        T = 1.0 - 0.9 * i / n
        flags = int(i % 10 == 0)
        readings = tuple(ChannelReading(0.0, 0.0, 2 * rho(T), rho(T) / (1 + 99 * c), 5e-10,
                                        7.0, 1.0, 1e-3, flags, flags == 0)
                         for c in range(channels))
        points.append(Point(0, 1.8e9 + 3.0 * i, T, T, 0.0, 400.0, 0.0, flags, readings))
    return points


def _start(window, plan, channels=None, first=0):
    meta = {"channels": channels} if channels else {}
    window.store.apply([RunStarted(1.8e9, plan, first, meta), StepStarted(1.8e9, plan[first])])


def _result(model, values, errors, T=(0.05, 1.0), n=200, chi2=1.1) -> FitResult:
    return FitResult(model, values, errors, chi2, n, T[0], T[1])


# ---------------------------------------------------------------------------- runs


def test_a_run_started_from_the_gui_shows_points_arriving(gui, qtbot, tmp_path):
    window = gui(speed=600.0)
    load(window, tmp_path, RAMP)
    assert window.sequence.plan.rowCount() == 3
    click(qtbot, window.sequence.start)
    qtbot.waitUntil(lambda: window.store.current_step == 2 and
                    len(window.store.step_points(2)) > 30, timeout=60_000)
    x, y = window.rho_plot.valid.getData()
    assert x is not None and len(x) > 30  # the ρ(T) plot shows the ramp's points
    rho = window.store.step_points(2)["xx_rho_ohm_sq"]
    assert (rho > 1e4).all()  # S1 at 400 Oe: ρ ≈ 13–16 kΩ/□ ...
    assert (y[np.isfinite(y)] > 4).all()  # ... and drawn on log ρ (pyqtgraph returns log10)
    assert window.readings.labels["T_mc"].text() != "—"
    assert window.readings.labels["field"].text() == "400.0 Oe"
    assert NANOAMPS.match(window.readings.cell("current", "xx").text())
    assert "ends about" in window.status.end.text() and "local time" in window.status.end.text()
    qtbot.waitUntil(lambda: window.store.state == "completed", timeout=60_000)
    qtbot.waitUntil(lambda: not window.worker.running, timeout=30_000)
    qtbot.waitUntil(lambda: 2 in window.store.fits, timeout=30_000)
    settle(window)
    assert window.rho_plot.fit.getData()[0] is not None  # the live fit is drawn
    label = window.rho_plot.fit_label.text()
    assert label.startswith("eq1 (Eq. 1, insulating side), decided")  # 400 Oe on S1
    assert "S/□" in label and "E_a/k_B = " in label and " K" in label  # values with units
    assert window.sequence.progress.value() == 1000
    (path,) = (tmp_path / "runs").glob("*.h5")
    with RunFile(path) as run:
        assert run.status == "completed"
    assert window.sequence.start.isEnabled()  # ready for another run
    assert not window.sequence.abort.isEnabled()


def test_pause_resume_and_abort_do_what_they_say(gui, qtbot, tmp_path, monkeypatch):
    window = gui(speed=200.0)
    load(window, tmp_path, RAMP)
    click(qtbot, window.sequence.start)
    qtbot.waitUntil(lambda: window.store.points.n > 10, timeout=60_000)
    click(qtbot, window.sequence.pause)
    qtbot.waitUntil(lambda: window.store.state == "paused", timeout=30_000)
    assert window.sequence.resume.isEnabled() and not window.sequence.pause.isEnabled()
    count = window.store.points.n
    clock = window.worker.bench.clock
    paused_at = clock.now()
    # 300 simulated seconds on the run's clock: no point may arrive while paused
    qtbot.waitUntil(lambda: clock.now() > paused_at + 300, timeout=60_000)
    assert window.store.points.n == count
    click(qtbot, window.sequence.resume)
    qtbot.waitUntil(lambda: window.store.points.n > count + 5, timeout=60_000)
    asked = []
    monkeypatch.setattr(QtWidgets.QMessageBox, "question",
                        lambda *a, **k: asked.append(a) or QtWidgets.QMessageBox.Yes)
    click(qtbot, window.sequence.abort)
    assert asked  # abort asks first
    qtbot.waitUntil(lambda: window.store.state == "aborted", timeout=60_000)
    qtbot.waitUntil(lambda: not window.worker.running, timeout=30_000)
    world = window.worker.bench.lab.world
    assert world.fridge.heater.range_index == 0  # the safe state: heater off ...
    assert world.lockin.amplitude_V == pytest.approx(0.1, abs=0.002)  # ... 0.1 nA
    (path,) = (tmp_path / "runs").glob("*.h5")
    with RunFile(path) as run:
        assert run.status == "aborted"
        texts = [e["text"] for e in run.events()]
        assert any(t.startswith("paused") for t in texts) and "resumed" in texts


def test_abort_can_be_cancelled(gui, qtbot, tmp_path, monkeypatch):
    window = gui(speed=100.0)
    load(window, tmp_path, RAMP)
    click(qtbot, window.sequence.start)
    qtbot.waitUntil(lambda: window.store.points.n > 3, timeout=60_000)
    monkeypatch.setattr(QtWidgets.QMessageBox, "question",
                        lambda *a, **k: QtWidgets.QMessageBox.No)
    count = window.store.points.n
    click(qtbot, window.sequence.abort)
    assert window.worker.running and window.store.state == "running"
    qtbot.waitUntil(lambda: window.store.points.n > count + 3, timeout=60_000)  # goes on
    assert window.worker.running and window.store.state == "running"


def test_abort_is_enabled_only_while_a_run_is_under_way(gui, qtbot, tmp_path):
    window = gui(speed=300.0)
    abort = window.sequence.abort
    assert not abort.isEnabled()  # idle
    assert ":enabled" in abort.styleSheet()  # red only when it can be pressed
    load(window, tmp_path, RAMP)
    assert not abort.isEnabled() and window.sequence.start.isEnabled()  # validated, idle
    click(qtbot, window.sequence.start)
    assert not abort.isEnabled()  # asked for, not under way yet: nothing to abort
    qtbot.waitUntil(lambda: window.worker.running and abort.isEnabled(), timeout=60_000)
    window.worker.abort("test")
    qtbot.waitUntil(lambda: not window.worker.running, timeout=60_000)
    settle(window)
    assert not abort.isEnabled() and window.store.state == "aborted"


def test_an_invalid_sequence_shows_every_error_wrapped_and_cannot_be_started(gui, qtbot,
                                                                            tmp_path):
    window = gui()
    load(window, tmp_path, "steps:\n  - set_field: {field_Oe: 900}\n"
                           "  - set_excitation: {current_nA: 0.5, frequency: 3}\n")
    errors = window.sequence.errors
    text = errors.text()
    expected = "steps[0].set_field.field_Oe: 900 Oe is beyond the magnet limit of ±600 Oe " \
               "(station: limits.max_field_Oe)"
    assert expected in text  # whole, to its last word
    assert "steps[1].set_excitation.frequency: unknown key" in text
    assert window.sequence.errors_area.isVisible() and errors.wordWrap()
    settle(window)
    # wrapped inside the panel, not cut at its edge: narrower than the area, several lines
    assert errors.width() <= window.sequence.errors_area.viewport().width()
    lines = errors.height() / errors.fontMetrics().lineSpacing()
    assert lines >= 3
    assert not window.sequence.start.isEnabled()
    load(window, tmp_path, RAMP)  # fixing the file makes it startable
    assert window.sequence.start.isEnabled() and not window.sequence.errors_area.isVisible()


def test_a_sequence_with_fields_in_tesla_is_startable_with_a_warning(gui, tmp_path):
    window = gui()
    load(window, tmp_path, "steps:\n  - field_sweep:\n      fields_Oe: [0.01, 0.045]\n"
                           "      measure_points: 5\n")
    assert window.sequence.start.isEnabled()
    assert "tesla typed as Oe?" in window.sequence.errors.text()
    assert window.sequence.errors_area.isVisible()


# ---------------------------------------------------------------------------- layout


def test_log_lines_carry_lab_and_wall_time_and_the_newest_stays_in_view(gui, qtbot, tmp_path):
    window = gui(speed=600.0)
    load(window, tmp_path, RAMP)
    click(qtbot, window.sequence.start)
    qtbot.waitUntil(lambda: window.store.current_step == 2, timeout=60_000)
    settle(window)
    lines = window.log_view.toPlainText().splitlines()
    step = next(line for line in lines if "step 2/3: field to 400 Oe" in line)
    # 600× faster than the wall: the run's clock and the wall clock both, and they differ
    stamp = re.match(r"lab (\d\d:\d\d:\d\d) · wall (\d\d:\d\d:\d\d) step 2/3", step)
    assert stamp and stamp.group(1) != stamp.group(2), step
    for i in range(300):  # many lines: the newest stays in view
        window.store.note("info", f"line {i}")
    window.store.version += 1
    settle(window)
    bar = window.log_view.verticalScrollBar()
    assert bar.maximum() > 0 and bar.value() == bar.maximum()


def test_the_plan_table_follows_the_current_step(gui):
    window = gui()
    plan = [PlannedStep(i, SetField(field_Oe=10.0 * i) if i % 2 else
                        RampTemperature(from_K=0.06, to_K=1.0), 600.0) for i in range(29)]
    _start(window, plan, first=20)
    settle(window)
    table = window.sequence.plan
    assert table.currentRow() == 20
    assert table.item(20, 0).text() == "21"
    assert table.item(20, 1).font().bold()
    cell = table.visualItemRect(table.item(20, 1))
    assert table.viewport().rect().contains(cell)  # scrolled to, not left at steps 1–12
    window.store.apply([StepStarted(1.8e9 + 600, plan[27])])
    settle(window)
    assert table.currentRow() == 27
    assert table.viewport().rect().contains(table.visualItemRect(table.item(27, 1)))


def test_manual_controls_are_labelled(gui):
    manual = gui().manual
    for key, box in (("field", manual.field), ("field_rate", manual.field_rate),
                     ("current", manual.current), ("frequency", manual.frequency),
                     ("setpoint", manual.setpoint)):
        label = manual.captions[key]
        assert label.buddy() is box and label.isVisible() and label.text().strip("&")
    assert manual.current.text() == "0.500 nA"  # the same current format as the readings


def test_manual_controls_pass_the_same_limit_checks(gui, qtbot):
    window = gui()
    received = window.worker.bench.lab.servers["magnet"].received
    window.manual.field.setValue(900.0)
    click(qtbot, window.manual.apply_field)
    qtbot.waitUntil(lambda: "refused" in window.manual.message.text(), timeout=10_000)
    assert "900 Oe is beyond the magnet limit of ±600 Oe (station: limits.max_field_Oe)" in \
        window.manual.message.text()
    assert not any("TARG" in line for _, line in received)  # nothing reached the magnet
    window.manual.current.setValue(3.0)
    click(qtbot, window.manual.apply_excitation)
    qtbot.waitUntil(lambda: "bias limits" in window.manual.message.text(), timeout=10_000)
    window.manual.setpoint.setValue(3.0)
    click(qtbot, window.manual.apply_setpoint)
    qtbot.waitUntil(lambda: "limits.temperature_K" in window.manual.message.text(),
                    timeout=10_000)
    window.manual.field.setValue(100.0)
    click(qtbot, window.manual.apply_field)
    qtbot.waitUntil(lambda: window.manual.message.text().startswith("field to 100"),
                    timeout=10_000)
    assert any(line == "CONF:FIELD:TARG 0.01" for _, line in received)


def test_idle_readings_show_the_current_in_nA_and_the_heater_with_its_power(gui, qtbot):
    window = gui()
    cell = window.readings.cell("current", "xx")
    qtbot.waitUntil(lambda: cell.text() != "—", timeout=30_000)  # the first idle reading
    assert NANOAMPS.match(cell.text())  # e.g. "1.000 nA": the twin's 1 V through 1 GΩ
    # range 7 is 31.6 mA full scale; 4 % of it is 1.264 mA; into 120 Ω that is 192 µW
    # as a run's status event would set it (called directly: the idle readings, arriving on
    # the worker's own thread, would race an event queued here)
    window.readings.show_status("holding", 4.0, 7)
    assert window.readings.labels["heater"].text() == "range 7 (31.6 mA): 4.0 % = 1.26 mA, " \
                                                      "192 µW"


def test_thermal_equilibrium_is_always_shown(gui):
    window = gui()
    planned = PlannedStep(0, RampTemperature(from_K=1.0, to_K=0.1), 3000.0)
    _start(window, [planned])
    in_equilibrium = _ramp_points(5)[1:5]  # flags 0: T_sample = T_MC
    window.store.apply(in_equilibrium)
    settle(window)
    text = window.status.equilibrium.text()
    assert text.startswith("thermal equilibrium: yes (T_sample/T_MC − 1 = +0.0%, limit ±10%")
    hot = [p._replace(T_sample_K=1.3 * p.T_mc_K, flags=1) for p in _ramp_points(12)]
    window.store.apply(hot)
    for tab in range(window.plots.count()):  # whatever tab is open
        window.plots.setCurrentIndex(tab)
        settle(window)
        assert window.status.isVisible() and window.status.equilibrium.isVisible()
        assert window.status.equilibrium.text().startswith(
            "thermal equilibrium: NO for 12 points (T_sample/T_MC − 1 = +30.0%")


def test_alarms_come_from_typed_events_not_words_in_messages(gui):
    window = gui()
    window.store.apply([Note(1.8e9, 0, "error", "the magnet quenched (a word in a note)")])
    settle(window)
    assert not window.banner.isVisible()
    window.store.apply([Alarm(1.8e9, 0, "quench", "the magnet quenched at 412 Oe")])
    settle(window)
    assert window.banner.isVisible() and window.banner.kind == "quench"
    assert window.banner.label.text().startswith("⚠ MAGNET QUENCH: the magnet quenched")
    window.store.apply([Alarm(1.8e9, 0, "instrument_down", "bridge not answering"),
                        Alarm(1.8e9, 0, "instrument_back", "bridge answers again")])
    settle(window)
    assert "instrument_down" not in window.store.alarms
    # a linearity check that finds self-heating: a typed event, a warning on the banner
    window.store.alarms.clear()
    window.store.apply([HeatingFound(1.8e9, 4, "lockin", ("xx",), 2.5e-15, 0.08,
                                     "ρ(xx) differs by 3 % at 1 nA")])
    settle(window)
    assert window.banner.isVisible() and window.banner.kind == "heating"
    assert window.banner.label.text().startswith("⚠ SELF-HEATING: self-heating on xx")


# ---------------------------------------------------------------------------- plots


def test_the_rho_axis_follows_the_data_not_a_fit_diving_to_zero(gui):
    """At 0 Oe an Eq. 2 fit with ρ_QF → 0 goes to 10⁻¹⁵ Ω/□ at its cold end: the axis stays
    on the data."""
    window = gui()
    planned = PlannedStep(0, RampTemperature(from_K=1.0, to_K=0.1), 3000.0)
    _start(window, [planned])
    points = _ramp_points(300, rho=lambda T: rho_eq2(T, 0.0, 4e4, 0.5))
    window.store.apply(points)
    best = _result("eq2", {"rho_qf": 1e-15, "rho_0": 4e4, "Ea_K": 0.5},
                   {"rho_qf": 1e-16, "rho_0": 40.0, "Ea_K": 0.001}, T=(0.02, 1.0))
    window.store.apply([FitUpdated(0, 0.0, False, Choice("eq2", True, "", {"eq2": best},
                                                         1.0, 0.1))])
    settle(window)
    fit_y = window.rho_plot.fit.getData()[1]
    assert np.nanmin(fit_y) < -5  # the curve itself reaches 10⁻⁵ Ω/□ and below ...
    low, high = window.rho_plot.plot.plotItem.vb.viewRange()[1]
    data = np.log10([p.channels[0].rho_ohm_sq for p in points])
    assert low > data.min() - 0.3 and high < data.max() + 0.3  # ... the axis does not


def test_a_log_axis_spanning_less_than_a_decade_has_labelled_ticks(gui):
    window = gui()
    planned = PlannedStep(0, RampTemperature(from_K=1.0, to_K=0.1), 3000.0)
    _start(window, [planned])
    window.store.apply(_ramp_points(200, rho=lambda T: 1.5e4 + 1e4 * T))  # 15.9–25 kΩ/□
    settle(window)
    axis = window.rho_plot.plot.getAxis("left")
    low, high = axis.range
    assert high - low < 1  # less than a decade on screen
    labels = [text for spacing, values in axis.tickValues(low, high, axis.height())
              for text in axis.tickStrings(values, 1.0, spacing)]
    assert len(labels) >= 3 and all(labels)
    assert all(re.fullmatch(r"\d(\.\d+)?·10⁴", t) for t in labels), labels
    values = [float(t.split("·")[0]) * 1e4 for t in labels]
    assert all(10**low <= v <= 10**high for v in values)


def test_the_fit_line_says_decided_only_when_it_is_and_hides_a_first_look(gui):
    window = gui()
    planned = PlannedStep(0, RampTemperature(from_K=1.0, to_K=0.1), 3000.0)
    _start(window, [planned])
    window.store.apply(_ramp_points(100))
    label, curve = window.rho_plot.fit_label, window.rho_plot.fit
    # 20 s into a step: ρ_QF = 0 ± 2.8e4, E_a = 0.0009 ± 110 K, as the issue saw it
    early = _result("eq2", {"rho_qf": 0.0, "rho_0": 2e4, "Ea_K": 0.0009288},
                    {"rho_qf": 2.8e4, "rho_0": 1e3, "Ea_K": 110.0}, T=(0.9, 1.0), n=21)
    window.store.apply([FitUpdated(0, 400.0, False, Choice("eq2", True, "", {"eq2": early},
                                                           1.0, 0.1))])
    settle(window)
    assert label.text().startswith("first look, not a result yet (21 points, 0.9–1 K): ρ_QF, "
                                   "E_a/k_B not determined")
    assert "decided" not in label.text() and curve.getData()[0] is None
    T = np.linspace(0.1, 1.0, 100)
    good = fit(T, 1 / (2.3e-5 + 1e-4 * np.exp(-0.34 / T)), "eq1")
    window.store.apply([FitUpdated(0, 400.0, False, Choice("eq1", False, "cannot decide",
                                                           {"eq1": good}, 0.0, 1.0))])
    settle(window)
    assert label.text().startswith("eq1 (Eq. 1, insulating side), undecided (both models ")
    assert curve.getData()[0] is not None
    window.store.apply([FitUpdated(0, 400.0, True, Choice("eq1", True, "slope", {"eq1": good},
                                                          -1.0, 0.1))])
    settle(window)
    first, values = label.text().splitlines()
    assert first.startswith("eq1 (Eq. 1, insulating side), decided · χ²_red ")
    assert re.fullmatch(r"σ_QF = 2\.3e-05 ± \S+ S/□, σ_0 = 0\.0001 ± \S+ S/□, "
                        r"E_a/k_B = 0\.34 ± \S+ K", values), values


def _summary_row(field_Oe, model, values, errors):
    best = _result(model, values, errors)
    return FieldResult(field_Oe, Choice(model, True, "", {model: best}, 0.0, 1.0), [], [])


def test_the_field_summary_axis_is_readable_and_keeps_the_0_Oe_point(gui):
    window = gui()
    rows = [_summary_row(0.0, "eq2", {"rho_qf": 0.0, "rho_0": 1e4, "Ea_K": 1.5},
                         {"rho_qf": 30.0, "rho_0": 50.0, "Ea_K": 0.01}),
            _summary_row(50.0, "eq2", {"rho_qf": 2500.0, "rho_0": 1e4, "Ea_K": 1.4},
                         {"rho_qf": 20.0, "rho_0": 50.0, "Ea_K": 0.01})]
    window.store.apply([SummaryUpdated(summarize(rows), "xx")])
    window.plots.setCurrentWidget(window.summary_plot)
    settle(window)
    plot = window.summary_plot.plot
    low, high = plot.plotItem.vb.viewRange()[0]
    assert low < 0 < 50 < high and high - low < 200  # both fields, neither squeezed out
    left, bottom = plot.getAxis("left"), plot.getAxis("bottom")
    assert "(S/□)" in left.labelString() and "x1e" not in left.labelString()
    assert "H (Oe)" in bottom.labelString() and "x1e" not in bottom.labelString()
    ticks = [t for spacing, values in bottom.tickValues(low, high, bottom.width())
             for t in bottom.tickStrings(values, 1.0, spacing)]
    assert "0" in ticks and not any("10" in t and "·" in t for t in ticks)  # 50, not 5·10¹
    energy_x, _ = window.summary_plot.energy.getData()
    assert list(energy_x) == [0.0, 50.0]  # the 0 Oe field keeps its E_a point
    assert "0 Oe: ρ_QF = 0 within its error" in window.summary_plot.text.text()


def test_a_hall_bar_shows_rho_xx_and_rho_xy_side_by_side(gui, qtbot, tmp_path,
                                                          hall_bar_station):
    window = gui(speed=600.0, station=hall_bar_station)
    tab = window.rho_tab
    assert list(tab.plots) == ["xx", "xy"]
    assert window.readings.table.columnCount() == 2
    load(window, tmp_path, RAMP)
    click(qtbot, window.sequence.start)
    qtbot.waitUntil(lambda: window.store.current_step == 2 and
                    len(window.store.step_points(2)) > 20, timeout=60_000)
    settle(window)
    xx, xy = tab.plots["xx"], tab.plots["xy"]
    assert xx.isVisible() and xy.isVisible()
    assert xx.geometry().right() < xy.geometry().left()  # side by side
    assert xx.plot.getAxis("left").labelString().count("ρ_xx (Ω/□)") == 1
    assert xy.plot.getAxis("left").labelString().count("ρ_xy (Ω)") == 1
    x, y = xy.valid.getData()
    assert len(x) > 10 and np.nanmax(np.abs(y)) < 1e3  # ρ_xy: tens of Ω, on a linear axis
    assert np.nanmin(xx.valid.getData()[1]) > 3  # ρ_xx: above 1 kΩ/□, on a log axis
    for channel in ("xx", "xy"):  # every channel's reading, in the one current format
        assert NANOAMPS.match(window.readings.cell("current", channel).text())
        assert window.readings.cell("rho", channel).text() != "—"
    tab.channel_box.setCurrentIndex(tab.channel_box.findData("xy"))  # choose a channel
    settle(window)
    assert xy.isVisible() and not xx.isVisible()


def test_a_long_run_is_drawn_decimated_and_a_zoom_shows_the_raw_points(gui, qtbot):
    window = gui()
    planned = PlannedStep(0, RampTemperature(from_K=1.0, to_K=0.1), 3.0e5)
    _start(window, [planned])
    window.store.apply(_ramp_points(100_000))
    window.refresh()
    x, y = window.rho_plot.valid.getData()
    assert len(x) < 10_000  # 90 000 valid points drawn as an envelope of a few thousand
    assert x[-1] == pytest.approx(1.0 - 0.9 * 99_999 / 100_000)  # ending at the newest point
    window.rho_plot.plot.plotItem.vb.setXRange(0.5, 0.51, padding=0)  # the user zooms in
    window.refresh()
    x, y = window.rho_plot.valid.getData()
    shown = x[(x >= 0.5) & (x <= 0.51) & np.isfinite(y)]
    assert len(shown) == pytest.approx(1111 * 0.9, abs=3)  # every valid point in view, raw
    window.rho_plot.plot.plotItem.vb.setXRange(0.2, 0.8, padding=0)  # a wide zoom: reduced,
    window.refresh()                                                 # but no valid point lost
    x, y = window.rho_plot.valid.getData()
    rows = window.store.step_points(0)
    seen = rows[(rows["T_sample_K"] >= 0.2) & (rows["T_sample_K"] <= 0.8) & rows["xx_valid"]]
    assert len(x) < 10_000
    assert 10 ** np.nanmax(y) == pytest.approx(seen["xx_rho_ohm_sq"].max(), rel=1e-9)
    assert 10 ** np.nanmin(y) == pytest.approx(seen["xx_rho_ohm_sq"].min(), rel=1e-9)
    assert np.isfinite(y).sum() > 0.9 * len(y)  # the excluded points' gaps do not blank groups
    window.plots.setCurrentWidget(window.time_plot)
    window.time_plot.plot.plotItem.vb.setXRange(100.0, 110.0, padding=0)  # minutes 100–110
    window.refresh()
    x, _ = window.time_plot.T_mc.getData()
    assert np.sum((x >= 100) & (x <= 110)) == 201  # one point per 3 s, all of them


# ---------------------------------------------------------------------------- review


def test_reviewing_a_file_needs_no_instruments(review, run_file):
    window = review()
    assert window.worker is None and window.readings is None and window.manual is None
    assert window.open_run_file(str(run_file))
    settle(window)
    assert window.store.state == "review" and window.store.review_status == "completed"
    assert window.sequence.progress.value() == 1000  # a completed run reads 100 %
    for button in (window.sequence.start, window.sequence.pause, window.sequence.resume,
                   window.sequence.abort, window.sequence.validate_button):
        assert not button.isEnabled()
    assert window.status.state.text().startswith("<b>reviewing a completed run</b>")
    assert window.sequence.plan.rowCount() == 5
    tab = window.rho_tab
    tab.step_box.setCurrentIndex(tab.step_box.findData(2))
    x, _ = window.rho_plot.valid.getData()
    assert len(x) > 100
    assert window.rho_plot.fit_label.text().startswith("eq2 (Eq. 2, superconducting side)")
    window.plots.setCurrentWidget(window.summary_plot)
    settle(window)
    assert len(window.summary_plot.ins.data) == 1 and len(window.summary_plot.sc.data) == 1
    log = window.log_view.toPlainText().splitlines()
    assert log and all(re.match(r"lab \d\d:\d\d:\d\d · wall \d\d:\d\d:\d\d |"
                                r"\d\d:\d\d:\d\d ", line) for line in log if line[:1] != " ")


def test_gui_open_alone_reviews_with_no_station_and_no_simulation(run_file, tmp_path):
    png = tmp_path / "review.png"
    result = subprocess.run([sys.executable, "-m", "cryolab", "gui", "--open", str(run_file),
                             "--screenshot", str(png), "--exit-after", "1"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_foreign_file_is_refused_with_a_message(review, tmp_path, monkeypatch):
    window = review()
    shown = []
    monkeypatch.setattr(QtWidgets.QMessageBox, "warning", lambda *a: shown.append(a[2]))
    bad = tmp_path / "x.h5"
    bad.write_text("not hdf5")
    assert not window.open_run_file(str(bad))
    assert "not a readable HDF5 file" in shown[0]


def test_opening_a_second_run_file_replaces_the_first_on_the_plots(review):
    window = review()
    planned = PlannedStep(0, RampTemperature(from_K=1.0, to_K=0.1), 3.0e3)
    for rho in (100.0, 7.0):
        rows = np.array([point_row(p) for p in _ramp_points(500)], dtype=point_dtype(["xx"]))
        rows["xx_rho_ohm_sq"] = rho
        window.store.load_run(rows, np.zeros(len(rows), int), [planned], {}, {}, [])
        window.refresh()
        _, y = window.rho_plot.valid.getData()
        assert 10 ** np.nanmax(y) == pytest.approx(rho)


# ---------------------------------------------------------------------------- closing


def test_closing_during_a_run_asks_and_leaves_the_instruments_safe(gui, qtbot, tmp_path,
                                                                   monkeypatch):
    window = gui(speed=100.0)
    load(window, tmp_path, RAMP)
    click(qtbot, window.sequence.start)
    qtbot.waitUntil(lambda: window.store.points.n > 3, timeout=60_000)
    monkeypatch.setattr(QtWidgets.QMessageBox, "question",
                        lambda *a, **k: QtWidgets.QMessageBox.No)
    window.close()
    assert window.isVisible() and window.worker.running  # "no": the run goes on
    monkeypatch.setattr(QtWidgets.QMessageBox, "question",
                        lambda *a, **k: QtWidgets.QMessageBox.Yes)
    window.close()
    assert not window.isVisible() and not window.worker.running
    assert window.worker.bench.lab.world.fridge.heater.range_index == 0
    (path,) = (tmp_path / "runs").glob("*.h5")
    with RunFile(path) as run:
        assert run.status == "aborted"
        assert run.attrs["end_reason"] == "the window was closed during the run"


def test_ctrl_c_aborts_the_run_safely_and_closes_without_a_dialog(gui, qtbot, tmp_path,
                                                                  monkeypatch):
    window = gui(speed=100.0)
    load(window, tmp_path, RAMP)
    click(qtbot, window.sequence.start)
    qtbot.waitUntil(lambda: window.store.points.n > 3, timeout=60_000)

    def no_dialog(*args, **kwargs):
        raise AssertionError("a signal must not open a dialog")

    monkeypatch.setattr(QtWidgets.QMessageBox, "question", no_dialog)
    previous = install_signal_handlers(window)
    try:
        signal.raise_signal(signal.SIGINT)  # what Ctrl-C in the terminal sends
        qtbot.waitUntil(lambda: not window.isVisible(), timeout=60_000)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    assert not window.worker.running
    assert window.worker.bench.lab.world.fridge.heater.range_index == 0  # the safe state
    (path,) = (tmp_path / "runs").glob("*.h5")
    with RunFile(path) as run:
        assert run.status == "aborted"
        assert run.attrs["end_reason"] == "interrupted by SIGINT"


def test_screenshot_saves_the_window_and_exits(tmp_path):
    png = tmp_path / "gui.png"
    result = subprocess.run([sys.executable, "-m", "cryolab", "gui", "--sim", "--sequence",
                             "sequences/linearity.yaml", "--screenshot", str(png),
                             "--exit-after", "2", "--out", str(tmp_path / "runs")],
                            capture_output=True, text=True, timeout=600)  # a hang, not a pace
    assert result.returncode == 0, result.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
