"""The simulated sample: one smooth ρ(T, H) per preset (S0, S1) built on the paper's Eq. 1 / Eq. 2.

Each preset has a crossover field H*. Below it the film is a failed superconductor whose
low-temperature law is Eq. 2, ρ = ρ_QF + ρ_0·e^(−E_aS/T); above it a failed insulator whose
low-temperature law is Eq. 1, 1/ρ = σ_QF + σ_0·e^(−E_aI/T). The activated term cannot carry
more than the distance to the normal state ρ_N: on the superconducting side the activated
resistance saturates at ρ_N − ρ_QF, on the insulating side the activated conductance at
1/ρ_N − σ_QF (a soft minimum, ``SATURATION_SHARPNESS``). At H* the saturation value *is* ρ_N,
so both gaps close and ρ(T, H*) = ρ_N at every temperature: the surface is continuous across
H*, every isotherm passes through (H*, ρ_N) (the isotherm crossing of a field-tuned SIT), and
the fitted parameters may jump there (paper Fig. 4b) while ρ does not. Numbers and their
sources: docs/simulation.md §3.2.

Also here: the Hall-bar geometry, the Hall voltage, self-heating of the film's electrons
(solved self-consistently), and the on-chip and mixing-chamber RuO₂ thermometers.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from cryolab.units import R_Q_OHM

#: p of the soft minimum x / (1 + (x/gap)^p)^(1/p) that saturates the activated term at the
#: gap to the normal state: below x = gap/2 it is x to better than 1.5 % (x·(1 − (x/gap)^p/p)),
#: so the low-temperature law is the paper's while the crossover to ρ_N stays smooth
SATURATION_SHARPNESS = 4.0
#: 1/ρ never below this (S/□): ρ ≤ 10¹⁵ Ω/□ where e^(−E/T) underflows far below any base
SIGMA_FLOOR_S = 1.0e-15


# ------------------------------------------------------------------------------ field laws
# Each preset parameter is a function of |H| in Oe, written as one of these small laws so that
# a preset reads like the table in docs/simulation.md.


@dataclass(frozen=True)
class Constant:
    """y = value at every field."""

    value: float

    def __call__(self, H_Oe: float) -> float:
        return self.value


@dataclass(frozen=True)
class PowerLaw:
    """y = value · (H / H_ref)^exponent (paper Fig. 4b: 1/ρ_QF ∝ H^−0.45, σ_QF ∝ H^−4.7)."""

    value: float
    H_ref_Oe: float
    exponent: float

    def __call__(self, H_Oe: float) -> float:
        return self.value * (H_Oe / self.H_ref_Oe) ** self.exponent


@dataclass(frozen=True)
class Linear:
    """y = at_zero + (at_ref − at_zero) · H / H_ref."""

    at_zero: float
    at_ref: float
    H_ref_Oe: float

    def __call__(self, H_Oe: float) -> float:
        return self.at_zero + (self.at_ref - self.at_zero) * H_Oe / self.H_ref_Oe


@dataclass(frozen=True)
class VanishingPowerLaw:
    """y = value · (H / H_ref)^exponent · (H_zero − H) / (H_zero − H_ref), and 0 from H_zero on:
    a power law that goes to zero linearly at H_zero (S0's σ_QF, gone by 600 Oe)."""

    value: float
    H_ref_Oe: float
    exponent: float
    H_zero_Oe: float

    def __call__(self, H_Oe: float) -> float:
        if H_Oe >= self.H_zero_Oe:
            return 0.0
        return (self.value * (H_Oe / self.H_ref_Oe) ** self.exponent
                * (self.H_zero_Oe - H_Oe) / (self.H_zero_Oe - self.H_ref_Oe))


@dataclass(frozen=True)
class Knots:
    """A smooth curve through (H, y) points: monotone cubic Hermite interpolation
    (Fritsch & Carlson 1980: no overshoot between knots), arriving flat at the end knots and
    constant beyond them; two knots make a straight line. With ``log`` the interpolation runs
    in ln y."""

    points: tuple[tuple[float, float], ...]
    log: bool = False
    # the table, its ordinates (ln y with ``log``) and the Hermite slopes, computed once
    _xs: tuple[float, ...] = field(init=False, repr=False, compare=False)
    _ys: tuple[float, ...] = field(init=False, repr=False, compare=False)
    _slopes: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        xs = tuple(float(x) for x, _ in self.points)
        ys = tuple(math.log(y) if self.log else float(y) for _, y in self.points)
        n = len(xs)
        if n < 2 or any(b <= a for a, b in itertools.pairwise(xs)):
            raise ValueError(f"knots need ≥ 2 points in increasing field: {self.points}")
        h = [xs[i + 1] - xs[i] for i in range(n - 1)]
        d = [(ys[i + 1] - ys[i]) / h[i] for i in range(n - 1)]
        # flat ends: the curve levels off into the constant beyond the knots (a line for two)
        m = [d[0]] * 2 if n == 2 else [0.0] * n
        for i in range(1, n - 1):
            if d[i - 1] * d[i] > 0:  # weighted harmonic mean keeps the interpolant monotone
                w1, w2 = 2 * h[i] + h[i - 1], h[i] + 2 * h[i - 1]
                m[i] = (w1 + w2) / (w1 / d[i - 1] + w2 / d[i])
        object.__setattr__(self, "_xs", xs)
        object.__setattr__(self, "_ys", ys)
        object.__setattr__(self, "_slopes", tuple(m))

    def __call__(self, H_Oe: float) -> float:
        xs, ys, m = self._xs, self._ys, self._slopes
        if H_Oe <= xs[0]:
            v = ys[0]
        elif H_Oe >= xs[-1]:
            v = ys[-1]
        else:
            i = bisect.bisect_right(xs, H_Oe) - 1
            h = xs[i + 1] - xs[i]
            t = (H_Oe - xs[i]) / h
            t2, t3 = t * t, t * t * t
            v = ((2 * t3 - 3 * t2 + 1) * ys[i] + (t3 - 2 * t2 + t) * h * m[i]
                 + (3 * t2 - 2 * t3) * ys[i + 1] + (t3 - t2) * h * m[i + 1])
        return math.exp(v) if self.log else v


FieldLaw = Callable[[float], float]


# ------------------------------------------------------------------------------ presets


class Branch(NamedTuple):
    """Everything ρ(T) needs at one field: the low-temperature law and the normal state."""

    model: str  # "eq2" (failed superconductor, |H| ≤ H*) or "eq1" (failed insulator)
    saturation: float  # ρ_QF in Ω/□ (eq2) or σ_QF in S/□ (eq1)
    prefactor: float  # ρ_0 in Ω/□ (eq2) or σ_0 in S/□ (eq1)
    Ea_K: float  # E_a / k_B
    gap: float  # ρ_N − ρ_QF (eq2) or 1/ρ_N − σ_QF (eq1): the most the activated term carries
    normal_ohm: float  # ρ_N


@dataclass(frozen=True, eq=False)  # hashed by identity: the per-field cache looks it up often
class SamplePreset:
    """One simulated film: the field laws of Eq. 1 / Eq. 2 and the normal state they saturate at.

    ``params_at(H)`` are the low-temperature law's parameters, what a fit of the cold end
    recovers; ``rho_ohm_sq(T, H)`` is the whole surface.
    """

    name: str
    description: str
    H_star_Oe: float
    normal_ohm: FieldLaw  # ρ_N(H): the normal state the activated term saturates at
    # superconducting side, |H| ≤ H*: ρ = ρ_QF + ρ_0·e^(−E_aS/T) at low T (paper Eq. 2)
    sc_rho_qf_ohm: FieldLaw
    sc_rho_0_ohm: FieldLaw
    sc_Ea_K: FieldLaw
    # insulating side, |H| > H*: 1/ρ = σ_QF + σ_0·e^(−E_aI/T) at low T (paper Eq. 1)
    ins_sigma_qf_S: FieldLaw
    ins_sigma_0_S: FieldLaw
    ins_Ea_K: FieldLaw

    def __post_init__(self) -> None:
        # continuity at H*: both saturation values must be the normal state there, so that
        # both activated terms are switched off and ρ(T, H*) = ρ_N(H*) at every T
        H = self.H_star_Oe
        rho_n, rho_qf, sigma_qf = (self.normal_ohm(H), self.sc_rho_qf_ohm(H),
                                   self.ins_sigma_qf_S(H))
        if not (math.isclose(rho_qf, rho_n, rel_tol=1e-9)
                and math.isclose(1.0 / sigma_qf, rho_n, rel_tol=1e-9)):
            raise ValueError(f"preset {self.name}: at H* = {H} Oe ρ_QF = {rho_qf:.6g}, "
                             f"1/σ_QF = {1 / sigma_qf:.6g} and ρ_N = {rho_n:.6g} Ω must agree "
                             "(otherwise ρ jumps at H*)")

    def model_at(self, H_Oe: float) -> str:
        return "eq2" if abs(H_Oe) <= self.H_star_Oe else "eq1"

    def branch_at(self, H_Oe: float) -> Branch:
        return _branch(self, abs(float(H_Oe)))

    def params_at(self, H_Oe: float) -> tuple[str, tuple[float, float, float]]:
        """The model ('eq1' or 'eq2') and its low-temperature parameters at field H (Oe):
        (ρ_QF, ρ_0, E_aS) or (σ_QF, σ_0, E_aI), units Ω/□, S/□, K."""
        b = self.branch_at(H_Oe)
        return b.model, (b.saturation, b.prefactor, b.Ea_K)

    def rho_ohm_sq(self, T_K: float, H_Oe: float) -> float:
        """ρ(T, H) in Ω/□ (scalar; the simulator's per-query path, no numpy)."""
        b = self.branch_at(H_Oe)
        activated = b.prefactor * math.exp(-b.Ea_K / T_K)
        if b.model == "eq2":
            return b.saturation + _saturate(activated, b.gap)
        return 1.0 / max(b.saturation + _saturate(activated, b.gap), SIGMA_FLOOR_S)


@functools.lru_cache(maxsize=512)
def _branch(preset: SamplePreset, H_Oe: float) -> Branch:
    """The parameters at |H| (cached: a field is held for hours, a ramp revisits few values)."""
    rho_n = preset.normal_ohm(H_Oe)
    if H_Oe > preset.H_star_Oe:
        sigma_qf = preset.ins_sigma_qf_S(H_Oe)
        return Branch("eq1", sigma_qf, preset.ins_sigma_0_S(H_Oe), preset.ins_Ea_K(H_Oe),
                      max(1.0 / rho_n - sigma_qf, 0.0), rho_n)
    rho_qf = preset.sc_rho_qf_ohm(H_Oe)
    return Branch("eq2", rho_qf, preset.sc_rho_0_ohm(H_Oe), preset.sc_Ea_K(H_Oe),
                  max(rho_n - rho_qf, 0.0), rho_n)


def _saturate(activated: float, gap: float) -> float:
    """The activated term, saturating softly at ``gap``: x / (1 + (x/gap)^p)^(1/p)."""
    if gap <= 0.0:
        return 0.0
    s = activated / gap
    if s < 1e-4:  # (x/gap)^p/p < 3e-17: the law itself, to double precision
        return activated
    if s > 1e60:
        return gap
    return activated / (1.0 + s**SATURATION_SHARPNESS) ** (1.0 / SATURATION_SHARPNESS)


def _prefactor_for_transition(Ea_K: float, T_half_K: float) -> float:
    """ρ_0/ρ_N that puts the 50 % point of a zero-field transition (ρ_QF = 0) at T_half:
    x/(1 + x^p)^(1/p) = ½ at x = (2^p − 1)^(−1/p), x = (ρ_0/ρ_N)·e^(−E_a/T_half)."""
    p = SATURATION_SHARPNESS
    return (2.0**p - 1.0) ** (-1.0 / p) * math.exp(Ea_K / T_half_K)


# S1 (paper Fig. 4b): Eq. 2 below H* with 1/ρ_QF ∝ H^−0.45 and E_aS ≈ 1.5 K falling slowly;
# Eq. 1 above with σ_QF ∝ H^−4.7 and an activation about four times smaller. Both saturation
# values are R_Q = h/4e² at H* (the paper's separatrix); the normal state is R_Q too, so the
# isotherms cross at (H*, R_Q). ρ_0 puts the zero-field transition's 50 % point at 0.4 K.
S1_H_STAR_OE = 330.0
S1_TC_K = 0.4
S1 = SamplePreset(
    name="S1",
    description="annealing stage S1: superconductor with T_c ≈ 0.4 K in zero field, failed "
                "superconductor up to H* = 330 Oe, failed insulator above (paper Fig. 4b)",
    H_star_Oe=S1_H_STAR_OE,
    normal_ohm=Constant(R_Q_OHM),
    sc_rho_qf_ohm=PowerLaw(R_Q_OHM, S1_H_STAR_OE, 0.45),
    sc_rho_0_ohm=Constant(R_Q_OHM * _prefactor_for_transition(1.6, S1_TC_K)),
    sc_Ea_K=Knots(((0.0, 1.6), (S1_H_STAR_OE, 1.3))),
    ins_sigma_qf_S=PowerLaw(1.0 / R_Q_OHM, S1_H_STAR_OE, -4.7),
    ins_sigma_0_S=Constant(2.0e-5),
    ins_Ea_K=Knots(((S1_H_STAR_OE, 0.36), (600.0, 0.30))),
)

# S0 (paper Fig. 3 and 4a): saturates at 6.2 kΩ/□ in zero field (failed superconductor); from
# 30 Oe dρ/dT < 0 with the saturation setting in below ~0.2 K; E_aI/k_B ≈ 0.3 K at low field,
# peaking just below 0.6 K near 300 Oe, then falling and levelling off; σ_QF falls with field,
# 1/σ_QF reaches ~1 MΩ, and the saturation is gone at 600 Oe (ρ diverges above base).
S0_H_STAR_OE = 15.0
S0_RHO_N_OHM = 8.0e3
S0 = SamplePreset(
    name="S0",
    description="annealing stage S0: failed superconductor (6.2 kΩ/□) in zero field, failed "
                "insulator from 30 Oe with an activation peaking near 300 Oe and no "
                "saturation left at 600 Oe (paper Fig. 3, 4a)",
    H_star_Oe=S0_H_STAR_OE,
    normal_ohm=Constant(S0_RHO_N_OHM),
    sc_rho_qf_ohm=Linear(6.2e3, S0_RHO_N_OHM, S0_H_STAR_OE),
    sc_rho_0_ohm=Constant(8.0e3),
    sc_Ea_K=Constant(0.5),
    ins_sigma_qf_S=VanishingPowerLaw(1.0 / S0_RHO_N_OHM, S0_H_STAR_OE, -0.69, 600.0),
    ins_sigma_0_S=Knots(((15.0, 1.5e-4), (30.0, 1.0e-4), (100.0, 4.0e-5), (200.0, 4.0e-5),
                         (300.0, 4.4e-5), (400.0, 4.1e-5), (500.0, 2.6e-5), (600.0, 2.6e-5)),
                        log=True),
    ins_Ea_K=Knots(((15.0, 0.29), (30.0, 0.30), (100.0, 0.37), (200.0, 0.48), (300.0, 0.57),
                    (400.0, 0.50), (500.0, 0.32), (600.0, 0.30))),
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
    T_electron_K: float  # the film's electrons, heated by the current

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
    # electron–phonon coupling Σ·V of the film (W/K⁵): P = Σ (T_e⁵ − T_ph⁵); of the order of
    # Σ ≈ 10⁹ W K⁻⁵ m⁻³ of thin metal films times the 100 µm × 200 µm × 20 nm between the probes
    # (4·10⁻¹⁶ m³), and chosen so 1 nA through ~100 kΩ at 60 mK heats the electrons by ~2 %
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
        """The hot-electron law for a given power: T_e⁵ = T_ph⁵ + P / Σ."""
        return (T_phonon_K**5 + max(power_W, 0.0) / self.sigma_ep_W_per_K5) ** 0.2

    def heated(self, V_source_V: float, T_phonon_K: float, H_Oe: float
               ) -> tuple[float, float, float]:
        """(T_e, R_4pt(T_e), I) solving T_e⁵ = T_ph⁵ + I(T_e)² R(T_e) / Σ self-consistently,
        with I = V / (R_bias + R_2pt(T_e)) (hot-electron model; docs/simulation.md §3.4).

        f(T_e) = T_e⁵ − T_ph⁵ − P(T_e)/Σ is ≤ 0 at T_ph; the one-pass value T₁ (P taken at
        T_ph) brackets the root from above wherever P falls with T_e (dρ/dT < 0); where it
        rises, fixed-point steps climb to an upper bracket. The Illinois variant of regula
        falsi then closes the bracket to 10⁻¹² in T_e (or until f is 10⁻¹⁴ T_e⁵).
        """
        T5 = T_phonon_K**5
        sigma = self.sigma_ep_W_per_K5
        # R(T_e) and I(T_e) at this field, inlined: this runs on every lock-in filter step
        b = self.preset.branch_at(H_Oe)
        squares = self.length_m / self.width_m
        R_wiring = self.bias_resistor_ohm + self.contact_ohm
        eq2 = b.model == "eq2"

        def excess(T_e: float) -> tuple[float, float, float]:
            activated = _saturate(b.prefactor * math.exp(-b.Ea_K / T_e), b.gap)
            rho = b.saturation + activated if eq2 else \
                1.0 / max(b.saturation + activated, SIGMA_FLOOR_S)
            R = rho * squares
            I = V_source_V / (R_wiring + 2.0 * R)  # R_bias + R_2pt
            return T_e**5 - T5 - I * I * R / sigma, R, I

        lo = T_phonon_K
        f_lo, R, I = excess(lo)
        heat = -f_lo  # P(T_ph)/Σ
        if heat <= 1e-12 * T5:  # T_e − T_ph < 2·10⁻¹³ T_ph: nothing to solve
            return T_phonon_K, R, I
        hi = (T5 + heat) ** 0.2
        f_hi, R_hi, I_hi = excess(hi)
        for _ in range(200):  # P rises with T_e: climb by fixed-point steps to a bracket
            if f_hi >= 0.0:
                break
            lo, f_lo = hi, f_hi
            hi = max((hi**5 - f_hi) ** 0.2, hi * (1.0 + 1e-9))
            f_hi, R_hi, I_hi = excess(hi)
        else:  # pragma: no cover - P is bounded (ρ ≤ ρ_N), so a bracket is always found
            raise RuntimeError("self-heating: no upper bracket for the electron temperature")
        if f_hi == 0.0:
            return hi, R_hi, I_hi
        side = 0
        T_e, R_e, I_e = hi, R_hi, I_hi
        for _ in range(100):
            T_new = hi - f_hi * (hi - lo) / (f_hi - f_lo)
            f_new, R_e, I_e = excess(T_new)
            # converged when the step is 1e-12 of T_e, or when f is 1e-14 of T_e⁵ (df/dT_e ≥ 5T_e⁴
            # on the insulating side, so T_e is then within 2e-15; mild heating lands there at
            # the first step)
            done = (abs(T_new - T_e) <= 1e-12 * T_new
                    or abs(f_new) <= 1e-14 * T_new**5)
            T_e = T_new
            if f_new == 0.0 or done:
                break
            if f_new > 0.0:  # the root lies below: T_new is the new upper end
                hi, f_hi = T_new, f_new
                if side == 1:
                    f_lo *= 0.5  # Illinois: halve the end that stayed, so it moves next time
                side = 1
            else:
                lo, f_lo = T_new, f_new
                if side == -1:
                    f_hi *= 0.5
                side = -1
        return T_e, R_e, I_e

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

        I = V / (R_bias + R_2pt) with R at the self-consistent electron temperature; the line
        capacitance forms a low-pass with the sample's source resistance,
        V = I R / (1 + jωR_2pt C), which shows up as a small negative Y.
        """
        T_e, R, I = self.heated(V_source_V, T_K, H_Oe)
        omega = 2 * math.pi * frequency_Hz
        return Drive(I, R, complex(1.0, omega * self.R2pt_ohm(R) * self.line_capacitance_F),
                     T_e)

    def V_xy(self, drive: Drive, H_Oe: float) -> complex:
        """The transverse voltage phasor at the probes, I·ρ_xy through the same line
        (ρ_xx from the drive's R, at the electrons' temperature)."""
        rho_xx = drive.R4pt_ohm * self.width_m / self.length_m
        return drive.current_A * self.rho_xy_ohm(rho_xx, H_Oe) / drive.line

    def response(self, V_source_V: float, frequency_Hz: float, T_K: float, H_Oe: float
                 ) -> tuple[complex, float, float]:
        """(longitudinal voltage phasor at the probes, current through the sample, R4pt)."""
        d = self.drive(V_source_V, frequency_Hz, T_K, H_Oe)
        return d.V_xx, d.current_A, d.R4pt_ohm
