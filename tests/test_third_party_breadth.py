"""Unmodified third-party drivers against the twins, beyond test_third_party.py.

Each driver constructs, snapshots, sets and reads back what a user touches, reads X and Y, or
ramps the field to 300 Oe (0.03 T) and ends holding there. The labs run on scaled clocks so the
drivers' own wall-time sleeps and polls stay short; every network wait has a timeout and every
poll a deadline.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import pytest
from pymeasure.instruments.ami.ami430 import AMI430 as PymeasureAMI430
from pymeasure.instruments.srs.sr860 import SR860 as PymeasureSR860

from cryolab.clock import ScaledClock
from cryolab.sim.lab import SimulatedLab

qcodes = pytest.importorskip("qcodes")
from qcodes.instrument import Instrument  # noqa: E402
from qcodes.instrument_drivers.cryomagnetics import CryomagneticsModel4G  # noqa: E402
from qcodes.instrument_drivers.oxford import OxfordMercuryiPS  # noqa: E402
from qcodes.instrument_drivers.stanford_research import SR830, SR860  # noqa: E402

TIMEOUT_S = 2.0  # every VISA read; the twins answer within milliseconds
FIELD_T = 0.03  # 300 Oe


@pytest.fixture(autouse=True)
def close_qcodes_instruments():
    yield
    Instrument.close_all()


def lab_of(speed: float, lockin: str = "SR830", bridge: str = "LS372", magnet: str = "AMI430",
           **options) -> SimulatedLab:
    return SimulatedLab(ScaledClock(speed), preset="S1", seed=11, banner_delay_s=0.05,
                        instruments=[("lockin", lockin, {}), ("bridge", bridge, {}),
                                     ("magnet", magnet, options)])


def wait_until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def snapshot_problems(instrument, caplog) -> list[str]:
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        instrument.snapshot(update=True)
    return [r.getMessage() for r in caplog.records if "Could not update" in r.getMessage()]


def expected_x_V(lab: SimulatedLab) -> float:
    """The in-phase voltage the physics gives now: I · R of the one sample."""
    return lab.world.true_current_A * lab.world.true_R_ohm


# ----------------------------------------------------------------------------- lock-ins


def test_qcodes_sr830_constructs_and_snapshots_against_the_sr830_twin(caplog):
    with lab_of(100.0) as lab:
        lab.world.magnet.hold_at(FIELD_T / lab.world.magnet.coil_T_per_A)
        li = SR830("li", lab.resources["lockin"], visalib="@py", terminator="\n",
                   timeout=TIMEOUT_S)
        assert li.IDN()["model"] == "SR830"
        # QCoDeS maps OUTX? to "1\n", which a stripped reply never matches (on hardware too):
        # that one parameter is unreadable, every other one updates
        assert snapshot_problems(li, caplog) == [
            "[li(SR830)] Snapshot: Could not update parameter: output_interface"]
        assert li.buffer_SR() == 1  # SRAT ? → 4 = 1 Hz
        assert (li.ch1_display(), li.ch2_ratio()) == ("X", "none")  # DDEF ? i: two fields
        assert li.X_offset() == (0.0, 0)  # OEXP? i: offset and expand
        li.frequency(3.33)
        li.amplitude(0.5)
        li.time_constant(1)
        li.sensitivity(50e-6)
        assert (li.frequency(), li.amplitude(), li.time_constant(), li.sensitivity()) == \
            (3.33, 0.5, 1, 50e-6)
        lab.clock.wait(20.0)  # 20 τ
        x, y = li.snap("x", "y")
        assert x == pytest.approx(expected_x_V(lab), rel=5e-3)
        assert abs(y) < 0.01 * x
        assert li.X() == pytest.approx(x, rel=5e-3)
        received = lab.servers["lockin"].received_lines()
        assert received[:3] == ["SRAT ?", "DDEF ? 1", "DDEF ? 1"]


def test_qcodes_sr860_constructs_snapshots_sets_and_reads(caplog):
    with lab_of(100.0, lockin="SR860") as lab:
        lab.world.magnet.hold_at(FIELD_T / lab.world.magnet.coil_T_per_A)
        li = SR860("li", lab.resources["lockin"], visalib="@py", timeout=TIMEOUT_S)
        assert li.IDN()["model"] == "SR860"
        assert snapshot_problems(li, caplog) == []
        li.frequency(3.33)
        li.amplitude(0.5)
        li.time_constant(1)
        li.sensitivity(0.01)
        li.filter_slope(24)
        li.phase(10.0)
        assert (li.frequency(), li.amplitude(), li.time_constant(), li.sensitivity(),
                li.filter_slope(), li.phase()) == (3.33, 0.5, 1, 0.01, 24, 10.0)
        received = lab.servers["lockin"].received_lines()
        assert "OFLT 12" in received and "SCAL 6" in received  # the SR860's own tables
        li.phase(0.0)
        lab.clock.wait(30.0)  # 24 dB/oct needs 10 τ; 30 τ is plenty
        x, y = li.get_values("X", "Y")
        assert x == pytest.approx(expected_x_V(lab), rel=5e-3)
        assert abs(y) < 0.01 * x
        assert li.X() == pytest.approx(x, rel=5e-3)
        assert li.R() == pytest.approx(x, rel=5e-3)
        assert li.get_data_channels_dict()["X"] == pytest.approx(x, rel=5e-3)


def test_pymeasure_sr860_with_an_lf_read_terminator_sets_and_reads():
    with lab_of(100.0, lockin="SR860") as lab:
        lab.world.magnet.hold_at(FIELD_T / lab.world.magnet.coil_T_per_A)
        li = PymeasureSR860(lab.resources["lockin"], visa_library="@py", read_termination="\n",
                            timeout=int(TIMEOUT_S * 1000))
        try:
            assert li.ask("*IDN?").startswith("Stanford_Research_Systems,SR860,")
            li.frequency = 3.33
            li.sine_voltage = 0.5
            li.time_constant = 1
            li.sensitivity = 0.01
            assert (li.frequency, li.sine_voltage, li.time_constant, li.sensitivity) == \
                (3.33, 0.5, 1, 0.01)
            lab.clock.wait(20.0)
            x, y = li.snap("X", "Y")  # sent as "SNAP? X, Y": parameter names
            assert x == pytest.approx(expected_x_V(lab), rel=5e-3)
            assert abs(y) < 0.01 * x
            assert li.x == pytest.approx(x, rel=5e-3)
            assert li.snap_all()[0] == pytest.approx(x, rel=5e-3)  # DAT1 shows X
            assert "SNAP? X, Y" in lab.servers["lockin"].received_lines()
        finally:
            li.adapter.close()


# ----------------------------------------------------------------------------- magnets


def test_qcodes_mercury_ips_ramps_z_to_300_oe_and_holds(caplog):
    with lab_of(100.0, magnet="MercuryiPS") as lab:
        ips = OxfordMercuryiPS("ips", lab.resources["magnet"], visalib="@py", timeout=TIMEOUT_S)
        assert ips.IDN()["model"] == "MERCURY IPS"
        assert snapshot_problems(ips, caplog) == []
        assert ips.magnet_temp() == 4.2
        assert ips.GRPZ.ATOB() == pytest.approx(10.0)  # 0.1 T/A
        ips.GRPZ.field_ramp_rate(0.2 / 60)  # T/s; the iPS keeps T/min
        assert ips.GRPZ.field_ramp_rate() == pytest.approx(0.2 / 60)
        ips.z_target(FIELD_T)
        ips.ramp(mode="simul")  # 9 simulated s at 0.2 T/min
        assert ips.GRPZ.ramp_status() == "TO SET"
        wait_until(lambda: not ips.is_ramping())
        assert ips.z_measured() == pytest.approx(FIELD_T)
        assert ips.GRPZ.ramp_status() == "HOLD"
        assert (ips.x_measured(), ips.y_measured()) == (0.0, 0.0)
        assert lab.world.field_Oe == pytest.approx(300.0)
        # back to zero with QCoDeS's blocking "safe" ramp, which polls ACTN until not TO SET
        ips.z_target(0.0)
        ips.ramp(mode="safe")
        assert ips.GRPZ.field() == 0.0 and ips.GRPZ.ramp_status() == "HOLD"


def test_qcodes_mercury_ips_addresses_spsu_on_firmware_2_6(caplog):
    with lab_of(100.0, magnet="MercuryiPS", firmware="2.6.04.000") as lab:
        ips = OxfordMercuryiPS("ips", lab.resources["magnet"], visalib="@py", timeout=TIMEOUT_S)
        assert ips.IDN()["firmware"] == "2.6.04.000"
        assert snapshot_problems(ips, caplog) == []
        assert "READ:DEV:GRPZ:SPSU:SIG:FLD" in lab.servers["magnet"].received_lines()
        ips.GRPZ.field_ramp_rate(0.2 / 60)
        ips.z_target(FIELD_T)
        ips.ramp(mode="safe")
        assert ips.z_measured() == pytest.approx(FIELD_T)


def test_qcodes_cryomagnetics_4g_sweeps_to_300_oe_and_holds(caplog):
    # five rate ranges up to the twin's 1 A, 0.1 A/s each; coil constant 0.1 T/A. QCoDeS polls
    # IMAG? every 0.05 s of wall time until within 2 mT, then sends SWEEP PAUSE and sleeps 1 s.
    # At 10⁴× the 3 s sweep takes 0.3 ms and its last 2 mT 0.02 ms, far less than one poll, so
    # the pause finds the field at the limit (as a slow poll of a fast supply would)
    limits = {i: (0.2 * (i + 1), 0.1) for i in range(5)}
    with lab_of(10_000.0, magnet="CM4G") as lab:
        cm = CryomagneticsModel4G("cm", lab.resources["magnet"], max_current_limits=limits,
                                  coil_constant=0.1, visalib="@py", timeout=TIMEOUT_S)
        assert cm.IDN()["model"] == "4G"
        assert cm.units() == "T"
        assert snapshot_problems(cm, caplog) == []
        cm.rate(0.1)  # T/min → 0.0167 A/s in every range
        assert cm.rate() == pytest.approx(0.1, rel=5e-3)  # RATE? prints 0.1 mA/s steps
        cm.rate(0.6)  # T/min → 0.1 A/s, the ranges' maximum
        cm.set_field(FIELD_T, block=True)
        assert cm.field() == pytest.approx(FIELD_T)
        state = cm.magnet_operating_state()
        assert state.holding and not state.ramping
        received = lab.servers["magnet"].received_lines()
        setup = ("RANGE 4 1.0", "RATE 4 0.1", "REMOTE", "UNITS T")  # the constructor's
        assert [line for line in received if line in setup] == list(setup)
        assert received.index("ULIM 0.3") < received.index("SWEEP UP") < \
            received.index("SWEEP PAUSE")
        assert lab.world.field_Oe == pytest.approx(300.0)


def test_pymeasure_ami430_ramps_to_300_oe_and_holds():
    with lab_of(100.0) as lab:
        magnet = PymeasureAMI430(lab.resources["magnet"], visa_library="@py",
                                 timeout=int(TIMEOUT_S * 1000))  # reads the two banner lines
        try:
            assert magnet.field == 0.0
            assert magnet.magnet_status == "AT ZERO CURRENT"
            # PSwitch 1 is refused (no switch fitted); state 8 lets the ramp start
            magnet.ramp_to_field(FIELD_T, 0.0015)  # tesla: the 430 starts in T; 20 s at 100×
            wait_until(lambda: magnet.state == 2)
            assert magnet.magnet_status == "HOLDING"
            assert magnet.field == pytest.approx(FIELD_T)
            received = lab.servers["magnet"].received_lines()
            assert "CONF:RAMP:RATE:FIELD 1,0.0015,1.00" in received
            magnet.zero()
            wait_until(lambda: magnet.state == 8)
            assert magnet.field == 0.0
        finally:
            magnet.adapter.close()
