"""A lock-in's output filter, whatever the model: n identical RC stages (6 dB/oct each).

Settle times and noise bandwidths follow from the slope and the time constant alone; the SR830
and SR860 manuals give the same figures (SR830 manual pp. 3-13 and 3-16).
"""

from __future__ import annotations

from scipy.special import gammainccinv

#: poles of the output filter per slope in dB/octave (SR830 manual p. 3-13)
SLOPE_POLES = {6: 1, 12: 2, 18: 3, 24: 4}
#: equivalent noise bandwidth × τ per number of poles (SR830 manual p. 3-16)
ENBW_TIMES_TAU = {1: 1 / 4, 2: 1 / 8, 3: 3 / 32, 4: 5 / 64}


def settle_time_s(tau_s: float, slope_dB_per_oct: int, precision: float = 0.99) -> float:
    """Time after a step until an n-pole RC output filter has reached ``precision`` of it.

    The residual of n identical RC stages is e^(−x) Σ_{k<n} x^k/k! = Q(n, x), the regularised
    upper incomplete gamma function, so x = Q⁻¹(n, 1 − precision): 4.6, 6.6, 8.4, 10.0 τ for
    99 % at 6–24 dB/oct (the usual "5, 7, 9, 10 τ" rule of the SR830 manual, p. 3-13).
    """
    n = SLOPE_POLES[int(slope_dB_per_oct)]
    if not 0.0 < precision < 1.0:
        raise ValueError(f"precision must be between 0 and 1, got {precision}")
    return tau_s * float(gammainccinv(n, 1.0 - precision))


def enbw_Hz(tau_s: float, slope_dB_per_oct: int) -> float:
    """Equivalent noise bandwidth of the output filter: 1/(4τ), 1/(8τ), 3/(32τ), 5/(64τ)."""
    return ENBW_TIMES_TAU[SLOPE_POLES[int(slope_dB_per_oct)]] / tau_s
