"""The simulated sample: ρ(T, H) from Eq. 1 / Eq. 2 with presets shaped after the paper's S0 and S1.

Each preset is a crossover field H*: at or below it the sample is a failed superconductor
(Eq. 2), above it a failed insulator (Eq. 1). The field dependence of the three parameters of
each branch follows the paper's Fig. 4 (numbers and their sources in docs/simulation.md).
Also here: the Hall-bar geometry, the Hall voltage, self-heating of the film's electrons, and the
on-chip and mixing-chamber RuO₂ thermometers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from cryolab.models import rho_eq1, rho_eq2
from cryolab.units import R_Q_OHM


@dataclass(frozen=True)
class SamplePreset:
    """Field-dependent Eq. 1 / Eq. 2 parameters of one simulated film."""

    name: str
    description: str
    H_star_Oe: float
    # superconducting branch, Eq. 2, H ≤ H*: ρ_QF(H) = rho_qf_ref · (H / H_ref)^sc_exponent,
    # never below rho_qf_zero_field (the zero-field saturation value).
    sc_rho_qf_ref_ohm: float
    sc_H_ref_Oe: float
    sc_exponent: float
    sc_rho_qf_zero_field_ohm: float
    sc_rho_0_ohm: float
    sc_Ea_knots: tuple[tuple[float, float], ...]  # (H_Oe, E_aS/k_B in K), linear between
    # insulating branch, Eq. 1, H > H*: σ_QF(H) = ins_sigma_qf_ref · (H / H_ref)^(−ins_exponent)
    ins_sigma_qf_ref_S: float
    ins_H_ref_Oe: float
    ins_exponent: float
    ins_sigma_0_S: float
    ins_Ea_knots: tuple[tuple[float, float], ...]

    def model_at(self, H_Oe: float) -> str:
        return "eq2" if abs(H_Oe) <= self.H_star_Oe else "eq1"

    def params_at(self, H_Oe: float) -> tuple[str, tuple[float, float, float]]:
        """The model ('eq1' or 'eq2') and its parameters at field H (Oe)."""
        H = abs(H_Oe)
        if self.H_star_Oe >= H:
            rho_qf = self.sc_rho_qf_ref_ohm * (H / self.sc_H_ref_Oe) ** self.sc_exponent
            rho_qf = max(rho_qf, self.sc_rho_qf_zero_field_ohm)
            return "eq2", (rho_qf, self.sc_rho_0_ohm, _interp(self.sc_Ea_knots, H))
        sigma_qf = self.ins_sigma_qf_ref_S * (H / self.ins_H_ref_Oe) ** (-self.ins_exponent)
        return "eq1", (sigma_qf, self.ins_sigma_0_S, _interp(self.ins_Ea_knots, H))

    def rho_ohm_sq(self, T_K: float, H_Oe: float) -> float:
        model, p = self.params_at(H_Oe)
        return float(rho_eq2(T_K, *p) if model == "eq2" else rho_eq1(T_K, *p))


def _interp(knots: tuple[tuple[float, float], ...], x: float) -> float:
    xs, ys = zip(*knots, strict=True)
    return float(np.interp(x, xs, ys))


# S1 (paper Fig. 4b): Eq. 2 for H ≤ 300 Oe with 1/ρ_QF ∝ H^−0.45 and E_aS/k_B ≈ 1.5 K falling
# slowly; Eq. 1 above with σ_QF ∝ H^−4.7 and an activation about four times smaller. Both
# branches meet at R_Q = h/4e² at H* = 300 Oe, the paper's separatrix.
S1 = SamplePreset(
    name="S1",
    description="annealing stage S1: failed superconductor up to H* = 300 Oe, "
                "failed insulator above (paper Fig. 4b)",
    H_star_Oe=300.0,
    sc_rho_qf_ref_ohm=R_Q_OHM, sc_H_ref_Oe=300.0, sc_exponent=0.45,
    sc_rho_qf_zero_field_ohm=0.0,
    sc_rho_0_ohm=20.0e3,
    sc_Ea_knots=((0.0, 1.6), (300.0, 1.3)),
    ins_sigma_qf_ref_S=1.0 / R_Q_OHM, ins_H_ref_Oe=300.0, ins_exponent=4.7,
    ins_sigma_0_S=1.0e-4,
    ins_Ea_knots=((300.0, 0.36), (600.0, 0.30)),
)

# S0 (paper Fig. 3 and 4a): saturates near 6.2 kΩ/□ in zero field (failed superconductor);
# from 30 Oe dρ/dT < 0 with saturation below ~0.2 K; E_aI/k_B ≈ 0.3 K at low field, peaking just
# below 0.6 K near 300 Oe, then falling and levelling off; 1/σ_QF reaches ~1 MΩ at 600 Oe.
S0 = SamplePreset(
    name="S0",
    description="annealing stage S0: failed superconductor in zero field, failed insulator "
                "from 30 Oe with an activation energy peaking near 300 Oe (paper Fig. 4a)",
    H_star_Oe=20.0,
    sc_rho_qf_ref_ohm=6.2e3, sc_H_ref_Oe=20.0, sc_exponent=0.0,
    sc_rho_qf_zero_field_ohm=6.2e3,
    sc_rho_0_ohm=8.0e3,
    sc_Ea_knots=((0.0, 0.5), (20.0, 0.5)),
    # continuous with the zero-field 6.2 kΩ at H* and 1/σ_QF = 1 MΩ at 600 Oe:
    # exponent ln(1e6 / 6.2e3) / ln(600 / 20) = 1.49
    ins_sigma_qf_ref_S=1.0 / 6.2e3, ins_H_ref_Oe=20.0, ins_exponent=1.494,
    ins_sigma_0_S=2.0e-4,
    ins_Ea_knots=((30.0, 0.30), (100.0, 0.36), (200.0, 0.48), (300.0, 0.57), (400.0, 0.48),
                  (500.0, 0.42), (600.0, 0.40)),
)

PRESETS = {"S0": S0, "S1": S1}


def ruo2_sample_ohm(T_K: float) -> float:
    """The on-chip RuO₂'s true R(T): the curve the shipped calibration file was made from."""
    return 1500.0 * math.exp((0.12 / T_K) ** 0.55)


