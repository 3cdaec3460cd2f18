"""The field summary (paper Fig. 4): one row per field, power laws of each branch, H*, and the
zeros of the curvature d²ρ/dT².

Insulating branch (Eq. 1): σ_QF(H); superconducting branch (Eq. 2): 1/ρ_QF(H); each is fitted
with a power law ∝ H^α in log–log (weighted by the relative errors; H = 0 left out). H* is where
the model changes with field: halfway between the highest Eq. 2 field and the lowest Eq. 1 field;
``H_RQ_Oe`` is where the saturation resistance crosses R_Q = h/4e² (log interpolation), the
paper's separatrix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.interpolate import make_smoothing_spline
from scipy.optimize import brentq

from cryolab.analysis.fit import MIN_POINTS, Choice, FitError, FitResult, choose_model, fit
from cryolab.units import R_Q_OHM

#: columns of the /summary table (docs/analysis.md)
SUMMARY_FIELDS = [
    ("field_Oe", "f8"), ("model", "S3"), ("decided", "?"),
    ("sigma_qf_S", "f8"), ("sigma_qf_err_S", "f8"),
    ("rho_qf_ohm_sq", "f8"), ("rho_qf_err_ohm_sq", "f8"),
    ("prefactor", "f8"), ("prefactor_err", "f8"),
    ("Ea_K", "f8"), ("Ea_err_K", "f8"),
    ("saturation_ohm_sq", "f8"), ("chi2_red", "f8"), ("n_points", "i4"),
    ("T_min_K", "f8"), ("T_max_K", "f8"),
    ("curvature_zero_data_K", "f8"), ("curvature_zero_model_K", "f8"),
]
SUMMARY_DTYPE = np.dtype(SUMMARY_FIELDS)


@dataclass
class FieldResult:
    field_Oe: float
    choice: Choice
    curvature_zeros_data_K: list[float]
    curvature_zeros_model_K: list[float]

    @property
    def fit(self) -> FitResult:
        return self.choice.best


@dataclass
class PowerLaw:
    """y = A · (H / 1 Oe)^exponent."""

    exponent: float
    exponent_err: float
    amplitude: float
    n_fields: int

    def __call__(self, H_Oe):
        return self.amplitude * np.asarray(H_Oe, dtype=float) ** self.exponent


@dataclass
class FieldSummary:
    rows: list[FieldResult]
    insulating: PowerLaw | None = None  # σ_QF(H), Eq. 1 fields
    superconducting: PowerLaw | None = None  # 1/ρ_QF(H), Eq. 2 fields
    H_star_Oe: float = math.nan
    H_RQ_Oe: float = math.nan
    notes: list[str] = field(default_factory=list)

    def table(self) -> np.ndarray:
        out = np.zeros(len(self.rows), dtype=SUMMARY_DTYPE)
        for i, row in enumerate(self.rows):
            f = row.fit
            v, e = f.values, f.stderr
            qf_sigma = v.get("sigma_qf", math.nan)
            qf_rho = v.get("rho_qf", math.nan)
            pref = v.get("sigma_0", v.get("rho_0", math.nan))
            pref_err = e.get("sigma_0", e.get("rho_0", math.nan))
            out[i] = (row.field_Oe, f.model.encode(), row.choice.decided, qf_sigma,
                      e.get("sigma_qf", math.nan), qf_rho, e.get("rho_qf", math.nan), pref,
                      pref_err, v["Ea_K"], e["Ea_K"], f.saturation_ohm_sq, f.chi2_red,
                      f.n_points, f.T_min_K, f.T_max_K,
                      _first(row.curvature_zeros_data_K), _first(row.curvature_zeros_model_K))
        return out

    def attrs(self) -> dict[str, float]:
        out: dict[str, float] = {"H_star_Oe": self.H_star_Oe, "H_RQ_Oe": self.H_RQ_Oe,
                                 "R_Q_ohm": R_Q_OHM}
        for name, law in (("insulating", self.insulating), ("superconducting",
                                                             self.superconducting)):
            if law is not None:
                out[f"{name}_exponent"] = law.exponent
                out[f"{name}_exponent_err"] = law.exponent_err
                out[f"{name}_amplitude"] = law.amplitude
                out[f"{name}_n_fields"] = law.n_fields
        return out


def _first(values: list[float]) -> float:
    return values[0] if values else math.nan


# ----------------------------------------------------------------------------------- curvature


def curvature_zeros_model(result: FitResult, T_min: float, T_max: float) -> list[float]:
    """Where d²ρ/dT² of the fitted curve changes sign (numerical second derivative in T)."""
    grid = np.geomspace(T_min, T_max, 400)

    def d2(T):
        h = 1e-4 * T
        return (result.rho(T + h) - 2 * result.rho(T) + result.rho(T - h)) / (h * h)

    values = d2(grid)
    zeros = []
    for i in np.flatnonzero(np.sign(values[:-1]) * np.sign(values[1:]) < 0):
        zeros.append(float(brentq(lambda T: float(d2(T)), grid[i], grid[i + 1])))
    return zeros


def curvature_zeros_data(T_K: np.ndarray, rho_ohm: np.ndarray, bins: int = 80) -> list[float]:
    """Sign changes of d²ρ/dT² of a smoothing spline (λ by GCV) through the data averaged in
    log-T bins, away from the ends of the range where a spline's curvature is unreliable."""
    T, r = np.asarray(T_K, dtype=float), np.asarray(rho_ohm, dtype=float)
    if len(T) < 20 or T.min() <= 0:
        return []
    edges = np.geomspace(T.min(), T.max() * (1 + 1e-12), bins + 1)
    which = np.digitize(T, edges) - 1
    counts = np.bincount(which, minlength=bins)[:bins]
    used = counts > 0
    if used.sum() < 10:
        return []
    T_mean = (np.bincount(which, T, bins) / np.maximum(counts, 1))[used]
    r_mean = (np.bincount(which, r, bins) / np.maximum(counts, 1))[used]
    try:
        spline = make_smoothing_spline(T_mean, r_mean, w=counts[used].astype(float))
    except (ValueError, np.linalg.LinAlgError):
        return []
    span = math.log(T_mean[-1] / T_mean[0])  # trim 5 % of the log-T range at each end
    lo, hi = T_mean[0] * math.exp(0.05 * span), T_mean[-1] * math.exp(-0.05 * span)
    grid = np.geomspace(lo, hi, 400)
    values = spline.derivative(2)(grid)
    crossings = [float(grid[i] - values[i] * (grid[i + 1] - grid[i]) / (values[i + 1] - values[i]))
                 for i in np.flatnonzero(np.sign(values[:-1]) * np.sign(values[1:]) < 0)]
    # near a broad inflection the curvature hovers around zero and noise makes it cross several
    # times: crossings closer than 15 % of the log-T range form one group, which is a zero only
    # if it changes the sign overall (an odd number of crossings); reported at its median
    if not crossings:
        return []
    scale = float(np.max(np.abs(values)))
    window = 0.15 * math.log(hi / lo)

    def clearly_curved(a: float, b: float) -> bool:
        """|d²ρ/dT²| reaches 10 % of its maximum somewhere between T = a and T = b."""
        inside = (grid >= a) & (grid <= b)
        return bool(inside.any() and np.max(np.abs(values[inside])) > 0.10 * scale)

    zeros, group = [], crossings[:1]
    for c in [*crossings[1:], math.inf]:
        if c < math.inf and math.log(c / group[-1]) < window:
            group.append(c)
            continue
        left = clearly_curved(group[0] * math.exp(-window), group[0])
        right = clearly_curved(group[-1], group[-1] * math.exp(window))
        if len(group) % 2 == 1 and left and right:
            zeros.append(float(np.median(group)))
        group = [c]
    return zeros


