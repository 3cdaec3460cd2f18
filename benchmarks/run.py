"""Run cryolab's benchmarks and print their figures (``--json FILE`` writes them too).

    python benchmarks/run.py                 # everything
    python benchmarks/run.py pipeline        # one or more by name
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

#: name → (what it measures, "module:function"); a benchmark's module is imported only when it
#: runs, so the light ones (startup) do not pay for the heavy ones' imports
BENCHMARKS = {
    "pipeline": ("per-point data path, instant instruments, beside QCoDeS, PyMeasure and floors",
                 "pipeline:compare"),
    "sockets": ("per-point cost through the drivers and simulated TCP instruments",
                "sockets:run"),
    "overnight": ("simulated overnight sweep, --speed max", "overnight:run"),
    "fits": ("Eq. 1 / Eq. 2 fit latency as `cryolab fit` does them", "fits:run"),
    "gui": ("GUI frame time with 10⁴–10⁶ points, offscreen, points arriving", "gui:run"),
    "soak": ("simulated 48 h with 1 % injected faults", "soak:run"),
    "crash": ("points a SIGKILL loses, in wall time (a real cryolab run killed 8 times)",
              "crash:run"),
    "startup": ("`cryolab --help` and `cryolab check` in a fresh process: time, memory, what "
                "they load", "startup:run"),
    "monitor": ("the monitor: first load of a 48 h night, lag behind the file, CPU while "
                "watching", "monitor:run"),
    "runfile": ("opening a 48-hour night (60 000 points) as a DataFrame, an array, a Dataset",
                "runfile:run"),
}


def _function(ref: str):
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(f"benchmarks.{module}"), name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", choices=[*BENCHMARKS, []], metavar="NAME",
                        help=f"benchmarks to run (default all): {', '.join(BENCHMARKS)}")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    results = {"machine": {"python": platform.python_version(), "cpu": platform.processor(),
                           "system": platform.platform()}}
    for name in args.names or BENCHMARKS:
        title, ref = BENCHMARKS[name]
        print(f"== {name}: {title}", flush=True)
        figures = _function(ref)()
        results[name] = figures
        for key, value in figures.items():
            shown = f"{value:.4g}" if isinstance(value, float) else value
            print(f"   {key:<28} {shown}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
