"""cryolab's drivers for the newer models through pyvisa-py against their simulated twins,
end to end, on the virtual clock.

Numbers worked by hand: the magnet's coil constant is 0.1 T/A = 1000 Oe/A, so 300 Oe is 0.3 A,
0.03 T and 0.3 kG; at 10 Oe/s a ramp from 0 reaches 150 Oe after 15 s. S1 at 300 Oe is
R = 2 R_Q = 12.9 kΩ, so 1 V through 1 GΩ gives X ≈ 12.9 µV.
"""

from __future__ import annotations

import math

import pytest

from cryolab.clock import VirtualClock
from cryolab.sim.lab import SimulatedLab
from instruments.adapter import ConfirmingAdapter
from instruments.srs_sr860 import SR860, OverloadStatus

START_S = 1.7e9


@pytest.fixture
def make_lab():
    """Labs on a virtual clock from instrument models; each driver opened through
    ``open_driver`` has its writes confirmed before every jump of the clock."""
    labs, adapters = [], []

    def make(lockin="SR830", bridge="LS372", magnet="AMI430", magnet_wiring=None, **options):
        lab = SimulatedLab(VirtualClock(start=START_S), preset="S1", seed=7, banner_delay_s=0.0,
                           instruments=[("lockin", lockin, {}), ("bridge", bridge, {}),
                                        ("magnet", magnet, magnet_wiring or {})], **options)
        labs.append(lab.start())
        return lab

    def open_driver(lab, name, driver, **kwargs):
        adapter = ConfirmingAdapter(lab.resources[name], timeout=2000, visa_library="@py",
                                    read_termination=driver.READ_TERMINATION,
                                    write_termination=driver.WRITE_TERMINATION)
        adapters.append(adapter)
        lab.clock.before_jump(adapter.confirm)
        return driver(adapter, **kwargs)

    make.open = open_driver
    yield make
    for adapter in adapters:
        adapter.close()
    for lab in labs:
        lab.stop()


# ----------------------------------------------------------------------------- SR860


def test_sr860_settings_round_trip(make_lab):
    lab = make_lab(lockin="SR860")
    lockin = make_lab.open(lab, "lockin", SR860)
    assert lockin.id.startswith("Stanford_Research_Systems,SR860,")
    lockin.frequency = 3.33
    lockin.sine_voltage = 1.5  # the SR860 goes to 2 V
    lockin.time_constant = 3.0
    lockin.filter_slope = 18
    lockin.sensitivity = 50e-6
    lockin.phase = 370.0  # kept in −180…180°
    lockin.filter_synchronous = True
    lockin.reference_source = "External"
    assert (lockin.frequency, lockin.sine_voltage) == (3.33, 1.5)
    assert (lockin.time_constant, lockin.filter_slope, lockin.sensitivity) == (3.0, 18, 50e-6)
    assert lockin.phase == pytest.approx(10.0)
    assert lockin.filter_synchronous is True
    assert lockin.reference_source == "External"
    assert lockin.settle_time(0.99) == pytest.approx(3.0 * 8.406, rel=1e-3)  # 18 dB/oct
    received = lab.servers["lockin"].received_lines()
    assert {"OFLT 13", "SCAL 13", "OFSL 2"} <= set(received)  # the SR860's own index tables


def test_sr860_reading_follows_the_sample_through_its_output_filter(make_lab):
    lab = make_lab(lockin="SR860", initial_field_Oe=300.0)
    lockin = make_lab.open(lab, "lockin", SR860)
    lockin.frequency = 3.33
    lockin.time_constant = 1.0
    lockin.filter_slope = 24
    lockin.sensitivity = 50e-6
    lockin.sine_voltage = 0.5
    lab.clock.wait(30.0)  # 30 τ: settled far below the noise
    before = lockin.snap_xyrt()
    assert before.x_V == pytest.approx(lab.world.true_current_A * lab.world.true_R_ohm,
                                       rel=2e-3)
    assert 6.0e-6 < before.x_V < 7.0e-6  # 0.5 nA × 12.9 kΩ
    lockin.sine_voltage = 1.0
    lab.clock.wait(2.0)  # 2 τ of a 4-pole filter: 1 − Q(4, 2) = 14.3 % of the step
    midway = lockin.snap_xyrt()
    lab.clock.wait(30.0)
    after = lockin.snap_xyrt()
    step = after.x_V - before.x_V
    assert step == pytest.approx(before.x_V, rel=0.02)  # twice the current, same R
    assert midway.x_V - before.x_V == pytest.approx(0.1429 * step, abs=0.01 * step)
    assert after.r_V == pytest.approx(math.hypot(after.x_V, after.y_V))


def test_sr860_overload_is_reported_now_and_auto_range_recovers(make_lab):
    lab = make_lab(lockin="SR860", initial_field_Oe=300.0)
    lockin = make_lab.open(lab, "lockin", SR860)
    lockin.time_constant = 0.1
    lockin.sensitivity = 5e-6  # below the 12.9 µV signal at 1 V
    lab.clock.wait(5.0)
    reading, overloaded = lockin.snap_with_status()  # SNAP? 0,1;CUROVLDSTAT? in one line
    assert overloaded and reading.x_V > 5e-6
    assert OverloadStatus.CH1_OUTPUT in lockin.read_status()
    chosen = lockin.auto_range(lab.clock.wait)
    assert chosen == 50e-6  # 12.9 µV at ≤ 60 % of full scale
    assert not lockin.snap_with_status()[1]
    assert lockin.read_status() == OverloadStatus.OK  # nothing latches


