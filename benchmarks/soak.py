"""A simulated 48-hour run with 1 % injected instrument faults: does it complete, how many faults
did it survive, how many points were flagged, and does memory stay flat?

Two field sweeps (0 → 600 → 0 Oe in 25 Oe steps) with a temperature ramp at each field, about
48 h of lab time on the virtual clock. Every instrument misbehaves on 1 % of its queries
(timeouts, garbled replies and dropped connections in equal parts). VISA timeouts are 50 ms
(the simulators answer in microseconds; a real station keeps its own), and the simulators keep
only their last 1000 received lines, so their bookkeeping is not counted as cryolab's memory.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections import Counter
from pathlib import Path

from cryolab.events import StepEnded
from cryolab.measurement import Flag
from cryolab.runfile import RunFile
from cryolab.sequence import FieldSweep, RampSpec, Sequence, SetExcitation
from cryolab.session import RunSpec, Session
from cryolab.sim.faults import FaultRule
from cryolab.station import load_station


def rss_mb() -> float:
    """Resident memory of this process (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return math.nan


def run(hours_target: float = 48.0, fault_rate: float = 0.01, seed: int = 11) -> dict:
    fields = list(range(0, 601, 25))
    sweep = fields + fields[::-1][1:]
    sequence = Sequence(name="48 h soak", steps=[
        SetExcitation(current_nA=0.5),
        FieldSweep(fields_Oe=[float(f) for f in sweep], rate_Oe_per_s=5.0,
                   ramp=RampSpec(from_K=0.06, to_K=1.0)),
    ])
    station = load_station()
    data = station.model_dump()
    for name in ("lockin", "bridge", "magnet"):
        data["instruments"][name]["timeout_ms"] = 50
    station = type(station).model_validate(data)
    spec = RunSpec(sequence, sequence.to_yaml(), "benchmarks/soak.py", station, True, math.inf,
                   seed, "S1")
    each = fault_rate / 3
    faults = {name: [FaultRule(kind, rate=each) for kind in ("timeout", "garbled", "disconnect")]
              for name in ("lockin", "bridge", "magnet")}
    samples: list[float] = []  # RSS at the end of every step

    def sample(event: object) -> None:
        if isinstance(event, StepEnded):
            samples.append(rss_mb())

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "soak.h5"
        t0 = time.perf_counter()
        session = Session(spec, path, lab_options={"faults": faults, "record_limit": 1000},
                          subscribers=[sample])
        rss_start = rss_mb()  # instruments up, file open: the run starts here
        try:
            status = session.run()
            rss_end = rss_mb()
            injected = {name: list(s.fault_log) for name, s in session.lab.servers.items()}
        finally:
            session.close()
        wall = time.perf_counter() - t0
        with RunFile(path) as run_file:
            faults_recorded = run_file.faults()
            points = run_file.points()
            segment = run_file.segments()[0]
    flagged_fault = int(((points["point_flags"] & Flag.INSTRUMENT_FAULT) > 0).sum())
    # every injected fault against the file's rows, by instrument and (virtual) time: a row
    # with no injection behind it is a genuine fault (a 50 ms timeout on a busy machine)
    wanted = Counter((name, round(e.time, 6)) for name, events in injected.items()
                     for e in events)
    got = Counter((f["instrument"], round(f["time_s"], 6)) for f in faults_recorded
                  if f["action"] in ("retry", "confirm", "down"))
    warm = samples[len(samples) // 10] if samples else rss_start
    return {
        "status": status,
        "lab_hours": (segment["ended_s"] - segment["started_s"]) / 3600,
        "wall_s": wall,
        "points": len(points),
        "faults_injected": sum(wanted.values()),
        # each injected fault is one row: retried ('retry') or met while confirming writes
        # before a clock jump ('confirm'); 'down'/'recovered' rows follow a persistent one
        "faults_recorded": sum(got.values()),
        "injected_not_recorded": sum((wanted - got).values()),
        "genuine_faults_recorded": sum((got - wanted).values()),
        "instrument_down_events": sum(f["action"] == "down" for f in faults_recorded),
        "points_flagged_instrument_fault": flagged_fault,
        "points_flagged_any": int((points["xx_flags"] != 0).sum()),
        "rss_start_MB": rss_start,
        "rss_after_warmup_MB": warm,  # at the end of the first tenth of the steps
        "rss_end_MB": rss_end,
        "rss_growth_MB": rss_end - rss_start,
        "rss_growth_after_warmup_MB": rss_end - warm,
    }


if __name__ == "__main__":
    print(run())
