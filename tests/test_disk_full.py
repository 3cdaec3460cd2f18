"""Nothing lost at the disk's edge: a run that cannot fit is refused with the numbers; a disk
that fills up during the night (slowly: the interlock; suddenly: a write error), an I/O error
and a vanished output folder all end the run in the safe state with the file closed and every
flushed point readable — never a crash. The full disk is a real small filesystem (tmpfs) where
the machine allows mounting one, else the test is skipped; the I/O error is injected at the
h5py layer, which needs no privileges."""

import math
import os
import shutil
import subprocess
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

import cryolab.runfile.diskspace
from cryolab.cli import main
from cryolab.events import StepStarted
from cryolab.runfile import RunFile
from cryolab.session import Session, validate

SEQUENCE = """
name: disk edge
steps:
  - set_excitation: {current_nA: 0.5}
  - measure: {points: 40}
  - measure: {points: 40}
  - measure: {points: 40}
"""


def station_file(tmp, min_free_MB):
    source = Path("cryolab/data/sim_station.yaml")
    data = yaml.safe_load(source.read_text().replace(": off", ": 'off'"))
    data["limits"]["min_free_disk_MB"] = min_free_MB
    data["sample"]["thermometer_calibration"] = str((source.parent /
                                                     "sim_sample_ruo2.340").resolve())
    path = tmp / "station.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def small_disk(tmp_path):
    """A real 48 MB filesystem, mounted for the test (skipped where mounting is not allowed)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(mount)],
                          capture_output=True, timeout=30)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True, timeout=30)


def fill(folder: Path, leave_bytes: int) -> None:
    """Another program takes the disk, leaving ``leave_bytes`` free."""
    free = shutil.disk_usage(folder).free
    with open(folder / "filler", "wb") as f:
        os.posix_fallocate(f.fileno(), 0, max(free - leave_bytes, 1))


def run_session(tmp, out, station, at_step=None, action=None):
    seq = tmp / "seq.yaml"
    seq.write_text(SEQUENCE)
    spec = validate(seq, station, simulated=True, speed=math.inf, seed=3)
    path = out / "run.h5"

    def trigger(event):
        if isinstance(event, StepStarted) and event.index == at_step:
            action()

    session = Session(spec, path, lab_options={"banner_delay_s": 0.0}, subscribers=[trigger])
    try:
        status = session.run()
        heater = session.lab.world.fridge.heater.range_index
    finally:
        session.close()
    return status, path, heater, session


def assert_readable_and_consistent(path):
    with RunFile(path) as run:
        points = run.points()
        assert len(points) > 0
        assert (points["time_s"] > 1e9).all()  # no zero-filled rows from a failed block
        assert run.status == "failed"
        return run.attrs["end_reason"], [e["text"] for e in run.events()], len(points)


def test_a_run_that_cannot_fit_is_refused_with_the_numbers(tmp_path, capsys, monkeypatch):
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage",
                        lambda p: usage._replace(free=5_000_000))  # a nearly full disk
    code = main(["run", "sequences/overnight_field_sweep.yaml", "--sim", "--speed", "max",
                 "--out", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "not enough disk space" in err and "5 MB free" in err and "min_free_disk_MB" in err
    assert not list((tmp_path / "runs").glob("*.h5"))


@pytest.fixture
def check_every_point(monkeypatch):
    """The interlock looks once per wall second; a simulated night is over in less."""
    monkeypatch.setattr(cryolab.runfile.diskspace, "CHECK_EVERY_S", 0.0)


def test_a_disk_filling_up_during_the_night_stops_it_safely(tmp_path, small_disk,
                                                            check_every_point):
    station = station_file(tmp_path, min_free_MB=16)
    status, path, heater, _ = run_session(
        tmp_path, small_disk, station, at_step=2,
        action=lambda: fill(small_disk, leave_bytes=10_000_000))
    assert status == "failed" and heater == 0  # the safe state: heater off
    reason, notes, n = assert_readable_and_consistent(path)
    assert "disk space low" in reason and "min_free_disk_MB" in reason
    assert any(t.startswith("safe state: heaters off (confirmed)") for t in notes)
    assert n >= 40  # the first measure step is all there
    assert not Path(str(path) + ".reserve").exists() and not Path(str(path) + ".lock").exists()


def test_a_disk_full_at_once_loses_no_point(tmp_path, small_disk):
    """No margin (the interlock never trips): the writer sees the full disk before HDF5
    writes, the reserve makes room for what is pending and for a clean close."""
    station = station_file(tmp_path, min_free_MB=0)
    status, path, heater, _ = run_session(tmp_path, small_disk, station, at_step=2,
                                          action=lambda: fill(small_disk, leave_bytes=0))
    assert status == "failed" and heater == 0
    reason, _, n = assert_readable_and_consistent(path)
    assert "the disk is full" in reason and "lost" not in reason
    assert n >= 80  # both measure steps before the disk filled, nothing lost
    with h5py.File(path, "r") as f:  # a plain reader opens it: it was closed cleanly
        assert f.attrs["status"] == "failed"


def test_an_io_error_ends_the_run_the_same_way(tmp_path, monkeypatch):
    """A write error injected at the h5py layer (EIO on the third flush after step 2 began)."""
    real_flush = h5py.File.flush
    armed = {"countdown": None}

    def flaky_flush(self):
        if armed["countdown"] is not None:
            armed["countdown"] -= 1
            if armed["countdown"] == 0:
                raise RuntimeError("Unable to synchronously flush file (file write failed: "
                                   "errno = 5, error message = 'Input/output error')")
        return real_flush(self)

    monkeypatch.setattr(h5py.File, "flush", flaky_flush)
    out = tmp_path / "out"
    out.mkdir()
    status, path, heater, _ = run_session(tmp_path, out, None, at_step=2,
                                          action=lambda: armed.update(countdown=3))
    assert status == "failed" and heater == 0
    reason, notes, _ = assert_readable_and_consistent(path)
    assert "Input/output error" in reason
    assert any(t.startswith("safe state:") for t in notes)


def test_a_file_hdf5_can_no_longer_write_is_detached_not_crashed(tmp_path, monkeypatch):
    """Every flush fails from step 2 on, the retry too: the handle is pointed at /dev/null,
    the process ends normally, and the file keeps everything its last good flush wrote."""
    real_flush = h5py.File.flush
    broken = {"on": False}

    def failing_flush(self):
        if broken["on"]:
            raise RuntimeError("Unable to flush file (file write failed: errno = 5, error "
                               "message = 'Input/output error')")
        return real_flush(self)

    monkeypatch.setattr(h5py.File, "flush", failing_flush)
    out = tmp_path / "out"
    out.mkdir()
    status, path, heater, _ = run_session(tmp_path, out, None, at_step=2,
                                          action=lambda: broken.update(on=True))
    monkeypatch.setattr(h5py.File, "flush", real_flush)
    assert status == "failed" and heater == 0
    with RunFile(path) as run:  # opened the SWMR way: its writer never closed it on disk
        points = run.points()
        assert len(points) >= 40 and (points["time_s"] > 1e9).all()


def test_a_vanished_output_folder_is_noticed_and_the_file_rescued(tmp_path, monkeypatch,
                                                                  check_every_point):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    out = tmp_path / "out"
    out.mkdir()
    status, _, heater, session = run_session(tmp_path, out, None, at_step=2,
                                             action=lambda: shutil.rmtree(out))
    assert status == "failed" and heater == 0
    rescued = session.writer.rescued_to
    assert rescued is not None and rescued.parent == tmp_path / "state" / "cryolab" / "rescued"
    reason, _, n = assert_readable_and_consistent(rescued)
    assert "vanished" in reason and n >= 40


def test_the_estimate_covers_what_a_night_writes(tmp_path):
    """The size estimate behind the refusal is not optimistic: a real run stays below it."""
    from cryolab.session import space_check

    seq = tmp_path / "seq.yaml"
    seq.write_text(SEQUENCE)
    spec = validate(seq, None, simulated=True, speed=math.inf, seed=3)
    estimate = space_check(spec, tmp_path).needed_bytes
    out = tmp_path / "out"
    out.mkdir()
    status, path, _, _ = run_session(tmp_path, out, None)
    assert status == "completed"
    assert path.stat().st_size < estimate
    with RunFile(path) as run:
        assert np.isfinite(run.points()["time_s"]).all()
