"""Lake Shore .340 curves: parsing, log R – log T conversion both ways, and refusals."""

import math

import numpy as np
import pytest

from cryolab.calibration import CalibrationError, format_340, load_340, parse_340
from cryolab.sim.sample import ruo2_sample_ohm
from cryolab.station import load_station

# The example file of protocols.md §4: R = 1100 Ω · exp(√(0.1 K / T)), format 4 (log10 Ω).
EXAMPLE = """Sensor Model:   RuO2-SIM-1k
Serial Number:  CL000001
Data Format:    4      (Log Ohms/Kelvin)
SetPoint Limit: 40.0      (Kelvin)
Temperature coefficient:  1 (Negative)
Number of Breakpoints:   9

No.   Units      Temperature (K)

  1  3.06311      40.000
  2  3.08482      10.000
  3  3.11006       4.000
  4  3.17873       1.000
  5  3.29213       0.300
  6  3.47569       0.100
  7  3.65558       0.050
  8  4.01250       0.020
  9  4.41475       0.010
"""


def example_R(T):
    return 1100.0 * math.exp(math.sqrt(0.1 / T))


def test_example_file_header_and_breakpoints():
    curve = parse_340(EXAMPLE)
    assert curve.sensor_model == "RuO2-SIM-1k"
    assert curve.serial_number == "CL000001"
    assert curve.data_format == 4
    assert curve.setpoint_limit_K == 40.0
    assert curve.coefficient == 1
    assert curve.T_range_K == (0.01, 40.0)
    # at a breakpoint the conversion returns the tabulated temperature (5-digit log units)
    for T in (0.02, 0.05, 0.3, 4.0):
        assert curve.temperature_K(example_R(T)) == pytest.approx(T, rel=2e-4)


def test_interpolation_is_linear_in_log_r_log_t():
    curve = parse_340(EXAMPLE)
    # halfway between two breakpoints in log R, the temperature is halfway in log T
    R_lo, R_hi = 10**3.47569, 10**3.65558  # 0.100 K and 0.050 K
    T_mid = curve.temperature_K(math.sqrt(R_lo * R_hi))
    assert T_mid == pytest.approx(math.sqrt(0.1 * 0.05), rel=1e-9)


def test_round_trip_through_format_and_parse():
    T = np.geomspace(0.015, 30.0, 60)
    R = np.array([ruo2_sample_ohm(t) for t in T])
    curve = parse_340(format_340(T, R, "chip", "X1"))
    assert np.allclose(curve.T_K, T, rtol=1e-6)
    assert np.allclose(curve.R_ohm, R, rtol=1e-6)
    # R → T → R returns the resistance anywhere inside the range
    R_test = np.geomspace(R.min() * 1.01, R.max() * 0.99, 37)
    assert np.allclose(curve.resistance_ohm(curve.temperature_K(R_test)), R_test, rtol=1e-9)


def test_shipped_simulator_calibration_matches_the_simulated_thermometer():
    """The packaged .340 is the simulated on-chip RuO₂'s curve: converting the simulator's true
    R(T) back must give T within 0.1 % (150 breakpoints, log–log interpolation error)."""
    config = load_station()
    curve = load_340(config.path(config.sample.thermometer_calibration))
    for T in np.geomspace(0.02, 30.0, 200):
        assert curve.temperature_K(ruo2_sample_ohm(T)) == pytest.approx(T, rel=1e-3)


def test_lf_line_ends_and_cold_first_order_are_accepted():
    lines = EXAMPLE.splitlines()
    header, rows = lines[:9], lines[9:]
    reordered = "\n".join(header + rows[::-1])
    curve = parse_340(reordered.replace("\n", "\r\n"))
    assert curve.T_range_K == (0.01, 40.0)


def test_one_reading_and_an_array_give_the_same_temperatures():
    # the runner converts one reading per point on a fast path without numpy
    curve = parse_340(EXAMPLE)
    lo, hi = curve.R_range_ohm
    R = np.concatenate((np.geomspace(lo * 0.5, hi * 2, 997), [lo, hi, 0.0, -1.0]))
    expected = curve.temperature_K(R)
    single = np.array([curve.temperature_K(float(r)) for r in R])
    np.testing.assert_allclose(single, expected, rtol=1e-12)
    assert np.array_equal(np.isnan(single), np.isnan(expected))
    assert np.isfinite(single[-4:-2]).all()  # the calibrated ends themselves are inside


def test_outside_the_calibrated_range_is_nan_not_an_extrapolation():
    curve = parse_340(EXAMPLE)
    assert math.isnan(curve.temperature_K(example_R(0.005)))
    assert math.isnan(curve.temperature_K(500.0))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace("  5  3.29213       0.300", "  5  3.29213       0.100"),
         "not strictly monotonic"),
        (lambda t: t.replace("  5  3.29213", "  5  3.08000"), "not strictly monotonic"),
        (lambda t: t.replace("Number of Breakpoints:   9", "Number of Breakpoints:   10"),
         "declares 10 breakpoints but the file has 9"),
        (lambda t: t.replace("Data Format:    4      (Log Ohms/Kelvin)\n", ""),
         "'Data Format:' is missing"),
        (lambda t: t.replace("Data Format:    4", "Data Format:    2"), "not a resistance curve"),
        (lambda t: t.replace("  7  3.65558", "  7  3.6x558"), "not numeric"),
        (lambda t: t.replace("3.65558       0.050", "3.65558"), "needs '<index>"),
        (lambda t: t.replace("coefficient:  1", "coefficient:  2"), "data are negative"),
        (lambda t: t.replace("  9  4.41475       0.010", "  9  4.41475       -0.010"),
         "must be > 0"),
    ],
    ids=["duplicate-T", "non-monotonic-R", "row-count", "missing-format", "diode-format",
         "garbage", "short-row", "wrong-coefficient", "negative-T"],
)
def test_malformed_curves_are_refused_with_the_reason(edit, message):
    with pytest.raises(CalibrationError, match=message):
        parse_340(edit(EXAMPLE), source="bad.340")


def test_unreadable_file_is_a_calibration_error(tmp_path):
    with pytest.raises(CalibrationError, match="not found"):
        load_340(tmp_path / "missing.340")
    binary = tmp_path / "binary.340"
    binary.write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(CalibrationError, match="not a UTF-8 text file"):
        load_340(binary)
