"""Opening a 48-hour night: a run file of 60 000 one-channel points in 97 steps (one point every
~3 s, the soak's field sweep), written by the real writer; then the wall time to open it and
get every point as a pandas DataFrame, as a NumPy structured array, and as an xarray Dataset
(cryolab's reader, and xarray's own h5netcdf engine where the layout allows it).

    python benchmarks/runfile.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryolab.events import RunEnded, RunStarted, StepEnded, StepStarted
from cryolab.measurement import ChannelReading, Point
from cryolab.runfile import RunFile, RunWriter
from cryolab.sequence import Measure, PlannedStep

N_POINTS = 60_000
N_STEPS = 97
REPEATS = 7


def write_night(path: Path, n_points: int = N_POINTS, n_steps: int = N_STEPS) -> None:
    plan = [PlannedStep(i, Measure(points=n_points // n_steps + 1), 1800.0)
            for i in range(n_steps)]
    writer = RunWriter(path, {"benchmark": "runfile"}, ["xx"])
    t = 1.8e9
    writer(RunStarted(t, plan, 0))
    for step in plan:
        writer(StepStarted(t, step))
        for i in range(n_points // n_steps + (step.index < n_points % n_steps)):
            t += 3.0
            T = 0.06 + 0.94 * i / 620
            reading = ChannelReading(1e-6, -1e-9, 2000.0 + i, 1000.0 + i / 2, 5e-10, 6.93, 1.0,
                                     1e-5, 0, True)
            writer(Point(step.index, t, T, T * 1.01, 5000.0, 25.0 * step.index, T, 0,
                         (reading,)))
        writer(StepEnded(t, step.index, "completed"))
    writer(RunEnded(t, "completed"))
    writer.close()


def _median_s(func) -> float:
    times = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        func()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def run(n_points: int = N_POINTS) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "night.h5"
        t0 = time.perf_counter()
        write_night(path, n_points)
        write_s = time.perf_counter() - t0

        def frame():
            with RunFile(path) as run_file:
                assert len(run_file.dataframe()) == n_points

        def points():
            with RunFile(path) as run_file:
                assert len(run_file.points()) == n_points

        figures = {"points": n_points, "steps": N_STEPS, "file_MB": path.stat().st_size / 1e6,
                   "write_s": write_s, "dataframe_s": _median_s(frame),
                   "points_array_s": _median_s(points)}
        with RunFile(path) as run_file:
            columnar = hasattr(run_file, "xarray")
        if columnar:
            import xarray as xr

            def dataset():
                with RunFile(path) as run_file:
                    assert run_file.xarray().sizes["point"] == n_points

            def h5netcdf():
                with xr.open_dataset(path, engine="h5netcdf", group="entry/data",
                                     phony_dims="sort") as ds:
                    assert len(ds["xx_rho_ohm_sq"].values) == n_points

            figures["xarray_s"] = _median_s(dataset)
            figures["xarray_h5netcdf_s"] = _median_s(h5netcdf)
    return figures


if __name__ == "__main__":
    for key, value in run().items():
        print(f"   {key:<28} {value:.4g}" if isinstance(value, float) else f"   {key:<28} {value}")
