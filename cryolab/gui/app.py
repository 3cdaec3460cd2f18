"""`cryolab gui`: start the instruments (simulated or from a station file) and the window — or,
with ``--open RUN.h5`` and neither ``--sim`` nor ``--station``, only the window, to review a file
with no instrument contacted."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from cryolab.inputs import InputError

#: how often Python gets control back from Qt's event loop, so a signal handler runs promptly
SIGNAL_POLL_MS = 200


def install_signal_handlers(window) -> dict:
    """Ctrl-C (SIGINT) and SIGTERM close the window without a dialog: a run in progress is
    aborted with the reason "interrupted by SIGINT" (or SIGTERM) and the instruments go to the
    safe state, as `cryolab run` does. Returns the previous handlers."""

    def on_signal(signum, frame) -> None:
        window.close_without_asking(f"interrupted by {signal.Signals(signum).name}")

    return {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}


def run_gui(args: argparse.Namespace) -> int:
    if args.screenshot and not os.environ.get("DISPLAY") and "QT_QPA_PLATFORM" not in os.environ:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"  # a screenshot needs no screen
    from cryolab.gui.qt import QtCore, QtWidgets
    from cryolab.gui.window import MainWindow

    review_only = bool(args.open) and not args.sim and not args.station
    if not review_only and not args.sim and not args.station:
        print("refused: the GUI on hardware needs --station FILE (or --sim; or --open RUN.h5 "
              "alone to review a file)", file=sys.stderr)
        return 2
    if args.open and not Path(args.open).is_file():
        print(f"refused: {args.open}: no such file", file=sys.stderr)
        return 2
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    bench = worker = None
    if not review_only:
        from cryolab.gui.worker import InstrumentWorker
        from cryolab.session import Bench
        from cryolab.station import load_station

        try:
            station = load_station(args.station)
        except InputError as exc:
            for problem in exc.problems:
                print(f"refused: {exc.source}: {problem}", file=sys.stderr)
            return 2
        bench = Bench(station, args.sim, args.speed if args.sim else 1.0, seed=args.seed,
                      preset=args.sample or station.simulation.preset)
        worker = InstrumentWorker(bench, Path(args.out))
    window = MainWindow(worker, args.station, args.sim, args.speed, args.sample)
    if args.open:
        window.open_run_file(args.open)
    if worker is not None and args.sequence and window.load_sequence(args.sequence) \
            and args.start:
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
    install_signal_handlers(window)
    keepalive = QtCore.QTimer()
    keepalive.start(SIGNAL_POLL_MS)  # lets Python see the signal while Qt's loop runs
    keepalive.timeout.connect(lambda: None)
    try:
        app.exec()
    finally:
        if worker is not None:
            worker.close()
        if bench is not None:
            bench.close()
    return 0
