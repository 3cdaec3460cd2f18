"""Killing a run: the file opens, holds the points up to about a second before the kill, and
``cryolab resume`` finishes the remaining steps in the same file."""

import re
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from cryolab.runfile import RunFile, clear_write_flag
from cryolab.sequence import format_duration, make_plan, sequence_from_text
from cryolab.station import load_station

SPEED = 400.0  # simulated seconds per wall second: the sweep below takes ~15 s of wall time,
#: so the last kill (900 points) comes well before its end even on a loaded machine
SEQUENCE = """
name: kill test
simulation: {preset: S1}
steps:
  - set_excitation: {current_nA: 0.5}
  - field_sweep:
      fields_Oe: [100, 400]
      rate_Oe_per_s: 10
      ramp: {from_K: 0.07, to_K: 0.6}
"""


def cryolab(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "cryolab", *args], capture_output=True,
                          text=True, timeout=timeout)


def start_run(tmp_path):
    """Start a simulated run and return once it is writing points (start-up time varies with
    the machine's load; the kill moments count from here)."""
    seq = tmp_path / "kill.yaml"
    seq.write_text(SEQUENCE)
    out = tmp_path / "runs"
    proc = subprocess.Popen([sys.executable, "-m", "cryolab", "run", str(seq), "--sim",
                             "--speed", str(SPEED), "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        files = list(out.glob("*.h5"))
        if files:
            try:
                with RunFile(files[0]) as run:
                    if any(s.n_points for s in run.steps()):
                        return proc, out
            except Exception:  # the file may be mid-creation; try again
                pass
        time.sleep(0.1)
    proc.kill()
    raise AssertionError("the run did not start writing points within 60 s")


def points_on_disk(path) -> int:
    try:
        with RunFile(path) as run:
            return len(run.points())
    except Exception:  # mid-write: read again
        return 0


@pytest.mark.parametrize("kill_at_points", [30, 300, 900])
def test_a_killed_run_leaves_a_readable_file_that_resume_completes(tmp_path, kill_at_points):
    """Killed once another process has seen ``kill_at_points`` points on the disk (moments
    chosen by what the file holds, not by wall time): every point seen before the kill is in
    the file after it. How much a kill loses in time is measured by benchmarks/run.py crash."""
    proc, out = start_run(tmp_path)
    (path,) = out.glob("*.h5")
    deadline = time.monotonic() + 120
    seen = 0
    while seen < kill_at_points and proc.poll() is None and time.monotonic() < deadline:
        seen = points_on_disk(path)
    assert seen >= kill_at_points, "the run ended or stalled before the kill"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)

    with RunFile(path) as run:  # opens despite the killed writer
        assert run.status == "running"
        points = run.points()
        assert len(points) >= seen  # nothing that was on the disk is lost
        assert np.all(np.diff(points["time_s"]) > 0)
        # every row kept was written whole, in every column (the columns are flushed together)
        for name in ("xx_x_V", "xx_frequency_Hz", "field_Oe"):
            assert np.isfinite(points[name]).all(), name

    result = cryolab("resume", str(path), "--speed", "max")
    assert result.returncode == 0, result.stderr
    first = int(re.search(r"resuming .* at step (\d) of 5", result.stderr).group(1))
    plan = make_plan(sequence_from_text(SEQUENCE), load_station())
    left = sum(p.estimate_s for p in plan[first - 1:])  # what is left, not the whole plan
    assert f"plan: steps {first}–5 of 5 left, about {format_duration(left)} of lab time" \
        in result.stderr
    with RunFile(path) as run:
        assert run.status == "completed"
        assert run.attrs["end_reason"] == ""
        segments = run.segments()
        assert [s["end_status"] for s in segments] == ["interrupted", "completed"]
        # the resumed clock starts after everything the first process recorded
        first = [s for s in run.steps() if s.started < segments[1]["started_s"]]
        assert all(run.points(s.name)["time_s"].max(initial=0) < segments[1]["started_s"]
                   for s in first)
        steps = run.steps()
        plan = make_plan(sequence_from_text(SEQUENCE), load_station())
        completed = {s.index for s in steps if s.status == "completed"}
        assert completed == set(range(len(plan)))  # every planned step, once completed
        statuses = {s.status for s in steps}
        assert statuses <= {"completed", "interrupted"}
        interrupted = [s for s in steps if s.status == "interrupted"]
        if interrupted:  # it is re-run from its beginning, in a new group after it
            again = [s for s in steps if s.index == interrupted[0].index and
                     s.status == "completed"]
            assert again and again[0].name > interrupted[0].name
    with h5py.File(path, "r") as f:  # a plain reader opens it again once finished
        assert f.attrs["status"] == "completed"


def test_resume_refuses_a_completed_run_and_changes_nothing(tmp_path):
    seq = tmp_path / "short.yaml"
    seq.write_text("steps:\n  - set_excitation: {current_nA: 0.5}\n  - measure: {points: 3}\n")
    assert cryolab("run", str(seq), "--sim", "--speed", "max", "--out", str(tmp_path)
                   ).returncode == 0
    (path,) = tmp_path.glob("*.h5")
    before = path.read_bytes()
    result = cryolab("resume", str(path))
    assert result.returncode == 2
    assert "already completed" in result.stderr and "Traceback" not in result.stderr
    assert path.read_bytes() == before


@pytest.mark.parametrize("content", ["foreign", "truncated", "text"])
def test_resume_refuses_files_that_are_not_runs(tmp_path, content):
    path = tmp_path / "x.h5"
    if content == "foreign":
        with h5py.File(path, "w") as f:
            f["data"] = [1.0, 2.0]
    elif content == "text":
        path.write_text("not hdf5")
    else:
        seq = tmp_path / "s.yaml"
        seq.write_text("steps:\n  - set_excitation: {current_nA: 0.5}\n")
        cryolab("run", str(seq), "--sim", "--speed", "max", "--out", str(tmp_path / "r"))
        (run,) = (tmp_path / "r").glob("*.h5")
        path.write_bytes(run.read_bytes()[:4096])
    before = path.read_bytes()
    result = cryolab("resume", str(path))
    assert result.returncode == 2
    assert "cannot resume" in result.stderr and "Traceback" not in result.stderr
    assert path.read_bytes() == before


def test_clearing_the_write_flag_of_a_killed_file(tmp_path):
    proc, out = start_run(tmp_path)  # returns once points are on the disk
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    (path,) = out.glob("*.h5")
    with pytest.raises(OSError, match="already open for write"):
        h5py.File(path, "r")  # what a colleague's plain h5py call meets
    assert clear_write_flag(path) is True
    with h5py.File(path, "r") as f:
        assert f["entry/data/time_s"].shape[0] > 0


def test_resume_refuses_a_file_that_is_still_being_written(tmp_path):
    proc, out = start_run(tmp_path)
    try:
        (path,) = out.glob("*.h5")
        result = cryolab("resume", str(path))
        assert result.returncode == 2
        assert "another process is still writing" in result.stderr
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