def ruo2_mc_ohm(T_K: float) -> float:
    """The mixing-chamber RuO₂'s R(T) (its curve is loaded in the simulated 372)."""
    return 2000.0 * math.exp((0.08 / T_K) ** 0.5)


class Drive(NamedTuple):
    """A sample driven through its bias resistor: the current, and what its probes see."""

    current_A: float
    R4pt_ohm: float  # longitudinal four-point resistance, at the electrons' temperature
    line: complex  # 1 + jωR_2pt·C: the line capacitance's low-pass acts on both voltages

    @property
    def V_xx(self) -> complex:
        """The longitudinal voltage phasor at the probes: I·R / (1 + jωR_2pt·C) (open circuit;
        the lock-in's input then loads it, cryolab/sim/lockin.py)."""
        return self.current_A * self.R4pt_ohm / self.line


@dataclass
class SampleModel:
    """A preset on a Hall bar with wiring: what the lock-ins see for a bias voltage."""

    preset: SamplePreset
    width_m: float = 100e-6
    length_m: float = 200e-6  # voltage-probe spacing; R = ρ · L / W
    contact_ohm: float = 5.0e3  # leads, filters and contacts in the current path
    bias_resistor_ohm: float = 1.0e9
    line_capacitance_F: float = 1.0e-9
    # electron–phonon coupling Σ·V of the film (W/K⁵): P = Σ (T_e⁵ − T_ph⁵); chosen so 1 nA
    # through ~100 kΩ at 60 mK heats the electrons by ~2 % (docs/simulation.md)
    sigma_ep_W_per_K5: float = 1.2e-6
    # sheet Hall coefficient R_H = 1/(n e d) (Drude, one carrier type): amorphous InOx films
    # have Hall densities of 1e19–1e21 cm⁻³ (Ovadyahu's a-InOx series); the dense end,
    # n ≈ 1e21 cm⁻³, in d ≈ 20 nm gives 0.31 Ω/T. ⚠ the paper states neither n nor d
    hall_ohm_per_T: float = 0.3
    # Hall probes Δx apart along the bar also see ρ_xx·Δx/W (even in H, unlike the Hall term):
    # m = Δx/W = 1 % is a 1 µm offset on the 100 µm wide bar
    misalignment: float = 0.01

    def R4pt_ohm(self, T_K: float, H_Oe: float) -> float:
        return self.preset.rho_ohm_sq(T_K, H_Oe) * self.length_m / self.width_m

    def R2pt_ohm(self, R4pt_ohm: float) -> float:
        # the current path crosses the whole bar (≈ twice the probe spacing) plus the wiring
        return 2.0 * R4pt_ohm + self.contact_ohm

    def electron_temperature_K(self, T_phonon_K: float, power_W: float) -> float:
        """Self-heating: T_e⁵ = T_ph⁵ + P / Σ (hot-electron model)."""
        return (T_phonon_K**5 + max(power_W, 0.0) / self.sigma_ep_W_per_K5) ** 0.2

    def rho_xy_ohm(self, rho_xx_ohm: float, H_Oe: float) -> float:
        """ρ_xy = R_H·B + m·ρ_xx: the Hall term, odd in B (B = μ₀H: 1 Oe ↔ 10⁻⁴ T), plus what
        misaligned probes pick up of ρ_xx, even in B."""
        return self.hall_ohm_per_T * H_Oe * 1.0e-4 + self.misalignment * rho_xx_ohm

    def source_ohm(self, drive: Drive, measures: str) -> float:
        """The resistance behind a pair of probes, which a lock-in's input loads: the four-point
        section for ``xx``; for ``xy`` about one square, ρ_xx (the Hall probes sit W apart
        across a bar W wide) ⚠ a geometric estimate."""
        if measures == "xx":
            return drive.R4pt_ohm
        return drive.R4pt_ohm * self.width_m / self.length_m

    def drive(self, V_source_V: float, frequency_Hz: float, T_K: float, H_Oe: float) -> Drive:
        """The sample driven by a sine of ``V_source_V`` rms through the bias resistor.

        I = V / (R_bias + R_2pt); the line capacitance forms a low-pass with the sample's
        source resistance, V = I R / (1 + jωR_2pt C), which shows up as a small negative Y.
        """
        R = self.R4pt_ohm(T_K, H_Oe)
        I = V_source_V / (self.bias_resistor_ohm + self.R2pt_ohm(R))
        if I != 0.0:
            T_e = self.electron_temperature_K(T_K, I * I * R)
            if T_e > T_K * 1.0001:
                R = self.R4pt_ohm(T_e, H_Oe)
                I = V_source_V / (self.bias_resistor_ohm + self.R2pt_ohm(R))
        omega = 2 * math.pi * frequency_Hz
        return Drive(I, R, complex(1.0, omega * self.R2pt_ohm(R) * self.line_capacitance_F))

    def V_xy(self, drive: Drive, H_Oe: float) -> complex:
        """The transverse voltage phasor at the lock-in input, I·ρ_xy through the same line
        (ρ_xx from the drive's R, at the electrons' temperature)."""
        rho_xx = drive.R4pt_ohm * self.width_m / self.length_m
        return drive.current_A * self.rho_xy_ohm(rho_xx, H_Oe) / drive.line

    def response(self, V_source_V: float, frequency_Hz: float, T_K: float, H_Oe: float
                 ) -> tuple[complex, float, float]:
        """(longitudinal voltage phasor at the lock-in input, current through the sample,
        R4pt)."""
        d = self.drive(V_source_V, frequency_Hz, T_K, H_Oe)
        return d.V_xx, d.current_A, d.R4pt_ohm
