"""Unmodified third-party drivers against the simulated instruments (pymeasure 0.16, QCoDeS 0.58).

pymeasure's SR830 and QCoDeS's Lake Shore 372 and AMI 430 must work against the simulators as
they do against hardware — including QCoDeS's HTRSET? parse failure, which a real 372 causes too.
The lab runs on a scaled clock (100×), as ``cryolab sim serve --speed 100`` would.
"""

import logging

import pytest
from pymeasure.instruments.srs.sr830 import SR830 as PymeasureSR830

qcodes = pytest.importorskip("qcodes")
from qcodes.instrument import Instrument  # noqa: E402
from qcodes.instrument_drivers.american_magnetics import AMIModel430  # noqa: E402
from qcodes.instrument_drivers.Lakeshore import LakeshoreModel372  # noqa: E402


@pytest.fixture(autouse=True)
def close_qcodes_instruments():
    yield
    Instrument.close_all()


def test_pymeasure_sr830_reads_and_sets_the_simulated_lockin(fast_lab):
    lockin = PymeasureSR830(fast_lab.resources["lockin"], visa_library="@py",
                            read_termination="\n", write_termination="\n", timeout=2000)
    assert lockin.id.startswith("Stanford_Research_Systems,SR830")
    lockin.frequency = 3.33
    lockin.time_constant = 1
    lockin.filter_slope = 24
    lockin.sine_voltage = 0.5
    assert (lockin.frequency, lockin.time_constant, lockin.filter_slope) == (3.33, 1, 24)
    assert lockin.sine_voltage == 0.5
    x, y = lockin.xy
    assert abs(x) < 1e-3 and abs(y) < 1e-3
    assert len(lockin.snap("R", "Theta", "Frequency")) == 3
    assert lockin.is_out_of_range() in (True, False)
    lockin.time_constant = 0.1  # quick_range sleeps 5 τ of wall time per step
    lockin.sensitivity = 2e-9
    lockin.quick_range()  # LIAE, LIAS?2, SENS?, SENS n, *CLS, OUTP?3, ISRC? …
    assert lockin.sensitivity >= 2e-9
    lockin.adapter.close()


def test_qcodes_lakeshore_372_snapshot_and_temperature_control(fast_lab, caplog):
    ls = LakeshoreModel372("ls", fast_lab.resources["bridge"], visalib="@py")
    with caplog.at_level(logging.WARNING):
        snapshot = ls.snapshot(update=True)
    assert snapshot["submodules"]["ch01"]["parameters"]["sensor_name"]["value"] == "MC RuO2"
    # a real 372 answers HTRSET? with 4 fields; QCoDeS parses 5 and fails, as on hardware
    assert "output_heater_resistance" in caplog.text
    with pytest.raises(Exception):  # noqa: B017 - QCoDeS wraps the parse error
        ls.sample_heater.output_heater_resistance()

    assert ls.ch01.temperature() == pytest.approx(0.02, rel=0.01)
    assert ls.ch02.sensor_raw() > 1e3
    assert ls.ch01.sensor_status() == "OK"
    heater = ls.sample_heater
    ls.ch01.units("kelvin")
    heater.mode("closed_loop")
    heater.input_channel(1)
    heater.output_range("3.16mA")
    heater.setpoint_ramp_rate(0.1)
    heater.setpoint_ramp_enabled(True)
    heater.setpoint(1.0)  # 10 simulated minutes of ramp; QCoDeS then pauses 0.5 s (50 s here)
    assert heater.setpoint_ramp_status() is True
    assert heater.mode() == "closed_loop"
    assert heater.output_range() == "3.16mA"


def test_qcodes_ami430_connects_through_the_banner_and_ramps(fast_lab):
    magnet = AMIModel430("magnet", fast_lab.resources["magnet"], visalib="@py")
    assert magnet.IDN()["vendor"] == "AMERICAN MAGNETICS INC."
    assert magnet.field() == 0.0
    assert magnet.ramping_state() == "at zero current"
    magnet.snapshot(update=True)
    magnet.ramp_rate(0.002)  # T/s
    magnet.set_field(0.03)  # blocks while STATE? = 1: 15 simulated s, 0.15 s at 100×
    assert magnet.ramping_state() == "holding"
    assert magnet.field() == pytest.approx(0.03)
    received = fast_lab.servers["magnet"].received_lines()
    assert "CONF:RAMP:RATE:FIELD 1,0.002,0" in received
    assert received.index("PAUSE") < received.index("CONF:FIELD:TARG 0.03") < \
        received.index("RAMP")
