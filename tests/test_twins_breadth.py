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
from cryolab.sim.sample import ruo2_sample_ohm
from instruments.adapter import ConfirmingAdapter
from instruments.cryomagnetics_4g import Cryomagnetics4G
from instruments.cryomagnetics_4g import MagnetState as State4G
from instruments.lakeshore_370 import ControlSetup, InputSetup, InputType, LakeShore370
from instruments.lakeshore_372 import LakeShore372, ReadingStatus
from instruments.limits import LimitError
from instruments.oxford_mercury_ips import IPSRefusedError, MercuryiPS
from instruments.oxford_mercury_ips import MagnetState as StateIPS
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


# ----------------------------------------------------------------------------- Lake Shore 370


def test_370_reads_the_mc_and_sample_thermometers_the_372_would(make_lab):
    lab370 = make_lab(bridge="LS370", T_start_K=0.1)
    lab372 = make_lab(bridge="LS372", T_start_K=0.1)
    ls370 = make_lab.open(lab370, "bridge", LakeShore370)
    ls372 = make_lab.open(lab372, "bridge", LakeShore372)
    assert ls370.id.startswith("LSCI,MODEL370,")
    for lab in (lab370, lab372):
        lab.clock.wait(120.0)  # both fridges cool from 0.1 K for the same time
    mc370_K, mc372_K = ls370.ch_1.temperature_K, ls372.ch_1.temperature_K
    assert mc370_K == pytest.approx(mc372_K, rel=3e-4)  # each reading has 5e-5 rms noise
    assert mc370_K == pytest.approx(lab370.world.fridge.T_mc_K, rel=3e-4)
    assert 0.02 < mc370_K < 0.1
    chip370_ohm, chip372_ohm = ls370.ch_2.resistance_ohm, ls372.ch_2.resistance_ohm
    assert chip370_ohm == pytest.approx(chip372_ohm, rel=3e-4)
    assert chip370_ohm == pytest.approx(ruo2_sample_ohm(lab370.world.fridge.T_sample_K),
                                        rel=3e-4)
    assert ls370.ch_2.temperature_K == 0.0  # no curve on the sample's channel
    assert ls370.ch_1.status is ReadingStatus.OK and ls370.ch_7.status & ReadingStatus.R_OVER


def test_370_heater_loop_drives_the_same_fridge(make_lab):
    lab = make_lab(bridge="LS370")
    bridge = make_lab.open(lab, "bridge", LakeShore370)
    heater = bridge.sample_heater
    heater.set_output_mode("closed_loop", 1)
    heater.set_pid(20, 10, 0)
    heater.set_ramp(True, 0.2)
    heater.range_index = 5
    heater.setpoint_K = 0.25
    assert heater.output_mode.mode == "closed_loop" and heater.control_mode == "closed_loop"
    assert heater.pid == (20.0, 10.0, 0.0)
    assert heater.ramp == (True, 0.2)
    assert heater.ramping is True
    lab.clock.wait(600.0)  # 1.15 min of ramp, then the loop settles (τ_loop = 10 s at P = 20)
    assert heater.ramping is False
    assert bridge.ch_1.temperature_K == pytest.approx(0.25, rel=0.01)
    assert 0 < heater.output_percent < 100
    assert heater.error_code == 0
    bridge.all_heaters_off()
    assert heater.range_index == 0 and bridge.still_percent == 0.0
    lab.clock.wait(1800.0)
    assert bridge.ch_1.temperature_K < 0.05  # off: the MC cools back toward base


def test_370_channel_setup_round_trips(make_lab):
    lab = make_lab(bridge="LS370")
    bridge = make_lab.open(lab, "bridge", LakeShore370)
    assert bridge.ch_1.setup == InputSetup(True, 7, 3, 1, 1)  # the MC curve is curve 1
    bridge.input(2).configure(enabled=True, dwell_s=10, pause_s=5, curve=0, tempco=1)
    assert bridge.ch_2.setup == InputSetup(True, 10, 5, 0, 1)
    bridge.ch_2.set_input_type(1, 9, 1, 12)
    assert bridge.ch_2.input_type == InputType(1, 9, 1, 12, False)
    bridge.set_scan(2, True)
    assert bridge.scan == (2, True)
    heater = bridge.sample_heater
    heater.set_heater_resistance(100.0)
    assert heater.control_setup == ControlSetup(1, True, "K", 1, "current", 8, 100.0)
    heater.manual_output_percent = 12.5
    assert heater.manual_output_percent == 12.5
    values = bridge.read_values(["RDGR? 1", "RDGK? 1"])  # one exchange each on the 370
    assert values[1] == pytest.approx(lab.world.fridge.T_mc_K, rel=3e-4)
    with pytest.raises(LimitError, match="370 input 'A'"):
        bridge.input("A")


