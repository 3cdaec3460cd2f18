"""Sequence files: the shipped examples, the Python API, and refusals that name key and value."""

import re
from pathlib import Path

import pytest
import yaml

from cryolab.cli import main
from cryolab.inputs import InputError
from cryolab.measurement import choose_frequency
from cryolab.sequence import (
    FieldSweep,
    Measure,
    RampSpec,
    RampTemperature,
    Sequence,
    SetExcitation,
    SetField,
    check_against_station,
    load_sequence,
    make_plan,
    sequence_from_text,
)
from cryolab.station import load_station

SEQUENCES = sorted((Path(__file__).parent.parent / "sequences").glob("*.yaml"))


@pytest.mark.parametrize("path", SEQUENCES, ids=[p.stem for p in SEQUENCES])
def test_shipped_sequences_are_valid_against_the_simulated_station(path):
    sequence = load_sequence(path)
    assert check_against_station(sequence, load_station()) == []


def test_the_overnight_sweep_is_about_twelve_hours_and_covers_0_to_600_Oe():
    sequence = load_sequence(Path("sequences/overnight_field_sweep.yaml"))
    plan = make_plan(sequence, load_station())
    hours = sum(p.estimate_s for p in plan) / 3600
    assert 11.0 < hours < 13.5
    fields = sorted({p.step.field_Oe for p in plan if isinstance(p.step, SetField)})
    assert fields == list(range(0, 601, 50))
    assert sequence.simulation.preset == "S1"


def test_check_prints_the_plan_and_its_duration(capsys):
    assert main(["check", "sequences/linearity.yaml"]) == 0
    out = capsys.readouterr().out
    assert "linearity_check" in out and "total: 5 steps, about" in out


def test_field_sweep_expands_into_alternating_ramps():
    sweep = FieldSweep(fields_Oe=[0, 100, 200], ramp=RampSpec(from_K=0.06, to_K=1.0))
    steps = sweep.expand()
    assert [s.kind for s in steps] == ["set_field", "ramp_temperature"] * 3
    assert [(s.from_K, s.to_K) for s in steps[1::2]] == [(0.06, 1.0), (1.0, 0.06), (0.06, 1.0)]
    at_fixed_T = FieldSweep(fields_Oe=[0, 50], measure_points=20).expand()
    assert [type(s) for s in at_fixed_T] == [SetField, Measure, SetField, Measure]


def test_python_steps_round_trip_through_the_file_form():
    sequence = Sequence(name="notebook plan", steps=[
        SetExcitation(current_nA=0.3, frequency_Hz=3.3),
        FieldSweep(fields_Oe=[0, 300], ramp=RampSpec(from_K=0.1, to_K=0.5, rate_K_per_min=0.01)),
        RampTemperature(to_K=0.2),
    ])
    again = sequence_from_text(sequence.to_yaml())
    assert again == sequence
    assert len(again.plan()) == 6


