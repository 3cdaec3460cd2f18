"""The command line as a physicist meets it: a help text about the measurement, help for every
option, `check` and `--help` that load nothing heavy, and warnings about likely slips."""

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from cryolab.cli import build_parser, main

ROOT = Path(__file__).resolve().parent.parent
#: what `check` and `--help` must not load (each takes 0.1–0.5 s to import)
HEAVY = ("matplotlib", "scipy", "pandas", "h5py", "PyQt5", "PyQt6", "PySide6", "qtpy",
         "pyqtgraph", "pymeasure", "pyvisa", "numpy", "starlette", "uvicorn", "apprise")


def loaded_after(*args: str) -> set[str]:
    """The top-level packages a fresh `cryolab ARGS` has imported when it finishes."""
    code = ("import sys, runpy, contextlib, io\n"
            f"sys.argv = ['cryolab', *{list(args)!r}]\n"
            "with contextlib.redirect_stdout(io.StringIO()), "
            "contextlib.redirect_stderr(io.StringIO()), contextlib.suppress(SystemExit):\n"
            "    runpy.run_module('cryolab', run_name='__main__')\n"
            "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=60, check=True)
    return set(result.stdout.split())


@pytest.mark.parametrize("args", [["--help"], ["check", "sequences/overnight_field_sweep.yaml"],
                                  ["check", "sequences/linearity.yaml", "--station",
                                   "cryolab/data/sim_station.yaml"],
                                  ["check", "sequences/cooldown.yaml", "--station",
                                   "sequences/stations/sim_hall_bar.yaml"],
                                  ["check", "sequences/cooldown.yaml", "--station",
                                   "sequences/stations/sim_mixed.yaml"]],
                         ids=["help", "check", "check-station", "check-hall-bar", "check-mixed"])
def test_help_and_check_load_nothing_heavy(args):
    assert loaded_after(*args).isdisjoint(HEAVY), sorted(loaded_after(*args) & set(HEAVY))


@pytest.mark.parametrize("model", ["LS372", "LS370"])
def test_station_validation_knows_the_bridges_ramp_range_without_the_driver(model):
    """The adapter's copy (read to validate a station) is the driver's own range."""
    from cryolab.roles.registry import MODELS, bridge_ramp_range_K_per_min

    span = MODELS[model].driver.RAMP_RATE_RANGE
    assert bridge_ramp_range_K_per_min(model) == (span.low, span.high)


@pytest.mark.parametrize("model", ["SR830", "SR860"])
def test_station_validation_knows_the_lockins_input_without_the_driver(model):
    """The adapter's copy of the input impedance (read to validate a station) is the
    driver's own."""
    from cryolab.roles.registry import MODELS, lockin_input_impedance

    assert lockin_input_impedance(model) == tuple(MODELS[model].driver.INPUT_IMPEDANCE)


def test_the_help_describes_the_measurement_not_the_code(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert "dilution refrigerator" in text and "Eq. 1" in text
    assert "dispatch" not in text and "parsing" not in text
    for command in ("check", "run", "gui", "resume", "fit", "report"):
        assert f"cryolab {command} " in text  # a night, command by command


def _actions(parser: argparse.ArgumentParser, path: str = "cryolab"):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _actions(sub, f"{path} {name}")
        elif not isinstance(action, argparse._HelpAction | argparse._VersionAction):
            yield path, action


def test_every_option_and_argument_has_help():
    missing = [f"{path} {'/'.join(a.option_strings) or a.dest}"
               for path, a in _actions(build_parser()) if not a.help]
    assert missing == []


def test_check_numbers_steps_from_one_and_says_when_the_night_ends(capsys):
    assert main(["check", "sequences/linearity.yaml"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[2].split()[:2] == ["1", "set_field"]  # step 1, as the progress line says
    assert lines[-1].startswith("total: 5 steps, about 0:21:")
    assert "started now, it ends about " in lines[-1] and "local time" in lines[-1]


@pytest.mark.parametrize("fields, warned", [("[0.01, 0.045]", True), ("[0, 0.5]", True),
                                            ("[0, 50]", False), ("[0, 0]", False)])
def test_check_warns_when_fields_look_like_tesla(tmp_path, capsys, fields, warned):
    seq = tmp_path / "tesla.yaml"
    seq.write_text("steps:\n  - field_sweep:\n      fields_Oe: " + fields + "\n"
                   "      measure_points: 10\n")
    assert main(["check", str(seq)]) == 0  # a warning, not a refusal: the values are legal
    err = capsys.readouterr().err
    assert ("tesla typed as Oe?" in err) is warned
    if fields == "[0.01, 0.045]":
        assert "steps[0].field_sweep.fields_Oe: every field is below 1 Oe (0.01, 0.045 Oe): " \
               "tesla typed as Oe? 0.045 T would be 450 Oe" in err


def test_set_field_steps_read_as_one_list_of_fields(tmp_path, capsys):
    seq = tmp_path / "tesla.yaml"
    seq.write_text("steps:\n  - set_field: {field_Oe: 0.03}\n  - measure: {points: 3}\n"
                   "  - set_field: {field_Oe: 0}\n")
    assert main(["check", str(seq)]) == 0
    assert "steps[0].set_field.field_Oe, steps[2].set_field.field_Oe: every field is below " \
           "1 Oe" in capsys.readouterr().err
