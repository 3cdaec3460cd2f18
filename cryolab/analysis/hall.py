"""The Hall channel: ρ_xx symmetrised and ρ_xy antisymmetrised in field, R_H(T), and the check
behind Eq. 1 that σ_xy ≈ 0.

Hall probes a distance Δx apart along the bar pick up m·ρ_xx (m = Δx/W) as well as the Hall
voltage, and ρ_xx itself may carry a small odd part (a contact, a thermoelectric offset). With
the same T sweep measured at +H and −H, the even and odd parts separate (Onsager: ρ_xx(H) =
ρ_xx(−H), ρ_xy(H) = −ρ_xy(−H) for the intrinsic parts):

    ρ_xx,sym = [ρ_xx(+H) + ρ_xx(−H)] / 2        ρ_xy,anti = [ρ_xy(+H) − ρ_xy(−H)] / 2
    R_H = ρ_xy,anti / B,  B = μ₀H (1 Oe ↔ 10⁻⁴ T)

and the conductivity tensor is the inverse of the resistivity tensor [[ρ_xx, ρ_xy],
[−ρ_xy, ρ_xx]]:

    σ_xx = ρ_xx / (ρ_xx² + ρ_xy²)        σ_xy = −ρ_xy / (ρ_xx² + ρ_xy²)

Eq. 1 adds conductances (σ = σ_QF + σ_0 e^(−E_a/T)), which is ρ = 1/σ only if σ_xy ≈ 0, i.e.
|ρ_xy| ≪ ρ_xx; ``hall_ratio_max`` and ``sigma_xx_deviation_max`` say how well that holds.

The two sweeps are compared on common temperature bins (log-spaced; each bin's median and its
standard error), inside the temperature range both sweeps cover.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from cryolab.units import OE_PER_TESLA

BINS_PER_DECADE = 20
MIN_POINTS_PER_BIN = 2
MIN_POINTS_PER_SIGN = 10


@dataclass
class HallField:
    """One |H| measured at both signs, on common temperature bins."""

    field_Oe: float  # |H|
    T_K: np.ndarray  # bin centres (geometric)
    rho_xx_sym: np.ndarray  # Ω/□
    rho_xx_sym_err: np.ndarray
    rho_xx_anti: np.ndarray  # Ω/□: should be ≈ 0 (what a contact or offset adds)
    rho_xy_anti: np.ndarray  # Ω: the Hall resistivity
    rho_xy_anti_err: np.ndarray
    rho_xy_sym: np.ndarray  # Ω: what misaligned probes pick up of ρ_xx
    R_H_ohm_per_T: np.ndarray  # ρ_xy,anti / B
    R_H_err_ohm_per_T: np.ndarray
    sigma_xx_S: np.ndarray  # σ_xx from the symmetrised tensor
    sigma_xy_S: np.ndarray

    @property
    def misalignment(self) -> float:
        """ρ_xy,sym / ρ_xx,sym: the probes' offset along the bar over its width (median)."""
        return float(np.nanmedian(self.rho_xy_sym / self.rho_xx_sym))

    @property
    def R_H_mean(self) -> tuple[float, float]:
        """R_H averaged over the temperature bins (weighted), with its standard error, Ω/T."""
        ok = np.isfinite(self.R_H_ohm_per_T) & (self.R_H_err_ohm_per_T > 0)
        if not ok.any():
            return math.nan, math.nan
        w = 1.0 / self.R_H_err_ohm_per_T[ok] ** 2
        return (float(np.sum(w * self.R_H_ohm_per_T[ok]) / np.sum(w)),
                float(1.0 / math.sqrt(np.sum(w))))

    @property
    def hall_ratio_max(self) -> float:
        """max |ρ_xy,anti| / ρ_xx,sym = max |σ_xy/σ_xx|: Eq. 1 needs it ≪ 1."""
        return float(np.nanmax(np.abs(self.rho_xy_anti) / self.rho_xx_sym))

    @property
    def sigma_xx_deviation_max(self) -> float:
        """max |σ_xx·ρ_xx − 1| = ρ_xy²/(ρ_xx² + ρ_xy²): how far σ_xx is from 1/ρ_xx."""
        return float(np.nanmax(np.abs(self.sigma_xx_S * self.rho_xx_sym - 1.0)))


@dataclass
class HallSummary:
    xx: str
    xy: str
    fields: list[HallField] = field(default_factory=list)
    #: fields measured at one sign only (nothing to antisymmetrise), and other remarks
    notes: list[str] = field(default_factory=list)


