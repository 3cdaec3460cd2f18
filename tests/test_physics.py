"""The simulated physics, read through cryolab's drivers: settling, noise, ramps, thermal lag.

Numbers are compared with values computed by hand from the model (stated next to each test).
"""

import math

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.special import gammaincc

from cryolab.clock import VirtualClock
from cryolab.sim.fridge import MODE_CLOSED_LOOP, Fridge
from cryolab.sim.lab import SimulatedLab
from cryolab.sim.lockin import SR830_INPUT, preamplifier
from cryolab.sim.sample import S0, S1, Constant, SampleModel, SamplePreset
from cryolab.sim.world import World
from instruments.ami_430 import MagnetState
from instruments.lockin_filter import enbw_Hz

NOISE_V_PER_RTHZ = 10e-9  # the simulated SR830's input noise (cryolab/sim/lockin.py)


def set_field(station, clock, field_Oe, rate=10.0):
    station.magnet.start_ramp(field_Oe, rate)
    clock.wait(abs(field_Oe) / rate + 5.0)
    assert station.magnet.magnet_state is MagnetState.HOLDING


def test_lockin_reading_is_wrong_before_the_settle_time_and_right_after(virtual_lab, station):
    clock, world, lockin = virtual_lab.clock, virtual_lab.world, station.lockin
    set_field(station, clock, 400.0)  # S1 insulating side, saturated at base: R ≈ 50 kΩ
    lockin.frequency, lockin.time_constant, lockin.filter_slope = 3.33, 1.0, 24
    lockin.sensitivity = 100e-6
    station.bias.set_current(0.1e-9)
    clock.wait(60.0)
    station.bias.set_current(1.0e-9)  # a step of ~45 µV in X
    sigma = NOISE_V_PER_RTHZ * math.sqrt(enbw_Hz(1.0, 24))  # 2.8 nV rms per quadrature

    clock.wait(2.0)  # 0.2 of the 99 % settle time: Q(4, 2) = 86 % of the step still missing
    early = lockin.snap_xyrt().x_V
    step = world.input_phasor().real - 0.1 / 1.0 * world.input_phasor().real
    assert abs(early - world.input_phasor().real) == pytest.approx(gammaincc(4, 2.0) * step,
                                                                   rel=0.02)
    assert abs(early - world.input_phasor().real) > 100 * sigma

    clock.wait(lockin.settle_time(0.9999) - 2.0)  # 15.9 τ after the step: residual 1e-4
    x_true = world.input_phasor().real
    settled = lockin.snap_xyrt().x_V
    assert abs(settled - x_true) < 5 * sigma + 1e-4 * step


def test_lockin_noise_shrinks_with_the_time_constant(virtual_lab, station):
    """rms ∝ √ENBW ∝ 1/√τ: from 0.3 s to 3 s the noise falls by √10 ≈ 3.2."""
    clock, lockin = virtual_lab.clock, station.lockin
    lockin.frequency, lockin.filter_slope, lockin.sensitivity = 3.33, 24, 1e-6
    station.bias.set_current(0.1e-9)  # zero field, base: superconducting, R ≈ 0
    spreads = {}
    for tau in (0.3, 3.0):
        lockin.time_constant = tau
        clock.wait(20 * tau)
        xs = []
        for _ in range(300):
            clock.wait(10 * tau)  # well beyond the noise correlation time (3.2 τ)
            xs.append(lockin.snap_xyrt().x_V)
        spreads[tau] = np.std(xs)
        expected = NOISE_V_PER_RTHZ * math.sqrt(enbw_Hz(tau, 24))
        assert spreads[tau] == pytest.approx(expected, rel=0.2)  # 300 samples: ±4 % (1σ)
    assert spreads[0.3] / spreads[3.0] == pytest.approx(math.sqrt(10), rel=0.25)


def test_lockin_output_overload_is_flagged(virtual_lab, station):
    clock, lockin = virtual_lab.clock, station.lockin
    # S1: 1/σ_QF = 15.9 kΩ/□, R = 32 kΩ: 32 µV at 1 nA, 29 µV through the 1 nF line at the
    # *RST frequency of 1 kHz
    set_field(station, clock, 400.0)
    lockin.sensitivity = 2e-9
    station.bias.set_current(1e-9)
    clock.wait(10.0)
    lockin.snap_xyrt()
    assert lockin.is_overload(lockin.read_status())
    new = lockin.auto_range(clock.wait)
    signal = abs(virtual_lab.world.input_phasor())
    assert 28e-6 < signal < 33e-6
    assert new == 50e-6  # the smallest range holding it at ≤ 60 % of full scale
    assert not lockin.is_overload(lockin.read_status())


