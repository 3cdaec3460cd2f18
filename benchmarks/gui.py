"""GUI frame time with 10⁴, 10⁵ and 10⁶ points on screen, offscreen, while points arrive.

The real main window (simulated bench, no run) is given N synthetic points of one slow
temperature ramp; then, frame by frame, 10 new points arrive through the worker's event queue
and the window does what its repaint timer does (``refresh``) followed by a synchronous
``repaint`` of the visible plot. A frame's time is refresh + repaint. Both the ρ(T) tab and
the temperatures-against-time tab are measured; the first frame after the N points are loaded
(it builds the plot's envelopes, as opening a run file does) is reported on its own. After
every frame the benchmark checks that the newest point is where the newest-point marker is and
where the line ends (``newest_missed`` counts frames where it is not).
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from pathlib import Path

import numpy as np

FRAMES = 60
POINTS_PER_FRAME = 10


def _points(start: int, n: int) -> list:
    """n points of a 1 K → 60 mK ramp at 400 Oe on S1-like ρ(T), one channel ``xx`` (values
    only need to be sane); every 17th point is excluded (flagged)."""
    from cryolab.measurement import ChannelReading, Point

    out = []
    for i in range(start, start + n):
        T = 1.0 - 0.94 * (i % 1_000_000) / 1_000_000
        rho = 1.0 / (2.3e-5 + 1.0e-4 * math.exp(-0.34 / T))
        flags = 0 if i % 17 else 1
        xx = ChannelReading(rho * 1e-9, -1e-8, 2 * rho, rho, 5e-10, 6.93, 1.0, 1e-6, flags,
                            flags == 0)
        out.append(Point(0, 1.8e9 + 3.0 * i, T * 0.99, T, 2e4, 400.0, T, 0, (xx,)))
    return out


def _frames(window, app, n_points: int) -> tuple[list[float], int]:
    times, missed = [], 0
    for frame in range(FRAMES):
        start = n_points + frame * POINTS_PER_FRAME
        window.worker.events.extend(_points(start, POINTS_PER_FRAME))
        t0 = time.perf_counter()
        window.refresh()
        window.plots.currentWidget().repaint()
        times.append(time.perf_counter() - t0)
        app.processEvents()
        newest = window.store.points.view[-1]
        missed += not _newest_shown(window, newest)
    return times, missed


def _newest_shown(window, newest) -> bool:
    """The visible plot's marker sits on the newest point, and its line ends there too."""
    plot = window.plots.currentWidget()
    if plot is window.rho_tab:
        plot = window.rho_plot
        want = (newest["T_sample_K"], math.log10(newest["xx_rho_ohm_sq"]))
        line = plot.valid if newest["xx_valid"] else plot.excluded
    else:
        want = ((newest["time_s"] - window.store.run_started) / 60.0,
                math.log10(newest["T_mc_K"]))
        line = plot.T_mc
    xs, ys = plot.newest.getData()
    lx, ly = line.getData()  # in the view's coordinates (log10 on a log axis)
    return (len(xs) == 1 and bool(np.allclose((xs[0], ys[0]), want, rtol=1e-9))
            and bool(np.allclose((lx[-1], ly[-1]), want, rtol=1e-9)))


def run(sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000)) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from cryolab.events import RunStarted, StepStarted
    from cryolab.gui.qt import QtWidgets
    from cryolab.gui.window import MainWindow
    from cryolab.gui.worker import InstrumentWorker
    from cryolab.sequence import PlannedStep, RampTemperature
    from cryolab.session import Bench
    from cryolab.station import load_station

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    figures: dict = {"frames": FRAMES, "points_per_frame": POINTS_PER_FRAME}
    with tempfile.TemporaryDirectory() as tmp:
        bench = Bench(load_station(), True, 1.0)
        worker = InstrumentWorker(bench, Path(tmp))
        window = MainWindow(worker, None, True, 1.0)
        window.timer.stop()  # the benchmark calls refresh itself, once per frame
        window.show()
        try:
            for n in sizes:
                planned = PlannedStep(0, RampTemperature(from_K=1.0, to_K=0.06), 3.0 * n)
                window.store.apply([RunStarted(1.8e9, [planned], 0,
                                               {"channels": [{"name": "xx",
                                                              "kind": "longitudinal"}]}),
                                    StepStarted(1.8e9, planned)])
                window.store.apply(_points(0, n))
                for tab, name in ((window.rho_tab, "rho_T"), (window.time_plot, "time")):
                    window.plots.setCurrentWidget(tab)
                    app.processEvents()
                    times, missed = _frames(window, app, window.store.points.n)
                    # the first frame folds all N points into the plot's envelopes (as after
                    # opening a run file); the frames after it are the live ones
                    figures[f"{name}_{n}_first_frame_ms"] = times[0] * 1e3
                    ms = np.array(times[1:]) * 1e3
                    figures[f"{name}_{n}_median_ms"] = float(np.median(ms))
                    figures[f"{name}_{n}_p95_ms"] = float(np.percentile(ms, 95))
                    figures[f"{name}_{n}_newest_missed"] = missed
        finally:
            window.close_without_asking("benchmark finished")
            worker.close()
            bench.close()
    return figures


if __name__ == "__main__":
    print(run())
