"""Per-point cost of cryolab's whole data path with instruments that answer instantly:
reading → R, ρ, flags → event → HDF5 writer (SWMR, flushed twice a second) → subscribers."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from benchmarks.instant import InstantStation
from cryolab.clock import VirtualClock
from cryolab.events import RunEnded, RunStarted, StepEnded, StepStarted
from cryolab.runner import Runner
from cryolab.sequence import Measure, Sequence
from cryolab.storage import RunFile, RunWriter

N_POINTS = 20_000


def run(n_points: int = N_POINTS, extra_subscribers=()) -> dict:
    clock = VirtualClock(start=1.8e9)
    sequence = Sequence(steps=[Measure(points=n_points)])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.h5"
        writer = RunWriter(path, {"benchmark": "pipeline"})
        runner = Runner(InstantStation(), sequence, clock, [writer, *extra_subscribers])
        runner.acq.sync_from_instruments()
        planned = runner.plan[0]
        runner.emit(RunStarted(clock.now(), runner.plan, 0))
        runner.emit(StepStarted(clock.now(), planned))
        runner.step_index = 0
        t0 = time.perf_counter()
        for _ in range(n_points):
            runner.point()
        elapsed = time.perf_counter() - t0
        runner.emit(StepEnded(clock.now(), 0, "completed"))
        runner.emit(RunEnded(clock.now(), "completed"))
        writer.close()
        with RunFile(path) as run_file:
            stored = len(run_file.points())
    assert stored == n_points, (stored, n_points)
    return {"points": n_points, "us_per_point": elapsed / n_points * 1e6}


if __name__ == "__main__":
    print(run())
