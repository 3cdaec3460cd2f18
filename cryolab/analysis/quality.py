"""Whether a fit says something: parameters the data determine, and a forced model's misfit.

One rule for the command line and the GUI. A parameter is *undetermined* when its standard
error is not finite or exceeds the value itself (a 100 % error bar includes zero and anything
twice as large): 20 s into a ramp, ``rho_qf = 0 ± 2.8e+04`` is such a value, and so is
``Ea_K = 58499 ± inf`` from Eq. 2 forced onto insulating data. A fit with an undetermined
parameter is a first look, not a result.
"""

from __future__ import annotations

import math

from cryolab.analysis.fit import Choice, FitResult
from cryolab.models import PARAMS

#: each parameter's unit as the user reads it (ρ in Ω/□, σ in S/□, E_a/k_B in K)
UNITS = {"sigma_qf": "S/□", "sigma_0": "S/□", "rho_qf": "Ω/□", "rho_0": "Ω/□", "Ea_K": "K"}
#: the parameter as a physicist names it
SYMBOLS = {"sigma_qf": "σ_QF", "sigma_0": "σ_0", "rho_qf": "ρ_QF", "rho_0": "ρ_0",
           "Ea_K": "E_a/k_B"}
#: a forced model fitting this many times worse (χ²_red) than the other is a poor description
POOR_CHI2_RATIO = 10.0


def undetermined(fit: FitResult) -> list[str]:
    """The parameters whose error is infinite or larger than their value."""
    return [name for name in PARAMS[fit.model]
            if not (math.isfinite(fit.stderr[name]) and fit.stderr[name] < abs(fit.values[name]))]


def format_parameters(fit: FitResult) -> str:
    """``σ_QF = 1.2e-05 ± 3e-08 S/□, …, E_a/k_B = 0.52 ± 0.004 K``."""
    return ", ".join(f"{SYMBOLS[name]} = {fit.values[name]:.4g} ± {fit.stderr[name]:.2g} "
                     f"{UNITS[name]}" for name in PARAMS[fit.model])


def poor_fit_reasons(forced: FitResult, auto: Choice | None) -> list[str]:
    """Why a model the user forced does not describe the data ([] if it does): undetermined
    parameters, or the other model fitting far better where ``auto`` decided for it."""
    reasons = [f"{SYMBOLS[name]} is undetermined ({forced.values[name]:.4g} ± "
               f"{forced.stderr[name]:.2g} {UNITS[name]})" for name in undetermined(forced)]
    if auto is not None and auto.model != forced.model and auto.decided:
        other = auto.fits[auto.model]
        if forced.chi2_red > POOR_CHI2_RATIO * other.chi2_red:
            reasons.append(f"{auto.model} fits {forced.chi2_red / other.chi2_red:.3g}× better "
                           f"(χ²_red {other.chi2_red:.3g} against {forced.chi2_red:.3g}), and "
                           f"--model auto chooses it: {auto.reason}")
    return reasons
