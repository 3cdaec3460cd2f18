"""SR860, Lake Shore 370, Mercury iPS and Cryomagnetics 4G drivers checked line by line.

Same rules as test_drivers_protocol.py: replies are written as the hardware prints them
(the manuals' examples and the replies the third-party drivers parse), an empty or shorter
protocol proves that a refused request sent nothing, and unit conversions are checked with
numbers worked by hand: 300 Oe = 0.03 T = 0.3 kG; 1 Oe/s = 1e-4 T/s = 0.006 T/min; with a
coil constant of 0.1 T/A = 1000 Oe/A, 300 Oe = 0.3 A and 1 Oe/s = 0.001 A/s.
"""

import math
import socket
import threading

import pytest
from pymeasure.test import expected_protocol

from instruments.cryomagnetics_4g import Cryomagnetics4G, StatusByte
from instruments.cryomagnetics_4g import MagnetState as State4G
from instruments.formats import plain_decimal, split_number_unit
from instruments.lakeshore_370 import ControlSetup, InputType, LakeShore370, OutputMode
from instruments.lakeshore_372 import ReadingStatus
from instruments.limits import LimitError, Span
from instruments.oxford_mercury_ips import IPSRefusedError, MercuryiPS, PSUAlarm
from instruments.oxford_mercury_ips import MagnetState as StateIPS
from instruments.srs_sr830 import LockinReading
from instruments.srs_sr860 import SR860, SR865, OverloadStatus

# ----------------------------------------------------------------------------- formats


@pytest.mark.parametrize(("value", "text"), [(0.03, "0.03"), (6e-05, "0.00006"), (-5.0, "-5"),
                                             (-0.0, "0"), (0.1 + 0.2, "0.3"), (0.006, "0.006")])
def test_numbers_are_written_without_exponent(value, text):
    assert plain_decimal(value) == text


def test_number_and_unit_replies_split():
    assert split_number_unit("30.000mT") == (30.0, "mT")
    assert split_number_unit("0.2000T/m") == (0.2, "T/m")
    assert split_number_unit("-0.3000kG") == (-0.3, "kG")
    with pytest.raises(ValueError, match="not a number"):
        split_number_unit("0.0\x15T")


# ----------------------------------------------------------------------------- SR860


@pytest.mark.parametrize(
    ("prop", "value", "command"),
    [
        ("frequency", 3.33, "FREQ 3.33"),
        ("sine_voltage", 0.5, "SLVL 0.5"),
        ("phase", 12.5, "PHAS 12.5"),
        ("time_constant", 1, "OFLT 12"),  # the SR830 sends OFLT10 for 1 s
        ("time_constant", 0.3, "OFLT 11"),
        ("time_constant", 1e-6, "OFLT 0"),
        ("time_constant", 30e3, "OFLT 21"),
        ("sensitivity", 0.01, "SCAL 6"),  # index 0 = 1 V, descending
        ("sensitivity", 1.0, "SCAL 0"),
        ("sensitivity", 1e-9, "SCAL 27"),
        ("sensitivity", 1e-3, "SCAL 9"),
        ("filter_slope", 24, "OFSL 3"),
        ("filter_synchronous", True, "SYNC 1"),
        ("reference_source", "External", "RSRC 1"),
        ("reference_externalinput", "1MEG", "REFZ 1"),
        ("aux_out_2", 1.5, "AUXV 1, 1.5"),
        ("frequencypreset3", 7.0, "PSTF 2, 7"),
    ],
)
def test_sr860_settings_are_sent_as_the_manual_spells_them(prop, value, command):
    with expected_protocol(SR860, [(command, None)]) as lockin:
        setattr(lockin, prop, value)


@pytest.mark.parametrize(
    ("command", "reply", "prop", "value"),
    [
        ("FREQ?", "3.33", "frequency", 3.33),
        ("SLVL?", "0.5", "sine_voltage", 0.5),
        ("OFLT?", "12", "time_constant", 1.0),
        ("SCAL?", "6", "sensitivity", 0.01),
        ("SCAL?", "27", "sensitivity", 1e-9),
        ("OFSL?", "1", "filter_slope", 12),
        ("SYNC?", "0", "filter_synchronous", False),
        ("RSRC?", "0", "reference_source", "Internal"),
        ("*IDN?", "Stanford_Research_Systems,SR860,004025,V1.51", "id",
         "Stanford_Research_Systems,SR860,004025,V1.51"),
    ],
)
def test_sr860_settings_read_back(command, reply, prop, value):
    with expected_protocol(SR860, [(command, reply)]) as lockin:
        assert getattr(lockin, prop) == value


