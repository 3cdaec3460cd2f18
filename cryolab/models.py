"""The paper's resistivity laws, Eq. 1 and Eq. 2, shared by the simulator and the analysis.

Zhang, Palevski & Kapitulnik, "Anomalous metals: from failed superconductor to failed
insulator" (PNAS, 2022; docs/analysis.md). Activation energies are given as temperatures
E_a/k_B in kelvin; ρ in Ω/□, σ in S/□.
"""

from __future__ import annotations

import numpy as np


def rho_eq1(T_K, sigma_qf_S: float, sigma_0_S: float, Ea_K: float):
    """Insulating side, paper Eq. 1: ρ = 1 / (σ_QF + σ_0 · exp(−E_aI / k_B T))."""
    return 1.0 / (sigma_qf_S + sigma_0_S * np.exp(-Ea_K / np.asarray(T_K, dtype=float)))


def rho_eq2(T_K, rho_qf_ohm: float, rho_0_ohm: float, Ea_K: float):
    """Superconducting side, paper Eq. 2: ρ = ρ_QF + ρ_0 · exp(−E_aS / k_B T)."""
    return rho_qf_ohm + rho_0_ohm * np.exp(-Ea_K / np.asarray(T_K, dtype=float))


#: parameter names of each model, in the order the functions take them
PARAMS = {
    "eq1": ("sigma_qf", "sigma_0", "Ea_K"),
    "eq2": ("rho_qf", "rho_0", "Ea_K"),
}

MODELS = {"eq1": rho_eq1, "eq2": rho_eq2}


def rho(model: str, T_K, *params: float):
    """ρ(T) of ``model`` ('eq1' or 'eq2') with its three parameters."""
    return MODELS[model](T_K, *params)
