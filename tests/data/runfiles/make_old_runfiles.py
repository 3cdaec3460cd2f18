"""How the old-format run files in this folder were made (run once; the .h5.gz files are kept).

Each file is a real run file written by an earlier cryolab, taken from git, on the simulated
instruments with the virtual clock and a fixed seed:

* ``cryolab-0.1_*.h5.gz``: cryolab 0.1 (commit f035511): one ``points`` compound table per step
  group, one lock-in's columns (``lockin_x_V``, ``rho_ohm_sq``, ``flags``, …), ``/summary``;
* ``layout-1_*.h5.gz``: the per-step layout with channel columns (commit 1443c2d, the last one
  before the columnar layout): ``/steps/NNN_<kind>/points`` with ``point_flags`` and
  ``xx_*`` columns, ``fit_xx`` groups, ``/summary_xx``, ``/alarms``.

``*_completed`` ran the whole of SEQUENCE; ``*_aborted`` was aborted as its second ``set_field``
started (plan step 3), so ``cryolab resume`` can finish it. The files are gzipped (their
unfilled 1024-row chunks compress to nothing); the tests unpack them into a temporary folder.

    python tests/data/runfiles/make_old_runfiles.py      # from the repository's root
"""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
VERSIONS = {"cryolab-0.1": "f035511", "layout-1": "1443c2d"}
SEQUENCE = """\
# A small night for the old-format fixtures: two fields, a short ramp at each (fits need 20
# valid points), so the file has steps, points, fits, a summary, events and a segment.
name: fixture night
simulation:
  preset: S1
steps:
  - set_excitation: {current_nA: 0.5}
  - set_field: {field_Oe: 400, rate_Oe_per_s: 5}
  - ramp_temperature: {from_K: 0.3, to_K: 0.45, rate_K_per_min: 0.02}
  - set_field: {field_Oe: 500, rate_Oe_per_s: 5}
  - ramp_temperature: {from_K: 0.3, to_K: 0.45, rate_K_per_min: 0.02}
"""
#: run inside the old tree: a completed run, and one aborted as plan step 3 starts
RUN = """
import math, sys
from pathlib import Path
from cryolab.events import StepStarted
from cryolab.session import Session, validate

seq, out, abort_at = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
spec = validate(seq, None, simulated=True, speed=math.inf, seed=5)
holder = {}

def abort(event):
    if isinstance(event, StepStarted) and event.planned.index == abort_at:
        holder["session"].runner.abort("fixture: stopped as step 3 started")

session = Session(spec, out, subscribers=[abort] if abort_at >= 0 else [])
holder["session"] = session
try:
    print(session.run())
finally:
    session.close()
"""


def main() -> None:
    repo = HERE.parent.parent.parent
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        seq = tmp_path / "fixture.yaml"
        seq.write_text(SEQUENCE)
        for label, commit in VERSIONS.items():
            tree = tmp_path / label
            tree.mkdir()
            archive = subprocess.run(["git", "-C", str(repo), "archive", commit],
                                     capture_output=True, check=True).stdout
            subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
            for name, abort_at in (("completed", -1), ("aborted", 3)):
                out = tmp_path / f"{label}_{name}.h5"
                subprocess.run([sys.executable, "-c", RUN, str(seq), str(out), str(abort_at)],
                               cwd=tree, env={"PYTHONPATH": str(tree), "PATH": "/usr/bin"},
                               check=True)
                with open(out, "rb") as src, gzip.open(HERE / f"{out.name}.gz", "wb") as dst:
                    shutil.copyfileobj(src, dst)
                print(HERE / f"{out.name}.gz")


if __name__ == "__main__":
    main()
