"""What a SIGKILL loses: a real `cryolab run` process killed at moments of its run, and the age
(in wall time) of the newest point found in its file afterwards.

The run is simulated at 400× real time, so a point's simulated time stamps its wall time:
w = wall origin + (t − simulated origin) / speed, both origins in the file's attributes. The
loss is the kill's wall time minus that of the newest point in the file — bounded by the
writer's flush interval (0.5 s) plus one point interval.
"""

from __future__ import annotations

import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryolab.runfile import RunFile

SPEED = 400.0
SEQUENCE = """
name: crash benchmark
steps:
  - set_excitation: {current_nA: 0.5}
  - ramp_temperature: {from_K: 0.07, to_K: 0.6}
"""


def one_kill(folder: Path, after_s: float) -> float:
    seq = folder / "seq.yaml"
    seq.write_text(SEQUENCE)
    out = folder / "runs"
    proc = subprocess.Popen([sys.executable, "-m", "cryolab", "run", str(seq), "--sim",
                             "--speed", str(SPEED), "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not list(out.glob("*.h5")) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(after_s)
        killed_at = time.time()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    (path,) = out.glob("*.h5")
    with RunFile(path) as run:
        wall0, sim0 = run.attrs["clock_wall_origin_s"], run.attrs["clock_sim_origin_s"]
        newest = float(run.points()["time_s"].max())
    return killed_at - (wall0 + (newest - sim0) / SPEED)


def run(kills: int = 8) -> dict:
    losses = []
    for i in range(kills):
        with tempfile.TemporaryDirectory() as tmp:
            losses.append(one_kill(Path(tmp), 1.0 + 0.7 * i))
    return {"kills": kills, "loss_median_s": statistics.median(losses),
            "loss_max_s": max(losses), "loss_bound_s": 1.0}
