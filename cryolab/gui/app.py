"""`cryolab gui`: start the instruments (simulated or from a station file) and the window."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from cryolab.inputs import InputError
from cryolab.session import Bench
from cryolab.station import load_station


def run_gui(args: argparse.Namespace) -> int:
    if args.screenshot and not os.environ.get("DISPLAY") and "QT_QPA_PLATFORM" not in os.environ:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"  # a screenshot needs no screen
    from PyQt5 import QtCore, QtWidgets

    from cryolab.gui.window import MainWindow
    from cryolab.gui.worker import InstrumentWorker

    if not args.sim and not args.station:
        print("refused: the GUI on hardware needs --station FILE (or --sim)", file=sys.stderr)
        return 2
    try:
        station = load_station(args.station)
    except InputError as exc:
        for problem in exc.problems:
            print(f"refused: {exc.source}: {problem}", file=sys.stderr)
        return 2
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    bench = Bench(station, args.sim, args.speed if args.sim else 1.0, seed=args.seed,
                  preset=args.sample or station.simulation.preset)
    worker = InstrumentWorker(bench, Path(args.out))
    window = MainWindow(worker, args.station, args.sim, args.speed, args.sample)
    if args.open:
        window.open_run_file(args.open)
    if args.sequence and window.load_sequence(args.sequence) and args.start:
        window.start_run()
    window.show()
    if args.screenshot:
        def shoot() -> None:
            window.refresh()
            # a first paint sizes the axes to their tick labels; the second shows them
            for _ in range(2):
                app.processEvents()
                image = window.grab()
            image.save(args.screenshot)
            print(f"screenshot: {args.screenshot}")
            window.close_without_asking("the screenshot was taken")
            app.quit()

        QtCore.QTimer.singleShot(int(args.exit_after * 1000), shoot)
    elif args.exit_after:
        QtCore.QTimer.singleShot(int(args.exit_after * 1000),
                                 lambda: window.close_without_asking("--exit-after elapsed"))
    # Ctrl-C in the terminal closes the window the same way as its close button
    signal.signal(signal.SIGINT, lambda *_: window.close())
    keepalive = QtCore.QTimer()
    keepalive.start(200)  # lets Python see the signal while Qt's loop runs
    keepalive.timeout.connect(lambda: None)
    try:
        app.exec_()
    finally:
        worker.close()
        bench.close()
    return 0
