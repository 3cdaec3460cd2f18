"""Several lock-ins and samples in one simulated world: a Hall bar read by two SR830s, one
referenced to the other, and a two-sample cooldown; read through cryolab's SR830 and AMI 430
drivers over pyvisa-py sockets, as on hardware.

Expected numbers come from the sample model by hand: I = V / (R_bias + R_2pt) ≈ 1 V / 1 GΩ,
V_xx = I·ρ_xx·L/W, V_xy = I·(R_H·B + m·ρ_xx), B = μ₀H (1 Oe ↔ 10⁻⁴ T).
"""

import math
import re

import numpy as np
import pytest

from cryolab.clock import VirtualClock
from cryolab.sim.lab import SimulatedLab
from cryolab.sim.sample import S0, S1, SampleModel
from cryolab.sim.world import World
from instruments.adapter import ConfirmingAdapter
from instruments.ami_430 import AMI430, MagnetState
from instruments.lockin_filter import enbw_Hz
from instruments.srs_sr830 import SR830

NOISE_V_PER_RTHZ = 10e-9  # the simulated SR830's input noise (cryolab/sim/lockin.py)
# a Hall coefficient of a dilute 2D metal (n ≈ 3e11 cm⁻², R_H = 1/(n e) ≈ 2 kΩ/T): the odd part
# then stands 20 times above the reading noise; the InOx default (0.3 Ω/T) would need days
HALL_OHM_PER_T = 2000.0
HALL_BAR = [("lockin_xx", "SR830", {"sample": "hallbar"}),
            ("lockin_xy", "SR830", {"measures": "xy", "driven_by": "lockin_xx"}),
            ("bridge", "LS372", {}), ("magnet", "AMI430", {})]
TWO_SAMPLES = [("lockin_a", "SR830", {"sample": "a"}), ("lockin_b", "SR830", {"sample": "b"}),
               ("bridge", "LS372", {}), ("magnet", "AMI430", {})]


class Drivers:
    """cryolab's drivers on a lab's lock-ins and magnet, writes confirmed before every jump."""

    def __init__(self, lab: SimulatedLab) -> None:
        def adapter(resource, driver):
            return ConfirmingAdapter(resource, timeout=2000, visa_library="@py",
                                     read_termination=driver.READ_TERMINATION,
                                     write_termination=driver.WRITE_TERMINATION)

        self.lockins = {name: SR830(adapter(resource, SR830))
                        for name, resource in lab.resources.items()
                        if name.startswith("lockin")}
        self.magnet = AMI430(adapter(lab.resources["magnet"], AMI430), max_field_Oe=600.0,
                             max_ramp_rate_Oe_per_s=10.0)
        self.all = [*self.lockins.values(), self.magnet]
        lab.clock.before_jump(self.confirm)

    def confirm(self) -> None:
        for inst in self.all:
            inst.adapter.confirm()

    def close(self) -> None:
        for inst in self.all:
            inst.adapter.close()


@pytest.fixture
def hall_lab():
    lab = SimulatedLab(VirtualClock(start=1.7e9), seed=4, banner_delay_s=0.0,
                       instruments=HALL_BAR,
                       samples={"hallbar": {"preset": "S1", "hall_ohm_per_T": HALL_OHM_PER_T}})
    with lab:
        drivers = Drivers(lab)
        yield lab, drivers
        drivers.close()


def set_field(lab, magnet, field_Oe):
    magnet.start_ramp(field_Oe, 10.0)
    lab.clock.wait(abs(field_Oe - magnet.field_Oe) / 10.0 + 70.0)  # up to 600 Oe at 10 Oe/s
    assert magnet.magnet_state is MagnetState.HOLDING


def mean_x(clock, lockin, n=20):
    """X averaged over n readings 10 τ apart (the 24 dB/oct noise forgets in 3.2 τ)."""
    tau = lockin.time_constant
    xs = []
    for _ in range(n):
        clock.wait(10 * tau)
        xs.append(lockin.snap_xyrt().x_V)
    return float(np.mean(xs))


