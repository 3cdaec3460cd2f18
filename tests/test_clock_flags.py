"""Flags are decided on the run's clock: the same sequence at 750× real time (a scaled clock,
where reading the instruments takes clock time) and at --speed max (a virtual clock, where it
takes none) flags by the same rule — no point taken while the magnet moves, or inside the
settle window after it arrives, is ever valid."""

import math

import numpy as np
import pytest

from cryolab.measurement import Flag
from cryolab.runfile import RunFile
from cryolab.session import Session, validate

SEQUENCE = """
name: clock flags
steps:
  - set_excitation: {current_nA: 0.5, frequency_Hz: 5.0, time_constant_s: 0.03}
  - set_field: {field_Oe: 100, rate_Oe_per_s: 5, settle_s: 10}
  - set_field: {field_Oe: 400, rate_Oe_per_s: 10, settle_s: 10}
  - set_field: {field_Oe: 50, rate_Oe_per_s: 10, settle_s: 10}
  - measure: {points: 10}
"""


def run(tmp_path, speed):
    seq = tmp_path / "seq.yaml"
    seq.write_text(SEQUENCE)
    spec = validate(seq, None, simulated=True, speed=speed, seed=2)
    path = tmp_path / f"run-{speed}.h5"
    session = Session(spec, path, lab_options={"banner_delay_s": 0.0})
    try:
        assert session.run() == "completed"
    finally:
        session.close()
    return path


def field_steps(path):
    with RunFile(path) as f:
        return [(s.attrs["target_field_Oe"], f.points(s.name)) for s in f.steps()
                if s.kind == "set_field"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("clock")
    return {"scaled": field_steps(run(tmp, 750.0)), "virtual": field_steps(run(tmp, math.inf))}


@pytest.mark.parametrize("clock", ["scaled", "virtual"])
def test_no_point_taken_while_the_field_moves_is_valid(runs, clock):
    for target, points in runs[clock]:
        off_target = np.abs(points["field_Oe"] - target) > 1e-3 * max(abs(target), 1.0)
        assert off_target.any()  # the ramp was seen
        moving = points[off_target]
        unflagged = moving[(moving["xx_flags"] & Flag.NOT_SETTLED) == 0]
        assert len(unflagged) == 0, \
            f"{clock}: points at {unflagged['field_Oe']} Oe on the way to {target} Oe are " \
            "not flagged 'not settled'"


SETTLE_S = 10.0  # settle_s of each field step (longer than the filter's 10 τ = 0.3 s)


@pytest.mark.parametrize("clock", ["scaled", "virtual"])
def test_the_settle_window_after_the_field_arrives_is_flagged_at_both_speeds(runs, clock):
    """The window is counted on the run's clock from the field's arrival (no later than the
    last point seen on the way), so at any speed and load every point inside it is flagged."""
    for target, points in runs[clock]:
        on_the_way = np.abs(points["field_Oe"] - target) > 1e-3 * target
        last_on_the_way = points["time_s"][on_the_way].max()
        inside = points[points["time_s"] < last_on_the_way + SETTLE_S]
        assert ((inside["xx_flags"] & Flag.NOT_SETTLED) > 0).all(), (clock, target)
