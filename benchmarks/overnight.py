"""Wall time and speed-up of the simulated overnight sweep on the virtual clock (--speed max),
through the real drivers and the simulated TCP instruments."""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path

from cryolab.session import Session, validate
from cryolab.storage import RunFile

SEQUENCE = Path(__file__).resolve().parent.parent / "sequences" / "overnight_field_sweep.yaml"


def run(sequence: Path = SEQUENCE, seed: int = 1) -> dict:
    spec = validate(sequence, None, simulated=True, speed=math.inf, seed=seed)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "overnight.h5"
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
            n = len(run_file.points())
    return {"status": status, "wall_s": wall, "lab_h": lab_s / 3600, "speedup": lab_s / wall,
            "points": n, "wall_ms_per_point": wall / n * 1e3,
            "live_fits": fitter.fit_count,
            "live_fit_ms_mean": fitter.fit_seconds / max(fitter.fit_count, 1) * 1e3,
            "live_fit_share_of_wall": fitter.fit_seconds / wall}


if __name__ == "__main__":
    print(run())
