"""`cryolab resume` touches nothing before it is sure: the writer's lock first, then the stored
sequence validated against the stored station as `check` would, and every stored attribute it
relies on checked — each refusal exits 2 with the file byte-for-byte unchanged, no instrument
started and no temporary file left behind."""

import json
import math
import os
import tempfile
from pathlib import Path

import h5py
import pytest

import cryolab.session
from cryolab.cli import main
from cryolab.events import StepStarted
from cryolab.runfile import RunFile, WriterLock
from cryolab.session import Session, validate

SEQUENCE = """
name: resume safety
steps:
  - set_excitation: {current_nA: 0.5}
  - set_field: {field_Oe: 100, rate_Oe_per_s: 10, settle_s: 5}
  - measure: {points: 3}
"""


@pytest.fixture
def aborted_run(tmp_path) -> Path:
    """A run aborted at its second step: resumable, its file closed."""
    seq = tmp_path / "seq.yaml"
    seq.write_text(SEQUENCE)
    spec = validate(seq, None, simulated=True, speed=math.inf, seed=1)
    path = tmp_path / "run.h5"
    holder = {}

    def abort_at_step_1(event):
        if isinstance(event, StepStarted) and event.index == 1:
            holder["session"].runner.abort("test: stop at the field step")

    session = Session(spec, path, lab_options={"banner_delay_s": 0.0},
                      subscribers=[abort_at_step_1])
    holder["session"] = session
    try:
        assert session.run() == "aborted"
    finally:
        session.close()
    return path


@pytest.fixture
def nothing_may_start(monkeypatch):
    class Forbidden:
        def __init__(self, *args, **kwargs):
            raise AssertionError("an instrument was started before resume was sure")

    monkeypatch.setattr(cryolab.session, "SimulatedLab", Forbidden)
    monkeypatch.setattr(cryolab.session, "connect", Forbidden)


def set_attr(path: Path, name: str, value) -> None:
    with h5py.File(path, "r+") as f:
        f.attrs[name] = value


def resume_refused(capsys, path: Path, *extra: str) -> str:
    before = path.read_bytes()
    temp_before = set(os.listdir(tempfile.gettempdir()))
    code = main(["resume", str(path), *extra])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    assert path.read_bytes() == before, "resume changed the file before refusing"
    assert not Path(str(path) + ".lock").exists()
    new_temp = {n for n in set(os.listdir(tempfile.gettempdir())) - temp_before
                if n.startswith("cryolab")}
    assert not new_temp, f"temporary files left behind: {new_temp}"
    return err


def test_a_stored_sequence_edited_beyond_the_limits_is_refused_before_anything_moves(
        aborted_run, capsys, nothing_may_start):
    with h5py.File(aborted_run, "r") as f:
        text = f.attrs["sequence"]
    set_attr(aborted_run, "sequence", text.replace("field_Oe: 100", "field_Oe: 5000"))
    err = resume_refused(capsys, aborted_run)
    assert "attribute 'sequence'" in err
    assert "steps[1].set_field.field_Oe: 5000 Oe is beyond the magnet limit of ±600 Oe" in err


@pytest.mark.parametrize(("name", "value", "expected"), [
    ("station", "{not json", "attribute 'station' is damaged"),
    ("station", json.dumps({"name": "x"}), "instruments: required, but missing"),
    ("speed", "fast", "attribute 'speed' is damaged"),
    ("seed", -5, "attribute 'seed' is damaged"),
    ("preset", "S7", "attribute 'preset' is damaged"),
    ("simulated", "yes", "attribute 'simulated' is damaged"),
    ("sample_calibration_340", "garbage", "sample.thermometer_calibration"),
    ("status", "exploded", "attribute 'status'"),
])
def test_a_damaged_stored_attribute_is_named(aborted_run, capsys, nothing_may_start, name,
                                             value, expected):
    set_attr(aborted_run, name, value)
    assert expected in resume_refused(capsys, aborted_run)


def test_a_file_in_use_is_refused_before_the_file_or_the_instruments_are_touched(
        aborted_run, capsys, nothing_may_start):
    lock = WriterLock.acquire(aborted_run)  # another resume, or a run, holds it
    try:
        before = aborted_run.read_bytes()
        code = main(["resume", str(aborted_run)])
        err = capsys.readouterr().err
        assert code == 2 and "another process is still writing" in err
        assert aborted_run.read_bytes() == before
    finally:
        lock.release()


def test_a_bad_speed_is_refused(aborted_run, capsys, nothing_may_start):
    with pytest.raises(SystemExit) as info:
        main(["resume", str(aborted_run), "--speed", "-1"])
    assert info.value.code == 2
    assert "must be above 0" in capsys.readouterr().err


def test_a_valid_aborted_run_resumes_to_the_end(aborted_run, capsys):
    assert main(["resume", str(aborted_run), "--speed", "max"]) == 0
    with RunFile(aborted_run) as run:
        assert run.status == "completed"
        assert [s["end_status"] for s in run.segments()] == ["aborted", "completed"]
    assert not Path(str(aborted_run) + ".lock").exists()


def test_a_run_stopped_after_its_last_step_has_nothing_to_resume(tmp_path, capsys, request):
    """Aborted between its last step's end and the run's (a SIGINT at the very end): every
    step is completed, so resume says so rather than starting past the plan."""
    seq = tmp_path / "seq.yaml"
    seq.write_text(SEQUENCE)
    assert main(["run", str(seq), "--sim", "--speed", "max", "--out", str(tmp_path)]) == 0
    (path,) = tmp_path.glob("*.h5")
    set_attr(path, "status", "aborted")
    request.getfixturevalue("nothing_may_start")
    assert "every step of this run is completed" in resume_refused(capsys, path)