# ----------------------------------------------------------------------------------- fields


def analyze_field(field_Oe: float, T_K, rho_ohm_sq, model: str = "auto") -> FieldResult:
    T = np.asarray(T_K, dtype=float)
    r = np.asarray(rho_ohm_sq, dtype=float)
    if model == "auto":
        choice = choose_model(T, r)
    else:
        result = fit(T, r, model)
        choice = Choice(model, True, f"{model} requested", {model: result}, math.nan, math.nan)
    best = choice.best
    return FieldResult(field_Oe, choice, curvature_zeros_data(T, r),
                       curvature_zeros_model(best, best.T_min_K, best.T_max_K))


def power_law(H: np.ndarray, y: np.ndarray, y_err: np.ndarray) -> PowerLaw | None:
    """Weighted straight line in ln y vs ln H; the exponent's error from the fit's covariance
    (scaled by the scatter when there are more than two fields)."""
    keep = (H > 0) & (y > 0) & np.isfinite(y) & np.isfinite(y_err)
    H, y, y_err = H[keep], y[keep], y_err[keep]
    if len(H) < 2:
        return None
    x, z = np.log(H), np.log(y)
    rel = np.maximum(y_err / y, 1e-6)
    w = 1.0 / rel**2
    A = np.vstack([x, np.ones_like(x)]).T
    W = np.diag(w)
    cov = np.linalg.pinv(A.T @ W @ A)
    coef = cov @ A.T @ W @ z
    if len(H) > 2:
        resid = z - A @ coef
        chi2_red = float(resid @ W @ resid) / (len(H) - 2)
        cov = cov * max(chi2_red, 1.0)
    return PowerLaw(float(coef[0]), float(math.sqrt(cov[0, 0])), float(math.exp(coef[1])),
                    len(H))


