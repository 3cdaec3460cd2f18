"""R from the lock-in's complex reading. What a lock-in reads is the probes' voltage low-passed
by the line capacitance and divided by its input's loading; the acquisition undoes both. The
readings here are the simulated SR830's own input (the world's noiseless phasor), so the
acquisition's R must be the simulated sample's R to rounding, where X/I alone is far off."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from cryolab.cli import main
from cryolab.clock import VirtualClock
from cryolab.measurement import Acquisition
from cryolab.roles.protocols import LockinReading
from cryolab.runfile import RunFile
from cryolab.sequence import RunSettings
from cryolab.sim.instant import instant_station
from cryolab.sim.lockin import SR830_INPUT, LockinInput, preamplifier
from cryolab.sim.sample import S0, Constant, SamplePreset
from cryolab.sim.world import World
from cryolab.station import StationConfig, load_station

ROOT = Path(__file__).resolve().parent.parent
HALL_BAR = ROOT / "sequences" / "stations" / "sim_hall_bar.yaml"
CALIBRATION = ROOT / "cryolab" / "data" / "sim_sample_ruo2.340"


def film(rho_ohm_sq: float) -> SamplePreset:
    """A film of constant sheet resistance: R = 2ρ on the 100 × 200 µm bar, whatever T and H."""
    return SamplePreset(
        name="R", description="a resistor", H_star_Oe=1e6, normal_ohm=Constant(rho_ohm_sq),
        sc_rho_qf_ohm=Constant(rho_ohm_sq), sc_rho_0_ohm=Constant(0.0), sc_Ea_K=Constant(1.0),
        ins_sigma_qf_S=Constant(1.0 / rho_ohm_sq), ins_sigma_0_S=Constant(0.0),
        ins_Ea_K=Constant(1.0))


def reading(world: World, name: str) -> LockinReading:
    v = world.input_phasor(world.lockins[name])
    return LockinReading(v.real, v.imag, abs(v), math.degrees(math.atan2(v.imag, v.real)),
                         False)


def acquire(config: StationConfig, world: World, frequency_Hz: float, current_A: float):
    """One point of the acquisition on ``config``, its lock-ins reading ``world``."""
    station = instant_station(config)
    acquisition = Acquisition(station, RunSettings(), VirtualClock(1.7e9))
    acquisition.configure_lockins(frequency_Hz, None, None)
    acquisition.set_current(current_A)
    for name, role in station.lockins.items():
        lockin = world.lockins[name]
        lockin.settings.frequency_Hz = frequency_Hz
        source = lockin if lockin.driven_by is None else world.lockins[lockin.driven_by]
        source.settings.amplitude_V = acquisition.sources[source.name].source_V
        role.read = lambda name=name: reading(world, name)  # type: ignore[method-assign]
    acquisition._reads = [p.lockin.role.read for p in acquisition._plans]
    return acquisition.take_point(0)


@pytest.mark.parametrize(
    ("rho_ohm_sq", "frequency_Hz", "stage", "loaded_by"),
    [
        (1.0e6, 7.0, SR830_INPUT, 0.18),  # S0 near 600 Oe: R = 2 MΩ, the 10 MΩ input takes 17 %
        (1.0e6, 1.0, SR830_INPUT, 0.16),
        (1.0e4, 7.0, SR830_INPUT, 0.0),  # S1: 20 kΩ, loading 2·10⁻³
        (1.0e6, 7.0, preamplifier(100e6, 50e-12, gain=100.0), 0.0),  # a ×100, 100 MΩ preamp
    ],
    ids=["2MOhm-7Hz", "2MOhm-1Hz", "20kOhm", "2MOhm-preamplifier"],
)
def test_R_is_the_samples_own_from_the_complex_reading(rho_ohm_sq, frequency_Hz, stage,
                                                       loaded_by):
    config = load_station()
    if isinstance(stage, LockinInput) and stage.gain != 1.0:
        entry = config.model_dump(mode="json")
        entry["channels"] = {"xx": {"lockin": "lockin", "preamplifier": {
            "input_resistance_ohm": stage.resistance_ohm,
            "input_capacitance_F": stage.capacitance_F, "gain": stage.gain}}}
        entry["sample"]["thermometer_calibration"] = str(CALIBRATION)
        config = StationConfig.model_validate(entry)
    world = World(VirtualClock(1.7e9))
    world.add_sample("lockin", film(rho_ohm_sq))  # 1 GΩ bias, 5 kΩ leads, 1 nF line
    world.add_lockin("lockin", "lockin", input_stage=stage)
    point = acquire(config, world, frequency_Hz, 0.5e-9)
    lockin, xx = world.lockins["lockin"], point.channels[0]
    assert xx.R_ohm == pytest.approx(lockin.true_R_ohm, rel=1e-6)
    assert xx.current_A == pytest.approx(lockin.true_current_A, rel=1e-6)
    # X/I alone: the input's loading, and the line's 1/(1 + φ²), φ = ωR_2pt·C
    phi = 2 * math.pi * frequency_Hz * (2 * lockin.true_R_ohm + 5e3) * 1e-9
    x_over_I = xx.x_V / stage.gain / lockin.true_current_A
    expected_low = 1 - 1 / ((1 + phi**2) * (1 + lockin.true_R_ohm / stage.resistance_ohm))
    assert 1 - x_over_I / lockin.true_R_ohm == pytest.approx(expected_low, rel=0.02)
    assert expected_low >= loaded_by


def test_the_hall_voltage_is_undone_through_the_same_line_and_its_own_input():
    """ρ_xy on the Hall bar: the Hall pair's source is about one square of ρ_xx; the line
    phase comes from the longitudinal channel of the same current."""
    config = load_station(HALL_BAR)
    world = World(VirtualClock(1.7e9))
    sample = world.add_sample("lockin_xx", film(5.0e5), hall_ohm_per_T=2.0e3, misalignment=0.0)
    world.add_lockin("lockin_xx", "lockin_xx")
    world.add_lockin("lockin_xy", "lockin_xx", measures="xy", driven_by="lockin_xx")
    world.magnet.hold_at(0.05 / world.magnet.coil_T_per_A)  # 500 Oe
    point = acquire(config, world, 7.0, 0.5e-9)
    xx, xy = point.channels
    rho_xy = sample.rho_xy_ohm(5.0e5, world.field_Oe)  # R_H·B = 100 Ω
    assert rho_xy == pytest.approx(100.0)
    assert xx.R_ohm == pytest.approx(1.0e6, rel=1e-6)
    assert xy.R_ohm == pytest.approx(rho_xy, rel=1e-6)
    assert xy.x_V / xx.current_A < 0.96 * rho_xy  # what X/I alone would have said


NIGHT = """
name: S0 near the divergence
simulation: {preset: S0}
steps:
  - set_excitation: {current_nA: 0.2, frequency_Hz: 7, time_constant_s: auto}
  - field_sweep:
      fields_Oe: [550]
      rate_Oe_per_s: 10
      ramp: {from_K: 0.2, to_K: 0.3, rate_K_per_min: 0.05}
