"""Drivers checked against the manuals line by line with pymeasure's expected_protocol.

Replies are written the way the hardware prints them (protocols.md §6.20): SR830 plain floats,
372 ``+012.034E-03`` readings and zero-padded settings, 430 plain decimals and bare integers.
A refused request must raise before anything is written: expected_protocol fails on any
unexpected write, so an empty protocol proves that nothing was sent.
"""

import pytest
from pymeasure.test import expected_protocol

from instruments.ami_430 import AMI430, MagnetState
from instruments.lakeshore_372 import LakeShore372, ReadingStatus
from instruments.limits import LimitError, Span
from instruments.lockin_filter import enbw_Hz, settle_time_s
from instruments.srs_sr830 import SR830, LockinReading

# ----------------------------------------------------------------------------- SR830


@pytest.mark.parametrize(
    ("prop", "value", "command"),
    [
        ("frequency", 3.33, "FREQ3.33000e+00"),
        ("sine_voltage", 0.5, "SLVL0.500"),
        ("phase", 12.5, "PHAS12.50"),
        ("time_constant", 1, "OFLT10"),
        ("time_constant", 3e-1, "OFLT9"),
        ("filter_slope", 24, "OFSL3"),
        ("sensitivity", 1e-3, "SENS17"),
        ("reserve", "Low Noise", "RMOD2"),
    ],
)
def test_sr830_settings_are_sent_as_the_manual_spells_them(prop, value, command):
    with expected_protocol(SR830, [(command, None)]) as lockin:
        setattr(lockin, prop, value)


@pytest.mark.parametrize(
    ("prop", "reply", "value"),
    [
        ("frequency", "3.33", 3.33),
        ("sine_voltage", "0.5", 0.5),
        ("time_constant", "10", 1.0),
        ("filter_slope", "3", 24),
        ("sensitivity", "17", 1e-3),
        ("reserve", "1", "Normal"),
    ],
)
def test_sr830_settings_read_back(prop, reply, value):
    command = {"frequency": "FREQ?", "sine_voltage": "SLVL?", "time_constant": "OFLT?",
               "filter_slope": "OFSL?", "sensitivity": "SENS?", "reserve": "RMOD?"}[prop]
    with expected_protocol(SR830, [(command, reply)]) as lockin:
        assert getattr(lockin, prop) == value


def test_sr830_snap_reads_x_y_r_theta_at_one_instant():
    with expected_protocol(SR830, [("SNAP? 1,2,3,4", "1.25e-06,-1.25e-08,1.25006e-06,-0.572939")]
                           ) as lockin:
        assert lockin.snap_xyrt() == LockinReading(1.25e-06, -1.25e-08, 1.25006e-06, -0.572939)


def test_sr830_status_byte_and_overload():
    with expected_protocol(SR830, [("LIAS?", "4"), ("LIAS?", "0")]) as lockin:
        assert SR830.is_overload(lockin.read_status())
        assert not SR830.is_overload(lockin.read_status())


def test_sr830_settle_time_asks_time_constant_and_slope():
    with expected_protocol(SR830, [("OFLT?", "10"), ("OFSL?", "3")]) as lockin:
        assert lockin.settle_time(0.99) == pytest.approx(10.045, abs=1e-3)


@pytest.mark.parametrize(("slope", "tau_units"), [(6, 4.605), (12, 6.638), (18, 8.406),
                                                  (24, 10.045)])
def test_settle_times_reproduce_the_filter_table(slope, tau_units):
    # protocols.md §1.4: 99 % after 4.6, 6.6, 8.4, 10.0 τ
    assert settle_time_s(3.0, slope, 0.99) == pytest.approx(3.0 * tau_units, rel=1e-3)


def test_noise_bandwidths_are_the_manuals():
    assert enbw_Hz(1.0, 6) == pytest.approx(1 / 4)
    assert enbw_Hz(1.0, 24) == pytest.approx(5 / 64)


@pytest.mark.parametrize(
    ("prop", "value", "message"),
    [
        ("sine_voltage", 10.0, "sine output: 10 V is outside the allowed 0.004 to 5 V"),
        ("sine_voltage", float("nan"), "sine output"),
        ("frequency", 200_000.0, "reference frequency"),
        ("time_constant", 2.0, "time constant: 2.0 s is not one of"),
        ("sensitivity", 1.5e-3, "sensitivity"),
        ("filter_slope", 20, "filter slope"),
        ("reserve", "Lots", "reserve"),
    ],
)
def test_sr830_refuses_instead_of_clipping_and_sends_nothing(prop, value, message):
    with expected_protocol(SR830, []) as lockin, pytest.raises(LimitError, match=message):
        setattr(lockin, prop, value)


