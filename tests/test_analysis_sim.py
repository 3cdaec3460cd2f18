"""The analysis on simulated nights: the summary reproduces the presets' numbers (paper Fig. 4),
the live fitter stores its results in the file, and the report figure is written."""

import math
from pathlib import Path

import numpy as np
import pytest

from cryolab.analysis.live import LiveFitter
from cryolab.analysis.summary import analyze_points
from cryolab.cli import main
from cryolab.events import FitUpdated, PointTaken, RunEnded, StepEnded, StepStarted
from cryolab.measurement import POINT_FIELDS
from cryolab.sequence import PlannedStep, RampTemperature
from cryolab.session import Session, validate
from cryolab.sim.lockin import preamplifier
from cryolab.sim.sample import S0, S1
from cryolab.storage import RunFile


def run_sequence(path: Path, out: Path, seed: int = 2, **lab_options) -> Path:
    spec = validate(path, None, simulated=True, speed=math.inf, seed=seed)
    session = Session(spec, out, lab_options={"banner_delay_s": 0.0, **lab_options})
    try:
        assert session.run() == "completed"
    finally:
        session.close()
    return out


@pytest.fixture(scope="module")
def overnight_s1(tmp_path_factory) -> Path:
    """The shipped overnight sweep on S1 (12.5 h of simulated lab time, ~8 s)."""
    out = tmp_path_factory.mktemp("s1") / "overnight.h5"
    return run_sequence(Path("sequences/overnight_field_sweep.yaml"), out)


S0_SWEEP = """
name: S0 field dependence
simulation: {preset: S0}
steps:
  - set_excitation: {current_nA: 0.3}
  - field_sweep:
      fields_Oe: [50, 100, 200, 300, 400, 500, 600]
      rate_Oe_per_s: 10
      ramp: {from_K: 0.06, to_K: 0.8}
"""


@pytest.fixture(scope="module")
def sweep_s0(tmp_path_factory) -> Path:
    """S0 reaches MΩ: the SR830's own 10 MΩ input would read a 1 MΩ film 9 % low (and 2 MΩ
    of four-point resistance 17 %), so the lock-in has a 1 TΩ preamplifier in front of it, as
    MΩ samples need (cryolab/sim/lockin.py)."""
    tmp = tmp_path_factory.mktemp("s0")
    (tmp / "s0.yaml").write_text(S0_SWEEP)
    return run_sequence(tmp / "s0.yaml", tmp / "s0.h5",
                        lockin_inputs={"lockin": preamplifier()})


def test_s1_summary_shows_both_branches_with_the_presets_numbers(overnight_s1):
    with RunFile(overnight_s1) as run:
        summary, skipped = analyze_points(run.points())
    assert skipped == []
    models = {r.field_Oe: r.fit.model for r in summary.rows}
    assert all(models[H] == "eq2" for H in range(0, 301, 50))  # failed superconductor
    assert all(models[H] == "eq1" for H in range(350, 601, 50))  # failed insulator
    assert 300 < summary.H_star_Oe < 350  # the preset's H* = 300 Oe lies in the gap
    assert summary.H_RQ_Oe == pytest.approx(300, abs=15)  # saturation crosses R_Q at H*
    # power laws: 1/ρ_QF ∝ H^−0.45 and σ_QF ∝ H^−4.7 (paper, S1); within 0.03 and 0.1
    assert summary.superconducting.exponent == pytest.approx(-0.45, abs=0.03)
    assert summary.insulating.exponent == pytest.approx(-4.7, abs=0.1)
    for row in summary.rows:  # activation energies within 2 % of the preset at every field
        true = S1.params_at(row.field_Oe)[1][2]
        assert row.fit.values["Ea_K"] == pytest.approx(true, rel=0.02), row.field_Oe
    # about four times smaller on the insulating side (paper: "a factor of ~4")
    sc = np.mean([r.fit.values["Ea_K"] for r in summary.rows if r.fit.model == "eq2"])
    ins = np.mean([r.fit.values["Ea_K"] for r in summary.rows if r.fit.model == "eq1"])
    assert 3.5 < sc / ins < 5.0


