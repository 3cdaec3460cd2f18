"""Wall time and speed-up of the simulated overnight sweep on the virtual clock (--speed max),
through the real drivers and the simulated TCP instruments; whether the same seed gives the
same points twice; and where the time goes, by component, from a profile of a third run.

The profile uses yappi (the ``bench`` extra), which sees every thread: the runner's, the three
simulated servers', the writer's flusher and the live fitter's. Each function's own CPU time
is charged to the component its module belongs to (C calls to the Python function that made
them), so the shares add up to the process's CPU time. Profiling slows the run down, so the
wall time and the speed-up come from the first, unprofiled run.
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path

import numpy as np

from cryolab.runfile import RunFile
from cryolab.session import Session, validate

SEQUENCE = Path(__file__).resolve().parent.parent / "sequences" / "overnight_field_sweep.yaml"

#: module path fragments → component, first match wins
COMPONENTS = (
    ("simulator", ("cryolab/sim/",)),
    ("drivers and sockets", ("instruments/", "pymeasure/", "pyvisa", "socket", "selectors")),
    ("writer", ("cryolab/runfile/", "h5py/")),
    ("fitter", ("cryolab/analysis/", "scipy/")),
    ("runner", ("cryolab/",)),
)


def _run(sequence: Path, seed: int, tmp: Path, name: str, station: Path | None = None
         ) -> tuple[dict, np.ndarray]:
    spec = validate(sequence, station, simulated=True, speed=math.inf, seed=seed)
    path = tmp / f"{name}.h5"
    t0 = time.perf_counter()
    session = Session(spec, path)
    try:
        status = session.run()
    finally:
        session.close()
    wall = time.perf_counter() - t0
    fitter = session.fitter
    with RunFile(path) as run_file:
        segment = run_file.segments()[0]
        lab_s = segment["ended_s"] - segment["started_s"]
        points = run_file.points()
    points["time_s"] -= segment["started_s"]  # the virtual clock starts at the wall time
    figures = {"status": status, "wall_s": wall, "lab_h": lab_s / 3600, "speedup": lab_s / wall,
               "points": len(points), "wall_ms_per_point": wall / len(points) * 1e3,
               "live_fits": fitter.fit_count,
               "live_fit_interval_s": wall / max(fitter.fit_count, 1),
               "live_fit_ms_mean": fitter.fit_seconds / max(fitter.fit_count, 1) * 1e3,
               "live_fit_share_of_wall": fitter.fit_seconds / wall}
    return figures, points


def _component(module: str) -> str:
    module = module.replace("\\", "/")
    for name, fragments in COMPONENTS:
        if any(fragment in module for fragment in fragments):
            return name
    return "other (numpy, stdlib, threads waiting)"


def profile_split(sequence: Path = SEQUENCE, seed: int = 1, station: Path | None = None
                  ) -> dict:
    """Share of the process's CPU time per component, from a yappi profile of one run."""
    try:
        import yappi
    except ImportError:
        return {"profile": "yappi not installed (pip install -e '.[bench]')"}
    with tempfile.TemporaryDirectory() as tmp:
        yappi.set_clock_type("cpu")
        yappi.start(builtins=False, profile_threads=True)
        try:
            _run(sequence, seed, Path(tmp), "profiled", station)
        finally:
            yappi.stop()
    totals: dict[str, float] = {}
    for stat in yappi.get_func_stats():
        component = _component(stat.module)
        totals[component] = totals.get(component, 0.0) + stat.tsub
    yappi.clear_stats()
    cpu = sum(totals.values())
    return {f"cpu_share_{name.split(' (')[0].replace(' ', '_')}": seconds / cpu
            for name, seconds in sorted(totals.items(), key=lambda item: -item[1])}


def run(sequence: Path = SEQUENCE, seed: int = 1, station: Path | None = None) -> dict:
    """``station``: another station file (e.g. ``sequences/stations/sim_mixed.yaml``, whose
    twins are an SR860, an SR830, a Lake Shore 370 and a Mercury iPS)."""
    with tempfile.TemporaryDirectory() as tmp:
        figures, first = _run(sequence, seed, Path(tmp), "first", station)
        _, second = _run(sequence, seed, Path(tmp), "second", station)
    figures["same_seed_identical_points"] = bool(
        first.dtype == second.dtype and len(first) == len(second)
        and all(np.array_equal(first[c], second[c], equal_nan=first.dtype[c].kind == "f")
                for c in first.dtype.names or ()))
    figures.update(profile_split(sequence, seed, station))
    figures["station"] = str(station or "the simulated station (SR830, LS372, AMI 430)")
    return figures


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--station", type=Path, help="a station file (default: the simulated "
                        "one); sequences/stations/sim_mixed.yaml times the other models")
    print(run(station=parser.parse_args().station))
