"""The runner on the simulated instruments: steps, flags, ramp slow-down, pause/abort, safety."""

import threading

import numpy as np
import pytest

from cryolab.events import RunStateChanged
from cryolab.measurement import Flag, Point
from cryolab.runfile import RunFile
from cryolab.session import Session, validate
from cryolab.sim.magnet import RampState


def start_session(tmp_path, text, *, subscribers=(), speed=float("inf"), seed=1):
    path = tmp_path / "seq.yaml"
    path.write_text(text)
    spec = validate(path, None, simulated=True, speed=speed, seed=seed)
    return Session(spec, tmp_path / "run.h5", subscribers=subscribers,
                   lab_options={"banner_delay_s": 0.0})


def run(tmp_path, text, **kwargs):
    session = start_session(tmp_path, text, **kwargs)
    try:
        status = session.run()
        world = session.lab.world
    finally:
        session.close()
    return status, RunFile(tmp_path / "run.h5"), world


SWEEP = """
name: two fields
simulation: {preset: S1}
steps:
  - set_excitation: {current_nA: 0.5}
  - field_sweep:
      fields_Oe: [100, 450]
      rate_Oe_per_s: 10
      ramp: {from_K: 0.07, to_K: 0.4}
"""


def warm_over_cold(points):
    """Mean ρ of the warmest tenth over the coldest tenth of the points."""
    order = np.argsort(points["T_mc_K"])
    tenth = max(len(order) // 10, 1)
    rho = points["xx_rho_ohm_sq"][order]
    return rho[-tenth:].mean() / rho[:tenth].mean()


def test_a_field_sweep_writes_every_step_with_its_points(tmp_path):
    status, run_file, _ = run(tmp_path, SWEEP)
    with run_file:
        assert status == "completed" and run_file.status == "completed"
        steps = run_file.steps()
        assert [s.kind for s in steps] == ["set_excitation", "set_field", "ramp_temperature",
                                           "set_field", "ramp_temperature"]
        assert all(s.status == "completed" for s in steps)
        ramps = [s for s in steps if s.kind == "ramp_temperature"]
        assert all(s.n_points > 300 for s in ramps)
        up = run_file.points(ramps[0].name)
        down = run_file.points(ramps[1].name)
        # up at 100 Oe: superconducting side, ρ rises with T; down at 450 Oe: insulating side
        valid_up, valid_down = up[up["xx_valid"]], down[down["xx_valid"]]
        # the S1 model: 3.77 → 6.34 kΩ/□ at 100 Oe (its transition towards R_Q above ~0.3 K),
        # 27.6 → 22.3 kΩ/□ at 450 Oe (0.07 → 0.4 K); the warmest and coldest tenths average
        # over a stretch of the curve, hence the ranges
        assert 1.45 < warm_over_cold(valid_up) < 1.7
        assert 0.79 < warm_over_cold(valid_down) < 0.86
        assert valid_up["T_mc_K"].max() == pytest.approx(0.4, rel=0.03)
        assert valid_down["T_mc_K"].min() == pytest.approx(0.07, rel=0.03)
        assert np.all(up["field_Oe"][-10:] == pytest.approx(100.0))


def test_flagged_points_are_never_valid_and_base_is_flagged(tmp_path):
    status, run_file, _ = run(tmp_path, SWEEP)
    assert status == "completed"
    with run_file:
        points = run_file.points()
        assert np.all(points["xx_valid"] == (points["xx_flags"] == 0))
        ramp = run_file.points(2)  # first ramp: starts at base (20 mK), sample at ~36 mK
        assert ramp["xx_flags"][0] & Flag.THERMAL_MISMATCH
        assert not ramp["xx_valid"][0]
        mismatch = np.abs(ramp["T_sample_K"] / ramp["T_mc_K"] - 1)
        assert np.all((mismatch > 0.10) == ((ramp["xx_flags"] & Flag.THERMAL_MISMATCH) > 0))


def test_a_slow_ramp_is_not_flagged(tmp_path):
    text = """
steps:
  - set_excitation: {current_nA: 0.5}
  - ramp_temperature: {from_K: 0.15, to_K: 0.6, rate_K_per_min: 0.01}
"""
    status, run_file, _ = run(tmp_path, text)
    assert status == "completed"
    with run_file:
        ramp = run_file.points(1)
        started = ramp["time_s"] >= ramp["time_s"][0] + 1800  # after reaching 0.15 K
        assert not np.any(ramp["xx_flags"][started] & Flag.THERMAL_MISMATCH)


def test_a_too_fast_ramp_is_flagged_and_slowed(tmp_path):
    text = """
settings: {slow_down_after_points: 5}
steps:
  - set_excitation: {current_nA: 0.5}
  - ramp_temperature: {from_K: 0.1, to_K: 0.8, rate_K_per_min: 0.5}
"""
    status, run_file, _ = run(tmp_path, text)
    assert status == "completed"
    with run_file:
        step = run_file.steps()[1]
        ramp = run_file.points(1)
        assert np.count_nonzero(ramp["xx_flags"] & Flag.THERMAL_MISMATCH) >= 5
        assert step.attrs["result_slowdowns"] >= 1
        assert step.attrs["result_final_rate_K_per_min"] < 0.5
        notes = [e["text"] for e in run_file.events()]
        assert any("ramp slowed to" in n for n in notes)


def test_auto_frequency_drops_when_the_sample_resistance_grows(tmp_path):
    text = """
simulation: {preset: S0}
steps:
  - set_excitation: {current_nA: 0.5}
  - set_field: {field_Oe: 600, rate_Oe_per_s: 10}
  - measure: {points: 5}
"""
    status, run_file, _ = run(tmp_path, text)
    with run_file:
        f = run_file.points(2)["xx_frequency_Hz"]
        assert status == "completed" and f.max() < 7.0  # S0 at 600 Oe: R_2pt of MΩ
        assert any("frequency" in e["text"] for e in run_file.events())


def test_linearity_check_sees_self_heating_at_the_highest_resistance(tmp_path):
    """S0 at 500 Oe and 60 mK: R ≈ 1 MΩ, and ρ(T) still falls there (d ln ρ/d ln T ≈ −0.3), so
    1 nA (T_e +15 %) lowers R by several %; at 0.4 K the film is linear. (S1's highest
    resistance, 600 Oe, sits on its saturation at 60 mK and is linear at 1 nA: −0.3 %.)"""
    text = """
simulation: {preset: S0}
steps:
  - set_field: {field_Oe: 500, rate_Oe_per_s: 10}
  - set_excitation: {current_nA: 0.1}
  - ramp_temperature: {from_K: 0.06, to_K: 0.06}
  - linearity_check: {currents_nA: [0.1, 0.3, 1.0], tolerance: 0.02, points: 10}
  - ramp_temperature: {to_K: 0.4, rate_K_per_min: 0.05}
  - linearity_check: {currents_nA: [0.1, 1.0], tolerance: 0.02, points: 10}
"""
    status, run_file, _ = run(tmp_path, text)
    assert status == "completed"
    with run_file:
        cold, warm = run_file.steps()[3], run_file.steps()[5]
        assert cold.attrs["result_linear"] is False  # 1 nA heats the film at 60 mK
        assert cold.attrs["result_max_deviation"] > 0.02
        assert warm.attrs["result_linear"] is True
        assert any("self-heating" in e["text"] and e["level"] == "warning"
                   for e in run_file.events())
        # the heating found at 60 mK marks the points it reached: in the cold check, those at
        # 1 nA (and 0.3 nA where it heats as much) are 'heated' and not valid, those at 0.1 nA
        # are not; the warm ramp's and the warm check's points at 0.1 nA are not either
        points = run_file.points()
    heated = (points["xx_flags"] & Flag.HEATED) > 0
    assert not np.any(points["xx_valid"] & heated)
    cold = points[points["step_index"] == 3]
    # (a reading taken while the lock-in overloaded has no R to judge; it is invalid anyway)
    at_1nA = (np.abs(cold["xx_current_A"] - 1e-9) < 0.05e-9) & ~(cold["xx_flags"] & Flag.OVERLOAD
                                                                 ).astype(bool)
    at_01nA = np.abs(cold["xx_current_A"] - 0.1e-9) < 0.01e-9
    assert (cold["xx_flags"][at_1nA] & Flag.HEATED).all()
    assert not (cold["xx_flags"][at_01nA] & Flag.HEATED).any()
    warm_ramp = points[points["step_index"] == 4]
    assert not ((warm_ramp["xx_flags"] & Flag.HEATED) > 0)[warm_ramp["T_sample_K"] > 0.1].any()


class At:
    """Subscriber that calls ``action`` once, at the n-th point."""

    def __init__(self, n, action):
        self.n, self.action, self.count = n, action, 0

    def __call__(self, event):
        if isinstance(event, Point):
            self.count += 1
            if self.count == self.n:
                self.action()


LONG_RAMP = """
steps:
  - set_excitation: {current_nA: 0.5}
  - set_field: {field_Oe: 200, rate_Oe_per_s: 5}
  - ramp_temperature: {from_K: 0.1, to_K: 0.5}
"""


def test_pause_holds_and_resume_continues(tmp_path):
    """While paused nothing is measured and the (virtual) clock stands still; resume goes on
    where it stopped. The test follows the runner's own state, not a timer: a point arriving
    while paused fails it however long the machine takes."""
    holder = {}
    paused, point_while_paused = threading.Event(), threading.Event()

    def on_event(event):
        if isinstance(event, Point) and paused.is_set():
            point_while_paused.set()
        elif isinstance(event, RunStateChanged) and event.state == "paused":
            paused.set()

    def resume_once_paused():
        runner = holder["session"].runner
        try:
            assert paused.wait(timeout=60)
            at_pause = runner.clock.now()
            holder["held"] = not point_while_paused.wait(timeout=0.5)  # the hold holds
            holder["clock_still"] = runner.clock.now() == at_pause
            holder["state"] = runner.state
        finally:
            paused.clear()
            runner.resume()

    session = start_session(tmp_path, LONG_RAMP, subscribers=[
        on_event, At(200, lambda: (session.runner.pause(),
                                   threading.Thread(target=resume_once_paused).start()))])
    holder["session"] = session
    try:
        status = session.run()
    finally:
        session.close()
    assert status == "completed"
    assert holder["held"] and holder["clock_still"] and holder["state"] == "paused"
    with RunFile(tmp_path / "run.h5") as run_file:
        texts = [e["text"] for e in run_file.events()]
        assert any(t.startswith("paused") for t in texts)
        assert "resumed" in texts
        assert run_file.steps()[-1].status == "completed"


@pytest.mark.parametrize("safe_magnet", ["hold"])
def test_abort_goes_to_the_safe_state_and_the_file_says_so(tmp_path, safe_magnet):
    holder = {}
    session = start_session(tmp_path, LONG_RAMP,
                            subscribers=[At(150, lambda: holder["s"].runner.abort())])
    holder["s"] = session
    try:
        status = session.run()
        world = session.lab.world
        heater = world.fridge.heater
        assert status == "aborted"
        assert heater.range_index == 0  # safe_state.heater: off
        assert world.lockin.amplitude_V == pytest.approx(0.1, abs=0.002)  # 0.1 nA × 1 GΩ
        assert world.magnet.state in (RampState.PAUSED, RampState.HOLDING)
    finally:
        session.close()
    with RunFile(tmp_path / "run.h5") as run_file:
        assert run_file.status == "aborted"
        assert run_file.attrs["end_reason"] == "aborted by the user"
        assert run_file.steps()[-1].status == "aborted"
        assert run_file.segments()[0]["end_status"] == "aborted"
        assert "safe state: heaters off (confirmed), magnet held (confirmed), excitation to " \
               "minimum (confirmed)" in [e["text"] for e in run_file.events()]


def test_a_quench_stops_the_run_safely_and_is_recorded(tmp_path):
    holder = {}
    session = start_session(tmp_path, LONG_RAMP,
                            subscribers=[At(120, lambda: holder["s"].lab.world.magnet.quench())])
    holder["s"] = session
    try:
        status = session.run()
    finally:
        session.close()
    assert status == "failed"
    with RunFile(tmp_path / "run.h5") as run_file:
        assert "quench" in run_file.attrs["end_reason"]
        assert run_file.steps()[-1].status == "failed"
        assert any(e["level"] == "error" for e in run_file.events())


def test_a_fixed_time_constant_survives_a_frequency_retune(tmp_path):
    text = """
simulation: {preset: S0}
steps:
  - set_excitation: {current_nA: 0.3, time_constant_s: 3}
  - set_field: {field_Oe: 600, rate_Oe_per_s: 10}
  - measure: {points: 5}
"""
    status, run_file, _ = run(tmp_path, text)
    assert status == "completed"
    with run_file:
        points = run_file.points(2)
        assert points["xx_frequency_Hz"].max() < 7.0  # retuned for S0's megaohms ...
        assert set(points["xx_time_constant_s"]) == {3.0}  # ... keeping the fixed τ


def test_a_cooldown_that_times_out_is_a_warning_not_a_failure(tmp_path):
    text = """
simulation: {start_K: 1.0}
steps:
  - set_excitation: {current_nA: 0.5}
  - cooldown: {duration_s: 3600, timeout_s: 600}
"""
    status, run_file, _ = run(tmp_path, text)
    assert status == "completed"
    with run_file:
        assert any("within its timeout" in e["text"] for e in run_file.events())


def test_the_same_seed_gives_the_same_points_twice_on_the_virtual_clock(tmp_path):
    """--speed max is deterministic: a CI failure can be replayed point for point."""
    def points(name, seed):
        directory = tmp_path / name
        directory.mkdir()
        status, run_file, _ = run(directory, SWEEP, seed=seed)
        assert status == "completed"
        with run_file:
            data = run_file.points()
            segment = run_file.segments()[0]
        data["time_s"] -= segment["started_s"]  # the virtual clock starts at the wall time
        return data

    first, second, other = points("a", 7), points("b", 7), points("c", 8)
    assert len(first) > 100
    assert first.dtype == second.dtype and len(first) == len(second)
    for name in first.dtype.names:
        np.testing.assert_array_equal(first[name], second[name], err_msg=name)
    assert len(other) != len(first) or not np.array_equal(other["xx_rho_ohm_sq"],
                                                           first["xx_rho_ohm_sq"])
