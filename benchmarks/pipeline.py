"""Per-point cost of cryolab's whole data path with instruments that answer instantly:
guarded role calls → calibration → R, ρ, flags per channel → event → HDF5 writer (SWMR,
flushed twice a second) and the live fitter's feed (one per longitudinal channel). The step is
a temperature ramp, so the fitters take every valid point, as in a night's run. Timed with 1,
2 and 4 channels (one sample; a Hall bar; two Hall bars)."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks import peers
from benchmarks.instant import InstantStation
from cryolab.analysis.live import LiveFitter
from cryolab.clock import VirtualClock
from cryolab.events import RunEnded, RunStarted, StepEnded, StepStarted
from cryolab.runfile import RunFile, RunWriter
from cryolab.runner import Runner
from cryolab.sequence import RampTemperature, Sequence

N_POINTS = 20_000


def time_points(runner: Runner, clock, n_points: int, warmup: int = 0,
                after_warmup: Callable[[], None] | None = None) -> float:
    """Open the runner's first step as the runner would, take ``warmup`` points, then time
    ``n_points`` more; close the step and the run. Wall seconds of the timed points."""
    runner.emit(RunStarted(clock.now(), runner.plan, 0))
    runner.emit(StepStarted(clock.now(), runner.plan[0]))
    runner.step_index = 0
    for _ in range(warmup):
        runner.point()
    if after_warmup is not None:
        after_warmup()
    t0 = time.perf_counter()
    for _ in range(n_points):
        runner.point()
    elapsed = time.perf_counter() - t0
    runner.emit(StepEnded(clock.now(), 0, "completed"))
    runner.emit(RunEnded(clock.now(), "completed"))
    return elapsed


def run(n_points: int = N_POINTS, extra_subscribers=(), channels: int = 1) -> dict:
    clock = VirtualClock(start=1.8e9)
    sequence = Sequence(steps=[RampTemperature(from_K=0.06, to_K=1.0)])
    station = InstantStation(channels)
    specs = station.config.channel_specs()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.h5"
        writer = RunWriter(path, {"benchmark": "pipeline"}, [c.name for c in specs])
        fitter = LiveFitter([(i, c.name) for i, c in enumerate(specs)
                             if c.kind == "longitudinal"], publish=[writer])
        runner = Runner(station, sequence, clock, [writer, fitter, *extra_subscribers])
        runner.acq.sync_from_instruments()
        elapsed = time_points(runner, clock, n_points)
        fitter.close()
        writer.close()
        with RunFile(path) as run_file:
            stored = len(run_file.points())
    assert stored == n_points, (stored, n_points)
    return {"points": n_points, "channels": channels, "us_per_point": elapsed / n_points * 1e6}


def compare(n_points: int = N_POINTS) -> dict:
    """cryolab (median of three runs) with 1, 2 and 4 channels, beside QCoDeS, PyMeasure and
    the floors (one channel's 12 columns), same process."""
    by_channels = {n: float(np.median([run(n_points, channels=n)["us_per_point"]
                                       for _ in range(3)])) for n in (1, 2, 4)}
    ours = by_channels[1]
    figures: dict = {"cryolab_us_per_point": ours}
    for n in (2, 4):
        figures[f"cryolab_{n}_channels_us_per_point"] = by_channels[n]
    figures["cryolab_us_per_extra_channel"] = (by_channels[4] - ours) / 3
    figures.update(peers.run(n_points))
    for key in ("qcodes", "pymeasure", "numpy_append", "h5py_buffered"):
        figures[f"ratio_cryolab_to_{key}"] = ours / figures[f"{key}_us_per_point"]
    return figures


if __name__ == "__main__":
    print(compare())
