"""SR860, Lake Shore 370, Mercury iPS and Cryomagnetics 4G drivers checked line by line.

Same rules as test_drivers_protocol.py: replies are written as the hardware prints them
(protocols-breadth.md), an empty or shorter protocol proves that a refused request sent
nothing, and unit conversions are checked with numbers worked by hand:
300 Oe = 0.03 T = 0.3 kG; 1 Oe/s = 1e-4 T/s = 0.006 T/min; with a coil constant of
0.1 T/A = 1000 Oe/A, 300 Oe = 0.3 A and 1 Oe/s = 0.001 A/s.
"""

import math
import socket
import threading

import pytest
from pymeasure.test import expected_protocol

from instruments.formats import plain_decimal, split_number_unit
from instruments.limits import LimitError
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
