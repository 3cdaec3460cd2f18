"""Lake Shore .340 curves: parsing, conversion both ways by the data format's rule, agreement
with the (simulated) 372 reading the same curve, and refusals."""

import math

import numpy as np
import pytest

from cryolab.calibration import CalibrationError, format_340, load_340, parse_340
from cryolab.clock import VirtualClock
from cryolab.sim.devices.ls372 import LS372Device
from cryolab.sim.sample import ruo2_mc_ohm, ruo2_sample_ohm
from cryolab.sim.world import World
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


def test_format_4_interpolates_temperature_linearly_in_log_r():
    """Format 4 (log Ω/K) is linear between breakpoints in T against log10 R (372 manual p. 158:
    "logohms vs. kelvin using linear interpolation"): halfway in log R is halfway in T."""
    curve = parse_340(EXAMPLE)
    R_lo, R_hi = 10**3.47569, 10**3.65558  # 0.100 K and 0.050 K
    assert curve.temperature_K(math.sqrt(R_lo * R_hi)) == pytest.approx(0.075, rel=1e-12)
    # and the inverse follows the same straight segment
    assert curve.resistance_ohm(0.075) == pytest.approx(math.sqrt(R_lo * R_hi), rel=1e-12)


def curve_text(data_format: int, units, temps_K) -> str:
    """A .340 of ``data_format`` holding exactly these breakpoints (format 5's temperature column
    is log10 K, written to the last digit so that it gives back the same kelvin value)."""
    column = [repr(math.log10(t)) for t in temps_K] if data_format == 5 else [f"{t:.6g}"
                                                                            for t in temps_K]
    rows = "\n".join(f"{i + 1:3d}  {u!r}  {c}" for i, (u, c) in enumerate(zip(units, column,
                                                                               strict=True)))
    return (f"Sensor Model:   TEST\nSerial Number:  F{data_format}\n"
            f"Data Format:    {data_format}\nSetPoint Limit: 40.0\n"
            f"Temperature coefficient:  1 (Negative)\nNumber of Breakpoints:   {len(units)}\n\n"
            f"No.   Units      Temperature (K)\n\n{rows}\n")


def six(v: float) -> float:
    return float(f"{v:.6g}")


@pytest.mark.parametrize("data_format", [3, 4, 5])
def test_cryolab_reads_a_curve_as_the_bridge_does(data_format):
    """One curve, loaded into the simulated 372 with CRVHDR/CRVPT (6 significant digits, 372
    manual p. 159) and written as a .340 with the same breakpoints: over 400 resistances across
    it, cryolab's temperature equals the bridge's to 1e-9 (the rule is the same straight line
    between the same points; what is left is rounding, ~1e-15). The log R – log T rule cryolab
    used before is 1e-5 or more away for formats 3 and 4, so the test would see it."""
    temps = [six(t) for t in np.geomspace(20.0, 0.015, 40)]
    R = [example_R(t) for t in temps]
    units = [six(r) for r in R] if data_format == 3 else [six(math.log10(r)) for r in R]
    bridge = LS372Device(World(VirtualClock(1.7e9)))
    commands = [f'CRVHDR 30,"TEST","F{data_format}",{data_format},40.0,1']
    commands += [f"CRVPT 30,{i + 1},{u!r},{t!r}" for i, (u, t) in enumerate(zip(units, temps,
                                                                                  strict=True))]
    assert bridge.handle_line(";".join(commands)) == []
    assert bridge.handle_line("CRVHDR? 30") == [f'"TEST           ","F{data_format}        ",'
                                                f"{data_format},+040.000,1"]
    curve = parse_340(curve_text(data_format, units, temps))

    R_ends = [10**u for u in units] if data_format != 3 else units
    grid = np.geomspace(min(R_ends) * (1 + 1e-9), max(R_ends) * (1 - 1e-9), 400)
    ours = np.array([curve.temperature_K(float(r)) for r in grid])
    theirs = np.array([bridge.curve_temperature_K(30, float(r)) for r in grid])
    np.testing.assert_allclose(ours, theirs, rtol=1e-9)
    np.testing.assert_allclose(curve.temperature_K(grid), theirs, rtol=1e-9)  # array path
    if data_format != 5:
        x, y = np.log(R_ends[::-1]), np.log(temps[::-1])
        log_log = np.exp(np.interp(np.log(grid), x, y))
        assert np.max(np.abs(log_log / theirs - 1)) > 1e-5


