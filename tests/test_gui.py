"""The cooldown GUI, offscreen, clicked through its real widgets (pytest-qt)."""

import subprocess
import sys

import numpy as np
import pytest
from PyQt5 import QtCore, QtWidgets

from cryolab.events import RunStarted, StepStarted
from cryolab.gui.window import MainWindow
from cryolab.gui.worker import InstrumentWorker
from cryolab.measurement import ChannelReading, Point
from cryolab.runfile import RunFile
from cryolab.runfile.schema import point_dtype, point_row
from cryolab.sequence import PlannedStep, RampTemperature
from cryolab.session import Bench, Session, validate
from cryolab.station import load_station

RAMP = """
name: gui test
steps:
  - set_excitation: {current_nA: 0.5}
  - set_field: {field_Oe: 400, rate_Oe_per_s: 10}
  - ramp_temperature: {from_K: 0.07, to_K: 0.6}
"""


def make_gui(qtbot, tmp_path, speed):
    bench = Bench(load_station(), True, speed, lab_options={"banner_delay_s": 0.0})
    worker = InstrumentWorker(bench, tmp_path / "runs")
    window = MainWindow(worker, None, True, speed)
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

    def factory(speed=600.0):
        window = make_gui(qtbot, tmp_path, speed)
        windows.append(window)
        return window

    yield factory
    monkeypatch.setattr(QtWidgets.QMessageBox, "question",
                        lambda *a, **k: QtWidgets.QMessageBox.Yes)
    for window in windows:
        window.close()
        window.worker.close()
        window.worker.bench.close()


def load(window, tmp_path, text):
    path = tmp_path / "seq.yaml"
    path.write_text(text)
    window.sequence.path.setText(str(path))
    window.sequence.validate_button.click()
    return path


def click(qtbot, button):
    assert button.isEnabled()
    qtbot.mouseClick(button, QtCore.Qt.LeftButton)


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
    qtbot.waitUntil(lambda: window.store.state == "completed", timeout=60_000)
    qtbot.waitUntil(lambda: not window.worker.running, timeout=30_000)
    qtbot.waitUntil(lambda: 2 in window.store.fits, timeout=30_000)
    window.refresh()
    assert window.rho_plot.fit.getData()[0] is not None  # the live fit is drawn
    assert "eq1" in window.rho_plot.fit_label.text()  # 400 Oe on S1: insulating side
    assert window.sequence.progress.value() == 1000
    (path,) = (tmp_path / "runs").glob("*.h5")
    with RunFile(path) as run:
        assert run.status == "completed"
    assert window.sequence.start.isEnabled()  # ready for another run


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


def test_an_invalid_sequence_shows_its_errors_and_cannot_be_started(gui, qtbot, tmp_path):
    window = gui()
    load(window, tmp_path, "steps:\n  - set_field: {field_Oe: 900}\n"
                           "  - set_excitation: {current_nA: 0.5, frequency: 3}\n")
    errors = [window.sequence.errors.item(i).text()
              for i in range(window.sequence.errors.count())]
    assert any("steps[0].set_field.field_Oe: 900 Oe is beyond the magnet limit" in e
               for e in errors)
    assert any("steps[1].set_excitation.frequency: unknown key" in e for e in errors)
    assert window.sequence.errors.isVisible()
    assert not window.sequence.start.isEnabled()
    load(window, tmp_path, RAMP)  # fixing the file makes it startable
    assert window.sequence.start.isEnabled() and not window.sequence.errors.isVisible()


def test_opening_a_run_file_shows_its_data_and_fits(gui, qtbot, tmp_path):
    seq = tmp_path / "two.yaml"
    seq.write_text("steps:\n  - set_excitation: {current_nA: 0.5}\n  - field_sweep:\n"
                   "      fields_Oe: [100, 450]\n      ramp: {from_K: 0.07, to_K: 0.4}\n")
    import math

    session = Session(validate(seq, None, True, math.inf), tmp_path / "review.h5",
                      lab_options={"banner_delay_s": 0.0})
    try:
        session.run()
    finally:
        session.close()
    window = gui()
    assert window.open_run_file(str(tmp_path / "review.h5"))
    assert window.store.state == "review"
    assert window.sequence.plan.rowCount() == 5
    ramp = window.rho_plot.step_box.findData(2)
    window.rho_plot.step_box.setCurrentIndex(ramp)
    x, _ = window.rho_plot.valid.getData()
    assert len(x) > 100
    assert "eq2" in window.rho_plot.fit_label.text()  # 100 Oe: superconducting side
    window.plots.setCurrentWidget(window.summary_plot)
    window.refresh()
    assert len(window.summary_plot.ins.data) == 1 and len(window.summary_plot.sc.data) == 1
    assert window.log_view.toPlainText()


def test_a_foreign_file_is_refused_with_a_message(gui, tmp_path, monkeypatch):
    window = gui()
    shown = []
    monkeypatch.setattr(QtWidgets.QMessageBox, "warning", lambda *a: shown.append(a[2]))
    bad = tmp_path / "x.h5"
    bad.write_text("not hdf5")
    assert not window.open_run_file(str(bad))
    assert "not a readable HDF5 file" in shown[0]


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


def test_screenshot_saves_the_window_and_exits(tmp_path):
    png = tmp_path / "gui.png"
    result = subprocess.run([sys.executable, "-m", "cryolab", "gui", "--sim", "--sequence",
                             "sequences/linearity.yaml", "--screenshot", str(png),
                             "--exit-after", "2", "--out", str(tmp_path / "runs")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000


def _ramp_points(n: int) -> list[Point]:
    """n points of a 1 K → 0.1 K ramp on one channel, every 10th excluded."""
    points = []
    for i in range(n):
        T = 1.0 - 0.9 * i / n
        flags = int(i % 10 == 0)
        reading = ChannelReading(0.0, 0.0, 2e4 / T, 1e4 / T, 0.0, 0.0, 0.0, 0.0, flags,
                                 flags == 0)
        points.append(Point(0, 1.8e9 + 3.0 * i, T, T, 0.0, 400.0, 0.0, flags, (reading,)))
    return points


def test_a_long_run_is_drawn_decimated_and_a_zoom_shows_the_raw_points(gui, qtbot):
    window = gui()
    planned = PlannedStep(0, RampTemperature(from_K=1.0, to_K=0.1), 3.0e5)
    window.store.apply([RunStarted(1.8e9, [planned], 0), StepStarted(1.8e9, planned),
                        *_ramp_points(100_000)])
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
    window.time_plot.plot.plotItem.vb.setXRange(100.0, 110.0, padding=0)  # minutes 100–110
    window.refresh()
    x, _ = window.time_plot.T_mc.getData()
    assert np.sum((x >= 100) & (x <= 110)) == 201  # one point per 3 s, all of them


def test_opening_a_second_run_file_replaces_the_first_on_the_plots(gui):
    window = gui()
    planned = PlannedStep(0, RampTemperature(from_K=1.0, to_K=0.1), 3.0e3)
    for rho in (100.0, 7.0):
        rows = np.array([point_row(p) for p in _ramp_points(500)], dtype=point_dtype(["xx"]))
        rows["xx_rho_ohm_sq"] = rho
        window.store.load_run(rows, np.zeros(len(rows), int), [planned], {}, None, [])
        window.refresh()
        _, y = window.rho_plot.valid.getData()
        assert 10 ** np.nanmax(y) == pytest.approx(rho)