def test_sr860_tables_ascend_in_seconds_and_volts():
    assert SR860.TIME_CONSTANTS[12] == 1.0 and list(SR860.TIME_CONSTANTS) == sorted(
        SR860.TIME_CONSTANTS)
    assert (SR860.SENSITIVITIES[0], SR860.SENSITIVITIES[-1]) == (1e-9, 1.0)
    assert list(SR860.SENSITIVITIES) == sorted(SR860.SENSITIVITIES)
    assert SR860.sensitivity_for(5e-3) == 10e-3  # 5 mV at ≤ 60 % of full scale


def test_sr860_snap_reads_x_and_y_at_one_instant_and_derives_r_theta():
    # SNAP? takes 2 or 3 parameters on the SR86x; R and θ from X = 3 µV, Y = 4 µV: 5 µV, 53.13°
    with expected_protocol(SR860, [("SNAP? 0,1", "3e-06,4e-06")]) as lockin:
        reading = lockin.snap_xyrt()
    assert reading == pytest.approx(LockinReading(3e-6, 4e-6, 5e-6, 53.130102354))


@pytest.mark.parametrize(("status", "overloaded"), [("0", False), ("16", True), ("1", True),
                                                    ("8", False), ("2048", True)],
                         ids=["clear", "input-range", "ch1-output", "unlocked", "data-ch4"])
def test_sr860_snap_with_status_is_one_chained_exchange(status, overloaded):
    with expected_protocol(SR860, [("SNAP? 0,1;CUROVLDSTAT?", f"1e-06,-1e-06;{status}")]
                           ) as lockin:
        reading, over = lockin.snap_with_status()
    assert over is overloaded
    assert reading.r_V == pytest.approx(math.sqrt(2) * 1e-6)
    assert reading.theta_deg == pytest.approx(-45.0)


def test_sr860_overload_status_is_read_without_latching():
    with expected_protocol(SR860, [("CUROVLDSTAT?", "3"), ("CUROVLDSTAT?", "8")]) as lockin:
        first = lockin.read_status()
        assert first == OverloadStatus.CH1_OUTPUT | OverloadStatus.CH2_OUTPUT
        assert SR860.is_overload(first)
        assert not SR860.is_overload(lockin.read_status())  # an unlocked reference only


def test_sr860_settle_time_uses_the_oflt_table():
    with expected_protocol(SR860, [("OFLT?", "12"), ("OFSL?", "3")]) as lockin:
        assert lockin.settle_time(0.99) == pytest.approx(10.045, abs=1e-3)  # 1 s, 24 dB/oct


def test_sr860_auto_range_steps_up_a_decade_while_overloaded_then_chooses():
    waits = []
    with expected_protocol(SR860, [
        ("OFLT?", "10"),  # τ = 100 ms
        ("SNAP? 0,1;CUROVLDSTAT?", "0.001,0;16"), ("SCAL?", "16"),  # 5 µV, input overload
        ("SCAL 13", None),  # one decade up: 50 µV
        ("SNAP? 0,1;CUROVLDSTAT?", "4e-05,0;0"), ("SCAL?", "13"),  # 40 µV fits in 50 µV
        ("SCAL?", "13"), ("SCAL 12", None),  # but 40 µV ≤ 60 % of full scale needs 100 µV
    ]) as lockin:
        assert lockin.auto_range(waits.append) == 100e-6
    assert waits == [pytest.approx(0.3)]  # three time constants


def test_sr860_refuses_instead_of_clipping_and_sends_nothing():
    with expected_protocol(SR860, []) as lockin:
        for prop, value, message in [
            ("sine_voltage", 2.5, "sine output: 2.5 V is outside the allowed 0 to 2 V"),
            ("frequency", 600e3, "reference frequency"),
            ("time_constant", 2.0, "time constant: 2.0 s is not one of"),
            ("sensitivity", 3e-3, "sensitivity"),
            ("filter_slope", 20, "filter slope"),
            ("filter_synchronous", 2, "synchronous filter"),
            ("reference_source", "Internal-ish", "reference source"),
            ("phase", 4e5, "phase"),
            ("aux_out_1", 12, "aux output 1: 12 V"),
            ("sine_amplitudepreset1", 3, "preset sine amplitude 1"),
        ]:
            with pytest.raises(LimitError, match=message):
                setattr(lockin, prop, value)


