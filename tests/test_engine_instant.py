"""The engine runs a whole plan on in-process stand-ins: no sockets, no simulated twins, no
HDF5 file. What it measures follows from the stand-ins' fixed sample exactly, so the data path
(I from the bias network, R, ρ = R·W/L, ρ_xy = R_H·H) is checked to rounding."""

from __future__ import annotations

import socket
from pathlib import Path

import h5py
import pytest

from cryolab.clock import VirtualClock
from cryolab.events import FaultOccurred, RunEnded, StepEnded
from cryolab.measurement import Point
from cryolab.runner import Runner
from cryolab.sequence import sequence_from_text
from cryolab.sim.instant import instant_station
from cryolab.station import load_station

HALL_BAR = Path(__file__).resolve().parent.parent / "sequences/stations/sim_hall_bar.yaml"

SEQUENCE = """
name: instant plan
settings: {point_interval_tau: 3}
steps:
  - set_excitation: {current_nA: 0.5, frequency_Hz: 3.0, time_constant_s: 1}
  - field_sweep:
      fields_Oe: [-200, 0, 200]
      rate_Oe_per_s: 5
      ramp: {from_K: 0.06, to_K: 0.2, rate_K_per_min: 0.5}
  - measure: {points: 20}
"""


@pytest.fixture
def no_sockets_no_files(monkeypatch):
    """Opening a socket or an HDF5 file fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("the engine on stand-ins opened a socket or a file")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(h5py, "File", refuse)


def run_plan(station_config, text=SEQUENCE, **standins):
    station = instant_station(station_config, T_base_K=0.03, **standins)
    sequence = sequence_from_text(text, station=station_config)
    events: list = []
    runner = Runner(station, sequence, VirtualClock(start=1.8e9), [events.append])
    status = runner.run()
    return status, events, station


def test_the_engine_runs_a_plan_on_stand_ins_without_sockets_or_files(no_sockets_no_files):
    config = load_station()
    status, events, _ = run_plan(config, R_xx_ohm=3.0e4)
    assert status == "completed"
    steps = [e for e in events if isinstance(e, StepEnded)]
    assert [e.status for e in steps] == ["completed"] * len(steps) and len(steps) >= 5
    points = [e for e in events if isinstance(e, Point)]
    assert len(points) > 100
    valid = [p for p in points if p.channels[0].valid]
    assert valid, "no point settled"
    w_over_l = config.sample.width_um / config.sample.length_um
    for p in valid:
        xx = p.channels[0]
        assert xx.R_ohm == pytest.approx(3.0e4, rel=1e-9)
        assert xx.rho_ohm_sq == pytest.approx(3.0e4 * w_over_l, rel=1e-9)
        assert xx.current_A == pytest.approx(0.5e-9, rel=1e-6)  # the bias solved for R
    # the ramps reached their ends, and every field the sweep asked for was visited
    assert max(p.T_mc_K for p in points) == pytest.approx(0.2, rel=0.02)
    assert {round(p.field_Oe) for p in points} >= {-200, 0, 200}
    assert isinstance(events[-1], RunEnded) and events[-1].status == "completed"


def test_a_hall_bar_on_stand_ins_measures_rho_xy_as_R_H_times_H(no_sockets_no_files):
    config = load_station(HALL_BAR)
    status, events, _ = run_plan(config, R_xx_ohm=2.0e4, R_H_ohm_per_Oe=0.25)
    assert status == "completed"
    points = [e for e in events if isinstance(e, Point) and all(c.valid for c in e.channels)]
    assert {round(p.field_Oe) for p in points} >= {-200, 200}
    for p in points:
        xx, xy = p.channels
        assert xx.R_ohm == pytest.approx(2.0e4, rel=1e-9)
        # the Hall voltage over the longitudinal channel's current: no geometry factor
        assert xy.current_A == xx.current_A
        assert xy.R_ohm == pytest.approx(0.25 * p.field_Oe, rel=1e-9, abs=1e-9)
        assert xy.rho_ohm_sq == xy.R_ohm


def test_the_stand_in_magnet_refuses_what_the_station_forbids():
    station = instant_station(load_station())
    limit = station.config.limits.max_field_Oe
    with pytest.raises(ValueError, match="beyond"):
        station.magnet.start_ramp(limit + 1, 1.0)
    assert station.magnet.field_Oe == 0.0


def test_a_fault_met_while_confirming_writes_before_a_jump_is_reported(no_sockets_no_files):
    """Before each jump of the virtual clock the instruments confirm their writes (*OPC?);
    during a run that goes through the run's fault guards, so a fault met there is reported
    like any other — and afterwards the clock calls the bare station again."""
    config = load_station()
    station = instant_station(config, T_base_K=0.03, R_xx_ohm=3.0e4)
    clock = VirtualClock(start=1.8e9)
    clock.before_jump(station.confirm_writes)  # as a session's bench does
    bridge = station.instruments[config.bridge_name]
    calls = {"n": 0}
    original = bridge.confirm

    def confirm_once_silent() -> None:
        calls["n"] += 1
        if calls["n"] == 5:
            raise TimeoutError("no answer to *OPC?")
        original()

    bridge.confirm = confirm_once_silent
    events: list = []
    runner = Runner(station, sequence_from_text(SEQUENCE, station=config), clock,
                    [events.append])
    assert runner.run() == "completed"
    reports = [e.report for e in events if isinstance(e, FaultOccurred)]
    assert [(r.instrument, r.action) for r in reports] == [(config.bridge_name, "confirm")]
    assert clock._before_jump == [station.confirm_writes]
