"""cryolab's drivers through pyvisa-py against the simulated servers, end to end."""

import pytest

from instruments.ami_430 import AMI430, MagnetState
from instruments.lakeshore_372 import ReadingStatus


def test_sr830_settings_round_trip(station):
    lockin = station.lockin
    lockin.frequency = 3.33
    lockin.time_constant = 3.0
    lockin.filter_slope = 18
    lockin.sensitivity = 50e-6
    lockin.reserve = "Low Noise"
    lockin.phase = 10.0
    assert lockin.frequency == 3.33
    assert (lockin.time_constant, lockin.filter_slope, lockin.sensitivity) == (3.0, 18, 50e-6)
    assert lockin.reserve == "Low Noise"
    assert lockin.phase == 10.0
    assert lockin.settle_time(0.99) == pytest.approx(3.0 * 8.406, rel=1e-3)
    reading = lockin.snap_xyrt()
    assert reading.r_V == pytest.approx((reading.x_V**2 + reading.y_V**2) ** 0.5, rel=1e-4)


def test_bias_sets_the_lockin_sine_output_and_reads_the_current_back(virtual_lab, station):
    actual = station.bias.set_current(0.5e-9)
    assert station.lockin.sine_voltage == pytest.approx(0.5, abs=0.002)  # 2 mV resolution
    assert actual == pytest.approx(0.5e-9, rel=0.005)
    virtual_lab.clock.wait(1.0)
    station.lockin.snap_xyrt()  # the world is evaluated lazily, when an instrument is asked
    # the estimate uses R_2pt ≈ lead resistance only; the sample adds ≲ 1e-4 of 1 GΩ
    assert virtual_lab.world.true_current_A == pytest.approx(actual, rel=1e-4)


def test_372_channels_and_heater_through_the_driver(virtual_lab, station):
    bridge = station.bridge
    assert bridge.id.startswith("LSCI,MODEL372")
    assert bridge.ch_1.temperature_K == pytest.approx(0.020, rel=1e-3)
    assert bridge.ch_1.status is ReadingStatus.OK
    assert bridge.ch_7.status & ReadingStatus.R_OVER
    assert bridge.ch_1.setup.curve == 21 and bridge.ch_2.setup.curve == 0
    assert bridge.ch_2.input_type.units == 2
    T_sample, R_sample = station.sample_thermometer.read()
    assert T_sample == pytest.approx(virtual_lab.world.fridge.T_sample_K, rel=2e-3)
    assert R_sample > 1e4

    heater = bridge.sample_heater
    heater.set_output_mode("closed_loop", 1)
    heater.set_pid(20, 10, 0)
    heater.set_ramp(True, 0.2)
    heater.range_index = 5
    heater.setpoint_K = 0.25
    assert heater.output_mode.mode == 5
    assert heater.pid == (20.0, 10.0, 0.0)
    assert heater.ramp == (True, 0.2)
    assert heater.ramping is True
    virtual_lab.clock.wait(600.0)
    assert heater.ramping is False
    assert station.mc_thermometer.read()[0] == pytest.approx(0.25, rel=0.01)
    assert 0 < heater.output_percent < 100
    bridge.all_heaters_off()
    assert heater.range_index == 0


def test_430_through_the_driver_in_both_unit_systems(virtual_lab, station):
    magnet = station.magnet
    magnet.start_ramp(-200.0, 10.0)  # negative fields are allowed within ±max_field_Oe
    virtual_lab.clock.wait(25.0)
    assert magnet.magnet_state is MagnetState.HOLDING
    assert magnet.field_Oe == pytest.approx(-200.0)
    assert magnet.coil_constant_Oe_per_A == pytest.approx(1000.0)
    # switch the supply to kilogauss per minute; a new driver must read the same field in Oe
    magnet.write("CONF:FIELD:UNITS 0")
    magnet.write("CONF:RAMP:RATE:UNITS 1")
    # two connections to one instrument are not ordered with each other: make sure the unit
    # change has been processed before the second driver reads the units
    magnet.adapter.confirm()
    again = AMI430(magnet.adapter.connection.resource_name, visa_library="@py",
                   max_field_Oe=600.0, max_ramp_rate_Oe_per_s=10.0)
    assert again.field_Oe == pytest.approx(-200.0)
    assert again.ramp_rate_Oe_per_s == pytest.approx(10.0)
    again.start_ramp(0.0, 5.0)
    # this driver is not on the station's confirm-before-jump hook: a reply proves that RAMP
    # has been processed before virtual time jumps
    assert again.magnet_state is MagnetState.RAMPING
    virtual_lab.clock.wait(41.0)
    assert again.magnet_state is MagnetState.HOLDING and again.field_Oe == 0.0
    again.adapter.close()


def test_430_quench_is_seen_and_cleared(virtual_lab, station):
    magnet = station.magnet
    magnet.start_ramp(300.0, 10.0)
    virtual_lab.clock.wait(10.0)
    virtual_lab.world.magnet.quench()
    assert magnet.quenched is True
    assert magnet.magnet_state is MagnetState.QUENCH
    assert magnet.field_Oe == 0.0
    magnet.clear_quench()
    assert magnet.magnet_state is MagnetState.PAUSED and magnet.quenched is False