"""


@pytest.mark.parametrize("preamp", [False, True], ids=["SR830-input", "preamplifier"])
def test_a_night_on_megaohms_measures_the_films_rho(tmp_path, preamp):
    """S0 at 550 Oe, 0.2–0.3 K: R ≈ 0.2–0.3 MΩ (S0's ρ ×2), which the 10 MΩ input loads by
    2–3 % and the line shifts; the measured ρ is the preset's at the thermometer's T to 1 %
    either way (measured: +0.6 %, the lock-in's output lagging the ramp by about a second);
    X/I alone reads 1.7 % low on the SR830's input."""
    station = ROOT / "sequences" / "stations" / "sim_hall_bar.yaml"
    data = load_station(station).model_dump(mode="json")
    data["sample"]["thermometer_calibration"] = str(CALIBRATION)
    if preamp:
        data["channels"]["xx"]["preamplifier"] = {"input_resistance_ohm": 1e12, "gain": 100}
    path = tmp_path / "station.yaml"
    path.write_text(yaml.safe_dump(data))
    sequence = tmp_path / "night.yaml"
    sequence.write_text(NIGHT)
    out = tmp_path / "out"
    assert main(["run", str(sequence), "--sim", "--speed", "max", "--seed", "3",
                 "--station", str(path), "--out", str(out)]) == 0
    (run_path,) = out.glob("*.h5")
    with RunFile(run_path) as run:
        points = run.points()
    ok = points[points["xx_valid"] & (np.abs(points["field_Oe"] - 550) < 1)]
    assert len(ok) > 20
    expected = np.array([S0.rho_ohm_sq(T, 550.0) for T in ok["T_sample_K"]])
    ratio = ok["xx_rho_ohm_sq"] / expected
    assert np.median(ratio) == pytest.approx(1.0, abs=0.01)
    x_only = ok["xx_x_V"] / ok["xx_current_A"] * 0.5 / (100.0 if preamp else 1.0) / expected
    if not preamp:  # what X/I alone would have said: the input's R ∥ R_in
        assert np.median(x_only) < np.median(ratio) - 0.015