def test_sr860_station_narrows_frequency_and_amplitude():
    with expected_protocol(SR860, [("FREQ 7", None), ("SLVL 0.1", None)]) as lockin:
        lockin.set_frequency_limits(0.7, 7.0, "station limits.frequency_Hz")
        lockin.set_sine_voltage_limits(0.0, 0.1, "station limits.max_sine_V")
        with pytest.raises(LimitError, match=r"0.7 to 7 Hz \(station limits.frequency_Hz\)"):
            lockin.frequency = 10.0
        with pytest.raises(LimitError, match="max_sine_V"):
            lockin.sine_voltage = 0.2
        lockin.frequency = 7.0
        lockin.sine_voltage = 0.1


def test_sr865_reference_reaches_2_MHz_and_no_further():
    with expected_protocol(SR865, [("FREQ 1500000", None)]) as lockin:
        lockin.frequency = 1.5e6
        with pytest.raises(LimitError, match="SR865 range"):
            lockin.frequency = 2.5e6


@pytest.mark.parametrize(("command", "reply", "read"), [
    ("FREQ?", "3.3\x15#?", lambda li: li.frequency),
    ("SNAP? 0,1", "1e-06,\x15", lambda li: li.snap_xyrt()),
    ("SNAP? 0,1;CUROVLDSTAT?", "1e-06,0", lambda li: li.snap_with_status()),
    ("CUROVLDSTAT?", "1\x156", lambda li: li.read_status()),
])
def test_sr860_garbled_numeric_replies_raise(command, reply, read):
    with expected_protocol(SR860, [(command, reply)]) as lockin, pytest.raises(ValueError):
        read(lockin)


