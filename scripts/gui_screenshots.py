"""Screenshots of the cooldown GUI at moments of a simulated night, in a real X server.

    xvfb-run -a -s "-screen 0 1920x1080x24" python scripts/gui_screenshots.py
    python scripts/gui_screenshots.py --out /tmp/shots        # with any X display

A simulated Hall bar (ρ_xx and ρ_xy on two lock-ins, S1 sample) runs a short field sweep at
1000× real time in the real window, instruments and worker thread included. The script takes
the window's picture twice during the last ramp, at 450 Oe (ρ_xx with its live fit beside
ρ_xy; then the field summary of the three fields before it), and once reviewing the finished
run file with no instruments. These are the images docs/gui.md shows (written to docs/images/
by default).

Each picture is checked before it is written: a window that did not paint (blank, or plots
without their curves) makes the script exit 1, which is how CI (.ci/run) notices. It needs a
real X server (DISPLAY) and Qt's xcb platform; it refuses the offscreen platform, which paints
differently from a screen.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

#: simulated seconds per wall second: the night below (about an hour of lab time) takes ~4 s
SPEED = 1000.0
TIMEOUT_S = 60.0  # wall seconds to wait for a moment before giving up
SEQUENCE = """\
name: screenshot night
description: a short field sweep on a simulated Hall bar, for the GUI's screenshots
settings:
  auto_ramp_percent_per_min: 10
steps:
  - set_excitation: {current_nA: 0.5}
  - field_sweep:
      fields_Oe: [0, 150, 300, 450]
      rate_Oe_per_s: 10
      ramp: {from_K: 0.1, to_K: 0.4}
