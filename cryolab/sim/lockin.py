"""The simulated lock-in's analog side: its input (loading and noise), settings, the n-pole
output filter, the output noise, and how one lock-in is wired (which sample's voltage it
measures, whose reference it follows).

The input is R_in ∥ C_in across the probes (SR830: 10 MΩ + 25 pF, manual p. 1-5): the probes'
open-circuit voltage V reaches the amplifier as V·Z_in/(Z_in + R_source), so a source of
1 MΩ reads 9 % low. The input's voltage noise e_n, its current noise i_n flowing through the
source (R_source ∥ Z_in) and the source's own Johnson noise add in quadrature. A
high-impedance preamplifier is another ``LockinInput`` (``preamplifier``).

The filter is n identical RC stages (6 dB/oct each) acting on the complex demodulated signal
X + iY, updated exactly for an input held constant over a step, so a reading taken before the
settle time is wrong by the amount the SR830 manual's filter model says (protocols.md §1.4). The
noise is an Ornstein–Uhlenbeck process per quadrature with rms (input noise density)·√ENBW and
a correlation time of 1/(4·ENBW): it shrinks with longer time constants and steeper slopes,
and two readings taken within one time constant are correlated, as on the real instrument.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cryolab.units import K_B
from instruments.lockin_filter import SLOPE_POLES, enbw_Hz

ROOM_TEMPERATURE_K = 300.0  # the input resistor's temperature (its Johnson current noise)


@dataclass(frozen=True)
class LockinInput:
    """What a voltage input presents to the probes: R_in ∥ C_in, and its noise.

    ``current_noise_A_per_rtHz`` None: the Johnson current of R_in at room temperature,
    √(4 k_B · 300 K / R_in) = 40.7 fA/√Hz for 10 MΩ (an FET input's own gate current noise
    is far below that at a few Hz).
    """

    resistance_ohm: float = 10.0e6  # SR830 voltage input, A or A−B (manual p. 1-5)
    capacitance_F: float = 25.0e-12  # SR830, in parallel (manual p. 1-5)
    # 6 nV/√Hz at 1 kHz (SR830 manual p. 1-5); at the 0.7–7 Hz of this experiment the
    # amplifier's 1/f noise raises it ⚠ 10 nV/√Hz is a round estimate, not a specification
    voltage_noise_V_per_rtHz: float = 10.0e-9
    current_noise_A_per_rtHz: float | None = None
    gain: float = 1.0  # a preamplifier's voltage gain (the lock-in's own input: 1)

    @property
    def i_n_A_per_rtHz(self) -> float:
        if self.current_noise_A_per_rtHz is not None:
            return self.current_noise_A_per_rtHz
        return math.sqrt(4.0 * K_B * ROOM_TEMPERATURE_K / self.resistance_ohm)

    def impedance_ohm(self, frequency_Hz: float) -> complex:
        """Z_in = R_in / (1 + jωR_in C_in)."""
        return self.resistance_ohm / complex(
            1.0, 2 * math.pi * frequency_Hz * self.resistance_ohm * self.capacitance_F)

    def divider(self, source_ohm: float, frequency_Hz: float) -> complex:
        """V_amplifier / V_open-circuit = Z_in / (Z_in + R_source): the input's loading."""
        z = self.impedance_ohm(frequency_Hz)
        return z / (z + source_ohm)

    def noise_V_per_rtHz(self, source_ohm: float, frequency_Hz: float,
                         source_T_K: float) -> float:
        """Input-referred noise density: e_n, i_n·|R_source ∥ Z_in|, and the source's Johnson
        noise √(4 k_B T R_source) through the same divider as the signal, in quadrature."""
        z = self.impedance_ohm(frequency_Hz)
        parallel = abs(source_ohm * z / (source_ohm + z)) if source_ohm > 0 else 0.0
        johnson2 = 4.0 * K_B * max(source_T_K, 0.0) * source_ohm * abs(z / (z + source_ohm))**2
        return math.sqrt(self.voltage_noise_V_per_rtHz**2
                         + (self.i_n_A_per_rtHz * parallel)**2 + johnson2)


#: the SR830's own voltage input
SR830_INPUT = LockinInput()


def preamplifier(resistance_ohm: float = 1.0e12, capacitance_F: float = 10.0e-12,
                 voltage_noise_V_per_rtHz: float = 10.0e-9,
                 current_noise_A_per_rtHz: float | None = None,
                 gain: float = 1.0) -> LockinInput:
    """A high-impedance preamplifier in front of the lock-in (100 MΩ–1 TΩ electrometer-grade
    input stages exist); its input replaces the lock-in's. ⚠ The default capacitance and
    noise are round numbers for such a stage, not a product's specification."""
    return LockinInput(resistance_ohm, capacitance_F, voltage_noise_V_per_rtHz,
                       current_noise_A_per_rtHz, gain)