def test_magnet_reaches_its_target_at_the_configured_rate(virtual_lab, station):
    clock, magnet = virtual_lab.clock, station.magnet
    magnet.start_ramp(300.0, 5.0)
    clock.wait(30.0)
    assert magnet.magnet_state is MagnetState.RAMPING
    assert magnet.field_Oe == pytest.approx(150.0, abs=0.01)  # 5 Oe/s × 30 s
    clock.wait(31.0)
    assert magnet.magnet_state is MagnetState.HOLDING
    assert magnet.field_Oe == pytest.approx(300.0, abs=1e-6)
    assert magnet.ramp_rate_Oe_per_s == pytest.approx(5.0)


def mismatch(station):
    T_mc, _ = station.mc_thermometer.read()
    T_s, _ = station.sample_thermometer.read()
    return abs(T_s - T_mc) / T_mc


def test_sample_is_far_from_the_mixing_chamber_at_base(virtual_lab, station):
    virtual_lab.clock.wait(3600.0)
    # base 20 mK, floor 35 mK: T_s = (T_mc⁴ + T_floor⁴)^¼ = 35.9 mK, i.e. 80 % above the MC
    assert mismatch(station) == pytest.approx(0.795, abs=0.01)


def start_loop(station, T_K):
    heater = station.bridge.sample_heater
    heater.set_output_mode("closed_loop", 1)
    heater.set_heater_resistance(120)
    heater.set_ramp(False, 0.1)
    heater.setpoint_K = T_K
    heater.range_index = station.heater_range_for(0.6)
    return heater


def test_slow_ramp_at_0p3_K_keeps_the_sample_in_equilibrium(virtual_lab, station):
    clock = virtual_lab.clock
    heater = start_loop(station, 0.28)
    clock.wait(1800.0)
    heater.set_ramp(True, 0.005)  # 5 mK/min: lag ≈ τ_s · rate = 2.2 s × 83 µK/s ≈ 0.06 %
    heater.setpoint_K = 0.32
    values = []
    for _ in range(16):  # the 8-minute ramp, every 30 s
        clock.wait(30.0)
        values.append(mismatch(station))
    assert max(values) < 0.02


def test_fast_ramp_leaves_the_sample_behind(virtual_lab, station):
    clock = virtual_lab.clock
    heater = start_loop(station, 0.1)
    clock.wait(1800.0)
    # the station's fastest, 0.5 K/min = 8.3 mK/s, from 0.1 K where τ_s = 20 s: once the MC
    # moves at that rate the sample trails it by τ_s · rate ≈ 0.17 K, far beyond the 10 %
    heater.set_ramp(True, 0.5)
    heater.setpoint_K = 0.6
    worst = 0.0
    for _ in range(12):
        clock.wait(5.0)
        worst = max(worst, mismatch(station))
    assert worst > 0.10


@pytest.mark.parametrize("T_K", [0.05, 0.1, 0.3])
def test_sample_stage_relaxes_with_the_time_constant_of_its_heat_capacity_and_link(T_K):
    """C = γT and a Kapitza-like link G = 4κT³ give τ_s = C/G = γ/(4κT²) (cryolab/sim/fridge.py):
    80 s at 50 mK, 20 s at 0.1 K, 2.2 s at 0.3 K. A 1 % kick of the sample, with the MC held,
    decays to e⁻¹ of itself after one τ_s of the equilibrium temperature (2 %: the kick's own
    nonlinearity is 1 %)."""
    fridge = Fridge()
    fridge.T_mc_K = T_K
    T_eq = (T_K**4 + fridge.p.T_floor_K**4) ** 0.25
    tau = fridge.p.sample_tau_s(T_eq)
    assert tau == pytest.approx(8.0e-6 / (4 * 1.0e-5 * T_eq**2), rel=1e-12)
    fridge.T_sample_K = 1.01 * T_eq
    for _ in range(100):
        fridge.step_sample(tau / 100)
    assert (fridge.T_sample_K - T_eq) / (0.01 * T_eq) == pytest.approx(math.exp(-1), rel=0.02)