def test_370_answers_only_the_last_query_of_a_line(make_lab, raw_client):
    lab = make_lab(bridge="LS370")
    # silence is awaited 0.25 s; a late reply would surface as the next query's answer
    client = raw_client(lab.servers["bridge"].port, timeout_s=0.25)
    assert client.query("RDGK? 1;RDGR? 2;SCAN?", b"\r\n") == "01,0"
    assert client.read_line(b"\r\n") is None  # nothing else came
    for command in ("RDGK? A", "KRDG? 1", "INTYPE? 1", "OUTMODE? 0"):  # 372 spellings
        assert client.query(command, b"\r\n") is None, command
    assert client.query("*ESR?", b"\r\n") == "016"  # EXE, the 370's error bit
    assert client.query("*IDN?", b"\r\n").startswith("LSCI,MODEL370,")  # still in step


# ----------------------------------------------------------------------------- Mercury iPS


def ips(make_lab, lab, **kwargs):
    return make_lab.open(lab, "magnet", MercuryiPS, max_field_Oe=600.0,
                         max_ramp_rate_Oe_per_s=10.0, **kwargs)


def test_ips_ramps_at_the_set_rate_to_the_target_and_holds(make_lab):
    lab = make_lab(magnet="MercuryiPS")
    magnet = ips(make_lab, lab)
    assert magnet.psu == "PSU" and magnet.coil_constant_Oe_per_A == pytest.approx(1000.0)
    assert magnet.magnet_state is StateIPS.HOLD
    magnet.start_ramp(300.0, 10.0)
    assert magnet.magnet_state is StateIPS.TO_SET
    assert (magnet.target_field_Oe, magnet.ramp_rate_Oe_per_s) == (300.0, 10.0)
    lab.clock.wait(15.0)
    assert magnet.field_Oe == pytest.approx(150.0)  # 10 Oe/s for 15 s
    assert magnet.current_A == pytest.approx(0.15)
    assert magnet.voltage_V == pytest.approx(0.005)  # L dI/dt = 0.5 H × 10 mA/s
    lab.clock.wait(20.0)
    assert magnet.magnet_state is StateIPS.HOLD
    assert magnet.field_Oe == 300.0 and lab.world.field_Oe == pytest.approx(300.0)
    magnet.zero()
    assert magnet.magnet_state is StateIPS.TO_ZERO
    lab.clock.wait(31.0)
    assert magnet.magnet_state is StateIPS.HOLD and magnet.field_Oe == 0.0


def test_ips_other_axes_answer_and_ramp_without_reaching_the_sample(make_lab):
    lab = make_lab(magnet="MercuryiPS")
    x_axis = ips(make_lab, lab, axis="GRPX")
    x_axis.start_ramp(-100.0, 10.0)
    lab.clock.wait(11.0)
    assert x_axis.field_Oe == -100.0 and x_axis.magnet_state is StateIPS.HOLD
    assert lab.world.field_Oe == 0.0


def test_ips_quench_shows_in_the_alarm_word_and_hold_releases_it(make_lab):
    lab = make_lab(magnet="MercuryiPS")
    magnet = ips(make_lab, lab)
    magnet.start_ramp(300.0, 10.0)
    lab.clock.wait(10.0)
    assert magnet.quenched is False
    lab.world.magnet.quench()
    assert magnet.quenched is True
    assert magnet.magnet_state is StateIPS.CLAMPED and magnet.field_Oe == 0.0
    with pytest.raises(IPSRefusedError, match="INVALID"):
        magnet.ramp()  # a clamped output does not ramp
    magnet.pause()  # HOLD: releases the clamp
    assert magnet.quenched is False and magnet.magnet_state is StateIPS.HOLD


def test_ips_firmware_2_6_answers_spsu_only(make_lab, raw_client):
    lab = make_lab(magnet="MercuryiPS", magnet_wiring={"firmware": "2.6.04.000"})
    magnet = ips(make_lab, lab)
    assert magnet.firmware == (2, 6) and magnet.psu == "SPSU"
    magnet.start_ramp(100.0, 10.0)
    lab.clock.wait(11.0)
    assert magnet.field_Oe == 100.0
    client = raw_client(lab.servers["magnet"].port)
    assert client.query("READ:DEV:GRPZ:PSU:SIG:FLD") == "STAT:DEV:GRPZ:PSU:INVALID"


def test_ips_refusals_are_answered_not_silent(make_lab, raw_client):
    lab = make_lab(magnet="MercuryiPS")
    magnet = ips(make_lab, lab)
    with pytest.raises(IPSRefusedError, match="INVALID"):
        magnet.set_noun("SIG:FSET", "0.5")  # beyond the supply's 1 A × 0.1 T/A
    with pytest.raises(IPSRefusedError, match="N/A"):
        magnet.set_noun("SIG:SWHT", "ON")  # no persistent switch fitted
    assert magnet.target_field_Oe == 0.0  # the old target stays
    client = raw_client(lab.servers["magnet"].port)
    for line, reply in [("READ:DEV:GRPQ:PSU:SIG:FLD", "NOT_FOUND"),
                        ("read:DEV:GRPZ:PSU:SIG:FLD", "read:INVALID"),  # case-sensitive
                        ("READ:DEV:GRPZ:PSU:SIG:FIELD", "STAT:DEV:GRPZ:PSU:SIG:FIELD:INVALID"),
                        ("SET:DEV:GRPZ:PSU:SIG:FLD:0.1", "STAT:SET:DEV:GRPZ:PSU:SIG:FLD:INVALID"),
                        ("READ:DEV:MB1.T1:TEMP:SIG:TEMP", "STAT:DEV:MB1.T1:TEMP:SIG:TEMP:4.2000K")]:
        assert client.query(line) == reply, line