@pytest.fixture
def line_server():
    """A socket that answers every LF-terminated line with one LF-terminated reply."""
    server = socket.create_server(("127.0.0.1", 0))
    received = []

    def serve():
        conn, _ = server.accept()
        with conn:
            buffer = b""
            while True:
                chunk = conn.recv(1024)
                if not chunk:
                    return
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    received.append(line.decode())
                    conn.sendall(b"Stanford_Research_Systems,SR860,004025,V1.51\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"TCPIP0::127.0.0.1::{server.getsockname()[1]}::SOCKET", received
    server.close()


def test_sr860_defaults_lf_terminators_so_a_socket_query_returns(line_server):
    resource, received = line_server
    lockin = SR860(resource, visa_library="@py", timeout=2000)
    try:
        assert lockin.id == "Stanford_Research_Systems,SR860,004025,V1.51"
    finally:
        lockin.adapter.close()
    assert received == ["*IDN?"]


# ----------------------------------------------------------------------------- Lake Shore 370


def test_370_readings_use_the_manuals_rdgr_and_rdgk():
    with expected_protocol(LakeShore370, [
        ("RDGR? 2", "+024.870E+03"), ("RDGK? 1", "+012.034E-03"), ("RDGST? 1", "000"),
        ("RDGST? 5", "016"), ("RDGPWR? 1", "+001.000E-15"),
    ]) as ls:
        assert ls.ch_2.resistance_ohm == pytest.approx(24870.0)
        assert ls.ch_1.temperature_K == pytest.approx(0.012034)
        assert ls.ch_1.status == ReadingStatus.OK
        assert ls.input(5).status == ReadingStatus.R_OVER
        assert ls.ch_1.excitation_power_W == pytest.approx(1e-15)


def test_370_input_setup_range_and_scan():
    with expected_protocol(LakeShore370, [
        ("INSET? 1", "1,007,003,01,1"), ("INSET 2,1,10,3,0,1", None),
        ("RDGRNG? 2", "1,07,10,0,0"), ("RDGRNG 2,1,7,10,1,0", None),
        ("SCAN?", "01,1"), ("SCAN 2,0", None),
    ]) as ls:
        assert ls.ch_1.setup == (True, 7, 3, 1, 1)
        ls.input(2).configure(enabled=True, dwell_s=10, pause_s=3, curve=0, tempco=1)
        # RDGRNG answers mode, excitation, range, autorange, cs off (range before autorange)
        assert ls.ch_2.input_type == InputType(1, 7, 0, 10, False)
        ls.ch_2.set_input_type(1, 7, 1, 10)
        assert ls.scan == (1, True)
        ls.set_scan(2, False)


def test_370_control_loop_is_set_up_with_cset_and_cmode():
    with expected_protocol(LakeShore370, [
        ("CSET?", "01,0,1,001,1,8,+100.000"), ("CSET 3,1,1,10,1,8,100", None), ("CMODE 1", None),
        ("CSET?", "03,1,1,010,1,8,+100.000"), ("CMODE?", "1"),
        ("CSET?", "03,1,1,010,1,8,+100.000"), ("CSET 3,1,1,10,1,8,120", None),
        ("CSET?", "03,1,2,010,2,6,+120.000"),
    ]) as ls:
        heater = ls.sample_heater
        heater.set_output_mode("closed_loop", 3, delay_s=10)
        assert heater.output_mode == OutputMode("closed_loop", 3, True, 10, "K")
        heater.set_heater_resistance(120)
        assert heater.control_setup == ControlSetup(3, True, "ohm", 10, "power", 6, 120.0)


def test_370_heater_commands_take_no_output_argument():
    with expected_protocol(LakeShore370, [
        ("HTRRNG 5", None), ("HTRRNG?", "5"),
        ("SETP 0.1", None), ("SETP?", "+100.000E-03"),
        ("RAMP 1,0.5", None), ("RAMP?", "1,+000.500"), ("RAMPST?", "1"),
        ("PID 10,20,0", None), ("PID?", "+0010.00,+0020.00,+0000.00"),
        ("HTR?", "+00.0005E+00"), ("HTRST?", "0"),
        ("MOUT 12.5", None), ("MOUT?", "+012.500"),
        ("HTRRNG 0", None),
    ]) as ls:
        h = ls.sample_heater
        h.range_index = 5
        assert h.range_index == 5
        h.setpoint_K = 0.1
        assert h.setpoint_K == pytest.approx(0.1)
        h.set_ramp(True, 0.5)
        assert h.ramp == (True, 0.5)
        assert h.ramping is True
        h.set_pid(10, 20, 0)
        assert h.pid == (10.0, 20.0, 0.0)
        assert h.output_percent == pytest.approx(0.0005)
        assert h.error_code == 0
        h.manual_output_percent = 12.5
        assert h.manual_output_percent == 12.5
        h.off()


def test_370_safe_state_turns_sample_and_still_heaters_off():
    with expected_protocol(LakeShore370, [
        ("STILL 25", None), ("STILL?", "+025.0"), ("HTRRNG 0", None), ("STILL 0", None),
    ]) as ls:
        ls.still_percent = 25
        assert ls.still_percent == 25.0
        ls.all_heaters_off()


def test_370_read_values_asks_one_query_per_line():
    # "the instrument will respond only to the last query it receives" (370 manual §6.2.5)
    with expected_protocol(LakeShore370, [("RDGR? 1", "+1.23400E+03"), ("RDGK? 1", "+0.1E+00")]
                           ) as ls:
        assert ls.read_values(["RDGR? 1", "RDGK? 1"]) == [1234.0, 0.1]


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (lambda ls: setattr(ls.sample_heater, "range_index", 8), "range index: 8 .*max_heater"),
        (lambda ls: setattr(ls.sample_heater, "setpoint_K", 4.0), "setpoint: 4 K"),
        (lambda ls: ls.sample_heater.set_ramp(True, 2.0), "ramp rate: 2 K/min .*max_temp"),
        (lambda ls: ls.sample_heater.set_ramp(True, 20.0), "20 K/min .*370 range"),
        (lambda ls: ls.sample_heater.set_pid(5000, 0, 0), "PID P"),
        (lambda ls: ls.sample_heater.set_pid(0, 0, 0), "PID P: 0 is outside .*0.001"),
        (lambda ls: ls.sample_heater.set_output_mode("turbo", 1), "heater mode"),
        (lambda ls: ls.sample_heater.set_output_mode("closed_loop", 17), "heater input 17"),
        (lambda ls: ls.sample_heater.set_output_mode("closed_loop", 1, delay_s=0), "pause"),
        (lambda ls: ls.sample_heater.set_heater_resistance(0.5), "heater resistance"),
        (lambda ls: ls.sample_heater.set_control_setup(
            ControlSetup(1, True, "K", 1, "current", 9, 100.0)), "heater range limit: 9"),
        (lambda ls: setattr(ls.sample_heater, "manual_output_percent", 120), "manual output"),
        (lambda ls: setattr(ls, "still_percent", 101), "still heater"),
        (lambda ls: ls.input("A"), "370 input 'A' is not 1–16"),
        (lambda ls: ls.input(17), "370 input 17"),
        (lambda ls: ls.ch_1.configure(dwell_s=0), "dwell"),
        (lambda ls: ls.ch_1.configure(curve=21), "curve number"),
        (lambda ls: ls.ch_1.set_input_type(0, 13, 0, 10), "excitation index: 13 .* 1 to 12"),
        (lambda ls: ls.ch_1.set_input_type(2, 1, 0, 10), "excitation mode"),
        (lambda ls: ls.set_scan(0, True), "scanner channel"),
    ],
)
def test_370_out_of_limit_requests_raise_before_sending(action, message):
    with expected_protocol(LakeShore370, []) as ls:
        h = ls.sample_heater
        h.range_index_values = Span(0, 7, "station limits.max_heater_range")
        h.setpoint_K_values = Span(0, 1.5, "station limits.temperature_K")
        h.ramp_rate_limits = Span(0, 0.5, "station limits.max_temperature_ramp_K_per_min")
        with pytest.raises(LimitError, match=message):
            action(ls)


