"""Station files: the shipped simulated station, refusals that name the key, limits in drivers."""

import re
import shutil

import pytest
import yaml

from cryolab.inputs import InputError
from cryolab.station import default_sim_station_path, load_station
from instruments.limits import LimitError


def test_the_shipped_simulated_station_loads():
    config = load_station()
    assert config.limits.max_field_Oe == 600
    assert config.limits.current_nA == (0.1, 1.0)
    assert config.limits.frequency_Hz == (0.7, 7.0)
    assert config.safe_state.heater == "off"  # YAML 'off' stays a word, not False
    assert config.sample.width_over_length == pytest.approx(0.5)
    assert config.bridge.mc_channel == 1
    assert config.bridge.sample_channel == 2
    assert [(c.name, c.lockin, c.kind) for c in config.channel_specs()] == [
        ("xx", "lockin", "longitudinal")]


@pytest.fixture
def station_file(tmp_path):
    """A copy of the simulated station (and its calibration) to break in tests."""
    src = default_sim_station_path()
    shutil.copy(src.parent / "sim_sample_ruo2.340", tmp_path)
    path = tmp_path / "station.yaml"

    def write(edit=None, text=None):
        if text is not None:
            path.write_text(text)
            return path
        data = yaml.safe_load(src.read_text().replace(": off", ": 'off'"))
        if edit:
            edit(data)
        path.write_text(yaml.safe_dump(data))
        return path

    return write


def refusal(path):
    with pytest.raises(InputError) as info:
        load_station(path)
    return "\n".join(info.value.problems)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda d: d["limits"].update(max_field_Oe=-5), r"limits.max_field_Oe: must be above 0 "
                                                         r"\(got -5\)"),
        (lambda d: d["limits"].update(max_fields_Oe=600), "limits.max_fields_Oe: unknown key"),
        (lambda d: d["limits"].update(current_nA=[1.0, 0.1]), "limits.current_nA: current_nA "
                                                               "must satisfy"),
        (lambda d: d["limits"].update(frequency_Hz="fast"), "limits.frequency_Hz"),
        (lambda d: d["wiring"].update(bias_resistor_ohm=float("nan")),
         "wiring.bias_resistor_ohm"),
        (lambda d: d["instruments"]["bridge"].update(sample_channel=1),
         r"instruments.bridge.sample_channel: must differ from mc_channel \(1\) \(got 1\)"),
        (lambda d: d["instruments"]["bridge"].update(mc_channel=17), "instruments.bridge."
                                                                     "mc_channel"),
        (lambda d: d["instruments"]["lockin"].update(model="SR850"),
         "instruments.lockin: model 'SR850' is not supported; the supported models are"),
        (lambda d: d["instruments"]["magnet"].pop("resource"),
         "instruments.magnet.resource: required, but missing"),
        (lambda d: d["instruments"]["bridge"]["heater_ranges"].append(
            {"up_to_K": 2.0, "range": 8}), "uses range 8, above limits.max_heater_range = 7"),
        (lambda d: d["sample"].update(thermometer_calibration="nope.340"),
         "sample.thermometer_calibration: .*nope.340: calibration file not found"),
        (lambda d: d["safe_state"].update(magnet="explode"), "safe_state.magnet"),
        (lambda d: (d["limits"].update(max_temperature_ramp_K_per_min=20),
                    d["instruments"]["bridge"].update(model="LS370")),
         "limits.max_temperature_ramp_K_per_min: 20 K/min is faster than the LS370 ramps its "
         r"setpoint \(at most 10 K/min\)"),
    ],
    ids=["negative-field", "typo", "reversed", "string", "nan", "same-channel", "channel-17",
         "unsupported-model", "missing", "heater-above-limit", "calibration", "safe-state",
         "ramp-faster-than-bridge"],
)
def test_invalid_stations_are_refused_naming_the_key(station_file, edit, expected):
    message = refusal(station_file(edit))
    assert re.search(expected, message), message


def test_every_problem_is_reported_at_once(station_file):
    def edit(d):
        d["limits"]["max_field_Oe"] = -1
        d["wiring"]["line_capacitance_F"] = 1.0
        d["extra"] = True

    message = refusal(station_file(edit))
    for key in ("limits.max_field_Oe", "wiring.line_capacitance_F", "extra: unknown key"):
        assert key in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "file is empty"),
        ("- a\n- b\n", "expected a mapping"),
        ("limits: [unclosed\n", "not valid YAML"),
        ("a: &x [1, 2]\nb: *x\n", "aliases"),
    ],
)
def test_unparseable_station_files_are_refused(station_file, text, expected):
    assert expected in refusal(station_file(text=text))


def test_missing_station_file(tmp_path):
    assert "file not found" in refusal(tmp_path / "absent.yaml")


def test_station_limits_hold_inside_the_connected_drivers(virtual_lab, station):
    """connect() narrows the drivers: the limits hold even for code that skips validation."""
    sent_before = {n: len(s.received) for n, s in virtual_lab.servers.items()}
    with pytest.raises(LimitError, match="station limits.max_field_Oe"):
        station.magnet.target_field_Oe = 601
    with pytest.raises(LimitError, match="station limits.max_field_ramp_Oe_per_s"):
        station.magnet.ramp_rate_Oe_per_s = 11
    with pytest.raises(LimitError, match="station limits.frequency_Hz"):
        station.lockin.frequency = 7.5
    with pytest.raises(LimitError, match="station limits.current_nA"):
        station.bias.set_current(1.2e-9)
    with pytest.raises(LimitError, match="sine output"):  # 2 V would be 2 nA
        station.lockin.sine_voltage = 2.0
    with pytest.raises(LimitError, match="station limits.max_heater_range"):
        station.bridge.sample_heater.range_index = 8
    with pytest.raises(LimitError, match="station limits.temperature_K"):
        station.bridge.sample_heater.setpoint_K = 2.0
    with pytest.raises(LimitError, match="max_temperature_ramp_K_per_min"):
        station.bridge.sample_heater.set_ramp(True, 1.0)
    assert {n: len(s.received) for n, s in virtual_lab.servers.items()} == sent_before


def test_heater_range_follows_the_station_table():
    config = load_station()
    from cryolab.station import Station
    pick = Station.heater_range_for
    stub = type("S", (), {"config": config})()
    assert [pick(stub, T) for T in (0.05, 0.08, 0.2, 0.5, 1.0, 9.0)] == [4, 4, 5, 6, 7, 7]