def test_s0_activation_energy_peaks_near_300_Oe(sweep_s0):
    with RunFile(sweep_s0) as run:
        summary, skipped = analyze_points(run.points())
    assert skipped == []
    energies = {r.field_Oe: r.fit.values["Ea_K"] for r in summary.rows}
    assert all(r.fit.model == "eq1" for r in summary.rows)  # insulating from 30 Oe on
    peak = max(energies, key=energies.get)
    assert peak == 300
    assert 0.5 < energies[300] < 0.6  # "peaks at just below 0.6 K near 300 Oe"
    assert energies[50] < 0.4 and energies[600] < energies[300]
    sigma = [r.fit.values["sigma_qf"] for r in summary.rows]
    assert all(np.diff(sigma) < 0)  # σ_QF falls with field
    true_600 = 1 / S0.params_at(600)[1][0]
    assert 1 / sigma[-1] == pytest.approx(true_600, rel=0.05)  # ~1 MΩ at 600 Oe


def test_live_fits_and_summary_are_stored_in_the_file(overnight_s1):
    with RunFile(overnight_s1) as run:
        ramps = [s for s in run.steps() if s.kind == "ramp_temperature" and s.n_points > 100]
        for step in ramps:
            stored = run.fit(step.name)
            assert stored is not None and stored["final"] is True
            assert stored["model"] in ("eq1", "eq2")
            assert stored["n_points"] > 100 and stored["chi2_red"] > 0
        table, attrs = run.summary()
    assert len(table) == 13 and list(table["field_Oe"]) == list(range(0, 601, 50))
    assert attrs["insulating_exponent"] == pytest.approx(-4.7, abs=0.1)
    assert 300 < attrs["H_star_Oe"] < 350


def row(T, rho, field=100.0, valid=True):
    values = dict.fromkeys((name for name, _ in POINT_FIELDS), 0.0)
    values.update(T_sample_K=T, rho_ohm_sq=rho, field_Oe=field, valid=valid,
                  flags=0 if valid else 1)
    return tuple(values[name] for name, _ in POINT_FIELDS)


def test_flagged_points_never_enter_a_fit():
    """Out-of-equilibrium points with absurd ρ are fed among good ones: the fit ignores them."""
    received = []
    fitter = LiveFitter(publish=[received.append], min_interval_s=60.0)
    planned = PlannedStep(0, RampTemperature(from_K=0.06, to_K=1.0), 100.0)
    fitter(StepStarted(0.0, planned))
    T = np.geomspace(0.06, 1.0, 300)
    good = 2000.0 + 20000.0 * np.exp(-1.5 / T)
    for t, r in zip(T, good, strict=True):
        fitter(PointTaken(0, row(t, r)))
        fitter(PointTaken(0, row(t, 1e9, valid=False)))
    fitter(StepEnded(1.0, 0, "completed"))
    fitter(RunEnded(1.0, "completed"))
    fitter.close()
    (final,) = [e for e in received if isinstance(e, FitUpdated) and e.final]
    assert final.choice.model == "eq2"
    assert final.choice.best.n_points == 300
    assert final.choice.best.values["rho_qf"] == pytest.approx(2000.0, rel=1e-3)


def test_report_figure_and_run_file_fit(overnight_s1, tmp_path, capsys):
    png = tmp_path / "report.png"
    assert main(["report", str(overnight_s1), "-o", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 50_000
    assert main(["report", str(overnight_s1), "-o", str(tmp_path / "r.pdf")]) == 0
    assert (tmp_path / "r.pdf").read_bytes()[:5] == b"%PDF-"
    assert main(["report", str(overnight_s1), "-o", str(tmp_path / "r.txt")]) == 2
    capsys.readouterr()
    assert main(["fit", str(overnight_s1), "--json"]) == 0
    import json
    result = json.loads(capsys.readouterr().out)
    assert len(result["fields"]) == 13
    assert result["summary"]["superconducting_exponent"] == pytest.approx(-0.45, abs=0.03)