# ----------------------------------------------------------------------------- Cryomagnetics 4G


def cm4g(make_lab, lab):
    return make_lab.open(lab, "magnet", Cryomagnetics4G, coil_constant_Oe_per_A=1000.0,
                         max_field_Oe=600.0, max_ramp_rate_Oe_per_s=10.0)


def test_4g_sweeps_at_the_range_rate_to_the_limit_and_holds(make_lab):
    lab = make_lab(magnet="CM4G")
    magnet = cm4g(make_lab, lab)
    assert magnet.id == "Cryomagnetics,4G,2239,1.02,208"
    assert magnet.supply_units == "kG" and magnet.magnet_state is State4G.HOLDING
    magnet.start_ramp(300.0, 1.0)  # RATE 0 0.001 (A/s), ULIM 0.3 (kG), SWEEP UP
    assert magnet.magnet_state is State4G.SWEEPING and magnet.sweep_mode == "sweep up"
    assert magnet.target_field_Oe == pytest.approx(300.0)
    assert magnet.ramp_rate_Oe_per_s == pytest.approx(1.0)
    lab.clock.wait(150.0)
    assert magnet.field_Oe == pytest.approx(150.0)  # 1 Oe/s for 150 s
    lab.clock.wait(160.0)
    assert magnet.field_Oe == pytest.approx(300.0) and lab.world.field_Oe == pytest.approx(300)
    assert magnet.magnet_state is State4G.HOLDING  # the sweep stops at its limit
    assert magnet.sweep_mode == "Pause"
    assert magnet.output_field_Oe == pytest.approx(300.0)


def test_4g_sweeps_down_through_zero_and_to_zero(make_lab):
    lab = make_lab(magnet="CM4G", initial_field_Oe=300.0)
    magnet = cm4g(make_lab, lab)
    magnet.start_ramp(-200.0, 10.0)  # LLIM −0.2, SWEEP DOWN: 500 Oe in 50 s
    lab.clock.wait(25.0)
    assert magnet.field_Oe == pytest.approx(50.0)
    lab.clock.wait(30.0)
    assert magnet.field_Oe == pytest.approx(-200.0) and magnet.lower_limit_Oe == -200.0
    magnet.zero()
    assert magnet.sweep_mode == "zeroing"
    lab.clock.wait(25.0)
    assert magnet.field_Oe == 0.0 and magnet.magnet_state is State4G.HOLDING


def test_4g_quench_shows_in_the_status_byte_until_reset(make_lab):
    lab = make_lab(magnet="CM4G")
    magnet = cm4g(make_lab, lab)
    magnet.start_ramp(300.0, 10.0)
    lab.clock.wait(10.0)
    lab.world.magnet.quench()
    assert magnet.quenched is True and magnet.magnet_state is State4G.QUENCHED
    assert magnet.field_Oe == 0.0
    magnet.clear_quench()
    assert magnet.quenched is False and magnet.magnet_state is State4G.HOLDING


def test_4g_in_amperes_reads_the_same_field(make_lab):
    lab = make_lab(magnet="CM4G", initial_field_Oe=300.0)
    first = cm4g(make_lab, lab)
    first.write("UNITS A")
    first.adapter.confirm()  # a second connection is not ordered with the first
    again = cm4g(make_lab, lab)
    assert again.supply_units == "A"
    assert again.field_Oe == pytest.approx(300.0)  # 0.3 A × 1000 Oe/A
    assert again.ask("IMAG?").strip() == "0.3000A"


# ----------------------------------------------------------------------------- all four


@pytest.mark.parametrize(("role", "model", "query", "terminator"), [
    ("lockin", "SR860", "*IDN?", b"\n"),
    ("bridge", "LS370", "*IDN?", b"\r\n"),
    ("magnet", "MercuryiPS", "SET:DEV:GRPZ:PSU:SIG:RFST:0.06", b"\n"),  # sets are answered
    ("magnet", "CM4G", "*IDN?", b"\r\n"),
])
def test_faults_reach_the_new_twins_from_the_server(make_lab, raw_client, role, model, query,
                                                    terminator):
    lab = make_lab(**{role: model})
    server = lab.servers[role]
    client = raw_client(server.port, timeout_s=0.25)
    normal = client.query(query, terminator)
    assert normal
    server.faults.inject("garbled")
    assert client.query(query, terminator) == normal[: len(normal) // 2] + "\x15#?"
    server.faults.inject("timeout")
    assert client.query(query, terminator) is None
    assert client.query(query, terminator) == normal
    assert [event.kind for event in server.fault_log] == ["garbled", "timeout"]
