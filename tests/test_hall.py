"""The Hall analysis: symmetrising ρ_xx and antisymmetrising ρ_xy in field separates the Hall
resistivity from what misaligned probes pick up of ρ_xx; R_H, σ_xx and σ_xy follow from the
tensor. Checked on sweeps made from known values with noise, and on channel lists."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cryolab.analysis.hall import analyze_hall, hall_field, hall_pairs
from cryolab.cli import main
from cryolab.runfile import RunFile
from cryolab.runfile.schema import point_dtype

R_H = 250.0  # Ω/T: a dilute film, so that 500 Oe gives a Hall term well above the noise
MISALIGNMENT = 0.01


def rho_xx(T):
    return 5.0e3 * np.exp(0.3 / T)  # activated, Ω/□


def sweep(field_Oe: float, n: int, rng, noise: float = 0.0, odd_xx: float = 0.0,
          T_range=(0.1, 1.0)) -> np.ndarray:
    """A T sweep at one field: ρ_xx even in H (plus an optional odd part), ρ_xy = R_H·B plus
    the probes' pickup of ρ_xx, each with relative noise."""
    pts = np.zeros(n, dtype=point_dtype(["xx", "xy"]))
    T = np.geomspace(*T_range, n)
    xx = rho_xx(T) * (1 + odd_xx * np.sign(field_Oe))
    xy = R_H * field_Oe * 1e-4 + MISALIGNMENT * rho_xx(T)
    pts["T_sample_K"] = T
    pts["field_Oe"] = field_Oe
    pts["xx_rho_ohm_sq"] = xx * (1 + noise * rng.standard_normal(n))
    pts["xy_rho_ohm_sq"] = xy + noise * MISALIGNMENT * rho_xx(T) * rng.standard_normal(n)
    pts["xx_valid"] = pts["xy_valid"] = True
    return pts


def test_antisymmetrising_recovers_R_H_and_removes_the_misaligned_pickup():
    rng = np.random.default_rng(1)
    points = np.concatenate([sweep(500, 400, rng), sweep(-500, 400, rng)])
    result = hall_field(points, 500)
    assert result is not None
    # noiseless: exact to rounding, at every temperature bin
    assert np.allclose(result.R_H_ohm_per_T, R_H, rtol=1e-9)
    assert np.allclose(result.rho_xx_sym, rho_xx(result.T_K), rtol=0.02)  # bin medians
    assert result.misalignment == pytest.approx(MISALIGNMENT, rel=0.02)
    assert np.allclose(result.rho_xx_anti, 0.0, atol=1e-9)


def test_with_noise_R_H_is_found_within_its_stated_error():
    rng = np.random.default_rng(7)
    points = np.concatenate([sweep(500, 2000, rng, noise=0.002),
                             sweep(-500, 2000, rng, noise=0.002)])
    mean, err = hall_field(points, 500).R_H_mean
    assert 0 < err < 0.2 * R_H
    assert abs(mean - R_H) < 4 * err


def test_an_odd_part_of_rho_xx_shows_in_its_antisymmetric_part_not_in_the_symmetric():
    rng = np.random.default_rng(2)
    points = np.concatenate([sweep(500, 400, rng, odd_xx=0.03),
                             sweep(-500, 400, rng, odd_xx=0.03)])
    result = hall_field(points, 500)
    assert np.allclose(result.rho_xx_anti / result.rho_xx_sym, 0.03, rtol=1e-6)
    assert np.allclose(result.rho_xx_sym, rho_xx(result.T_K), rtol=0.02)


def test_the_conductivity_tensor_is_the_inverse_of_the_resistivity_tensor():
    rng = np.random.default_rng(3)
    points = np.concatenate([sweep(500, 300, rng), sweep(-500, 300, rng)])
    r = hall_field(points, 500)
    for i in range(len(r.T_K)):
        rho = np.array([[r.rho_xx_sym[i], r.rho_xy_anti[i]],
                        [-r.rho_xy_anti[i], r.rho_xx_sym[i]]])
        sigma = np.linalg.inv(rho)
        assert r.sigma_xx_S[i] == pytest.approx(sigma[0, 0], rel=1e-12)
        assert r.sigma_xy_S[i] == pytest.approx(sigma[0, 1], rel=1e-12)
    # the σ_xy ≈ 0 check behind Eq. 1: |ρ_xy/ρ_xx| and how far σ_xx is from 1/ρ_xx
    ratio = np.abs(r.rho_xy_anti) / r.rho_xx_sym
    assert r.hall_ratio_max == pytest.approx(ratio.max())
    assert r.sigma_xx_deviation_max == pytest.approx((ratio**2 / (1 + ratio**2)).max())