@pytest.mark.parametrize(("command", "reply", "read"), [
    ("RDGR? 1", "+0.0\x15#?", lambda ls: ls.ch_1.resistance_ohm),
    ("SETP?", "+000.0\x15#?", lambda ls: ls.sample_heater.setpoint_K),
    ("CSET?", "01,\x15,1,001,1,8,+100.000", lambda ls: ls.sample_heater.control_setup),
    ("CMODE?", "7", lambda ls: ls.sample_heater.control_mode),
])
def test_370_garbled_replies_raise(command, reply, read):
    with expected_protocol(LakeShore370, [(command, reply)]) as ls, pytest.raises(ValueError):
        read(ls)


# ----------------------------------------------------------------------------- Mercury iPS

IDN_25 = ("*IDN?", "IDN:OXFORD INSTRUMENTS:MERCURY IPS:SIM0001:2.5.09.000")
Z = "DEV:GRPZ:PSU"


def ips(pairs, **kwargs):
    kwargs.setdefault("max_field_Oe", 600.0)
    kwargs.setdefault("max_ramp_rate_Oe_per_s", 10.0)
    return expected_protocol(MercuryiPS, [IDN_25, *pairs], **kwargs)


def test_ips_firmware_chooses_psu_or_spsu():
    with ips([(f"READ:{Z}:SIG:FLD", f"STAT:{Z}:SIG:FLD:0.0300T")]) as magnet:
        assert magnet.psu == "PSU" and magnet.field_Oe == pytest.approx(300.0)
    with expected_protocol(MercuryiPS, [
        ("*IDN?", "IDN:OXFORD INSTRUMENTS:MERCURY IPS:SIM0001:2.6.04.000"),
        ("READ:DEV:GRPX:SPSU:SIG:FLD", "STAT:DEV:GRPX:SPSU:SIG:FLD:-0.0300T"),
    ], axis="GRPX") as magnet:
        assert magnet.firmware == (2, 6)
        assert magnet.field_Oe == pytest.approx(-300.0)


@pytest.mark.parametrize(
    ("noun", "reply", "prop", "value"),
    [
        ("SIG:FLD", "0.0300T", "field_Oe", 300.0),  # 0.03 T = 300 Oe
        ("SIG:FLD", "30.000mT", "field_Oe", 300.0),  # SI prefix
        ("SIG:PFLD", "0.0000T", "persistent_field_Oe", 0.0),
        ("SIG:FSET", "0.0600T", "target_field_Oe", 600.0),
        ("SIG:RFST", "0.2000T/m", "ramp_rate_Oe_per_s", 2000.0 / 60),  # 0.2 T/min = 33.3 Oe/s
        ("SIG:RFST", "6.0000mT/m", "ramp_rate_Oe_per_s", 1.0),  # 0.006 T/min = 1 Oe/s
        ("SIG:CURR", "3.0000A", "current_A", 3.0),
        ("SIG:VOLT", "0.0100V", "voltage_V", 0.01),
        ("ATOB", "100.0000A/T", "coil_constant_Oe_per_A", 100.0),  # 1e4 Oe per 100 A
        ("ACTN", "HOLD", "magnet_state", StateIPS.HOLD),
        ("ACTN", "RTOZ", "magnet_state", StateIPS.TO_ZERO),
        ("ACTN", "CLMP", "magnet_state", StateIPS.CLAMPED),
        ("STAT", "00000100", "quenched", True),
        ("STAT", "00000000", "quenched", False),
        ("STAT", "00000101", "alarms",
         PSUAlarm.QUENCH_DETECTED | PSUAlarm.SWITCH_HEATER_MISMATCH),
    ],
)
def test_ips_readings_in_oe(noun, reply, prop, value):
    expected = pytest.approx(value) if isinstance(value, float) else value
    with ips([(f"READ:{Z}:{noun}", f"STAT:{Z}:{noun}:{reply}")]) as magnet:
        assert getattr(magnet, prop) == expected