def _binned(T: np.ndarray, y: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Median and standard error of y in each temperature bin (NaN where too few points)."""
    index = np.digitize(T, edges) - 1
    median = np.full(len(edges) - 1, math.nan)
    error = np.full(len(edges) - 1, math.nan)
    for i in range(len(edges) - 1):
        values = y[index == i]
        if len(values) >= MIN_POINTS_PER_BIN:
            median[i] = np.median(values)
            # the median's standard error for normal noise: 1.2533·s/√n
            error[i] = 1.2533 * np.std(values, ddof=1) / math.sqrt(len(values))
    return median, error


def _valid(points: np.ndarray, xx: str, xy: str) -> np.ndarray:
    ok = points[f"{xx}_valid"] & points[f"{xy}_valid"]
    return points[ok & np.isfinite(points["field_Oe"]) & (points["T_sample_K"] > 0)]


def hall_field(points: np.ndarray, field_Oe: float, xx: str = "xx", xy: str = "xy",
               bins_per_decade: int = BINS_PER_DECADE) -> HallField | None:
    """The ±``field_Oe`` pair of a Hall bar's valid points; None if a sign has too few points
    or the sweeps share no temperature range."""
    pts = _valid(points, xx, xy)
    H = np.round(pts["field_Oe"]) / round(field_Oe)
    up, down = pts[H == 1.0], pts[H == -1.0]
    if min(len(up), len(down)) < MIN_POINTS_PER_SIGN:
        return None
    low = max(up["T_sample_K"].min(), down["T_sample_K"].min())
    high = min(up["T_sample_K"].max(), down["T_sample_K"].max())
    if not high > low:
        return None
    n_bins = max(1, math.ceil(bins_per_decade * math.log10(high / low)))
    edges = np.geomspace(low, high, n_bins + 1)
    edges[-1] = np.nextafter(high, math.inf)  # the hottest point falls in the last bin
    xx_up, xx_up_e = _binned(up["T_sample_K"], up[f"{xx}_rho_ohm_sq"], edges)
    xx_dn, xx_dn_e = _binned(down["T_sample_K"], down[f"{xx}_rho_ohm_sq"], edges)
    xy_up, xy_up_e = _binned(up["T_sample_K"], up[f"{xy}_rho_ohm_sq"], edges)
    xy_dn, xy_dn_e = _binned(down["T_sample_K"], down[f"{xy}_rho_ohm_sq"], edges)
    keep = np.isfinite(xx_up + xx_dn + xy_up + xy_dn)
    if not keep.any():
        return None
    T = np.sqrt(edges[:-1] * edges[1:])[keep]
    xx_up, xx_dn, xy_up, xy_dn = xx_up[keep], xx_dn[keep], xy_up[keep], xy_dn[keep]
    xx_err = 0.5 * np.hypot(xx_up_e[keep], xx_dn_e[keep])
    xy_err = 0.5 * np.hypot(xy_up_e[keep], xy_dn_e[keep])
    rho_xx = 0.5 * (xx_up + xx_dn)
    rho_xy = 0.5 * (xy_up - xy_dn)
    B_T = field_Oe / OE_PER_TESLA
    denominator = rho_xx**2 + rho_xy**2
    return HallField(
        field_Oe=float(field_Oe), T_K=T, rho_xx_sym=rho_xx, rho_xx_sym_err=xx_err,
        rho_xx_anti=0.5 * (xx_up - xx_dn), rho_xy_anti=rho_xy, rho_xy_anti_err=xy_err,
        rho_xy_sym=0.5 * (xy_up + xy_dn), R_H_ohm_per_T=rho_xy / B_T,
        R_H_err_ohm_per_T=xy_err / B_T, sigma_xx_S=rho_xx / denominator,
        sigma_xy_S=-rho_xy / denominator)


def analyze_hall(points: np.ndarray, xx: str = "xx", xy: str = "xy",
                 bins_per_decade: int = BINS_PER_DECADE) -> HallSummary:
    """Every |H| > 0 the run measured at both signs, smallest first."""
    summary = HallSummary(xx, xy)
    pts = _valid(points, xx, xy)
    fields = np.round(pts["field_Oe"])
    counts = {float(h): int((fields == h).sum()) for h in np.unique(fields)}
    for H in sorted({abs(h) for h in counts if h != 0}):
        if min(counts.get(H, 0), counts.get(-H, 0)) < MIN_POINTS_PER_SIGN:
            if max(counts.get(H, 0), counts.get(-H, 0)) >= MIN_POINTS_PER_SIGN:
                summary.notes.append(f"{H:g} Oe: measured at one sign only, not "
                                     "antisymmetrised")
            continue
        result = hall_field(points, H, xx, xy, bins_per_decade)
        if result is None:
            summary.notes.append(f"{H:g} Oe: the +H and −H sweeps share no temperature range")
        else:
            summary.fields.append(result)
    return summary


def hall_pairs(channels: list[dict]) -> list[tuple[str, str]]:
    """(longitudinal, Hall) channel names that share a current path, from a run file's
    channel list (a Hall channel's ρ_xy and the ρ_xx it is compared with)."""
    pairs = []
    for hall in (c for c in channels if c.get("kind") == "hall"):
        source = hall.get("source", hall.get("lockin"))
        partner = next((c["name"] for c in channels if c.get("kind") == "longitudinal"
                        and c.get("source", c.get("lockin")) == source), None)
        if partner is not None:
            pairs.append((partner, hall["name"]))
    return pairs