@pytest.mark.parametrize(("T_K", "up"), [(0.05, True), (0.05, False), (0.5, True), (0.5, False)])
def test_a_steady_ramp_lags_by_tau_times_the_rate(T_K, up):
    """Ramping the MC at the rate that gives a 5 % lag by the law, 0.05·T/τ_s(T) — 1.9 mK/min at
    50 mK, 1.9 K/min at 0.5 K, a factor (0.5/0.05)³ apart since τ_s ∝ T⁻² — the sample trails
    its equilibrium by τ_s · dT_eq/dt within 5 % (τ_s changes along the way)."""
    fridge = Fridge()
    rate = 0.05 * T_K / fridge.p.sample_tau_s(T_K)
    step = fridge.p.sample_tau_s(T_K) / 200
    sign = 1.0 if up else -1.0
    fridge.T_mc_K = T_K * (0.7 if up else 1.3)
    fridge.T_sample_K = (fridge.T_mc_K**4 + fridge.p.T_floor_K**4) ** 0.25
    while (fridge.T_mc_K - T_K) * sign < 0:
        fridge.T_mc_K += sign * rate * step
        fridge.step_sample(step)
    T_eq = (fridge.T_mc_K**4 + fridge.p.T_floor_K**4) ** 0.25
    dTeq_dt = rate * (fridge.T_mc_K / T_eq) ** 3
    lag = (T_eq - fridge.T_sample_K) * sign
    assert lag == pytest.approx(fridge.p.sample_tau_s(fridge.T_sample_K) * dTeq_dt, rel=0.05)


def test_mc_cools_from_1_K_to_below_100_mK_in_tens_of_minutes():
    """Heater off: y = T² relaxes to T_base² with τ_MC = 300 s, so 1 K → 0.1 K takes
    τ ln((1 − T_b²)/(0.01 − T_b²)) ≈ 300 s × 4.6 ≈ 23 min."""
    fridge = Fridge(T_start_K=1.0)
    t = 0.0
    while fridge.T_mc_K > 0.1:
        fridge.step(1.0)
        t += 1.0
    assert t / 60 == pytest.approx(300 * math.log((1 - 4e-4) / (0.01 - 4e-4)) / 60, rel=0.01)


def test_closed_loop_holds_the_setpoint_and_reports_the_power():
    fridge = Fridge()
    loop = fridge.heater
    loop.mode, loop.range_index, loop.setpoint_K = MODE_CLOSED_LOOP, 5, 0.3
    for _ in range(1000):
        fridge.step(1.0)
    assert fridge.T_mc_K == pytest.approx(0.3, rel=1e-4)
    # holding 0.3 K takes P = k (T² − T_b²) = 0.01 × (0.09 − 0.0004) W = 0.896 mW
    assert loop.power_W == pytest.approx(0.896e-3, rel=1e-3)
    assert 0 < loop.output_percent < 100


def test_self_heating_shows_above_about_one_nanoamp():
    """Hot electrons, T_e⁵ = T⁵ + I²R/Σ with Σ = 1.2 µW/K⁵: 100 kΩ at 60 mK warms by 0.02 % at
    0.1 nA, 2.1 % at 1 nA and 14 % at 3 nA (the calibration of Σ, cryolab/sim/sample.py). What R
    does with that depends on dρ/dT: S0 at 600 Oe and 0.1 K is Arrhenius, d ln ρ/d ln T = −3,
    and loses 6.5 % at 1 nA, 29 % at 3 nA; S1 at 600 Oe and 60 mK sits on its saturation and
    loses 0.3 % at 1 nA (linear response, as the paper found at its highest resistance)."""
    resistor = SampleModel(resistor_preset(50e3))  # R = 2ρ = 100 kΩ
    warming = [resistor.heated(I * 1e9, 0.06, 0.0)[0] / 0.06 - 1 for I in (0.1e-9, 1e-9, 3e-9)]
    assert warming == pytest.approx([2.14e-4, 0.0206, 0.1445], rel=0.01)

    def loss(sample, current_A, T_K, H_Oe):
        return sample.heated(current_A * 1e9, T_K, H_Oe)[1] / sample.R4pt_ohm(T_K, H_Oe) - 1

    s0, s1 = SampleModel(S0), SampleModel(S1)
    assert abs(loss(s0, 0.1e-9, 0.1, 600.0)) < 1e-3
    assert loss(s0, 1e-9, 0.1, 600.0) == pytest.approx(-0.065, abs=0.003)
    assert loss(s0, 3e-9, 0.1, 600.0) == pytest.approx(-0.29, abs=0.01)
    assert -0.005 < loss(s1, 1e-9, 0.06, 600.0) < 0


