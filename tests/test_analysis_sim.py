"""The analysis on simulated nights: the summary reproduces the presets' numbers (paper Fig. 4),
the live fitter stores its results in the file, and the report figure is written."""

import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from cryolab.analysis.fit import MIN_POINTS, fit
from cryolab.analysis.live import LiveFitter
from cryolab.analysis.summary import analyze_points, group_by_field
from cryolab.cli import main
from cryolab.events import FitUpdated, RunEnded, StepEnded, StepStarted
from cryolab.measurement import ChannelReading, Point
from cryolab.runfile import RunFile
from cryolab.sequence import PlannedStep, RampTemperature
from cryolab.session import Session, validate
from cryolab.sim.sample import S0, S1
from cryolab.station import load_station

CALIBRATION = Path(__file__).resolve().parent.parent / "cryolab/data/sim_sample_ruo2.340"


def run_sequence(path: Path, out: Path, seed: int = 2, station: Path | None = None,
                 **lab_options) -> Path:
    spec = validate(path, station, simulated=True, speed=math.inf, seed=seed)
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


@pytest.fixture(scope="module")
def low_temperature_s1(tmp_path_factory) -> Path:
    """The shipped sweeps of S1's low-temperature laws (8.9 h of lab time, ~5 s)."""
    out = tmp_path_factory.mktemp("s1low") / "low.h5"
    return run_sequence(Path("sequences/s1_low_temperature_fits.yaml"), out)


S0_SWEEP = """
name: S0 field dependence
simulation: {preset: S0}
steps:
  - set_excitation: {current_nA: 0.1}
  - field_sweep:
      fields_Oe: [50, 100, 200, 300, 400, 500, 550]
      rate_Oe_per_s: 10
      ramp: {from_K: 0.06, to_K: 0.8}
"""


@pytest.fixture(scope="module")
def sweep_s0(tmp_path_factory) -> Path:
    """S0 reaches MΩ: the SR830's own 10 MΩ input would read a 1 MΩ film 9 % low (and 2 MΩ
    of four-point resistance 17 %), so the station puts a 1 TΩ preamplifier in front of it, as
    MΩ samples need (the acquisition would undo the loading, but not the noise it adds; the
    station's twin gets the same preamplifier). 0.1 nA, the paper's current at high resistance:
    at 550 Oe and 60 mK 0.3 nA would already lower R by 3 % (self-heating). 600 Oe, where
    ρ(60 mK) is 5.7 MΩ/□ and even 0.1 nA heats the electrons, is tested on the model itself
    (tests/test_presets.py)."""
    tmp = tmp_path_factory.mktemp("s0")
    (tmp / "s0.yaml").write_text(S0_SWEEP)
    station = load_station().model_dump(mode="json")
    station["sample"]["thermometer_calibration"] = str(Path(CALIBRATION).resolve())
    station["channels"] = {"xx": {"lockin": "lockin", "preamplifier": {
        "input_resistance_ohm": 1e12, "input_capacitance_F": 10e-12}}}
    (tmp / "station.yaml").write_text(yaml.safe_dump(station))
    return run_sequence(tmp / "s0.yaml", tmp / "s0.h5", station=tmp / "station.yaml")