def test_the_bridge_kelvin_reading_is_its_resistance_reading_through_the_curve():
    """KRDG? converts the very reading SRDG? reports (one reading per instant of the clock) with
    the curve the channel's INSET names. Through the replies (5–6 printed digits) cryolab's
    conversion of the resistance matches the bridge's kelvin value to 2e-4; the MC channel's
    curve 21 reproduces the MC sensor's law to 3.3e-4 (200 breakpoints of log Ω/K)."""
    world = World(VirtualClock(1.7e9))
    bridge = LS372Device(world)
    temps = [six(t) for t in np.geomspace(30.0, 0.010, 150)]
    units = [six(math.log10(ruo2_sample_ohm(t))) for t in temps]
    bridge.handle_line('CRVHDR 31,"CHIP","S2",4,30.0,1;' + ";".join(
        f"CRVPT 31,{i + 1},{u!r},{t!r}" for i, (u, t) in enumerate(zip(units, temps,
                                                                        strict=True))))
    bridge.handle_line("INSET 2,1,7,3,31,1")
    curve = parse_340(curve_text(4, units, temps))
    for T_K in (0.036, 0.08, 0.3, 1.0):
        world.fridge.T_sample_K = T_K
        world.clock.wait(1.0)
        ohms, kelvin = (float(v) for v in bridge.handle_line("SRDG? 2;KRDG? 2")[0].split(";"))
        assert ohms == pytest.approx(bridge.reading_ohm("2"), rel=5e-4)  # printed digits
        assert kelvin == pytest.approx(curve.temperature_K(bridge.reading_ohm("2")), rel=2e-4)
        assert bridge.handle_line("RDGST? 2") == ["000"]
    world.fridge.T_mc_K = 0.05
    world.clock.wait(1.0)
    kelvin, ohms = (float(v) for v in bridge.handle_line("KRDG? 1;SRDG? 1")[0].split(";"))
    T_mc = world.fridge.T_mc_K  # where the MC is at the reading (it relaxed for 1 s)
    assert kelvin == pytest.approx(T_mc, rel=1e-3)  # curve 3.3e-4, noise 5e-5 × |dlnT/dlnR|
    assert ohms == pytest.approx(ruo2_mc_ohm(T_mc), rel=5e-4)


def test_outside_its_curve_the_bridge_reads_zero_kelvin_and_says_why():
    """A reading beyond the curve's coldest point is T.UNDER (RDGST? bit 7, 128), beyond its
    warmest T.OVER (bit 6, 64); KRDG? then answers 0, as without a curve (p. 174)."""
    world = World(VirtualClock(1.7e9))
    bridge = LS372Device(world)
    bridge.handle_line('CRVHDR 31,"NARROW","N",4,1.0,1;CRVPT 31,1,3.4,1.0;CRVPT 31,2,3.9,0.1')
    bridge.handle_line("INSET 2,1,7,3,31,1")
    world.fridge.T_sample_K = 0.04  # 9.7 kΩ: log R = 3.99, above the last breakpoint
    world.clock.wait(1.0)
    assert bridge.handle_line("KRDG? 2;RDGST? 2") == ["+000.000E+00;128"]
    world.fridge.T_sample_K = 5.0  # 1.66 kΩ: below the first
    world.clock.wait(1.0)
    assert bridge.handle_line("KRDG? 2;RDGST? 2") == ["+000.000E+00;064"]
    bridge.handle_line("CRVDEL 31")
    assert bridge.handle_line("CRVHDR? 31") == ['"               ","          ",0,+000.000,0']
    bridge.handle_line('CRVHDR 32,"EMPTY","E",4,1.0,1;INSET 2,1,7,3,32,1')  # no breakpoints yet
    assert bridge.handle_line("KRDG? 2;RDGST? 2") == ["+000.000E+00;000"]


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
    R(T) back must give T within 0.1 % (150 breakpoints of format 4, T linear in log R between
    them: 6.0e-4 at worst, near 14 K)."""
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
