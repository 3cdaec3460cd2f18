"""Every subcommand, walked with hostile arguments and files: exit 2 for a bad input, 1 for a
runtime failure, a sentence on stderr and never a Python traceback; nothing moves, no run file
appears. Devices and FIFOs must not hang a command (each is read with a size cap)."""

import os
import subprocess
import sys
from pathlib import Path

import h5py
import pytest

import cryolab.session
from cryolab.cli import main
from tests.test_storage import write_run

SEQUENCE = "sequences/linearity.yaml"


@pytest.fixture
def hostile(tmp_path):
    """Files a careless or hostile user might hand to cryolab."""
    files = {
        "dir": tmp_path / "a_folder",
        "fifo": tmp_path / "fifo.yaml",
        "binary": tmp_path / "binary.yaml",
        "text": tmp_path / "notes.txt",
        "foreign": tmp_path / "foreign.h5",
        "run": tmp_path / "run.h5",
        "nan_csv": tmp_path / "nan.csv",
        "empty_csv": tmp_path / "empty.csv",
        "typed_station": tmp_path / "station.yaml",
    }
    files["dir"].mkdir()
    os.mkfifo(files["fifo"])
    files["binary"].write_bytes(bytes(range(256)) * 10)
    files["text"].write_text("not a run\n")
    with h5py.File(files["foreign"], "w") as f:
        f["x"] = [1.0]
    write_run(files["run"], 50)
    files["nan_csv"].write_text("T_K,rho_ohm_sq\nnan,1\n0.1,nan\n")
    files["empty_csv"].write_text("")
    station = Path("cryolab/data/sim_station.yaml").read_text()
    files["typed_station"].write_text(station.replace("max_field_Oe: 600", "max_field_Oe: true"))
    return {k: str(v) for k, v in files.items()}


def cases(f, tmp):
    """(argv, exit code) pairs."""
    seq_bad = [("check", f[k]) for k in ("dir", "fifo", "binary", "text")]
    out = ["--out", f"{tmp}/runs"]
    return [
        *[(list(argv), 2) for argv in seq_bad],
        (["check", "/dev/zero"], 2),
        (["check", "/dev/null"], 2),
        (["check", f"{tmp}/missing.yaml"], 2),
        (["check", SEQUENCE, "--station", "/dev/zero"], 2),
        (["check", SEQUENCE, "--station", f["fifo"]], 2),
        (["check", SEQUENCE, "--station", f["typed_station"]], 2),
        (["run", SEQUENCE, "--sim", "--speed", "0", *out], 2),
        (["run", SEQUENCE, "--sim", "--speed", "-3", *out], 2),
        (["run", SEQUENCE, "--sim", "--speed", "nan", *out], 2),
        (["run", SEQUENCE, "--sim", "--speed", "1e400", *out], 2),
        (["run", SEQUENCE, "--sim", "--speed", "fast", *out], 2),
        (["run", SEQUENCE, "--sim", "--seed", "-1", *out], 2),
        (["run", SEQUENCE, "--sim", "--seed", str(2**70), *out], 2),
        (["run", SEQUENCE, "--sim", "--seed", "1.5", *out], 2),
        (["run", SEQUENCE, "--sim", "--sample", "S9", *out], 2),
        (["run", SEQUENCE, "--sim", "--out", f["text"]], 2),
        (["run", SEQUENCE, "--sim", "--out", "/dev/null/runs"], 2),
        (["run", SEQUENCE, "--sim", "--out", "/proc/runs"], 2),
        (["run", SEQUENCE, "--sim", "--report", f"{tmp}/fig.txt", *out], 2),
        (["run", SEQUENCE, "--sim", "--report", f["dir"], *out], 2),
        (["run", f["fifo"], "--sim", *out], 2),
        (["run", SEQUENCE, *out], 2),  # hardware needs a station
        (["run", SEQUENCE, "--station", "cryolab/data/sim_station.yaml", "--speed", "10",
          *out], 2),
        (["resume", f["dir"]], 2),
        (["resume", f["fifo"]], 2),
        (["resume", "/dev/zero"], 2),
        (["resume", f["text"]], 2),
        (["resume", f["foreign"]], 2),
        (["resume", f["run"]], 2),  # completed
        (["resume", f["run"], "--speed", "fast"], 2),
        (["fit", f["dir"]], 2),
        (["fit", f["fifo"]], 2),
        (["fit", "/dev/zero"], 2),
        (["fit", f["binary"]], 2),
        (["fit", f["nan_csv"]], 2),
        (["fit", f["empty_csv"]], 2),
        (["fit", f["foreign"]], 2),
        (["fit", f"{tmp}/missing.csv"], 2),
        (["fit", f["run"], "--model", "eq3"], 2),
        (["report", f["foreign"], "-o", f"{tmp}/fig.png"], 2),
        (["report", f["run"], "-o", f"{tmp}/fig.txt"], 2),
        (["report", f["run"], "-o", f["dir"]], 2),
        (["report", f["run"], "-o", f"{f['text']}/fig.png"], 2),
        (["report", f["fifo"], "-o", f"{tmp}/fig.png"], 2),
        (["export", f["foreign"], "--csv", f"{tmp}/csv"], 2),
        (["export", f["run"], "--csv", f["text"]], 2),
        (["export", "/dev/zero", "--csv", f"{tmp}/csv"], 2),
        (["export", f["fifo"], "--csv", f"{tmp}/csv"], 2),
        (["sim", "serve", "--port-base", "70000"], 2),
        (["sim", "serve", "--port-base", "-1"], 2),
        (["sim", "serve", "--speed", "0"], 2),
        (["sim", "serve", "--speed", "max"], 2),
        (["sim", "serve", "--fault", "lockin:explode"], 2),
        (["sim", "serve", "--fault", "toaster:timeout:rate=0.1"], 2),
        (["sim", "serve", "--fault", "lockin:timeout:rate=2"], 2),
        (["sim", "serve", "--bridge-max-connections", "0"], 2),
        (["no-such-command"], 2),
    ]


