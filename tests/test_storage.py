"""The run file: HDF5 round trip, live reading from another process, flushing, refusals."""

import subprocess
import sys
import threading

import h5py
import numpy as np
import pytest

from cryolab.cli import main
from cryolab.events import HeatingFound, Note, RunEnded, RunStarted, StepEnded, StepStarted
from cryolab.measurement import ChannelReading, Flag, Point
from cryolab.runfile import RunFile, RunFileError, RunWriter, clear_write_flag, export_csv
from cryolab.runfile.schema import point_dtype, point_row, stored_dtype
from cryolab.sequence import Measure, PlannedStep, SetField

PLAN = [PlannedStep(0, SetField(field_Oe=100.0), 40.0), PlannedStep(1, Measure(points=5), 15.0)]


def rows(n, t0=1000.0, field=100.0, step=1):
    """n one-channel points, every other one or so out of equilibrium (flag 1)."""
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        flags = int(rng.integers(0, 2))
        reading = ChannelReading(1e-6, -1e-9, 2000.0 + i, 1000.0 + i / 2, 5e-10, 6.93, 1.0,
                                 1e-5, flags, flags == 0)
        out.append(Point(step, t0 + 3.0 * i, 0.1, 0.1 * (1 + 0.2 * flags), 5000.0, field, 0.1,
                         flags, (reading,)))
    return out


def write_run(path, n_points=5000, close=True):
    writer = RunWriter(path, {"sequence": "steps: []", "simulated": True, "seed": 7}, ["xx"])
    writer(RunStarted(999.0, PLAN, 0))
    writer(StepStarted(999.5, PLAN[0]))
    writer(StepEnded(999.8, 0, "completed", {"field_Oe": 100.0}))
    writer(StepStarted(1000.0, PLAN[1]))
    data = rows(n_points)
    for point in data:
        writer(point)
    writer(Note(1001.0, 1, "warning", "sample out of equilibrium"))
    if close:
        writer(StepEnded(2e4, 1, "completed", {"linear": True, "values": [1.0, 2.0]}))
        writer(RunEnded(2e4, "completed"))
        writer.close()
    return writer, data


def test_hdf5_round_trip(tmp_path):
    path = tmp_path / "run.h5"
    _, data = write_run(path)
    with RunFile(path) as run:
        assert run.status == "completed"
        assert run.attrs["seed"] == 7 and run.attrs["simulated"] is True
        steps = run.steps()
        assert [s.name for s in steps] == ["000_set_field", "001_measure"]
        assert steps[0].attrs["target_field_Oe"] == 100.0
        assert steps[0].attrs["result_field_Oe"] == 100.0
        assert steps[1].attrs["result_linear"] is True
        assert steps[1].attrs["result_values"] == [1.0, 2.0]
        points = run.points("001_measure")
        assert points.dtype == stored_dtype(["xx"])
        expected = np.array([point_row(p) for p in data], dtype=point_dtype(["xx"]))
        assert np.array_equal(points[list(expected.dtype.names)], expected)
        assert set(points["step"]) == {1} and set(points["step_index"]) == {1}
        assert len(run.points(0)) == 0 and len(run.points()) == 5000
        frame = run.dataframe()
        assert len(frame) == 5000 and set(frame["step"]) == {1}
        assert frame.attrs["units"]["xx_rho_ohm_sq"] == "ohm/sq"
        assert run.events()[0]["text"] == "sample out of equilibrium"
        assert run.segments()[0]["end_status"] == "completed"


def test_heating_found_marks_the_points_already_written(tmp_path):
    """A linearity check finds heating at I²R = 5e-10² · 4500 W and 0.1 K: the points in the
    file with I²R/T⁵ at or beyond that are flagged HEATED and not valid, the others untouched."""
    path = tmp_path / "run.h5"
    writer, data = write_run(path, n_points=5000, close=False)
    writer(HeatingFound(2e4, 1, "lockin", ("xx",), 5e-10**2 * 4500.0, 0.1, "linearity check"))
    writer(StepEnded(2e4, 1, "completed"))
    writer(RunEnded(2e4, "completed"))
    writer.close()
    before = np.array([p.channels[0].flags for p in data])
    R = np.array([p.channels[0].R_ohm for p in data])
    T = np.array([p.T_sample_K for p in data])
    heated = (T == 0.1) & (R >= 4500.0)  # at 0.12 K the bound is 1.2⁵ times higher: none
    with RunFile(path) as run:
        points = run.points()
        assert run.file["entry/data/xx_flags"].attrs["flag_masks"][-1] == Flag.HEATED
    assert 1000 < heated.sum() < 2500
    np.testing.assert_array_equal(points["xx_flags"], np.where(heated, before | Flag.HEATED,
                                                               before))
    np.testing.assert_array_equal(points["xx_valid"], points["xx_flags"] == 0)
    assert not points["xx_valid"][heated].any()