def test_s1_overnight_shows_both_branches_and_the_crossover(overnight_s1):
    """The shipped overnight (60 mK – 1 K at every field). Model choice, H*, the separatrix and
    the saturation values come out as the preset's. The E_aS of these fits do not: above
    0.2–0.3 K S1's failed superconductor crosses over to its normal state R_Q, which Eq. 2 does
    not describe, so they are tested on sweeps that stay below it (next test)."""
    with RunFile(overnight_s1) as run:
        summary, skipped = analyze_points(run.points())
    assert skipped == []
    models = {r.field_Oe: r.fit.model for r in summary.rows}
    assert all(models[H] == "eq2" for H in range(0, 301, 50))  # failed superconductor
    assert all(models[H] == "eq1" for H in range(350, 601, 50))  # failed insulator
    assert 300 < summary.H_star_Oe < 350  # the preset's H* = 330 Oe lies in the gap
    # the saturation crosses R_Q at H*; between the fields at 300 and 350 Oe the summary
    # interpolates in log ρ: 307 Oe from the preset's own values, hence ±15 Oe around 300
    assert summary.H_RQ_Oe == pytest.approx(300, abs=15)
    # ρ_QF is set by the cold, saturated end of each curve: within 3 % although the warm end
    # does not follow Eq. 2; hence 1/ρ_QF ∝ H^−0.45 (paper) within 0.02
    for row in summary.rows:
        if row.fit.model == "eq2" and row.field_Oe > 0:
            true = S1.params_at(row.field_Oe)[1][0]
            assert row.fit.values["rho_qf"] == pytest.approx(true, rel=0.03), row.field_Oe
    assert summary.superconducting.exponent == pytest.approx(-0.45, abs=0.02)
    # the insulating side is Eq. 1 up to 1 K: E_aI within 1 %; σ_QF ∝ H^−4.7 within 0.1 (the
    # acquisition undoes the lock-in input's 10 MΩ, which would add 2/R_in to each σ_QF)
    for row in summary.rows:
        if row.fit.model == "eq1":
            true = S1.params_at(row.field_Oe)[1][2]
            assert row.fit.values["Ea_K"] == pytest.approx(true, rel=0.01), row.field_Oe
    assert summary.insulating.exponent == pytest.approx(-4.7, abs=0.1)


def test_s1_low_temperature_fits_recover_the_presets_laws(low_temperature_s1):
    """Each field fitted with its preset's model over sweeps that stay where the model is the
    paper's law (below the crossover; sequences/s1_low_temperature_fits.yaml). Tolerances:
    ρ_QF 0.5 % (the cold end pins it); E_aS 2 % from 50 to 250 Oe, where the activated rise is
    0.1–1 kΩ, and 15 % at 300 Oe, where the gap to R_Q closes and the rise is 70 Ω (2 % of ρ)
    at most; ρ_0 10 % (it moves with E_aS: δ ln ρ_0 ≈ δE/T over 0.15–0.3 K). Insulating side:
    E_aI and σ_0 1 %, and σ_QF 0.5 %: the preset's, although the SR830 input's 10 MΩ would add
    (L/W)/R_in = 2·10⁻⁷ S to it if the acquisition did not undo the loading."""
    with RunFile(low_temperature_s1) as run:
        points = run.points()
    summary, skipped = analyze_points(points)  # the model choice finds the same branches
    assert skipped == [] and all(r.choice.decided for r in summary.rows)
    assert [r.fit.model for r in summary.rows] == [S1.model_at(r.field_Oe) for r in summary.rows]
    groups = group_by_field(points)
    sc_E, ins_E = [], []
    for field_Oe, pts in groups.items():
        if len(pts) < MIN_POINTS:
            continue  # points taken while the magnet ramped between two fields
        model, (a, b, E) = S1.params_at(field_Oe)
        result = fit(pts["T_sample_K"], pts["xx_rho_ohm_sq"], model)
        v = result.values
        if model == "eq2":
            assert v["rho_qf"] == pytest.approx(a, rel=0.005), field_Oe
            assert v["Ea_K"] == pytest.approx(E, rel=0.15 if field_Oe == 300 else 0.02), field_Oe
            if field_Oe < 300:
                assert v["rho_0"] == pytest.approx(b, rel=0.10), field_Oe
                sc_E.append(v["Ea_K"])
        else:
            assert v["sigma_qf"] == pytest.approx(a, rel=0.005), field_Oe
            assert v["sigma_0"] == pytest.approx(b, rel=0.01), field_Oe
            assert v["Ea_K"] == pytest.approx(E, rel=0.01), field_Oe
            ins_E.append(v["Ea_K"])
    assert len(sc_E) == 5 and len(ins_E) == 6
    assert 3.5 < np.mean(sc_E) / np.mean(ins_E) < 5.0  # "a factor of ~4" (preset: 4.4)