@pytest.fixture
def nothing_may_start(monkeypatch):
    class Forbidden:
        def __init__(self, *args, **kwargs):
            raise AssertionError("an instrument was started for an invalid input")

    monkeypatch.setattr(cryolab.session, "SimulatedLab", Forbidden)
    monkeypatch.setattr(cryolab.session, "connect", Forbidden)


def run_main(argv):
    try:
        return main(argv)
    except SystemExit as exc:  # argparse's refusals
        return exc.code


def test_every_subcommand_refuses_hostile_arguments_without_a_traceback(
        hostile, tmp_path, capsys, nothing_may_start):
    failures = []
    for argv, expected in cases(hostile, tmp_path):
        code = run_main(argv)
        err = capsys.readouterr().err
        if code != expected or "Traceback" in err or not err.strip():
            failures.append(f"{argv}: exit {code}, stderr {err.strip()[:200]!r}")
    assert not failures, "\n".join(failures)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").glob("*.h5"))


def test_a_real_process_prints_a_sentence_not_a_traceback(hostile, tmp_path):
    for argv in (["check", "/dev/zero"], ["run", SEQUENCE, "--sim", "--speed", "fast"],
                 ["resume", hostile["foreign"]], ["fit", hostile["fifo"]]):
        result = subprocess.run([sys.executable, "-m", "cryolab", *argv], capture_output=True,
                                text=True, timeout=120, cwd=os.getcwd())
        assert result.returncode == 2, (argv, result.stderr)
        assert "Traceback" not in result.stderr and result.stderr.strip()


def test_an_unreachable_instrument_is_named_with_its_address(tmp_path, capsys, virtual_lab):
    import yaml

    text = Path("cryolab/data/sim_station.yaml").read_text()
    data = yaml.safe_load(text.replace(": off", ": 'off'"))
    for name, resource in virtual_lab.resources.items():  # the others answer
        data["instruments"][name]["resource"] = resource
    data["instruments"]["lockin"]["resource"] = "TCPIP0::127.0.0.1::9::SOCKET"  # discard port
    data["instruments"]["lockin"]["timeout_ms"] = 200
    data["sample"]["thermometer_calibration"] = os.path.abspath(
        "cryolab/data/sim_sample_ruo2.340")
    station = tmp_path / "station.yaml"
    station.write_text(yaml.safe_dump(data))
    code = main(["run", SEQUENCE, "--station", str(station), "--out", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert "lockin (SR830) at TCPIP0::127.0.0.1::9::SOCKET" in err
    assert not list((tmp_path / "runs").glob("*.h5"))


def test_a_bug_is_reported_in_one_line_with_the_traceback_in_the_error_log(
        tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))

    def broken(args):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr("cryolab.cli.cmd_check", broken)
    parser_main = main(["check", SEQUENCE])
    err = capsys.readouterr().err
    assert parser_main == 1 and "Traceback" not in err and "internal error" in err
    log = (tmp_path / "state" / "cryolab" / "errors.log").read_text()
    assert "Traceback" in log and "ZeroDivisionError: a bug" in log
