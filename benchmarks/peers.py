"""Per-point cost of storing the same 12 float columns with the frameworks users would otherwise
pick, and two floors, in µs per point at N = 20 000 points:

* ``qcodes``: ``Measurement`` + ``datasaver.add_result`` into a fresh SQLite database with
  QCoDeS' default settings (write every 5 s from the acquiring thread, in-memory cache on);
  ``time_s`` is the setpoint of the 11 others. Timed from the first ``add_result`` to the end of
  the ``with`` block, so the final write is included and run creation is not.
* ``pymeasure``: a ``Procedure`` emitting one ``results`` dict per point, run by a ``Worker``
  whose ``Recorder`` writes the ``Results`` CSV; wall time from ``start()`` to the thread's end,
  nothing subtracted.
* floors: a row assignment into a preallocated numpy array that doubles when full, and h5py in
  SWMR mode with rows buffered in numpy, written 100 at a time (resize + slice write) and flushed
  at least once a second and at the end. For orientation, h5py SWMR with a resize + write per
  row, flushed once a second.

Every point is a fresh tuple (a dict for PyMeasure) of 12 Python floats made from a counter, as an
acquisition loop produces them. QCoDeS, PyMeasure and h5py per row are one run each (seconds);
the two floors are the median of three. QCoDeS' in-memory cache grows with ``np.append`` per
point, so its figure rises with N (it is quoted at N as given). A framework that is not installed
gives NaN and a ``<name>_missing: 1.0`` key.
"""

from __future__ import annotations

import contextlib
import io
import math
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

COLUMNS = ("time_s", "T_mc_K", "T_sample_K", "field_Oe", "X_V", "Y_V", "current_A",
           "frequency_Hz", "tau_s", "R_ohm", "rho_ohm_sq", "flags")
N_POINTS = 20_000
BLOCK = 100  # rows per h5py write in the buffered floor
FLUSH_EVERY_S = 1.0
REPEATS = 3  # for the cheap floors


def _row(i: int) -> tuple[float, ...]:
    """One point's 12 values, computed afresh from the counter like a loop's readings."""
    T = 0.06 + 1e-5 * i
    R = 2e4 + 0.5 * i + 0.1 * math.sin(i)
    X = R * 5e-10
    return (1.8e9 + 3.0 * i, T, T * 1.01, 300.0 + 1e-3 * i, X, -1e-3 * X, 5e-10, 6.93,
            1.0 + 1e-6 * i, R, R * 0.5, float(i % 2))


def qcodes_us(n: int, tmp: Path) -> float | None:
    """µs per point for QCoDeS, or None if QCoDeS (the 'bench' extra) is not installed."""
    try:
        from qcodes.dataset import (
            Measurement,
            initialised_database_at,
            load_or_create_experiment,
        )
        from qcodes.parameters import Parameter
    except ImportError:
        return None

    params = [Parameter(name, set_cmd=None, get_cmd=None) for name in COLUMNS]
    # restores qcodes.config.core.db_location on exit, so ~/experiments.db is never touched;
    # stdout is swallowed because run() prints "Starting experimental run with id: 1."
    with initialised_database_at(tmp / "peers.db"), contextlib.redirect_stdout(io.StringIO()):
        experiment = load_or_create_experiment("peers", sample_name="benchmark")
        try:
            measurement = Measurement(exp=experiment)
            measurement.register_parameter(params[0])
            for param in params[1:]:
                measurement.register_parameter(param, setpoints=(params[0],))
            with measurement.run() as saver:
                t0 = time.perf_counter()
                for i in range(n):
                    saver.add_result(*zip(params, _row(i), strict=True))
            elapsed = time.perf_counter() - t0
            dataset = saver.dataset
            # QCoDeS stores one SQL row per dependent parameter and point
            assert dataset.number_of_results == n * (len(COLUMNS) - 1), dataset.number_of_results
            stored = dataset.get_parameter_data("R_ohm")["R_ohm"]["time_s"]
            assert len(stored) == n, (len(stored), n)
        finally:
            experiment.conn.close()  # the dataset shares it; lets the temp dir go on any OS
    return elapsed / n * 1e6