def brute_force_electron_temperature(sample, V, T, H):
    """The root of T_e⁵ − T⁵ − I(T_e)² R(T_e)/Σ by scipy's brentq, to 1e-15 K."""
    def f(T_e):
        R = sample.R4pt_ohm(T_e, H)
        I = V / (sample.bias_resistor_ohm + sample.R2pt_ohm(R))
        return T_e**5 - T**5 - I * I * R / sample.sigma_ep_W_per_K5
    return brentq(f, T, 3.0, xtol=1e-15, rtol=1e-14)


@pytest.mark.parametrize(("preset", "H_Oe", "T_K", "V"), [
    (S0, 600.0, 0.035, 1.0), (S0, 600.0, 0.06, 0.1), (S0, 300.0, 0.06, 1.0),
    (S1, 600.0, 0.06, 1.0), (S1, 200.0, 0.25, 5.0), (S1, 0.0, 0.39, 3.0)])
def test_self_heating_is_solved_self_consistently(preset, H_Oe, T_K, V):
    """T_e⁵ = T_ph⁵ + I(T_e)² R(T_e)/Σ with the current through the bias resistor at T_e: the
    simulator's bracketed solve agrees with a brute-force root to 1e-6 (it reaches ~1e-15), on
    the insulating side (P falls with T_e) and the superconducting side (P rises)."""
    sample = SampleModel(preset)
    T_e, R_ohm, I_A = sample.heated(V, T_K, H_Oe)
    assert T_e == pytest.approx(brute_force_electron_temperature(sample, V, T_K, H_Oe), rel=1e-6)
    assert R_ohm == pytest.approx(sample.R4pt_ohm(T_e, H_Oe), rel=1e-12)
    assert pytest.approx(V / (1e9 + sample.R2pt_ohm(R_ohm)), rel=1e-12) == I_A


def test_one_pass_of_self_heating_would_be_far_off_at_the_highest_resistance():
    """The review's case, S0 at 600 Oe, 35 mK, 1 V through 1 GΩ (1 nA into a small load): the
    film is at ρ(35 mK) = 203 MΩ/□. Heating once with P = I²R(T_ph) overshoots to 159 mK and
    R = 0.50 MΩ; the self-consistent state is T_e = 78.4 mK, R = 3.54 MΩ (ρ = 1.77 MΩ/□), with
    0.993 nA flowing. (The old preset's figures were 70.3 mK / 1198 kΩ one-pass and
    65.5 mK / 1382 kΩ self-consistent.)"""
    sample = SampleModel(S0)
    T, H, V = 0.035, 600.0, 1.0
    R0 = sample.R4pt_ohm(T, H)
    I0 = V / (1e9 + sample.R2pt_ohm(R0))
    T_one = sample.electron_temperature_K(T, I0 * I0 * R0)
    assert T_one == pytest.approx(0.1595, rel=1e-3)
    assert sample.R4pt_ohm(T_one, H) == pytest.approx(0.505e6, rel=1e-3)
    T_e, R_ohm, I_A = sample.heated(V, T, H)
    assert T_e == pytest.approx(0.07838, rel=1e-3)
    assert R_ohm == pytest.approx(3.535e6, rel=1e-3)
    assert pytest.approx(0.993e-9, rel=1e-3) == I_A
    assert sample.drive(V, 1.0, T, H).T_electron_K == T_e


def test_line_capacitance_gives_a_small_negative_quadrature():
    sample = SampleModel(S1)
    V, _, R = sample.response(1.0, 7.0, 0.06, 600.0)
    # phase −atan(ωR_2pt C) with R_2pt = 2R + 5 kΩ, C = 1 nF
    expected = -math.atan(2 * math.pi * 7.0 * (2 * R + 5e3) * 1e-9)
    assert math.atan2(V.imag, V.real) == pytest.approx(expected, rel=1e-6)
    assert -0.05 < expected < 0