def refused(text: str) -> str:
    with pytest.raises(InputError) as info:
        sequence_from_text(text, "bad.yaml", load_station())
    return "\n".join(info.value.problems)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("steps:\n  - set_field: {field_Oe: 1e7}\n",
         r"steps\[0\].set_field.field_Oe: 1e\+07 Oe is beyond the magnet limit of ±600 Oe "
         r"\(station: limits.max_field_Oe\)"),
        ("steps:\n  - set_field: {field_Oe: 100, rate_Oe_per_s: 50}\n",
         r"steps\[0\].set_field.rate_Oe_per_s: 50 Oe/s is above .* limits.max_field_ramp"),
        ("steps:\n  - set_excitation: {current_nA: 5}\n",
         r"steps\[0\].set_excitation.current_nA: 5 nA is outside the bias limits 0.1 to 1 nA"),
        ("steps:\n  - set_excitation: {current_nA: 0.5, frequency_Hz: 13}\n",
         r"steps\[0\].set_excitation.frequency_Hz: 13 Hz is outside 0.7 to 7 Hz"),
        ("steps:\n  - ramp_temperature: {to_K: 4.0}\n",
         r"steps\[0\].ramp_temperature.to_K: 4 K is outside the fridge's range"),
        ("steps:\n  - ramp_temperature: {to_K: 1.0, rate_K_per_min: 2}\n",
         r"rate_K_per_min: 2 K/min is above the limit of 0.5 K/min"),
        ("steps:\n  - field_sweep: {fields_Oe: [0, 700], ramp: {from_K: 0.1, to_K: 1}}\n",
         r"steps\[0\].field_sweep.fields_Oe\[1\]: 700 Oe"),
        ("steps:\n  - linearity_check: {currents_nA: [0.1, 3.0]}\n",
         r"steps\[0\].linearity_check.currents_nA\[1\]: 3 nA"),
        ("steps:\n  - set_field: {field_Oe: .nan}\n", r"steps\[0\].set_field.field_Oe: .*finite"),
        ("steps:\n  - set_field: {field_Oe: '100 Oe'}\n",
         r"steps\[0\].set_field.field_Oe: must be a number alone.*'100 Oe'"),
        ("steps:\n  - set_field: {field_Oe: 100, field_T: 1}\n",
         r"steps\[0\].set_field.field_T: unknown key"),
        ("steps:\n  - ramp: {to_K: 1}\n", r"steps\[0\]: unknown step kind 'ramp'"),
        ("steps:\n  - hold: {}\n", r"steps\[0\].hold: give either duration_s or until"),
        ("steps:\n  - measure: {points: 0}\n", r"steps\[0\].measure.points"),
        ("steps: []\n", r"steps: the sequence has no steps"),
        ("name: x\n", r"steps: required, but missing"),
        ("steps:\n  - measure: {points: 1}\nsettings: {mismatch_threshold: 10}\n",
         r"settings.mismatch_threshold: must be below 1 \(got 10\)"),
        ("steps:\n  - measure: {points: 1}\nsimulation: {preset: S7}\n",
         r"simulation.preset: must be 'S0' or 'S1'"),
        ("steps:\n  - [set_field, 100]\n", r"steps\[0\]: expected one step"),
        ("steps:\n  - set_excitation: {current_nA: 0.5, time_constant_s: 2}\n",
         r"time_constant_s: 2 s is not a time constant of lockin \(SR830"),
    ],
    ids=["field", "field-rate", "current", "frequency", "temperature", "t-rate", "sweep-field",
         "linearity-current", "nan", "units-in-value", "unknown-key", "unknown-kind",
         "hold-neither", "zero-points", "empty", "missing-steps", "threshold", "preset",
         "not-a-mapping", "tau-off-grid"],
)
def test_invalid_sequences_are_refused_naming_the_key(text, expected):
    message = refused(text)
    assert re.search(expected, message), message


def test_all_problems_are_reported_at_once():
    message = refused("steps:\n  - set_field: {field_Oe: 900}\n  - set_excitation: "
                      "{current_nA: 9}\n  - hold: {duration_s: -1}\n")
    assert "steps[0].set_field.field_Oe" in message
    assert "steps[1].set_excitation.current_nA" in message
    assert "steps[2].hold.duration_s" in message


def test_limits_are_checked_even_where_the_schema_refused_something():
    message = refused("settings: {current_nA: 2, typo: 1}\nsteps:\n"
                      "  - set_field: {field_Oe: 900, extra: 1}\n")
    for expected in ("settings.typo: unknown key", "steps[0].set_field.extra: unknown key",
                     "settings.current_nA: 2 nA is outside the bias limits",
                     "steps[0].set_field.field_Oe: 900 Oe is beyond the magnet limit"):
        assert expected in message


@pytest.fixture
def served_station(tmp_path, virtual_lab):
    """A station file whose instruments are the (recording) simulated servers."""
    data = yaml.safe_load(Path("cryolab/data/sim_station.yaml").read_text()
                          .replace(": off", ": 'off'"))
    for name, resource in virtual_lab.resources.items():
        data["instruments"][name]["resource"] = resource
    data["sample"]["thermometer_calibration"] = str(
        Path("cryolab/data/sim_sample_ruo2.340").resolve())
    path = tmp_path / "station.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("text", [
    "steps:\n  - set_field: {field_Oe: 1e7}\n",
    "steps:\n  - set_excitation: {current_nA: 50}\n",
    "steps:\n  - ramp_temperature: {to_K: 300}\n",
    "steps: [\n",
])
def test_cli_refuses_before_anything_moves(tmp_path, capsys, virtual_lab, served_station, text):
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    out = tmp_path / "runs"
    code = main(["run", str(bad), "--station", str(served_station), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert "bad.yaml" in err and "Traceback" not in err
    assert not out.exists() or not any(out.iterdir())  # no file written
    for server in virtual_lab.servers.values():  # nothing sent to any instrument
        assert server.received_lines() == []


def test_auto_frequency_follows_the_rc_corner_and_avoids_mains():
    assert choose_frequency(1e4, 1e-9, (0.7, 7.0)) == 7.0
    f = choose_frequency(5e6, 1e-9, (0.7, 7.0))
    assert 2 * 3.141592653589793 * f * 5e6 * 1e-9 <= 0.05  # ωR_2pt·C at most 0.05
    assert all(abs(n * f - m) >= 1.0 for m in (50, 60) for n in range(1, 11))
    assert choose_frequency(1e9, 1e-9, (0.7, 7.0)) == 0.7  # never below the station's limit