def test_ips_sets_are_answered_and_the_answer_is_read():
    with ips([
        (f"SET:{Z}:SIG:FSET:0.03", f"STAT:SET:{Z}:SIG:FSET:0.03:VALID"),  # 300 Oe
        (f"SET:{Z}:SIG:RFST:0.006", f"STAT:SET:{Z}:SIG:RFST:0.006:VALID"),  # 1 Oe/s
        (f"SET:{Z}:ACTN:RTOZ", f"STAT:SET:{Z}:ACTN:RTOZ:VALID"),
        (f"READ:{Z}:ACTN", f"STAT:{Z}:ACTN:RTOZ"),
    ]) as magnet:
        magnet.target_field_Oe = 300.0
        magnet.ramp_rate_Oe_per_s = 1.0
        magnet.zero()
        assert magnet.magnet_state.is_moving


def test_ips_start_ramp_holds_sets_rate_and_target_then_ramps():
    with ips([
        (f"SET:{Z}:ACTN:HOLD", f"STAT:SET:{Z}:ACTN:HOLD:VALID"),
        (f"SET:{Z}:SIG:RFST:0.03", f"STAT:SET:{Z}:SIG:RFST:0.03:VALID"),  # 5 Oe/s
        (f"SET:{Z}:SIG:FSET:-0.06", f"STAT:SET:{Z}:SIG:FSET:-0.06:VALID"),  # -600 Oe
        (f"SET:{Z}:ACTN:RTOS", f"STAT:SET:{Z}:ACTN:RTOS:VALID"),
        (f"SET:{Z}:ACTN:HOLD", f"STAT:SET:{Z}:ACTN:HOLD:VALID"),
        (f"SET:{Z}:ACTN:RTOS", f"STAT:SET:{Z}:ACTN:RTOS:VALID"),
    ]) as magnet:
        magnet.start_ramp(-600.0, 5.0)
        magnet.pause()
        magnet.ramp()


@pytest.mark.parametrize("answer", ["INVALID", "DENIED", "N/A"])
def test_ips_refused_sets_raise(answer):
    with ips([(f"SET:{Z}:SIG:FSET:0.03", f"STAT:SET:{Z}:SIG:FSET:0.03:{answer}")]) as magnet, \
            pytest.raises(IPSRefusedError, match=answer):
        magnet.target_field_Oe = 300.0


def test_ips_unknown_axis_is_refused():
    with expected_protocol(MercuryiPS, [
        ("*IDN?", "IDN:OXFORD INSTRUMENTS:MERCURY IPS:SIM0001:2.5.09.000"),
        ("READ:DEV:GRPQ:PSU:SIG:FLD", "NOT_FOUND"),
    ], axis="GRPQ") as magnet, pytest.raises(IPSRefusedError, match="NOT_FOUND"):
        _ = magnet.field_Oe


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (lambda m: setattr(m, "target_field_Oe", 1e7), "1e\\+07 Oe is outside.*max_field_Oe"),
        (lambda m: setattr(m, "target_field_Oe", float("nan")), "target field"),
        (lambda m: setattr(m, "ramp_rate_Oe_per_s", 50.0), "max_field_ramp_Oe_per_s"),
        (lambda m: setattr(m, "ramp_rate_Oe_per_s", 0.0), "must be above 0"),
        (lambda m: m.start_ramp(700.0, 5.0), "max_field_Oe"),
        (lambda m: m.start_ramp(300.0, 11.0), "max_field_ramp_Oe_per_s"),
    ],
    ids=["huge", "nan", "fast", "zero-rate", "ramp-far", "ramp-fast"],
)
def test_ips_out_of_limit_requests_raise_before_sending(action, message):
    with ips([]) as magnet, pytest.raises(LimitError, match=message):
        magnet.set_limits(600.0, 10.0, "station limits.")
        action(magnet)


def test_ips_limits_allow_only_zero_until_the_station_sets_them():
    with expected_protocol(MercuryiPS, [IDN_25]) as magnet, \
            pytest.raises(LimitError, match="driver default: max_field_Oe"):
        magnet.target_field_Oe = 1.0


@pytest.mark.parametrize(
    ("noun", "reply", "read"),
    [
        ("SIG:FLD", f"STAT:{Z}:SIG:FLD:0.0\x15T", lambda m: m.field_Oe),
        ("SIG:FLD", f"STAT:{Z}:SIG:FSET:0.0300T", lambda m: m.field_Oe),  # a stale answer
        ("SIG:RFST", f"STAT:{Z}:SIG:RFST:0.2000T", lambda m: m.ramp_rate_Oe_per_s),  # T, not T/m
        ("ACTN", f"STAT:{Z}:ACTN:WAIT", lambda m: m.magnet_state),
        ("STAT", f"STAT:{Z}:STAT:0000G100", lambda m: m.quenched),
    ],
    ids=["noise", "other-noun", "wrong-unit", "unknown-action", "not-hex"],
)
def test_ips_garbled_replies_raise(noun, reply, read):
    with ips([(f"READ:{Z}:{noun}", reply)]) as magnet, pytest.raises(ValueError):
        read(magnet)