def test_the_sample_models_hall_resistivity_is_odd_in_field_plus_an_even_misalignment():
    model = SampleModel(S1)
    assert model.hall_ohm_per_T == 0.3  # a dense InOx film: 1/(n e d), n ≈ 1e21 cm⁻³, 20 nm
    rho_xx = S1.rho_ohm_sq(0.05, 300.0)
    plus, minus = model.rho_xy_ohm(rho_xx, 300.0), model.rho_xy_ohm(rho_xx, -300.0)
    assert plus - minus == pytest.approx(2 * 0.3 * 0.03)  # 2 R_H B at 300 Oe = 0.03 T
    assert (plus + minus) / 2 == pytest.approx(0.01 * rho_xx)  # m ρ_xx, m = 1 %


def test_two_lockins_on_one_hall_bar_read_a_hall_voltage_odd_in_field(hall_lab):
    lab, drivers = hall_lab
    clock, xx, xy = lab.clock, drivers.lockins["lockin_xx"], drivers.lockins["lockin_xy"]
    for lockin in (xx, xy):
        lockin.time_constant, lockin.filter_slope = 1.0, 24
    xx.frequency, xx.sine_voltage, xx.sensitivity = 3.33, 1.0, 50e-6  # 1 nA through 1 GΩ
    xy.sensitivity = 500e-9
    set_field(lab, drivers.magnet, 300.0)

    # xy's own oscillator still runs at 1 kHz: the 3.33 Hz Hall voltage averages out
    sigma = NOISE_V_PER_RTHZ * math.sqrt(enbw_Hz(1.0, 24))  # 2.8 nV per reading
    assert abs(mean_x(clock, xy, n=5)) < 5 * sigma
    # REF IN from lockin_xx (FMOD 0): xy follows its frequency and may no longer set one
    xy.reference_source = "External"
    assert xy.frequency == 3.33
    xy.frequency = 5.0
    assert int(xy.ask("*ESR?")) == 16 and xy.frequency == 3.33
    assert not xy.read_status() & 8  # locked: no reference unlock

    clock.wait(20.0)  # 20 τ: settled after the reference change
    plus_xy, plus_xx = mean_x(clock, xy), mean_x(clock, xx)
    set_field(lab, drivers.magnet, -300.0)
    clock.wait(20.0)
    minus_xy, minus_xx = mean_x(clock, xy), mean_x(clock, xx)

    I_A = 1.0 / 1.0e9  # R_2pt ≈ 30 kΩ changes it by 3e-5
    B_T = 0.03
    # odd part: I R_H B = 60 nV; each mean has σ ≈ 0.6 nV, so 3 % is ≥ 4σ
    assert (plus_xy - minus_xy) / 2 == pytest.approx(I_A * HALL_OHM_PER_T * B_T, rel=0.03)
    # even part: the misaligned probes' m ρ_xx I = m (W/L) V_xx, the same at ±H
    assert plus_xx == pytest.approx(minus_xx, rel=0.01)
    W_over_L = 100e-6 / 200e-6
    assert (plus_xy + minus_xy) / 2 == pytest.approx(0.01 * W_over_L * (plus_xx + minus_xx) / 2,
                                                     rel=0.03)


def test_two_samples_have_their_own_currents_and_resistances():
    lab = SimulatedLab(VirtualClock(start=1.7e9), seed=5, banner_delay_s=0.0,
                       instruments=TWO_SAMPLES,
                       samples={"a": {"preset": "S1"}, "b": {"preset": "S0"}})
    with lab:
        drivers = Drivers(lab)
        try:
            clock, a, b = lab.clock, drivers.lockins["lockin_a"], drivers.lockins["lockin_b"]
            for lockin, f_Hz, level_V, sens_V in ((a, 3.33, 1.0, 50e-6), (b, 1.37, 0.5, 1e-3)):
                lockin.time_constant, lockin.filter_slope = 1.0, 24
                lockin.frequency, lockin.sine_voltage, lockin.sensitivity = f_Hz, level_V, sens_V
            set_field(lab, drivers.magnet, 300.0)
            clock.wait(20.0)
            R_a = mean_x(clock, a, n=5) / (1.0 / 1.0e9)
            R_b = mean_x(clock, b, n=5) / (0.5 / 1.0e9)
            world = lab.world
            T_K = world.fridge.T_sample_K
            # S1 at 300 Oe sits on ρ_QF = 6.18 kΩ/□, S0 on its saturation near 1/σ_QF = 123 kΩ/□;
            # R = 2ρ. Self-heating (T_e = 41 mK over the 36 mK phonons at 0.5 nA) barely moves
            # S0's there (the saturation is flat); the bounds allow for 40 %
            assert R_a == pytest.approx(2 * S1.rho_ohm_sq(T_K, 300.0), rel=0.01)
            assert 0.6 < R_b / (2 * S0.rho_ohm_sq(T_K, 300.0)) < 1.0
            # what the lock-in reads is that R in parallel with its 10 MΩ input (−7 % here)
            R_true = world.lockins["lockin_b"].true_R_ohm
            assert R_b == pytest.approx(1 / (1 / R_true + 1 / 10e6), rel=0.01)
            # each sample's current is its own lock-in's sine output over the 1 GΩ
            b.sine_voltage = 0.25
            clock.wait(1.0)
            a.snap_xyrt(), b.snap_xyrt()
            assert world.lockins["lockin_a"].true_current_A == pytest.approx(1.0e-9, rel=1e-3)
            assert world.lockins["lockin_b"].true_current_A == pytest.approx(0.25e-9, rel=1e-3)
        finally:
            drivers.close()


