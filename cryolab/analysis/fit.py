"""Fitting Eq. 1 and Eq. 2 to ρ(T): data-derived starts, weights, a robust pass, sanity checks.

Parameters are fitted as logarithms (positive by construction, and scaled alike although σ_QF
is ~1e-5 S and E_a ~1 K), with analytic Jacobians. Each point is weighted by its uncertainty,
σᵢ = √(σ_abs² + (ε ρᵢ)²), estimated from the scatter of neighbouring points (second differences)
unless given. The plain least-squares fit starts from guesses read off the data (saturation from
the coldest points, activation from the Arrhenius slope of the warm end); the robust fit
(soft-L1 loss, against spikes) starts from the plain result. A solver's success flag is not
trusted alone: the robust result is kept only if its parameters stay consistent with the plain
fit and with the data's own saturation value. Standard errors come from the Jacobian in the
linear parameters, so a saturation value near zero still gets a meaningful absolute error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import least_squares

from cryolab.models import PARAMS, rho

MIN_POINTS = 6


class FitError(ValueError):
    """The data cannot be fitted (too few points, no temperature range, non-finite values)."""


@dataclass
class FitResult:
    model: str  # "eq1" or "eq2"
    values: dict[str, float]
    stderr: dict[str, float]
    chi2_red: float
    n_points: int
    T_min_K: float
    T_max_K: float
    robust: bool = True  # whether the robust pass was kept
    n_outliers: int = 0  # points beyond 5 σ of the final curve
    notes: list[str] = field(default_factory=list)

    @property
    def params(self) -> tuple[float, float, float]:
        return tuple(self.values[name] for name in PARAMS[self.model])

    @property
    def saturation_ohm_sq(self) -> float:
        """ρ(T → 0): ρ_QF for Eq. 2, 1/σ_QF for Eq. 1."""
        return self.values["rho_qf"] if self.model == "eq2" else 1.0 / self.values["sigma_qf"]

    def rho(self, T_K):
        return rho(self.model, T_K, *self.params)

    def as_json(self) -> dict:
        """DESIGN.md's fit object; an undetermined value or error is null (JSON has no inf)."""
        return {"model": self.model, "n_points": self.n_points,
                "params": {k: {"value": _finite(self.values[k]), "stderr": _finite(self.stderr[k])}
                           for k in PARAMS[self.model]},
                "chi2_red": _finite(self.chi2_red), "T_min_K": self.T_min_K,
                "T_max_K": self.T_max_K, "robust": self.robust, "n_outliers": self.n_outliers}


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


# ----------------------------------------------------------------------------------- noise