def test_ips_rejects_a_malformed_identity_or_axis():
    with pytest.raises(ValueError, match="identification"), \
            expected_protocol(MercuryiPS, [("*IDN?", "IDN:OXFORD\x15")]):
        pass
    with pytest.raises(ValueError, match="device UID"), expected_protocol(MercuryiPS, [],
                                                                         axis="GRPZ:PSU"):
        pass


# ----------------------------------------------------------------------------- Cryomagnetics 4G

INIT_KG = [("REMOTE", None), ("UNITS?", "G")]
TOPS = [("RANGE? 0", "10.0000"), ("RANGE? 1", "20.0000"), ("RANGE? 2", "30.0000"),
        ("RANGE? 3", "40.0000")]


def cm4g(pairs, init=INIT_KG, **kwargs):
    kwargs.setdefault("coil_constant_Oe_per_A", 1000.0)  # 0.1 T/A
    kwargs.setdefault("max_field_Oe", 30000.0)
    kwargs.setdefault("max_ramp_rate_Oe_per_s", 10.0)
    return expected_protocol(Cryomagnetics4G, [*init, *pairs], **kwargs)


def test_4g_readings_in_oe_from_kilogauss_or_amperes():
    with cm4g([("IMAG?", "0.3000kG"), ("IOUT?", "-0.3000kG"), ("VMAG?", "0.012V"),
               ("VOUT?", "0.250V"), ("*IDN?", "Cryomagnetics,4G,2239,1.02,208"),
               ("SWEEP?", "sweep up")]) as magnet:
        assert magnet.field_Oe == pytest.approx(300.0)  # 0.3 kG = 300 Oe
        assert magnet.output_field_Oe == pytest.approx(-300.0)
        assert magnet.magnet_voltage_V == pytest.approx(0.012)
        assert magnet.output_voltage_V == pytest.approx(0.25)
        assert magnet.id == "Cryomagnetics,4G,2239,1.02,208"
        assert magnet.sweep_mode == "sweep up"
    with cm4g([("IMAG?", "0.3000A")], init=[("REMOTE", None), ("UNITS?", "A")]) as magnet:
        assert magnet.field_Oe == pytest.approx(300.0)  # 0.3 A × 1000 Oe/A


@pytest.mark.parametrize(
    ("stb", "state", "quenched"),
    [("0", State4G.HOLDING, False), ("1", State4G.SWEEPING, False),
     ("2", State4G.STANDBY, False), ("4", State4G.QUENCHED, True),
     ("8", State4G.POWER_MODULE_FAILURE, False), ("5", State4G.QUENCHED, True)],
)
def test_4g_state_and_quench_from_the_status_byte(stb, state, quenched):
    with cm4g([("*STB?", stb), ("*STB?", stb)]) as magnet:
        assert magnet.magnet_state is state
        assert magnet.quenched is quenched
    assert state.is_moving is (state is State4G.SWEEPING)


def test_4g_start_ramp_up_sets_rate_then_ulim_then_sweeps_up():
    with cm4g([
        ("SWEEP PAUSE", None), ("IMAG?", "0.0000kG"), *TOPS,
        ("RATE 0 0.001", None),  # 1 Oe/s ÷ 1000 Oe/A; 0 → 0.3 A stays in range 0
        ("ULIM 0.3", None),  # 300 Oe = 0.3 kG, above the present field
        ("SWEEP UP", None),
        ("ULIM?", "0.3000kG"),
    ]) as magnet:
        magnet.start_ramp(300.0, 1.0)
        assert magnet.target_field_Oe == pytest.approx(300.0)


def test_4g_start_ramp_down_through_zero_sets_every_range_it_crosses():
    with cm4g([
        ("SWEEP PAUSE", None), ("IMAG?", "25.0000kG"), *TOPS,  # 25 A, in range 2
        ("RATE 0 0.005", None), ("RATE 1 0.005", None), ("RATE 2 0.005", None),  # 5 Oe/s
        ("LLIM -5", None),  # −5000 Oe = −5 kG, below the present field
        ("SWEEP DOWN", None),
        ("SWEEP PAUSE", None), ("SWEEP DOWN", None), ("SWEEP ZERO", None), ("QRESET", None),
    ]) as magnet:
        magnet.start_ramp(-5000.0, 5.0)
        magnet.pause()
        magnet.ramp()  # resumes toward LLIM
        magnet.zero()
        magnet.clear_quench()


