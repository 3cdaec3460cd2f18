"""Fit latency of Eq. 1 and Eq. 2 as `cryolab fit` does them (weights, plain + robust pass),
on synthetic curves of 10³, 10⁴ and 10⁵ points: median and 95th percentile."""

from __future__ import annotations

import time

import numpy as np

from cryolab.analysis.fit import fit
from cryolab.models import rho_eq1, rho_eq2

CURVES = {"eq1": (rho_eq1, (2.4e-5, 1.0e-4, 0.34)), "eq2": (rho_eq2, (3936.0, 2.0e4, 1.5))}


def timings(model: str, n: int, repeats: int) -> list[float]:
    func, params = CURVES[model]
    rng = np.random.default_rng(n)
    T = np.geomspace(0.06, 1.0, n)
    rho = func(T, *params) * (1 + 1e-3 * rng.standard_normal(n))
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fit(T, rho, model)
        out.append(time.perf_counter() - t0)
    return out


def run() -> dict:
    figures = {}
    for model in CURVES:
        for n, repeats in ((1_000, 40), (10_000, 30), (100_000, 10)):
            t = np.array(timings(model, n, repeats)) * 1e3
            figures[f"{model}_{n}_median_ms"] = float(np.median(t))
            figures[f"{model}_{n}_p95_ms"] = float(np.percentile(t, 95))
    return figures


if __name__ == "__main__":
    print(run())