def test_s0_activation_energy_peaks_near_300_Oe(sweep_s0):
    """S0 is Eq. 1 to 1 K from 100 Oe on (at 50 Oe up to 0.31 K, then it saturates at its normal
    state): E_aI within 1 % from 100 to 500 Oe, 3 % at 50 Oe, and 2 % at 550 Oe, where R reaches
    1.9 MΩ at 60 mK and the station's automatic settings (a low frequency against the line
    capacitance, long time constants) leave a third of the points flagged and the ramp's filter
    lag in the rest (χ²_red ≈ 140); the peak "just below 0.6 K near 300 Oe";
    σ_QF falling with field, 1/σ_QF = 1.1 MΩ at 550 Oe ("of order ~1 MΩ") within 2 %; and the
    curvature zeros of the data near 0.2 K at 200–300 Oe (the preset's 0.171–0.180 K, ±0.02 K:
    a smoothing spline's estimate, docs/analysis.md)."""
    with RunFile(sweep_s0) as run:
        summary, skipped = analyze_points(run.points())
    assert skipped == []
    energies = {r.field_Oe: r.fit.values["Ea_K"] for r in summary.rows}
    assert all(r.fit.model == "eq1" for r in summary.rows)  # insulating from 30 Oe on
    for field_Oe, Ea_K in energies.items():
        true = S0.params_at(field_Oe)[1][2]
        tolerance = {50: 0.03, 550: 0.02}.get(field_Oe, 0.01)
        assert Ea_K == pytest.approx(true, rel=tolerance), field_Oe
    peak = max(energies, key=energies.get)
    assert peak == 300
    assert 0.55 < energies[300] < 0.6  # "peaks at just below 0.6 K near 300 Oe"
    assert energies[50] < 0.4 and energies[550] < energies[300]
    sigma = [r.fit.values["sigma_qf"] for r in summary.rows]
    assert all(np.diff(sigma) < 0)  # σ_QF falls with field
    true_550 = 1 / S0.params_at(550)[1][0]
    assert 1 / sigma[-1] == pytest.approx(true_550, rel=0.02)
    zeros = {r.field_Oe: r.curvature_zeros_data_K for r in summary.rows}
    for field_Oe in (200, 300):
        assert zeros[field_Oe] and abs(zeros[field_Oe][0] - 0.175) < 0.02, zeros[field_Oe]


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


def point(T, rho, field=100.0, valid=True):
    """A one-channel point: ρ of channel xx at the sample temperature T."""
    flags = 0 if valid else 1
    reading = ChannelReading(0.0, 0.0, rho, rho, 0.0, 0.0, 0.0, 0.0, flags, valid)
    return Point(0, 0.0, T, T, 0.0, field, 0.0, flags, (reading,))


def test_flagged_points_never_enter_a_fit():
    """Out-of-equilibrium points with absurd ρ are fed among good ones: the fit ignores them."""
    received = []
    fitter = LiveFitter(publish=[received.append], min_interval_s=60.0)
    planned = PlannedStep(0, RampTemperature(from_K=0.06, to_K=1.0), 100.0)
    fitter(StepStarted(0.0, planned))
    T = np.geomspace(0.06, 1.0, 300)
    good = 2000.0 + 20000.0 * np.exp(-1.5 / T)
    for t, r in zip(T, good, strict=True):
        fitter(point(t, r))
        fitter(point(t, 1e9, valid=False))
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


def test_report_tells_every_field_apart_and_labels_R_Q(overnight_s1):
    """The 50–300 Oe curves are not shades of one colour: each field has its own colour, far
    from its neighbours', named in a legend; the R_Q line says what it is."""
    from matplotlib.colors import to_rgb

    from cryolab.analysis.report import draw
    from cryolab.units import R_Q_OHM

    with RunFile(overnight_s1) as run:
        points = run.points()
    summary, _ = analyze_points(points)
    family = draw(points, summary).axes[0]
    legend = family.get_legend()
    labels = [t.get_text() for t in legend.get_texts()]
    assert {"50 Oe", "100 Oe", "150 Oe", "200 Oe", "250 Oe", "300 Oe"} <= set(labels)
    colours = [np.array(to_rgb(h.get_color())) for h in legend.legend_handles]
    nearest = min(np.abs(a - b).sum() for i, a in enumerate(colours) for b in colours[i + 1:])
    assert nearest > 0.1  # summed RGB difference: no two fields share a shade
    assert any(t.get_text().startswith("R_Q = h/4e²") and t.get_position()[1] == R_Q_OHM
               for t in family.texts)