# ----------------------------------------------------------------------------- lock-in input


def resistor_preset(rho_ohm_sq: float) -> SamplePreset:
    """A 'film' of constant sheet resistance: R = 2ρ on the default bar, whatever T and H."""
    return SamplePreset(
        name="R", description="a resistor", H_star_Oe=1e6, normal_ohm=Constant(rho_ohm_sq),
        sc_rho_qf_ohm=Constant(rho_ohm_sq), sc_rho_0_ohm=Constant(0.0), sc_Ea_K=Constant(1.0),
        ins_sigma_qf_S=Constant(1.0 / rho_ohm_sq), ins_sigma_0_S=Constant(0.0),
        ins_Ea_K=Constant(1.0))


def measured_R(input_stage, R_source_ohm, frequency_Hz=1.0):
    """X/I that a lock-in behind ``input_stage`` reads on a resistor of ``R_source_ohm`` (no
    line capacitance, so only the input loads the source)."""
    world = World(VirtualClock(1.7e9))
    world.add_sample("r", resistor_preset(R_source_ohm / 2), line_capacitance_F=0.0)
    lockin = world.add_lockin("lockin", "r", input_stage=input_stage)
    lockin.settings.frequency_Hz, lockin.settings.amplitude_V = frequency_Hz, 1.0
    return world.input_phasor(lockin).real / lockin.true_current_A


def test_the_lockin_input_loads_a_megaohm_source():
    """SR830 voltage input 10 MΩ ∥ 25 pF (manual p. 1-5): a 1 MΩ source reads as
    1/(1/R + 1/R_in) = 909.09 kΩ (−9.1 %); at 1 Hz the 25 pF changes X only in second order
    ((ωC·R∥R_in)² = 2e-8), hence 1e-6. A 1 TΩ preamplifier leaves 1 ppm."""
    R = 1.0e6
    assert measured_R(SR830_INPUT, R) == pytest.approx(1 / (1 / R + 1 / 10e6), rel=1e-6)
    assert measured_R(preamplifier(), R) == pytest.approx(1 / (1 / R + 1 / 1e12), rel=1e-6)
    assert measured_R(preamplifier(), R) == pytest.approx(R, rel=2e-6)
    # at 100 Hz the input capacitance turns the loading into a phase: |Z_in| drops
    assert measured_R(SR830_INPUT, R, 100.0) < measured_R(SR830_INPUT, R)


def test_the_input_noise_grows_with_the_source_resistance():
    """e_n = 10 nV/√Hz, i_n = √(4 k_B · 300 K / 10 MΩ) = 40.7 fA/√Hz through R ∥ Z_in, and the
    source's Johnson noise at its temperature: 600 kΩ at 50 mK gives
    √(10² + 23.0² + 1.29²) nV/√Hz = 25.1 nV/√Hz, 2.5 times the short-circuit value."""
    i_n = math.sqrt(4 * 1.380649e-23 * 300.0 / 10e6)
    assert SR830_INPUT.i_n_A_per_rtHz == pytest.approx(i_n, rel=1e-9) == pytest.approx(40.7e-15,
                                                                                   rel=1e-3)
    R = 600e3
    expected = math.sqrt(10e-9**2 + (i_n * R * 10e6 / (R + 10e6))**2
                         + 4 * 1.380649e-23 * 0.05 * R * (10e6 / (R + 10e6))**2)
    assert SR830_INPUT.noise_V_per_rtHz(R, 0.0, 0.05) == pytest.approx(expected, rel=1e-9)
    assert SR830_INPUT.noise_V_per_rtHz(R, 0.0, 0.05) == pytest.approx(25.1e-9, rel=0.01)
    assert SR830_INPUT.noise_V_per_rtHz(0.0, 3.0, 0.05) == pytest.approx(10e-9, rel=1e-12)


def test_the_lab_declares_a_preamplifier_for_one_lockin():
    stage = preamplifier(resistance_ohm=100e6)
    lab = SimulatedLab(VirtualClock(start=1.7e9), banner_delay_s=0.0,
                       lockin_inputs={"lockin": stage})
    assert lab.world.lockins["lockin"].input_stage is stage
    with pytest.raises(ValueError, match="'lockin_b', which is not a lock-in of this lab"):
        SimulatedLab(VirtualClock(start=1.7e9), lockin_inputs={"lockin_b": stage})
