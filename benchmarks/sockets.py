"""Per-point cost through the real drivers and the simulated TCP instruments, split into
instrument I/O and cryolab's own work.

The same path as ``pipeline`` (runner → flags → HDF5 writer → live fitter), but the station is
``cryolab.station.connect`` on the three simulated servers (pyvisa-py sockets on 127.0.0.1, the
simulators answering on their own threads, on a virtual clock). Instrument I/O is the time
spent inside the VISA adapters' write and read calls — the round trip including the
simulator's answer; everything else in ``Runner.point`` is the drivers' formatting and parsing
(pymeasure) plus cryolab's own work (which ``pipeline`` measures alone).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from benchmarks.pipeline import time_points
from cryolab.analysis.live import LiveFitter
from cryolab.clock import VirtualClock
from cryolab.runfile import RunWriter
from cryolab.runner import Runner
from cryolab.sequence import RampTemperature, Sequence
from cryolab.sim.lab import SimulatedLab
from cryolab.station import connect, load_station

N_POINTS = 3_000


class _IOTimer:
    """Wraps an adapter's ``_write`` and ``_read`` to add up the time spent in them."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.seconds = 0.0
        self.calls = 0

    def wrap(self, adapter) -> None:
        for name in ("_write", "_read"):
            inner = getattr(adapter, name)

            def timed(*args, _inner=inner, **kwargs):
                t0 = time.perf_counter()
                try:
                    return _inner(*args, **kwargs)
                finally:
                    self.seconds += time.perf_counter() - t0
                    self.calls += 1

            setattr(adapter, name, timed)


def run(n_points: int = N_POINTS) -> dict:
    clock = VirtualClock(start=1.8e9)
    with SimulatedLab(clock, preset="S1", seed=3, banner_delay_s=0.0) as lab, \
            tempfile.TemporaryDirectory() as tmp:
        station = connect(load_station().with_resources(lab.resources))
        clock.before_jump(station.confirm_writes)
        io = _IOTimer()
        for instrument in station.instruments.values():
            io.wrap(instrument.driver.adapter)
        writer = RunWriter(Path(tmp) / "sockets.h5", {"benchmark": "sockets"}, ["xx"])
        fitter = LiveFitter(publish=[writer])
        runner = Runner(station, Sequence(steps=[RampTemperature(from_K=0.06, to_K=1.0)]),
                        clock, [writer, fitter])
        try:
            runner.acq.sync_from_instruments()
            # 50 points warm up sockets and caches; the I/O count starts after them
            elapsed = time_points(runner, clock, n_points, warmup=50, after_warmup=io.reset)
        finally:
            fitter.close()
            writer.close()
            station.close()
    per_point = elapsed / n_points * 1e6
    io_per_point = io.seconds / n_points * 1e6
    return {"points": n_points, "us_per_point": per_point,
            "io_us_per_point": io_per_point,
            "drivers_and_cryolab_us_per_point": per_point - io_per_point,
            "io_calls_per_point": io.calls / n_points,
            "io_us_per_call": io.seconds / max(io.calls, 1) * 1e6}


if __name__ == "__main__":
    print(run())