def test_each_lockin_has_its_own_noise_the_same_for_the_same_seed():
    def readings(seed):
        world = World(VirtualClock(start=0.0), seed=seed)
        world.add_sample("a", preset="S1")
        world.add_sample("b", preset="S1")
        a, b = world.add_lockin("a", sample="a"), world.add_lockin("b", sample="b")
        for lk in (a, b):  # zero field, base: superconducting, so only noise remains
            lk.settings.tau_s, lk.settings.slope_dB = 1.0, 24
            world.lockin_changed(lk)
        out = []
        for _ in range(200):
            world.clock.wait(10.0)
            out.append((world.lockin_output(a).real, world.lockin_output(b).real))
        return np.array(out)

    first, again, other = readings(7), readings(7), readings(8)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)
    r = np.corrcoef(first[:, 0], first[:, 1])[0, 1]
    assert abs(r) < 0.25  # independent: |r| of 200 pairs is below 0.25 with 99.97 % odds


@pytest.mark.parametrize("instruments, samples, says", [
    ([("lockin", "SR850", {})], None, "no simulated 'SR850'"),
    ([("x", "SR830", {}), ("x", "LS372", {})], None, "names used twice: x"),
    ([("m1", "AMI430", {}), ("m2", "AMI430", {})], None, "one magnet; m1, m2"),
    ([("xy", "SR830", {"driven_by": "xx"})], None, "driven by 'xx', which is not there"),
    ([("a", "SR830", {}), ("b", "SR830", {})], None, "'a' drives already"),
    ([("a", "SR830", {"sample": "s", "measures": "yy"})], {"s": {}}, "not one of xx, xy"),
    ([("a", "SR830", {"sample": "nowhere"})], {"s": {}}, "sample 'nowhere', which is not there"),
    ([("bridge", "LS372", {"sample": "s"})], None,
     "instrument 'bridge' (LS372): LS372Device.__init__() got an unexpected keyword argument"),
])
def test_a_lab_that_cannot_be_wired_is_refused_before_it_serves(instruments, samples, says):
    with pytest.raises(ValueError, match=re.escape(says)):
        SimulatedLab(VirtualClock(), instruments=instruments, samples=samples)


def test_fault_rules_reach_the_instruments_of_a_wired_lab(raw_client):
    from cryolab.sim.faults import FaultRule

    faults = {"lockin_xy": [FaultRule("timeout", rate=1.0)]}
    with SimulatedLab(VirtualClock(), instruments=HALL_BAR, faults=faults,
                      samples={"hallbar": {}}, banner_delay_s=0.0) as lab:
        assert list(lab.resources) == ["lockin_xx", "lockin_xy", "bridge", "magnet"]
        assert raw_client(lab.servers["lockin_xx"].port).query("FREQ?") == "1000"
        assert raw_client(lab.servers["lockin_xy"].port).query("FREQ?") is None
    with pytest.raises(ValueError, match="unknown instruments: lockin"):
        SimulatedLab(VirtualClock(), instruments=HALL_BAR, samples={"hallbar": {}},
                     faults={"lockin": []})