def summarize(rows: list[FieldResult]) -> FieldSummary:
    rows = sorted(rows, key=lambda r: r.field_Oe)
    summary = FieldSummary(rows)
    ins = [r for r in rows if r.fit.model == "eq1"]
    sc = [r for r in rows if r.fit.model == "eq2"]
    if ins:
        summary.insulating = power_law(
            np.array([r.field_Oe for r in ins]), np.array([r.fit.values["sigma_qf"] for r in ins]),
            np.array([r.fit.stderr["sigma_qf"] for r in ins]))
    if sc:
        rho_qf = np.array([r.fit.values["rho_qf"] for r in sc])
        rho_err = np.array([r.fit.stderr["rho_qf"] for r in sc])
        # 1/ρ_QF: relative errors carry over unchanged. A ρ_QF fitted to ~0 gives an infinite
        # 1/ρ_QF, which power_law drops as non-finite (no overflow warnings on the way).
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            inverse = np.where(rho_qf > 0, 1.0 / rho_qf, np.nan)
            inverse_err = inverse * (rho_err / rho_qf)
        summary.superconducting = power_law(np.array([r.field_Oe for r in sc]), inverse,
                                            inverse_err)
    if ins and sc:
        top_sc = max(r.field_Oe for r in sc)
        low_ins = min(r.field_Oe for r in ins)
        if top_sc < low_ins:
            summary.H_star_Oe = 0.5 * (top_sc + low_ins)
        else:
            summary.notes.append("the models interleave in field; H* is not a single crossing")
    fields = np.array([r.field_Oe for r in rows])
    saturation = np.array([r.fit.saturation_ohm_sq for r in rows])
    above = saturation > R_Q_OHM
    for i in range(len(rows) - 1):
        if not above[i] and above[i + 1] and saturation[i] > 0:
            a, b = math.log(saturation[i]), math.log(saturation[i + 1])
            frac = (math.log(R_Q_OHM) - a) / (b - a)
            summary.H_RQ_Oe = float(fields[i] + frac * (fields[i + 1] - fields[i]))
            break
    return summary


def group_by_field(points: np.ndarray, channel: str = "xx", decimals: int = 0
                   ) -> dict[float, np.ndarray]:
    """A channel's valid points grouped by their (rounded) |H|: ρ_xx is even in H, so the
    sweeps at +H and −H are fitted together — which symmetrises them."""
    valid = points[points[f"{channel}_valid"]]
    keys = np.abs(np.round(valid["field_Oe"], decimals))
    return {float(k): valid[keys == k] for k in np.unique(keys)}


def analyze_points(points: np.ndarray, model: str = "auto", channel: str = "xx"
                   ) -> tuple[FieldSummary, list[str]]:
    """Per-field fits of a channel's valid points (T_sample, ρ) and the summary; fields that
    cannot be
    fitted are listed with the reason instead of stopping the analysis. A field with fewer
    points than any fit needs is not a field of the sweep but points taken while the magnet
    was ramping between two: they are left out, not reported as a failed fit."""
    rows, skipped = [], []
    for field_Oe, pts in group_by_field(points, channel).items():
        if len(pts) < MIN_POINTS:
            continue
        try:
            rows.append(analyze_field(field_Oe, pts["T_sample_K"], pts[f"{channel}_rho_ohm_sq"],
                                      model))
        except FitError as exc:
            skipped.append(f"{field_Oe:g} Oe: {exc}")
    return summarize(rows), skipped