def test_4g_ramp_rate_is_the_present_ranges_rate_in_oe_per_s():
    with cm4g([
        ("IMAG?", "15.0000kG"), *TOPS, ("RATE? 1", "0.0020"),  # 15 A → range 1; 2 mA/s
        *[(f"RATE {i} 0.001", None) for i in range(5)],
    ]) as magnet:
        assert magnet.ramp_rate_Oe_per_s == pytest.approx(2.0)
        magnet.ramp_rate_Oe_per_s = 1.0


def test_4g_range_tops_are_read_and_set_in_amperes():
    with cm4g([("RANGE 1 20", None), *TOPS]) as magnet:
        assert magnet.supply_units == "kG"
        magnet.set_range_top(1, 20.0)
        assert magnet.range_tops_A() == [10.0, 20.0, 30.0, 40.0]
        # 30000 Oe ÷ 1000 Oe/A = 30 A: no range needs to reach beyond the station's field
        with pytest.raises(LimitError, match="range 0 top current: 31 A .* 0 to 30 A "
                                             r"\(driver default: max_field_Oe ÷ coil"):
            magnet.set_range_top(0, 31.0)
        with pytest.raises(LimitError, match="rate range 5"):
            magnet.set_range_top(5, 1.0)


def test_4g_target_sets_llim_below_the_field_and_ulim_in_amperes():
    with cm4g([("IMAG?", "0.5000kG"), ("LLIM 0.3", None), ("LLIM?", "0.3000kG")]) as magnet:
        magnet.target_field_Oe = 300.0
        assert magnet.target_field_Oe == pytest.approx(300.0)
    with cm4g([("IMAG?", "0.0000A"), ("ULIM 0.3", None)],
              init=[("REMOTE", None), ("UNITS?", "A")]) as magnet:
        magnet.target_field_Oe = 300.0  # 300 Oe ÷ 1000 Oe/A = 0.3 A


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (lambda m: setattr(m, "target_field_Oe", 1e7), "1e\\+07 Oe is outside.*max_field_Oe"),
        (lambda m: setattr(m, "ramp_rate_Oe_per_s", 50.0), "max_field_ramp_Oe_per_s"),
        (lambda m: setattr(m, "ramp_rate_Oe_per_s", 0.0), "must be above 0"),
        (lambda m: m.start_ramp(40000.0, 5.0), "max_field_Oe"),
        (lambda m: m.start_ramp(300.0, float("inf")), "ramp rate"),
    ],
    ids=["huge", "fast", "zero-rate", "ramp-far", "ramp-inf"],
)
def test_4g_out_of_limit_requests_raise_before_sending(action, message):
    with cm4g([]) as magnet, pytest.raises(LimitError, match=message):
        action(magnet)


def test_4g_needs_a_target_before_resuming_or_reading_it():
    with cm4g([]) as magnet:
        with pytest.raises(LookupError, match="start_ramp"):
            magnet.ramp()
        with pytest.raises(LookupError, match="not a target"):
            _ = magnet.target_field_Oe


def test_4g_coil_constant_is_required_and_checked_before_anything_is_sent():
    with pytest.raises(TypeError, match="coil_constant_Oe_per_A"), \
            expected_protocol(Cryomagnetics4G, []):
        pass
    with pytest.raises(ValueError, match="coil constant"), \
            expected_protocol(Cryomagnetics4G, [], coil_constant_Oe_per_A=0.0):
        pass


def test_4g_tesla_units_are_refused_at_construction():
    with pytest.raises(ValueError, match="units 'T'"), \
            cm4g([], init=[("REMOTE", None), ("UNITS?", "T")]):
        pass


@pytest.mark.parametrize(
    ("command", "reply", "read"),
    [
        ("IMAG?", "0.3\x15kG", lambda m: m.field_Oe),
        ("IMAG?", "0.3000T", lambda m: m.field_Oe),
        ("*STB?", "\x15", lambda m: m.status),
        ("VMAG?", "0.0\x152V", lambda m: m.magnet_voltage_V),
    ],
)
def test_4g_garbled_replies_raise(command, reply, read):
    with cm4g([(command, reply)]) as magnet, pytest.raises(ValueError):
        read(magnet)


def test_4g_status_bits():
    assert StatusByte(5) == StatusByte.SWEEPING | StatusByte.QUENCH