def test_sr830_frequency_narrowed_to_the_station_limits():
    with expected_protocol(SR830, [("FREQ7.00000e+00", None)]) as lockin:
        lockin.set_frequency_limits(0.7, 7.0, "station limits.frequency_Hz")
        with pytest.raises(LimitError, match=r"0.7 to 7 Hz \(station limits.frequency_Hz\)"):
            lockin.frequency = 10.0
        with pytest.raises(LimitError):
            lockin.frequency = 0.5
        lockin.frequency = 7.0


# ----------------------------------------------------------------------------- Lake Shore 372


def test_372_readings_in_the_hardware_format():
    with expected_protocol(LakeShore372, [
        ("KRDG? 1", "+012.034E-03"), ("SRDG? 2", "+024.870E+03"), ("RDGST? 1", "000"),
        ("RDGST? 5", "016"), ("QRDG? 2", "+001.234E+00"), ("RDGPWR? 1", "+001.000E-15"),
    ]) as ls:
        assert ls.ch_1.temperature_K == pytest.approx(0.012034)
        assert ls.ch_2.resistance_ohm == pytest.approx(24870.0)
        assert ls.ch_1.status == ReadingStatus.OK
        assert ls.ch_5.status == ReadingStatus.R_OVER
        assert ls.ch_2.quadrature_ohm == pytest.approx(1.234)
        assert ls.ch_1.excitation_power_W == pytest.approx(1e-15)


def test_372_input_setup_and_type():
    with expected_protocol(LakeShore372, [
        ("INSET? 1", "1,007,003,21,1"), ("INSET 2,1,10,3,0,1", None),
        ("INTYPE? 2", "0,07,1,10,0,2"), ("INTYPE 2,0,7,1,10,0,2", None),
        ('INNAME 1,"MC RuO2"', None), ("INNAME? 1", "MC RuO2"),
        ("TLIMIT 1,2", None), ("TLIMIT? 1", "+0000"),
        ("SCAN?", "01,1"), ("SCAN 2,0", None),
    ]) as ls:
        assert ls.ch_1.setup == (True, 7, 3, 21, 1)
        ls.input(2).configure(enabled=True, dwell_s=10, pause_s=3, curve=0, tempco=1)
        assert ls.ch_2.input_type.units == 2
        ls.ch_2.set_input_type(0, 7, 1, 10, False, 2)
        ls.ch_1.sensor_name = "MC RuO2"
        assert ls.ch_1.sensor_name == "MC RuO2"
        ls.ch_1.temperature_limit_K = 2
        assert ls.ch_1.temperature_limit_K == 0.0
        assert ls.scan == (1, True)
        ls.set_scan(2, False)


def test_372_heater_loop_commands():
    with expected_protocol(LakeShore372, [
        ("OUTMODE 0,5,1,0,0,1,1", None), ("OUTMODE? 0", "5,1,0,0,1,001"),
        ("HTRSET 0,120,0,0,1", None), ("HTRSET? 0", "+120.000,8,+0000.00,1"),
        ("RANGE 0,5", None), ("RANGE? 0", "5"),
        ("SETP 0,0.1", None), ("SETP? 0", "+100.000E-03"),
        ("RAMP 0,1,0.5", None), ("RAMP? 0", "1,+000.500"), ("RAMPST? 0", "1"),
        ("PID 0,10,20,0", None), ("PID? 0", "+0010.00,+0020.00,+0000.00"),
        ("HTR?", "+00.0005E+00"), ("RANGE 0,0", None),
    ]) as ls:
        h = ls.sample_heater
        h.set_output_mode("closed_loop", 1)
        mode = h.output_mode
        assert (mode.mode, mode.input, mode.filtered, mode.delay_s) == (5, "1", True, 1)
        h.set_heater_resistance(120)
        assert h.heater_setup == (120.0, 8, 0.0, 1)
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
        h.off()


def test_372_station_limits_refuse_before_sending():
    with expected_protocol(LakeShore372, []) as ls:
        h = ls.sample_heater
        h.range_index_values = Span(0, 7, "station limits.max_heater_range")
        h.setpoint_K_values = Span(0, 1.5, "station limits.temperature_K")
        h.ramp_rate_limits = Span(0, 0.5, "station limits.max_temperature_ramp_K_per_min")
        with pytest.raises(LimitError, match="heater range index: 8 .*max_heater_range"):
            h.range_index = 8
        with pytest.raises(LimitError, match="heater setpoint: 4 K"):
            h.setpoint_K = 4.0
        with pytest.raises(LimitError, match="setpoint ramp rate: 2 K/min"):
            h.set_ramp(True, 2.0)
        with pytest.raises(LimitError, match="PID P"):
            h.set_pid(5000, 0, 0)
        with pytest.raises(LimitError, match="heater mode"):
            h.set_output_mode("turbo", 1)
        with pytest.raises(LimitError, match="372 input 17"):
            ls.input(17)


# ----------------------------------------------------------------------------- AMI 430

