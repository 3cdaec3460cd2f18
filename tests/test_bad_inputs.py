"""Bad sequence and station files: each refused with exit 2, the key named, no traceback,
nothing moved, no file written (tests/data/bad_inputs/EXPECTED.yaml says what each must name)."""

from pathlib import Path

import pytest
import yaml

import cryolab.session
from cryolab.cli import main

BAD = Path(__file__).parent / "data" / "bad_inputs"
EXPECTED: dict[str, str] = yaml.safe_load((BAD / "EXPECTED.yaml").read_text())
SEQUENCES = sorted(n for n in EXPECTED if n.startswith("seq_"))
STATIONS = sorted(n for n in EXPECTED if n.startswith("station_"))


@pytest.fixture(autouse=True)
def no_instrument_may_start(monkeypatch):
    """Refusal comes before anything is contacted: constructing a simulated lab fails the test."""

    class Forbidden:
        def __init__(self, *args, **kwargs):
            raise AssertionError("an instrument was started for an invalid input")

    monkeypatch.setattr(cryolab.session, "SimulatedLab", Forbidden)
    monkeypatch.setattr(cryolab.session, "connect", Forbidden)


def test_there_are_at_least_thirty_bad_inputs():
    assert len(SEQUENCES) + len(STATIONS) >= 30
    assert all((BAD / name).exists() for name in EXPECTED)


def refused(capsys, argv, out_dir):
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    assert not out_dir.exists() or not any(out_dir.iterdir())
    return err


@pytest.mark.parametrize("name", SEQUENCES)
def test_bad_sequences_are_refused_by_check_and_run(tmp_path, capsys, name):
    path = str(BAD / name)
    out = tmp_path / "runs"
    err = refused(capsys, ["check", path], out)
    assert EXPECTED[name] in err
    err = refused(capsys, ["run", path, "--sim", "--speed", "max", "--out", str(out)], out)
    assert EXPECTED[name] in err and name in err


@pytest.mark.parametrize("name", STATIONS)
def test_bad_stations_are_refused_by_check_and_run(tmp_path, capsys, name):
    path = str(BAD / name)
    out = tmp_path / "runs"
    err = refused(capsys, ["check", "sequences/linearity.yaml", "--station", path], out)
    assert EXPECTED[name] in err
    if name == "station_bad_calibration.yaml":  # the key, then what is wrong with the curve
        assert "bad_curve.340: units are not strictly monotonic" in err
    err = refused(capsys, ["run", "sequences/linearity.yaml", "--station", path, "--out",
                           str(out)], out)
    assert EXPECTED[name] in err


def test_a_huge_file_is_refused_before_it_is_parsed(tmp_path, capsys):
    huge = tmp_path / "huge.yaml"
    huge.write_text("steps:\n" + "  - measure: {points: 3}\n" * 100_000)  # 2.5 MB
    err = refused(capsys, ["check", str(huge)], tmp_path / "runs")
    assert "the limit is 1000 kB" in err


def test_a_missing_file_and_a_directory_are_refused(tmp_path, capsys):
    assert "file not found" in refused(capsys, ["check", str(tmp_path / "no.yaml")],
                                       tmp_path / "runs")
    assert "is a directory" in refused(capsys, ["check", str(tmp_path)], tmp_path / "runs")


def test_hardware_runs_need_a_station_and_speed_needs_sim(tmp_path, capsys):
    assert "needs --station" in refused(capsys, ["run", "sequences/linearity.yaml"],
                                        tmp_path / "r")
    argv = ["run", "sequences/linearity.yaml", "--station", "cryolab/data/sim_station.yaml",
            "--speed", "10"]
    assert "simulated runs only (--sim)" in refused(capsys, argv, tmp_path / "r")


@pytest.mark.parametrize("command", [["fit"], ["report", "-o", "x.png"], ["resume"],
                                     ["export", "--csv", "out"]])
def test_truncated_and_foreign_files_get_a_clear_error(tmp_path, capsys, command):
    import h5py

    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["x"] = [1.0]
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))
    for path in (foreign, truncated):
        argv = [command[0], str(path), *command[1:]]
        code = main(argv)
        err = capsys.readouterr().err
        assert code == 2 and "Traceback" not in err
        assert "cryolab run file" in err or "HDF5" in err or "cannot resume" in err