def test_only_fields_measured_at_both_signs_are_antisymmetrised():
    rng = np.random.default_rng(4)
    points = np.concatenate([sweep(500, 300, rng), sweep(-500, 300, rng),
                             sweep(300, 300, rng), sweep(0, 300, rng)])
    summary = analyze_hall(points)
    assert [f.field_Oe for f in summary.fields] == [500.0]
    assert summary.notes == ["300 Oe: measured at one sign only, not antisymmetrised"]


def test_invalid_points_and_disjoint_temperature_ranges_are_left_out():
    rng = np.random.default_rng(5)
    up = sweep(500, 300, rng, T_range=(0.1, 0.3))
    down = sweep(-500, 300, rng, T_range=(0.5, 1.0))
    assert hall_field(np.concatenate([up, down]), 500) is None
    down = sweep(-500, 300, rng)
    down["xy_valid"][:] = False
    assert hall_field(np.concatenate([up, down]), 500) is None


def test_hall_channels_pair_with_the_longitudinal_channel_on_their_current():
    channels = [{"name": "xx", "kind": "longitudinal", "lockin": "a", "source": "a"},
                {"name": "xy", "kind": "hall", "lockin": "b", "source": "a"},
                {"name": "xx2", "kind": "longitudinal", "lockin": "c", "source": "c"},
                {"name": "xy2", "kind": "hall", "lockin": "d", "source": "c"}]
    assert hall_pairs(channels) == [("xx", "xy"), ("xx2", "xy2")]
    assert hall_pairs(channels[:1]) == []


def test_a_night_at_plus_and_minus_field_on_the_simulated_hall_bar(tmp_path, capsys):
    """The shipped ± field sequence on the shipped Hall-bar station, end to end: the twin's film
    has R_H = 2000 Ω/T and probes misaligned by 1 % of the width, which the antisymmetrised ρ_xy
    and the symmetric part recover; ρ_xx is even in H, and σ_xy ≈ 0 holds (|ρ_xy| ≪ ρ_xx)."""
    root = Path(__file__).resolve().parent.parent
    out = tmp_path / "out"
    assert main(["run", str(root / "sequences/hall_pm_field.yaml"), "--sim", "--speed", "max",
                 "--seed", "4", "--station", str(root / "sequences/stations/sim_hall_bar.yaml"),
                 "--out", str(out)]) == 0
    (path,) = out.glob("*.h5")
    with RunFile(path) as run:
        points = run.points()
    summary = analyze_hall(points)
    assert [f.field_Oe for f in summary.fields] == [150.0, 450.0]
    for result in summary.fields:
        R_H, err = result.R_H_mean
        assert pytest.approx(2000.0, abs=max(4 * err, 0.02 * 2000.0)) == R_H
        assert err < 0.05 * 2000.0
        assert result.misalignment == pytest.approx(0.01, rel=0.03)
        # ρ_xx even in H: its odd part is noise (well below 1 % of ρ_xx)
        assert np.nanmax(np.abs(result.rho_xx_anti / result.rho_xx_sym)) < 0.01
        assert result.hall_ratio_max < 0.01  # 90 Ω against ρ_xx ≥ 10 kΩ/□
    # `cryolab fit` reports the same
    capsys.readouterr()
    assert main(["fit", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    (pair,) = report["hall"]
    assert (pair["longitudinal"], pair["hall"]) == ("xx", "xy")
    assert [f["R_H_ohm_per_T"] for f in pair["fields"]] == pytest.approx(
        [f.R_H_mean[0] for f in summary.fields])
