"""How long `cryolab --help` and `cryolab check` take to start, and what they load.

A physicist types `cryolab check tonight.yaml` many times while writing a sequence: it must answer
at once (target ≤ 0.3 s), so it may not load what only a run, a fit or the GUI needs
(matplotlib, scipy, pandas, h5py, Qt, pymeasure). Each command runs in a fresh process, as a
user starts it; the figure is the median of several runs, with the peak memory of the last.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = {
    "help": ["--help"],
    "check": ["check", "sequences/overnight_field_sweep.yaml"],
}
HEAVY = ("matplotlib", "scipy", "pandas", "h5py", "PyQt5", "qtpy", "pyqtgraph", "pymeasure",
         "pyvisa", "numpy", "starlette", "uvicorn", "apprise")
RUNS = 7


def _time_once(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "cryolab", *args], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def _peak_MB(args: list[str]) -> float:
    """Peak resident memory of one run (ru_maxrss of the children, in kB on Linux)."""
    code = ("import resource, subprocess, sys; "
            f"subprocess.run([sys.executable, '-m', 'cryolab', *{args!r}], "
            "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    return int(out.stdout) / 1024.0


def heavy_modules(args: list[str]) -> list[str]:
    """The heavy packages a command has imported by the time it exits."""
    code = ("import sys, runpy, contextlib, io\n"
            f"sys.argv = ['cryolab', *{args!r}]\n"
            "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
            "    runpy.run_module('cryolab', run_name='__main__')\n"
            f"print(' '.join(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    return out.stdout.split()


def run() -> dict:
    figures: dict = {}
    _time_once(["--version"])  # warm the file cache once
    for name, args in COMMANDS.items():
        times = [_time_once(args) for _ in range(RUNS)]
        figures[f"{name}_median_s"] = statistics.median(times)
        figures[f"{name}_max_s"] = max(times)
        figures[f"{name}_peak_MB"] = _peak_MB(args)
        figures[f"{name}_heavy_modules"] = " ".join(heavy_modules(args)) or "none"
    return figures


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key:<24} {value:.3g}" if isinstance(value, float) else f"{key:<24} {value}")