def estimate_uncertainty(T_K: np.ndarray, rho_ohm: np.ndarray) -> np.ndarray:
    """Each point's σ from the scatter of its T-ordered neighbours.

    A second difference ρ_{i+1} − 2ρ_i + ρ_{i−1} cancels a locally linear trend and has variance
    6σ² for white noise; its robust scale (MAD) in consecutive blocks of points gives σ block by
    block, so absolute noise (the lock-in's floor) and relative noise are both followed without
    assuming which one dominates.
    """
    n = len(rho_ohm)
    order = np.argsort(T_K, kind="stable")  # O(n) on data that are sorted already
    r = rho_ohm[order]
    if n < 5:
        return np.full(n, max(float(np.std(r)), 1e-300))
    d2 = np.abs(r[2:] - 2 * r[1:-1] + r[:-2])
    block = max(30, n // 100)
    # block k holds points [k·block, (k+1)·block) and takes the MAD of the second differences
    # centred on them, d2[start-1 : start+block-1] clipped to the ends; all full blocks at once
    # (one NaN-padded difference per point), then the two clipped ends on their own
    padded = np.concatenate(([np.nan], d2, [np.nan]))
    full = n // block * block
    scale = 1.4826 / math.sqrt(6.0)
    sigma_sorted = np.empty(n)
    if full:
        medians = np.median(padded[:full].reshape(-1, block), axis=1)
        medians[0] = np.median(d2[: block - 1])
        if full == n:  # the last full block reaches the end of the data
            medians[-1] = np.median(d2[max(full - block - 1, 0):])
        sigma_sorted[:full] = np.repeat(scale * medians, block)
    if full < n:  # the tail: its own MAD from at least 5 differences, else the block before it
        chunk = d2[max(full - 1, 0):]
        sigma_sorted[full:] = scale * np.median(chunk) if len(chunk) >= 5 or not full \
            else sigma_sorted[full - 1]
    floor = 1e-6 * float(np.median(np.abs(r))) + 1e-300  # weights must stay finite
    sigma = np.empty(n)
    sigma[order] = np.maximum(sigma_sorted, floor)
    return sigma


# ----------------------------------------------------------------------------------- models


def _model(model: str, T: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, tuple]:
    """ρ(T) at log-parameters p = (ln a, ln b, ln E), and what the Jacobian reuses."""
    a, b, E = np.exp(np.clip(p, -300.0, 300.0))  # a trial step may wander far: stay finite
    act = np.exp(-E / T)
    if model == "eq2":
        return a + b * act, (a, b, E, act, None)
    g = np.maximum(a + b * act, 1e-150)  # a trial step may drive both terms to underflow
    return 1.0 / g, (a, b, E, act, g)


def _jacobian(model: str, T: np.ndarray, parts: tuple, log_params: bool = True,
              weight: np.ndarray | None = None) -> np.ndarray:
    """∂ρ/∂(ln a, ln b, ln E) (or, ``log_params=False``, ∂ρ/∂(a, b, E)) from ``_model``'s parts,
    each row times ``weight``. Built column by column in Fortran order, which is what MINPACK
    takes without a copy."""
    a, b, E, act, g = parts
    scale = (a, b, E) if log_params else (1.0, 1.0, 1.0)  # ∂ρ/∂ln x = x ∂ρ/∂x
    w = 1.0 if weight is None else weight
    J = np.empty((len(T), 3), order="F")
    if model == "eq2":
        J[:, 0] = scale[0] * w
        np.multiply(act, scale[1] * w, out=J[:, 1])
        np.multiply(J[:, 1], -b * scale[2] / scale[1] / T, out=J[:, 2])
    else:
        q = w / (g * g)
        np.multiply(q, -scale[0], out=J[:, 0])
        np.multiply(act, q, out=J[:, 1])
        np.multiply(J[:, 1], b * scale[2] / T, out=J[:, 2])
        J[:, 1] *= -scale[1]
    return J


def initial_guess(model: str, T: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Log-parameters read off the data: saturation from the coldest tenth, activation from the
    Arrhenius slope of the warm end after the saturation is taken out."""
    order = np.argsort(T, kind="stable")
    T, r = T[order], r[order]
    n = len(T)
    cold = max(n // 10, 3)
    sat = float(np.median(r[:cold]))
    warm = slice(int(n * 0.6), n)
    if model == "eq2":
        excess = r[warm] - max(sat, 0.0)
        floor = max(abs(sat), np.median(np.abs(r))) * 1e-6 + 1e-12
        a0 = max(sat, floor)
    else:
        positive = np.maximum(r, 1e-300)
        sat_sigma = 1.0 / max(sat, 1e-300)
        excess = 1.0 / positive[warm] - sat_sigma
        a0 = sat_sigma
    ok = excess > 0
    E0, b0 = None, None
    if ok.sum() >= 3 and np.ptp(1.0 / T[warm][ok]) > 0:
        x, y = 1.0 / T[warm][ok], np.log(excess[ok])  # Arrhenius: ln(excess) = ln b − E/T
        dx = x - x.mean()
        slope = float(dx @ (y - y.mean()) / (dx @ dx))
        intercept = float(y.mean() - slope * x.mean())
        if slope < 0:
            E0, b0 = -slope, math.exp(intercept)
    if E0 is None:  # no activation visible: start from a scale set by the temperature range
        E0 = 3.0 * float(np.median(T))
        b0 = (abs(sat) if model == "eq2" else a0) * math.exp(E0 / float(T[-1]))
    return np.log([a0, b0, E0])


# ----------------------------------------------------------------------------------- fitting


def _solve(model: str, T: np.ndarray, r: np.ndarray, sigma: np.ndarray, p0: np.ndarray,
           robust: bool):
    """Plain least squares by MINPACK's Levenberg–Marquardt, or (``robust``) the soft-L1 loss
    by scipy's trust-region reflective solver; weighted residuals, analytic Jacobian."""
    weight = 1.0 / sigma
    last: dict = {}  # the solver asks for the Jacobian where it just evaluated ρ: reuse that

    def evaluate(p: np.ndarray) -> tuple:
        key = p.tobytes()
        if last.get("key") != key:
            last["key"], last["value"] = key, _model(model, T, p)
        return last["value"]

    def residuals(p):
        return (evaluate(p)[0] - r) * weight

    def jac(p):
        return _jacobian(model, T, evaluate(p)[1], weight=weight)

    p0 = np.clip(p0, -300, 300)
    # the log-parameters are scaled alike, so x_scale is 1 (scipy ≥ 1.16 defaults to "jac",
    # which from a poor start can stop far from the minimum while reporting success)
    if not robust:
        return least_squares(residuals, p0, jac=jac, method="lm", xtol=1e-10, ftol=1e-10,
                             x_scale=1.0, max_nfev=2000)
    return least_squares(residuals, p0, jac=jac, method="trf", loss="soft_l1", f_scale=1.0,
                         xtol=1e-10, ftol=1e-10, x_scale=1.0, max_nfev=2000)


def _errors(model: str, T: np.ndarray, sigma: np.ndarray, p: np.ndarray, chi2_red: float
            ) -> np.ndarray:
    """Standard errors of the linear parameters: (JᵀJ)⁻¹ with J in linear parameters, scaled by
    χ²_red when the scatter exceeds the assumed uncertainties (never scaled down)."""
    J = _jacobian(model, T, _model(model, T, p)[1], log_params=False, weight=1.0 / sigma)
    # scale the columns so the decomposition compares like with like, then undo the scaling;
    # the 3×3 normal matrix's eigenvalues are J's squared singular values (n× cheaper than SVD)
    if not np.isfinite(J).all():  # the model overflowed at these parameters: nothing known
        return np.full(3, math.inf)
    norms = np.linalg.norm(J, axis=0)
    norms[norms == 0] = 1.0
    Js = J / norms
    try:
        eigenvalues, V = np.linalg.eigh(Js.T @ Js)
    except np.linalg.LinAlgError:
        return np.full(3, math.inf)
    order = np.argsort(eigenvalues)[::-1]
    s = np.sqrt(np.maximum(eigenvalues[order], 0.0))
    Vt = V[:, order].T
    # a direction the data do not constrain has (near) zero singular value: the parameters
    # along it are undetermined, so their error is infinite, not the zero a pseudo-inverse gives
    # (1e-7: the normal matrix squares the condition number, so smaller is rounding noise)
    determined = s > 1e-7 * s[0]
    weights = Vt**2  # weights[i, j]: share of parameter j in direction i
    variance = (weights[determined] / s[determined, None] ** 2).sum(axis=0)
    variance[(weights[~determined] > 1e-12).any(axis=0)] = np.inf
    return np.sqrt(variance * max(chi2_red, 1.0)) / norms


def fit(T_K, rho_ohm_sq, model: str, sigma=None) -> FitResult:
    """Fit ``model`` ('eq1' or 'eq2') to ρ(T); FitError when the data cannot support a fit."""
    if model not in PARAMS:
        raise FitError(f"unknown model {model!r}; use eq1 or eq2")
    T = np.asarray(T_K, dtype=float)
    r = np.asarray(rho_ohm_sq, dtype=float)
    keep = np.isfinite(T) & np.isfinite(r) & (T > 0)
    if sigma is not None:
        sigma = np.asarray(sigma, dtype=float)[keep]
    if not keep.all():
        T, r = T[keep], r[keep]
    # in T order from here on (the fit does not depend on the order; the sorts below get cheap)
    order = np.argsort(T, kind="stable")
    T, r = T[order], r[order]
    if len(T) < MIN_POINTS:
        raise FitError(f"{len(T)} usable points; a fit needs at least {MIN_POINTS}")
    if T.max() / T.min() < 1.2:
        raise FitError(f"temperatures span only {T.min():.4g}–{T.max():.4g} K; "
                       "a fit needs at least 20 %")
    if model == "eq1" and np.any(r <= 0):
        raise FitError("Eq. 1 needs positive ρ (1/ρ is the conductivity)")
    s = estimate_uncertainty(T, r) if sigma is None else sigma[order]
    notes: list[str] = []

    plain = _solve(model, T, r, s, initial_guess(model, T, r), robust=False)
    p_final, robust_kept = plain.x, False
    robust = _solve(model, T, r, s, plain.x, robust=True)
    saturation_data = float(np.median(r[: max(len(T) // 10, 3)]))  # T is sorted
    y_robust = _model(model, np.array([T.min()]), robust.x)[0][0]
    consistent = (np.all(np.isfinite(robust.x)) and np.all(np.abs(robust.x - plain.x) < 3.0)
                  and abs(y_robust - saturation_data) <= 10 * max(abs(saturation_data), 1e-300)
                  + 5 * float(np.median(s)))
    if consistent:
        p_final, robust_kept = robust.x, True
    else:
        notes.append("robust fit disagreed with the plain fit and the data; plain fit kept")
    resid = (_model(model, T, p_final)[0] - r) / s
    inliers = np.abs(resid) < 5.0
    if inliers.sum() < 0.95 * len(T):
        # more than a few 'outliers' means the curve does not describe the data: judge the fit
        # on every point (else a hopeless model could hide its misfit as outliers)
        inliers[:] = True
    chi2 = float(np.sum(resid[inliers] ** 2)) / max(int(inliers.sum()) - 3, 1)
    errors = _errors(model, T[inliers], s[inliers], p_final, chi2)
    # the model clips its log-parameters at ±300 (_model); report what it evaluated, not an
    # overflow (a fit of a model that cannot describe the data can wander that far)
    values = np.exp(np.clip(p_final, -300.0, 300.0))
    names = PARAMS[model]
    return FitResult(model, dict(zip(names, map(float, values), strict=True)),
                     dict(zip(names, map(float, errors), strict=True)), chi2, len(T),
                     float(T.min()), float(T.max()), robust_kept, int((~inliers).sum()), notes)


# ----------------------------------------------------------------------------------- choice


@dataclass
class Choice:
    """The model for one field, why, and the other model's fit."""

    model: str
    decided: bool
    reason: str
    fits: dict[str, FitResult]
    slope_ohm_per_K: float
    slope_stderr: float

    @property
    def best(self) -> FitResult:
        return self.fits[self.model]


def low_temperature_slope(T_K: np.ndarray, rho_ohm: np.ndarray) -> tuple[float, float]:
    """dρ/dT and its standard error from a straight line through the coldest third.

    Readings a few lock-in time constants apart share noise (the output filter's correlation
    time is 1–3 τ), so the residuals are not independent: the error is widened by the AR(1)
    factor √((1 + r₁)/(1 − r₁)) of their lag-one correlation r₁ (≥ 0), else a flat saturation
    can show a spurious 3σ slope.
    """
    order = np.argsort(T_K, kind="stable")  # O(n) on data that are sorted already
    n = max(len(order) // 3, 3)
    T, r = T_K[order[:n]], rho_ohm[order[:n]]
    if np.ptp(T) == 0:
        return 0.0, math.inf
    A = np.vstack([T, np.ones_like(T)]).T
    coef, res, *_ = np.linalg.lstsq(A, r, rcond=None)
    dof = max(n - 2, 1)
    s2 = float(res[0]) / dof if len(res) else float(np.var(r - A @ coef))
    var = s2 / float(np.sum((T - T.mean()) ** 2))
    resid = r - A @ coef
    denominator = float(resid @ resid)
    r1 = float(resid[1:] @ resid[:-1]) / denominator if denominator > 0 else 0.0
    r1 = min(max(r1, 0.0), 0.95)
    return float(coef[0]), math.sqrt(var * (1 + r1) / (1 - r1))


def choose_model(T_K, rho_ohm_sq, sigma=None) -> Choice:
    """Eq. 2 for dρ/dT > 0 at low T (failed superconductor), Eq. 1 for dρ/dT < 0 (failed
    insulator); the fits' quality decides when the slope is not significant, and when neither
    settles it both fits are reported as undecided."""
    T = np.asarray(T_K, dtype=float)
    r = np.asarray(rho_ohm_sq, dtype=float)
    fits: dict[str, FitResult] = {}
    errors: dict[str, str] = {}
    for model in ("eq1", "eq2"):
        try:
            fits[model] = fit(T, r, model, sigma)
        except FitError as exc:
            errors[model] = str(exc)
    if not fits:
        raise FitError("; ".join(f"{m}: {e}" for m, e in errors.items()))
    slope, err = low_temperature_slope(T, r)
    t = slope / err if err > 0 else 0.0
    by_sign = "eq2" if slope > 0 else "eq1"
    sign_word = "positive (superconducting side)" if slope > 0 else "negative (insulating side)"
    if abs(t) >= 3 and by_sign in fits:
        other = "eq1" if by_sign == "eq2" else "eq2"
        reason = f"dρ/dT at low temperature is {sign_word}: {slope:.4g} ± {err:.2g} Ω/K"
        if other in fits and fits[other].chi2_red < 0.5 * fits[by_sign].chi2_red:
            reason += (f"; but {other} fits better (χ²_red {fits[other].chi2_red:.3g} vs "
                       f"{fits[by_sign].chi2_red:.3g}) — both reported")
            return Choice(by_sign, False, reason, fits, slope, err)
        return Choice(by_sign, True, reason, fits, slope, err)
    if len(fits) == 1:
        (only,) = fits
        if only == "eq2" and np.any(r <= 0):  # ρ ≤ 0 (superconducting, at the noise floor)
            return Choice(only, True, "ρ reaches zero within the noise: only Eq. 2 can describe "
                          "it", fits, slope, err)
        return Choice(only, False, f"only {only} could be fitted ({errors})", fits, slope, err)
    better = min(fits, key=lambda m: fits[m].chi2_red)
    worse = "eq1" if better == "eq2" else "eq2"
    ratio = fits[worse].chi2_red / max(fits[better].chi2_red, 1e-300)
    if ratio >= 1.5:
        return Choice(better, True, f"low-temperature slope not significant ({slope:.3g} ± "
                      f"{err:.2g} Ω/K); {better} fits better (χ²_red {fits[better].chi2_red:.3g}"
                      f" vs {fits[worse].chi2_red:.3g})", fits, slope, err)
    return Choice(better, False, f"the data cannot decide: slope {slope:.3g} ± {err:.2g} Ω/K, "
                  f"χ²_red eq1 {fits['eq1'].chi2_red:.3g}, eq2 {fits['eq2'].chi2_red:.3g} — "
                  "both reported", fits, slope, err)
