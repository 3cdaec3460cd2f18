"""Linear response as a feature: ``current_nA: auto`` picks the largest current whose ρ stays
within the tolerance of ρ at the lowest current, at the night's highest resistance; the choice is
compared with a brute-force search on the simulated film's own hot-electron model."""

from __future__ import annotations

import statistics

import pytest

from cryolab.events import StepEnded
from cryolab.measurement import Point
from cryolab.sequence import SetExcitation, sequence_from_text
from cryolab.session import Session, validate
from cryolab.sim.sample import S0, SampleModel
from cryolab.station import load_station
from cryolab.steps.set_excitation import current_ladder_nA


def test_the_ladder_is_1_2_5_between_the_stations_current_limits():
    assert current_ladder_nA(0.1, 1.0) == [0.1, 0.2, 0.5, 1.0]
    assert current_ladder_nA(0.3, 4.0) == [0.3, 0.5, 1.0, 2.0, 4.0]
    assert current_ladder_nA(0.05, 0.1) == [0.05, 0.1]


NIGHT = """
name: auto current
simulation: {preset: S0}
steps:
  - set_excitation: {current_nA: auto, frequency_Hz: auto}
  - field_sweep:
      fields_Oe: [300, 600]
      rate_Oe_per_s: 10
      ramp: {from_K: 0.1, to_K: 0.12, rate_K_per_min: 0.05}
"""


def test_auto_current_is_chosen_where_the_night_is_most_resistive():
    """The coldest temperature and the largest |field| of the steps after it, unless given."""
    sequence = sequence_from_text(NIGHT, source="night.yaml", station=load_station())
    step = sequence.plan()[0]
    assert isinstance(step, SetExcitation)
    assert (step.probe_K, step.probe_Oe) == (0.1, 600)
    assert step.describe() == ("excitation: the largest linear current at 0.1 K, 600 Oe (±1%), "
                               "f = auto, τ = auto")
    given = sequence_from_text(NIGHT.replace("frequency_Hz: auto}",
                                             "frequency_Hz: auto, probe_Oe: -300}"),
                               source="night.yaml", station=load_station())
    assert given.plan()[0].probe_Oe == -300  # type: ignore[attr-defined]


def test_an_auto_current_probe_beyond_the_limits_is_refused():
    from cryolab.inputs import InputError

    with pytest.raises(InputError) as info:
        sequence_from_text(NIGHT.replace("frequency_Hz: auto}",
                                         "frequency_Hz: auto, probe_Oe: 900}"),
                           source="night.yaml", station=load_station())
    assert "steps[0].set_excitation.probe_Oe: 900 Oe" in str(info.value)


def brute_force_nA(T_K: list[float], H_Oe: float, ladder: list[float], tolerance: float
                   ) -> tuple[float, list[float]]:
    """The largest current of the ladder whose self-consistent ρ(T_e) is within the tolerance
    of ρ at the lowest, and every rung's deviation, from the film's hot-electron model (each
    rung at its own bath temperature T_K[k])."""
    film = SampleModel(S0)
    rhos = []
    for current_nA, T in zip(ladder, T_K, strict=True):
        V = current_nA * 1e-9 * 1.0e9
        for _ in range(6):  # the source voltage that gives this current through the film
            _, R, I = film.heated(V, T, H_Oe)
            V *= current_nA * 1e-9 / I
        rhos.append(R)
    deviations = [abs(r / rhos[0] - 1) for r in rhos]
    passing = [c for c, d in zip(ladder, deviations, strict=True) if d <= tolerance]
    return max(passing), deviations


def test_auto_current_agrees_with_a_brute_force_search_on_the_film(tmp_path):
    """S0 at 600 Oe and 0.1 K: the model's ρ falls by 0.23 % at 0.2 nA, 1.8 % at 0.5 nA and
    6.5 % at 1 nA (relative to 0.1 nA), so a 1 % tolerance keeps 0.2 nA."""
    path = tmp_path / "night.yaml"
    path.write_text(NIGHT)
    spec = validate(path, None, simulated=True, speed=float("inf"), seed=2)
    ended: list[StepEnded] = []
    rung_T: dict[float, list[float]] = {}  # the sample's T at each current, settled points

    def listen(event: object) -> None:
        if isinstance(event, StepEnded) and event.index == 0:
            ended.append(event)
        elif isinstance(event, Point) and event.step_index == 0 and event.channels[0].valid \
                and abs(event.field_Oe - 600) < 1:
            rung = round(event.channels[0].current_A * 1e9, 2)
            rung_T.setdefault(rung, []).append(event.T_sample_K)

    session = Session(spec, tmp_path / "run.h5", subscribers=[listen],
                      lab_options={"banner_delay_s": 0.0})
    try:
        assert session.run() == "completed"
    finally:
        session.close()
    (results,) = [e.results for e in ended]
    assert results["ladder_nA"] == [0.1, 0.2, 0.5]  # it stops at the first rung beyond 1 %
    T_K = [statistics.median(rung_T[c][-10:]) for c in results["ladder_nA"]]
    assert pytest.approx([0.1] * 3, rel=0.03) == T_K
    expected, deviations = brute_force_nA(T_K, 600.0, results["ladder_nA"], 0.01)
    assert results["chosen_nA"] == expected == 0.2
    # each rung's ρ is the model's to 0.5 % (the lock-in's noise and the bridge's T scatter,
    # amplified by d ln ρ/d ln T ≈ −4 at 0.1 K), so the deviations agree to 0.5 % absolute
    for measured, model in zip(results["max_deviation"], deviations, strict=True):
        assert measured == pytest.approx(model, abs=0.005)
    assert results["current_A"] == pytest.approx(0.2e-9)