class OutputFilter:
    """A cascade of identical RC stages on a complex signal."""

    def __init__(self, tau_s: float = 0.1, poles: int = 2) -> None:
        self.tau_s = tau_s
        self.stages = [0j] * poles

    @property
    def output(self) -> complex:
        return self.stages[-1]

    def reset(self, value: complex) -> None:
        self.stages = [value] * len(self.stages)

    def reconfigure(self, tau_s: float, poles: int) -> None:
        """New time constant or slope: keep the output where it is (no jump)."""
        out = self.output
        self.tau_s = tau_s
        self.stages = [out] * poles

    def step(self, u: complex, h_s: float) -> None:
        """Advance by ``h_s`` with the input held at ``u``.

        With e_k = y_k − u, stage k obeys e_k' = (e_{k−1} − e_k)/τ (e_0 = 0), whose solution is
        e_k(h) = e^(−x) Σ_{j≤k} e_j(0) x^(k−j)/(k−j)!, x = h/τ.
        """
        x = h_s / self.tau_s
        decay = math.exp(-x)
        e = [s - u for s in self.stages]
        new = []
        for k in range(len(e)):
            acc, term = 0j, 1.0
            for j in range(k, -1, -1):  # j = k, k−1, …: powers x^0, x^1, …
                acc += e[j] * term
                term *= x / (k - j + 1)
            new.append(u + decay * acc)
        self.stages = new


class OUNoise:
    """Complex Ornstein–Uhlenbeck noise, sampled lazily at query times."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.value = 0j
        self.t: float | None = None

    def sample(self, t: float, rms: float, correlation_s: float) -> complex:
        a = 0.0 if self.t is None else math.exp(-max(t - self.t, 0.0) / correlation_s)
        n = self.rng.standard_normal(2)
        self.value = a * self.value + rms * math.sqrt(1.0 - a * a) * complex(n[0], n[1])
        self.t = t
        return self.value


@dataclass
class LockinSettings:
    """What a simulated lock-in is set to (its front panel, as far as the physics cares)."""

    frequency_Hz: float = 1000.0  # of the internal oscillator
    amplitude_V: float = 1.0
    phase_deg: float = 0.0
    tau_s: float = 0.1
    slope_dB: int = 12
    sensitivity_V: float = 1.0
    external_reference: bool = False  # the reference comes from REF IN, not the oscillator

    @property
    def poles(self) -> int:
        return SLOPE_POLES[self.slope_dB]

    @property
    def enbw_Hz(self) -> float:
        return enbw_Hz(self.tau_s, self.slope_dB)

    @property
    def noise_correlation_s(self) -> float:
        return 1.0 / (4.0 * enbw_Hz(self.tau_s, self.slope_dB))


#: what a lock-in's input is connected to: the longitudinal (four-point) or the transverse
#: (Hall) voltage probes of its sample
MEASURES = ("xx", "xy")


class Lockin:
    """One simulated lock-in's analog side and its place in the wiring.

    It measures the ``measures`` voltage of ``sample`` through ``input_stage`` (the SR830's
    own input unless a preamplifier is declared); its reference follows ``driven_by``'s
    (REF IN connected to that lock-in's reference output) or, with ``driven_by`` None, its own
    sine output drives the sample's current through the bias resistor.
    """

    def __init__(self, name: str, sample: str, measures: str, driven_by: str | None,
                 rng: np.random.Generator, input_stage: LockinInput = SR830_INPUT) -> None:
        if measures not in MEASURES:
            raise ValueError(f"lock-in {name!r} measures {measures!r}, not one of "
                             f"{', '.join(MEASURES)}")
        self.name = name
        self.sample = sample
        self.measures = measures
        self.driven_by = driven_by
        self.input_stage = input_stage
        self.settings = LockinSettings()
        self.filter = OutputFilter(self.settings.tau_s, self.settings.poles)
        self.noise = OUNoise(rng)
        #: the filter has not followed the input lately (a long jump): reset it before use
        self.stale = True
        # the true values behind the last input, for tests and the docs' figures
        self.true_current_A = 0.0
        self.true_R_ohm = 0.0
        # what the input saw last: the source behind the probes, its temperature, the
        # signal's frequency (they set the noise)
        self.source_ohm = 0.0
        self.source_T_K = 0.0
        self.signal_frequency_Hz = 0.0

    def noise_rms_V(self) -> float:
        """The output noise per quadrature: the input's noise density × √ENBW."""
        density = self.input_stage.noise_V_per_rtHz(self.source_ohm, self.signal_frequency_Hz,
                                                    self.source_T_K)
        # a preamplifier's gain lifts its input noise above the lock-in's own
        return density * self.input_stage.gain * math.sqrt(self.settings.enbw_Hz)