def test_csv_export_has_every_point(tmp_path):
    path = tmp_path / "run.h5"
    write_run(path, 300)
    assert main(["export", str(path), "--csv", str(tmp_path / "csv")]) == 0
    lines = (tmp_path / "csv" / "points.csv").read_text().splitlines()
    assert len(lines) == 301 and lines[0].startswith("step,step_index,time_s,T_mc_K")
    assert len((tmp_path / "csv" / "steps.csv").read_text().splitlines()) == 3
    assert export_csv(path, tmp_path / "again")[0].name == "points.csv"


READER = """
import sys, time
from cryolab.runfile import RunFile
with RunFile(sys.argv[1]) as run:
    for _ in range(int(sys.argv[2])):
        run.refresh()
        print(sum(s.n_points for s in run.steps()), run.status, flush=True)
        time.sleep(0.4)
"""
#: refreshes until the count has grown twice (bounded): a live reader follows a live file
GROWTH_READER = """
import sys, time
from cryolab.runfile import RunFile
with RunFile(sys.argv[1]) as run:
    counts = []
    for _ in range(600):
        run.refresh()
        n = sum(s.n_points for s in run.steps())
        if not counts or n != counts[-1]:
            counts.append(n)
            print(n, flush=True)
        if len(counts) >= 3:
            break
        time.sleep(0.05)
"""


def test_points_reach_the_disk_while_the_writer_stays_open(tmp_path):
    """Fewer points than a write block, no flush asked for: the writer's own flush thread puts
    them on the disk, where another process sees them (how soon is measured by
    `benchmarks/run.py crash`, not asserted here)."""
    path = tmp_path / "run.h5"
    writer, _ = write_run(path, 100, close=False)
    try:
        seen: list[str] = []
        for _ in range(60):  # wait on the condition, bounded
            out = subprocess.run([sys.executable, "-c", READER, str(path), "1"],
                                 capture_output=True, text=True, timeout=60)
            seen = out.stdout.split()
            if seen == ["100", "running"]:
                break
        assert seen == ["100", "running"], out.stderr
    finally:
        writer.close()


def test_a_second_process_reads_the_file_live_during_a_run(tmp_path):
    from tests.test_runner import LONG_RAMP, start_session

    session = start_session(tmp_path, LONG_RAMP, speed=300.0)
    thread = threading.Thread(target=session.run)
    thread.start()
    try:
        out = subprocess.run([sys.executable, "-c", GROWTH_READER, str(session.path)],
                             capture_output=True, text=True, timeout=120)
    finally:
        session.runner.abort("test over")
        thread.join(timeout=30)
        session.close()
    counts = [int(line) for line in out.stdout.split()]
    assert len(counts) >= 3, out.stderr  # it saw the file grow, twice, while being written
    assert counts == sorted(counts)


def test_foreign_and_damaged_files_are_refused_clearly(tmp_path):
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["x"] = [1, 2, 3]
    with pytest.raises(RunFileError, match="not a cryolab run file"):
        RunFile(foreign)
    text = tmp_path / "notes.h5"
    text.write_text("hello")
    with pytest.raises(RunFileError, match="not a readable HDF5 file"):
        RunFile(text)
    with pytest.raises(RunFileError, match="not an HDF5 file"):
        clear_write_flag(text)
    run = tmp_path / "run.h5"
    write_run(run, 10)
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(run.read_bytes()[:2048])
    with pytest.raises(RunFileError):
        RunFile(truncated)
    assert clear_write_flag(run) is False  # closed cleanly: nothing to clear