BANNER = [(None, "American Magnetics Model 430 IP Interface"), (None, "Hello.")]


def magnet_protocol(field_units: str, rate_units: str, pairs):
    return expected_protocol(
        AMI430, [*BANNER, ("FIELD:UNITS?", field_units), ("RAMP:RATE:UNITS?", rate_units),
                 *pairs], max_field_Oe=600.0, max_ramp_rate_Oe_per_s=10.0)


def test_430_reads_field_and_state_in_tesla_units():
    with magnet_protocol("1", "0", [("FIELD:MAG?", "0.03"), ("FIELD:TARG?", "0.06"),
                                    ("STATE?", "2"), ("QU?", "0"), ("COIL?", "0.1"),
                                    ("RAMP:RATE:FIELD:1?", "0.0005,0.06")]) as magnet:
        assert magnet.field_Oe == pytest.approx(300.0)
        assert magnet.target_field_Oe == pytest.approx(600.0)
        assert magnet.magnet_state is MagnetState.HOLDING
        assert magnet.quenched is False
        assert magnet.coil_constant_Oe_per_A == pytest.approx(1000.0)
        assert magnet.ramp_rate_Oe_per_s == pytest.approx(5.0)


def test_430_converts_oe_to_kilogauss_per_minute():
    with magnet_protocol("0", "1", [
        ("PAUSE", None), ("CONF:RAMP:RATE:SEG 1", None),
        ("CONF:RAMP:RATE:FIELD 1,0.3,0.6", None),  # 5 Oe/s = 0.3 kG/min; bound = 600 Oe
        ("CONF:FIELD:TARG 0.3", None), ("RAMP", None), ("FIELD:MAG?", "0.15"),
    ]) as magnet:
        magnet.start_ramp(300.0, 5.0)
        assert magnet.field_Oe == pytest.approx(150.0)


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (lambda m: setattr(m, "target_field_Oe", 1e7), "1e\\+07 Oe is outside.*max_field_Oe"),
        (lambda m: setattr(m, "target_field_Oe", -601.0), "max_field_Oe"),
        (lambda m: setattr(m, "target_field_Oe", float("inf")), "target field"),
        (lambda m: setattr(m, "ramp_rate_Oe_per_s", 50.0), "max_field_ramp_Oe_per_s"),
        (lambda m: setattr(m, "ramp_rate_Oe_per_s", 0.0), "must be above 0"),
        (lambda m: m.start_ramp(700.0, 5.0), "max_field_Oe"),
        (lambda m: m.start_ramp(300.0, 11.0), "max_field_ramp_Oe_per_s"),
        (lambda m: m.start_ramp(300.0, 0.0), "must be above 0"),  # refused before PAUSE
        (lambda m: m.ramp_to_field(1000, 1), "bypasses cryolab's limits"),
    ],
    ids=["huge", "negative", "inf", "fast", "zero-rate", "ramp-far", "ramp-fast",
         "ramp-zero-rate", "pymeasure"],
)
def test_430_out_of_limit_requests_raise_before_sending(action, message):
    with magnet_protocol("1", "0", []) as magnet, pytest.raises(LimitError, match=message):
        magnet.set_limits(600.0, 10.0, "station limits.")
        action(magnet)


# ----------------------------------------------------------------------------- bias


@pytest.mark.parametrize("name", ["target_field", "target_current", "ramp_rate_field",
                                  "ramp_rate_current", "coilconst", "voltage_limit"])
def test_430_inherited_pymeasure_setters_are_closed(name):
    with magnet_protocol("1", "0", []) as magnet, pytest.raises(LimitError, match=name):
        setattr(magnet, name, 1000)


def test_430_persistent_switch_and_wall_clock_helpers_are_refused():
    with magnet_protocol("1", "0", []) as magnet:
        with pytest.raises(LimitError, match="no persistent switch"):
            magnet.enable_persistent_switch()
        with pytest.raises(LimitError, match="runner's clock"):
            magnet.wait_for_holding()


def test_sr830_aux_outputs_refuse_instead_of_clipping():
    with expected_protocol(SR830, [("AUXV2,1.500000;", None)]) as lockin:
        with pytest.raises(LimitError, match="aux output 1: 12 V"):
            lockin.aux_out_1 = 12
        lockin.dac2 = 1.5


def test_a_garbled_numeric_reply_raises_instead_of_returning_a_string():
    """pymeasure keeps uncastable elements as strings; cryolab's drivers refuse them."""
    with expected_protocol(LakeShore372, [("SETP? 0", "+000.0\x15#?")]) as ls, \
            pytest.raises(ValueError, match="not a number"):
        _ = ls.sample_heater.setpoint_K
    with expected_protocol(SR830, [("FREQ?", "3.3\x15#?")]) as lockin, \
            pytest.raises(ValueError, match="not a number"):
        _ = lockin.frequency
