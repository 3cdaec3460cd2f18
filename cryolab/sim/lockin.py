"""The simulated lock-in's analog side: settings, the n-pole output filter, the output noise,
and how one lock-in is wired (which sample's voltage it measures, whose reference it follows).

The filter is n identical RC stages (6 dB/oct each) acting on the complex demodulated signal
X + iY, updated exactly for an input held constant over a step, so a reading taken before the
settle time is wrong by the amount the SR830 manual's filter model says (protocols.md §1.4). The
noise is an Ornstein–Uhlenbeck process per quadrature with rms e_n·√ENBW and a correlation time of
1/(4·ENBW): it shrinks with longer time constants and steeper slopes, and two readings taken
within one time constant are correlated, as on the real instrument.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from instruments.lockin_filter import SLOPE_POLES, enbw_Hz


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
    input_noise_V_per_rtHz: float = 10e-9  # SR830 front end at a few Hz, 1/f included

    @property
    def poles(self) -> int:
        return SLOPE_POLES[self.slope_dB]

    @property
    def noise_rms_V(self) -> float:
        return self.input_noise_V_per_rtHz * math.sqrt(enbw_Hz(self.tau_s, self.slope_dB))

    @property
    def noise_correlation_s(self) -> float:
        return 1.0 / (4.0 * enbw_Hz(self.tau_s, self.slope_dB))


#: what a lock-in's input is connected to: the longitudinal (four-point) or the transverse
#: (Hall) voltage probes of its sample
MEASURES = ("xx", "xy")


class Lockin:
    """One simulated lock-in's analog side and its place in the wiring.

    It measures the ``measures`` voltage of ``sample``; its reference follows ``driven_by``'s
    (REF IN connected to that lock-in's reference output) or, with ``driven_by`` None, its own
    sine output drives the sample's current through the bias resistor.
    """

    def __init__(self, name: str, sample: str, measures: str, driven_by: str | None,
                 rng: np.random.Generator) -> None:
        if measures not in MEASURES:
            raise ValueError(f"lock-in {name!r} measures {measures!r}, not one of "
                             f"{', '.join(MEASURES)}")
        self.name = name
        self.sample = sample
        self.measures = measures
        self.driven_by = driven_by
        self.settings = LockinSettings()
        self.filter = OutputFilter(self.settings.tau_s, self.settings.poles)
        self.noise = OUNoise(rng)
        #: the filter has not followed the input lately (a long jump): reset it before use
        self.stale = True
        # the true values behind the last input, for tests and the docs' figures
        self.true_current_A = 0.0
        self.true_R_ohm = 0.0
