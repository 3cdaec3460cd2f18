"""Stations of any shape: a Hall bar on two lock-ins, two samples on one cooldown, a station
mixing models, and every registered model against its simulated twin — each run end to end
through the CLI, the twins' TCP protocols and the run file."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from cryolab.cli import main
from cryolab.clock import VirtualClock
from cryolab.roles.registry import MODELS
from cryolab.runfile import RunFile
from cryolab.sim.devices import DEVICES
from cryolab.sim.lab import SimulatedLab
from cryolab.sim.station import lab_for_station, match_magnet
from cryolab.station import StationConfig, connect, load_station

ROOT = Path(__file__).resolve().parent.parent
STATIONS = ROOT / "sequences" / "stations"
CALIBRATION = ROOT / "cryolab" / "data" / "sim_sample_ruo2.340"

#: two fields of opposite sign, a short ramp at each: enough for ρ_xx even and ρ_xy odd in H
SHORT = """
name: short field pair
steps:
  - set_excitation: {current_nA: 0.5, frequency_Hz: auto, time_constant_s: auto}
  - field_sweep:
      fields_Oe: [300, -300]
      rate_Oe_per_s: 10
      ramp: {from_K: 0.3, to_K: 0.45, rate_K_per_min: 0.1}
"""


def run_sim(tmp_path: Path, station: Path | None, name: str) -> Path:
    sequence = tmp_path / "short.yaml"
    sequence.write_text(SHORT)
    out = tmp_path / name
    args = ["run", str(sequence), "--sim", "--speed", "max", "--seed", "5", "--out", str(out)]
    if station is not None:
        args += ["--station", str(station)]
    assert main(args) == 0
    (path,) = out.glob("*.h5")
    return path


def valid(points: np.ndarray, channel: str, field_Oe: float) -> np.ndarray:
    return points[points[f"{channel}_valid"] & (np.abs(points["field_Oe"] - field_Oe) < 1)]


def rho_at(points: np.ndarray, channel: str, field_Oe: float, T_K: float) -> float:
    """ρ of the channel at T, interpolated in log–log between the valid points at a field."""
    at = valid(points, channel, field_Oe)
    order = np.argsort(at["T_sample_K"])
    return math.exp(np.interp(math.log(T_K), np.log(at["T_sample_K"][order]),
                              np.log(at[f"{channel}_rho_ohm_sq"][order])))


def test_a_hall_bar_run_writes_both_channels_on_one_current(tmp_path):
    path = run_sim(tmp_path, STATIONS / "sim_hall_bar.yaml", "hall")
    with RunFile(path) as run:
        assert run.status == "completed"
        assert run.channel_names == ["xx", "xy"]
        assert run.longitudinal_channels() == ["xx"]
        points = run.points()
        fitted = [step.name for step in run.steps() if run.fit(step.name, "xx") is not None]
        assert fitted and all(run.fit(name, "xy") is None for name in fitted)
        # ρ_xx is a sheet resistance, ρ_xy a resistance: each column says so
        dataset = run.xarray()
        assert dataset["xx_rho_ohm_sq"].attrs["units"] == "ohm/sq"
        assert dataset["xy_rho_ohm_sq"].attrs["units"] == "ohm"
        assert run.file["entry/data"].attrs["signal"] == "xx_rho_ohm_sq"
    for H in (300, -300):
        assert len(valid(points, "xx", H)) > 20 and len(valid(points, "xy", H)) > 20
    # ρ_xx is even in H; ρ_xy is the station's twin's R_H·B (2000 Ω/T × 0.03 T = 60 Ω, odd)
    # plus what the Hall probes' 1 % misalignment picks up of ρ_xx (even)
    for H in (300, -300):
        assert rho_at(points, "xx", H, 0.4) == pytest.approx(rho_at(points, "xx", -H, 0.4),
                                                             rel=0.01)
        at = valid(points, "xy", H)
        xx = np.interp(at["time_s"], points["time_s"], points["xx_rho_ohm_sq"])
        hall = 2000.0 * H * 1e-4
        assert float(np.median((at["xy_rho_ohm_sq"] - hall) / xx)) == pytest.approx(0.01,
                                                                                    rel=0.05)
    # the Hall channel reads the longitudinal channel's current: one current per point
    both = points[points["xx_valid"] & points["xy_valid"]]
    assert np.array_equal(both["xx_current_A"], both["xy_current_A"])


def test_a_mixed_station_measures_what_the_default_station_measures(tmp_path):
    """SR860 on xx, SR830 on xy, a Lake Shore 370, a Mercury iPS: the same sample, the same
    ρ(T), within the noise."""
    default = run_sim(tmp_path, None, "default")
    mixed = run_sim(tmp_path, STATIONS / "sim_mixed.yaml", "mixed")
    with RunFile(default) as a, RunFile(mixed) as b:
        assert b.status == "completed"
        ours, theirs = a.points(), b.points()
    for H in (300, -300):
        for T in (0.32, 0.38, 0.43):
            assert rho_at(theirs, "xx", H, T) == pytest.approx(rho_at(ours, "xx", H, T),
                                                                rel=0.01)


def two_samples_station(tmp_path: Path) -> Path:
    """Two samples on one cooldown: each lock-in drives and reads its own, of its own shape."""
    data = yaml.safe_load((STATIONS / "sim_hall_bar.yaml").read_text())
    data["name"] = "two samples"
    data["instruments"] = {"lockin_a": data["instruments"]["lockin_xx"],
                           "lockin_b": data["instruments"]["lockin_xy"],
                           "bridge": data["instruments"]["bridge"],
                           "magnet": data["instruments"]["magnet"]}
    data["channels"] = {
        "a": {"lockin": "lockin_a", "geometry": {"width_um": 100, "length_um": 200}},
        "b": {"lockin": "lockin_b", "geometry": {"width_um": 50, "length_um": 300}}}
    data["sample"]["thermometer_calibration"] = str(CALIBRATION)
    path = tmp_path / "two_samples.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_two_samples_have_their_own_current_geometry_and_fits(tmp_path):
    path = run_sim(tmp_path, two_samples_station(tmp_path), "two")
    with RunFile(path) as run:
        assert run.longitudinal_channels() == ["a", "b"]
        points = run.points()
        fitted = [s.name for s in run.steps() if run.fit(s.name, "a") is not None]
        assert fitted and all(run.fit(name, "b") is not None for name in fitted)
    ok = points[points["a_valid"] & points["b_valid"]]
    assert len(ok) > 50
    assert np.allclose(ok["a_rho_ohm_sq"] / ok["a_R_ohm"], 100 / 200)
    assert np.allclose(ok["b_rho_ohm_sq"] / ok["b_R_ohm"], 50 / 300)
    # one material, two shapes: R differs threefold, ρ agrees
    assert np.median(ok["b_R_ohm"] / ok["a_R_ohm"]) == pytest.approx(3.0, rel=0.02)
    for H in (300, -300):
        assert rho_at(points, "b", H, 0.4) == pytest.approx(rho_at(points, "a", H, 0.4),
                                                            rel=0.02)


def station_with(model: str) -> StationConfig:
    """The simulated station with one instrument replaced by ``model`` (in its role)."""
    config = load_station()
    data = config.model_dump()
    role = MODELS[model].role
    entry = data["instruments"][role]
    entry["model"] = model
    if model == "CM4G":
        entry["coil_constant_Oe_per_A"] = 1000.0
    return StationConfig.model_validate(data)


def test_every_registered_model_has_a_twin():
    assert set(MODELS) == set(DEVICES)
    assert all(MODELS[name].role == DEVICES[name].role for name in MODELS)


@pytest.mark.parametrize("model", sorted(MODELS))
def test_every_registered_model_connects_to_its_twin_and_serves_its_role(model):
    config = station_with(model)
    clock = VirtualClock(start=1.8e9)
    instruments, samples = lab_for_station(config)
    with SimulatedLab(clock, seed=2, banner_delay_s=0.0, instruments=instruments,
                      samples=samples) as lab:
        match_magnet(lab.world, config)
        station = connect(config.with_resources(lab.resources))
        clock.before_jump(station.confirm_writes)  # the twin has what was sent before time moves
        try:
            role = MODELS[model].role
            assert MODELS[model].identity in station.identities[role]
            if role == "lockin":
                station.lockin.sine_V = 0.5
                clock.wait(30.0)
                reading = station.lockin.read()
                assert reading.x_V > 0 and not reading.overloaded
            elif role == "bridge":
                T_mc, T_sample, R = station.read_temperatures()
                # at base, unheated: both thermometers read the fridge's tens of millikelvin
                assert 0.005 < T_mc < 0.1 and 0.005 < T_sample < 0.1 and R > 0
            else:
                station.magnet.start_ramp(100.0, 10.0)
                clock.wait(60.0)
                assert station.magnet.field_Oe == pytest.approx(100.0, abs=0.5)
                assert station.magnet.status.value == "holding"
        finally:
            station.close()


def test_channels_sharing_a_current_cannot_name_two_bias_resistors(tmp_path):
    """One source drives one current through one resistor: two different values are a typo."""
    data = yaml.safe_load((STATIONS / "sim_hall_bar.yaml").read_text())
    data["sample"]["thermometer_calibration"] = str(CALIBRATION)
    data["channels"]["xx"]["bias"] = {"source": "lockin_xx", "resistor_ohm": 1e9}
    data["channels"]["xy"]["bias"] = {"source": "lockin_xx", "resistor_ohm": 1e8}
    path = tmp_path / "station.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(Exception) as info:
        load_station(path)
    assert "the current from 'lockin_xx' passes one bias resistor, but its channels give " \
           "1e+08, 1e+09 Ω (bias.resistor_ohm)" in str(info.value)