def pymeasure_us(n: int, tmp: Path) -> float | None:
    """µs per point for PyMeasure, or None if it is not importable."""
    try:
        from pymeasure.experiment import IntegerParameter, Procedure, Results, Worker
    except ImportError:
        return None

    class Points(Procedure):
        points = IntegerParameter("points", default=n)
        DATA_COLUMNS = list(COLUMNS)

        def execute(self) -> None:
            for i in range(self.points):
                self.emit("results", dict(zip(COLUMNS, _row(i), strict=True)))

    path = tmp / "peers.csv"
    results = Results(Points(), str(path))  # writes the header now, outside the timing
    worker = Worker(results)
    t0 = time.perf_counter()
    worker.start()
    # StoppableThread.join(timeout) waits for the Worker's stop flag, which it sets as run()'s
    # last step, and sets the flag itself when the timeout ends: the default timeout=0 would
    # abort the procedure at once, so give it all the time it needs
    worker.join(timeout=600)
    elapsed = time.perf_counter() - t0
    # the Worker logs and swallows exceptions from execute() (FAILED), a timed-out join leaves
    # it RUNNING or ABORTED: the status and the row count tell
    assert results.procedure.status == Procedure.FINISHED, results.procedure.status
    with path.open() as f:
        rows = sum(1 for line in f if line.strip() and not line.startswith("#")) - 1  # header
    assert rows == n, (rows, n)
    return elapsed / n * 1e6


def numpy_us(n: int) -> float:
    buffer = np.empty((1024, len(COLUMNS)))
    t0 = time.perf_counter()
    for i in range(n):
        if i == len(buffer):
            buffer = np.concatenate((buffer, np.empty_like(buffer)))
        buffer[i] = _row(i)
    elapsed = time.perf_counter() - t0
    assert buffer[n - 1, 0] == _row(n - 1)[0]
    return elapsed / n * 1e6


def _swmr_file(path: Path) -> tuple[h5py.File, h5py.Dataset]:
    f = h5py.File(path, "w", libver="latest")
    data = f.create_dataset("points", shape=(0, len(COLUMNS)), maxshape=(None, len(COLUMNS)),
                            chunks=(1024, len(COLUMNS)), dtype="f8")  # cryolab's chunk rows
    f.swmr_mode = True
    return f, data


def _flush_if_due(f: h5py.File, last_flush: float) -> float:
    """Flush once FLUSH_EVERY_S has passed since ``last_flush``; the time of the last flush."""
    if time.perf_counter() - last_flush < FLUSH_EVERY_S:
        return last_flush
    f.flush()
    return time.perf_counter()


def h5py_buffered_us(n: int, path: Path) -> float:
    f, data = _swmr_file(path)
    with f:
        rows = np.empty((BLOCK, len(COLUMNS)))
        filled = written = 0
        t0 = last_flush = time.perf_counter()
        for i in range(n):
            rows[filled] = _row(i)
            filled += 1
            if filled == BLOCK or i == n - 1:
                data.resize(written + filled, axis=0)
                data[written:written + filled] = rows[:filled]
                written += filled
                filled = 0
                last_flush = _flush_if_due(f, last_flush)
        f.flush()
        elapsed = time.perf_counter() - t0
        assert data.shape[0] == n, (data.shape, n)
    return elapsed / n * 1e6


def h5py_per_row_us(n: int, path: Path) -> float:
    f, data = _swmr_file(path)
    with f:
        t0 = last_flush = time.perf_counter()
        for i in range(n):
            data.resize(i + 1, axis=0)
            data[i] = _row(i)
            last_flush = _flush_if_due(f, last_flush)
        f.flush()
        elapsed = time.perf_counter() - t0
        assert data.shape[0] == n, (data.shape, n)
    return elapsed / n * 1e6


def run(n_points: int = N_POINTS) -> dict:
    figures: dict = {"peers_points": n_points}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name, measure in (("qcodes", qcodes_us), ("pymeasure", pymeasure_us)):
            us = measure(n_points, root)
            figures[f"{name}_us_per_point"] = math.nan if us is None else us
            if us is None:
                figures[f"{name}_missing"] = 1.0
        figures["numpy_append_us_per_point"] = float(np.median(
            [numpy_us(n_points) for _ in range(REPEATS)]))
        figures["h5py_buffered_us_per_point"] = float(np.median(
            [h5py_buffered_us(n_points, root / f"buffered{k}.h5") for k in range(REPEATS)]))
        figures["h5py_per_row_us_per_point"] = h5py_per_row_us(n_points, root / "per_row.h5")
    return figures


if __name__ == "__main__":
    print(run())