"""


#: ρ_xx and ρ_xy of one Hall bar on two lock-ins, the first one's current driving both
HALL_BAR = ROOT / "sequences" / "stations" / "sim_hall_bar.yaml"


def problems_painting(image, colour: tuple[int, int, int], plots: int,
                      min_columns: int) -> list[str]:
    """Why a grabbed window does not look painted: blank, or its plots without what they draw
    in ``colour`` (a curve's or a marker's, from cryolab.gui.plots.COLORS): the columns of the
    image that hold the colour must come in at least ``plots`` separate stretches and number
    at least ``min_columns``."""
    width, height = image.width(), image.height()
    if width < 800 or height < 600:
        return [f"the window is {width}×{height} pixels"]
    colours, columns = set(), []
    for x in range(0, width, 2):
        hit = False
        for y in range(0, height, 2):
            rgb = image.pixelColor(x, y).getRgb()[:3]
            colours.add(rgb)
            hit |= all(abs(a - b) <= 2 for a, b in zip(rgb, colour, strict=True))
        columns.append(hit)
    problems = []
    if len(colours) < 20:
        problems.append(f"only {len(colours)} colours: the window looks blank")
    stretches = sum(1 for i, hit in enumerate(columns) if hit and (i == 0 or not columns[i - 1]))
    if sum(columns) < min_columns or stretches < plots:
        problems.append(f"what the plots draw is missing ({sum(columns)} columns of "
                        f"{colour} in {stretches} stretch(es); {plots} plot(s) expected)")
    return problems


class _PauseAt(deque):
    """The worker's event queue, pausing the run from the runner's thread when ``count``
    events have matched ``when`` (the window, a refresh behind, would pause it too late)."""

    def __init__(self, worker, when: Callable[[object], bool], count: int,
                 done: threading.Event) -> None:
        super().__init__()
        self.worker, self.when, self.left, self.done = worker, when, count, done

    def append(self, event) -> None:
        super().append(event)
        if not self.done.is_set() and self.when(event):
            self.left -= 1
            if self.left <= 0:
                self.done.set()
                self.worker.pause()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images",
                        help="folder for the PNG files (default docs/images)")
    args = parser.parse_args(argv)
    if not os.environ.get("DISPLAY"):
        print("gui_screenshots: no X display (DISPLAY): run it under xvfb-run", file=sys.stderr)
        return 2
    if os.environ.get("QT_QPA_PLATFORM", "xcb") != "xcb":
        print("gui_screenshots: needs a real X server (QT_QPA_PLATFORM=xcb), not "
              f"{os.environ['QT_QPA_PLATFORM']}", file=sys.stderr)
        return 2
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    from cryolab.gui.plots import COLORS
    from cryolab.gui.qt import QtWidgets
    from cryolab.gui.window import MainWindow
    from cryolab.gui.worker import InstrumentWorker
    from cryolab.measurement import Point
    from cryolab.session import Bench
    from cryolab.station import load_station

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    args.out.mkdir(parents=True, exist_ok=True)
    failures: list[str] = []
    started = time.monotonic()

    def wait_for(condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + TIMEOUT_S
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"gave up waiting for {what}")
            app.processEvents()
            time.sleep(0.01)  # a script's pacing on the wall clock; the run has its own

    def shoot(window, name: str, colour: tuple[int, int, int], plots: int,
              min_columns: int) -> None:
        window.refresh()
        for _ in range(3):  # a first paint sizes the axes to their labels; then they show
            app.processEvents()
        image = window.grab().toImage()
        problems = problems_painting(image, colour, plots, min_columns)
        path = args.out / name
        image.save(str(path))
        print(f"{path}: {image.width()}×{image.height()}"
              + (f" — NOT PAINTED: {'; '.join(problems)}" if problems else ""))
        failures.extend(f"{name}: {p}" for p in problems)

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        station_path = HALL_BAR
        sequence = folder / "screenshot_night.yaml"
        sequence.write_text(SEQUENCE)
        station = load_station(station_path)
        bench = Bench(station, True, SPEED, seed=1, preset="S1")
        worker = InstrumentWorker(bench, folder / "runs")
        window = MainWindow(worker, str(station_path), True, SPEED, "S1")
        window.resize(1700, 980)
        window.show()
        try:
            if not window.load_sequence(str(sequence)):
                raise RuntimeError("the screenshot sequence did not validate")
            last = 8  # plan index of the last ramp, at 450 Oe
            paused_at = threading.Event()
            worker.events = _PauseAt(worker, lambda e: type(e) is Point and e.step_index == last,
                                     60, paused_at)
            window.start_run()
            store = window.store

            def live_fit() -> bool:
                window.refresh()
                return (store.current_step == last and last in store.fits_of("xx")
                        and window.rho_plot.fit.getData()[0] is not None)

            # 1. the last ramp with its live fit drawn, ρ_xy beside ρ_xx
            wait_for(live_fit, "the 450 Oe ramp's live fit")
            # ρ_xx and ρ_xy: the valid points' curve in each of two plots
            shoot(window, "gui.png", COLORS["valid"], plots=2, min_columns=100)
            # 2. the field summary of the three fields before it
            window.plots.setCurrentWidget(window.summary_plot)
            wait_for(lambda: store.summary is not None and len(store.summary.rows) >= 3,
                     "three fields in the summary")
            # 1/ρ_QF of the superconducting fields: green squares at separate fields
            shoot(window, "gui_summary.png", COLORS["sc"][:3], plots=2, min_columns=4)
            window.plots.setCurrentWidget(window.rho_tab)
            worker.resume()  # paused by _PauseAt for the pictures; the night runs to its end
            wait_for(lambda: not worker.running and store.state == "completed",
                     "the end of the run")
            (run_file,) = (folder / "runs").glob("*.h5")
        finally:
            window.close_without_asking("screenshots taken")
            worker.close()
            bench.close()
        # 3. the finished file, reviewed with no instruments
        review = MainWindow(None, None, False, 1.0)
        review.resize(1700, 980)
        review.show()
        if not review.open_run_file(str(run_file)):
            raise RuntimeError(f"{run_file} did not open for review")
        review.plots.setCurrentWidget(review.time_plot)
        # T_MC against time, across the plot
        shoot(review, "gui_review.png", COLORS["T_mc"], plots=1, min_columns=200)
        review.close()
    print(f"{time.monotonic() - started:.1f} s")
    for failure in failures:
        print(f"gui_screenshots: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
