"""The report figure of a run: the ρ(T) family (paper Fig. 3) and the field summary (Fig. 4).

Left: log ρ against T, one colour per field (neighbouring fields always far apart in colour, named
in a legend), valid points solid, excluded points faint, each field's fit drawn over its data,
the labelled R_Q line. Middle: σ_QF (insulating branch, Eq. 1) and 1/ρ_QF
(superconducting branch, Eq. 2) against H with their power laws on a log axis, the
R_Q = h/4e² separatrix, H*, and E_a/k_B with the zeros of d²ρ/dT² (Fig. 4a: from the data and
from the fits) on the right axis. Right, when the run has a Hall channel: ρ_xy antisymmetrised
in field against T for each |H| measured at both signs (R_H and the σ_xy ≈ 0 check in the
legend), or ρ_xy as measured when no field was measured at both signs.
Uses matplotlib's object API (no pyplot state), so it can run next to the GUI.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from cryolab.analysis.fit import MIN_POINTS
from cryolab.analysis.hall import HallSummary, analyze_hall, hall_pairs
from cryolab.analysis.summary import FieldSummary, analyze_points
from cryolab.runfile import RunFile
from cryolab.units import R_Q_OHM

FORMATS = (".png", ".pdf", ".svg")


def field_colours(fields: list[float]) -> dict[float, tuple]:
    """One colour per field, by rank rather than by value, so that fields close in value (50,
    100, 150 … Oe on a 0–600 Oe night) are not shades a colour bar cannot tell apart: Tableau's
    ten qualitative colours for up to ten fields, their ten light companions after them for up
    to twenty, else evenly spaced along 'turbo'."""
    ordered = sorted(set(fields))
    if len(ordered) <= 20:
        palette = matplotlib.colormaps["tab20"]  # (dark, light) pairs: the darks first
        order = [2 * i for i in range(10)] + [2 * i + 1 for i in range(10)]
        return {H: palette(order[i]) for i, H in enumerate(ordered)}
    palette = matplotlib.colormaps["turbo"]
    last = len(ordered) - 1
    return {H: palette(0.05 + 0.9 * i / last) for i, H in enumerate(ordered)}


def sweep_fields(points: np.ndarray, summary: FieldSummary) -> list[float]:
    """The fields the night measured at (|H|, rounded to 1 Oe): every fitted one, and any with
    as many points as a fit needs; not the fields passed through while the magnet ramped."""
    H = np.abs(np.round(points["field_Oe"][np.isfinite(points["field_Oe"])]))
    values, counts = np.unique(H, return_counts=True)
    return sorted({abs(r.field_Oe) for r in summary.rows}
                  | {float(v) for v, n in zip(values, counts, strict=True) if n >= MIN_POINTS})


def draw(points: np.ndarray, summary: FieldSummary, title: str = "", channel: str = "xx",
         hall: HallSummary | None = None) -> Figure:
    panels = 3 if hall is not None else 2
    fig = Figure(figsize=(13.5 if panels == 2 else 19.0, 5.6), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, panels, width_ratios=[1.15, 1, 1][:panels])
    family, fields = axes[0], axes[1]
    field_values = sweep_fields(points, summary)
    colour_of = field_colours(field_values)

    rho_all, valid_all = points[f"{channel}_rho_ohm_sq"], points[f"{channel}_valid"]
    rounded = np.abs(np.round(points["field_Oe"]))  # ±H in one colour: ρ_xx is even in H
    positive = rho_all > 0
    ramping = positive & ~np.isin(rounded, field_values)  # taken while the field moved
    family.plot(points["T_sample_K"][ramping], rho_all[ramping], ".", ms=1.5, color="0.6",
                alpha=0.3, rasterized=True)
    for H in field_values:
        at = (rounded == H) & positive
        color = colour_of[H]
        excluded = at & ~valid_all
        valid = at & valid_all
        family.plot(points["T_sample_K"][excluded], rho_all[excluded], ".",
                    ms=2, color=color, alpha=0.12, rasterized=True)
        family.plot(points["T_sample_K"][valid], rho_all[valid], ".", ms=2.5,
                    color=color, rasterized=True)
    for row in summary.rows:
        f = row.fit
        T = np.geomspace(f.T_min_K, f.T_max_K, 200)
        family.plot(T, f.rho(T), "-", lw=1.1, color="black", alpha=0.8)
    family.set_yscale("log")
    shown = rho_all[positive & valid_all]
    if len(shown):  # the data set the range, not a fit that dives toward ρ_QF = 0
        family.set_ylim(np.percentile(shown, 1) / 2, shown.max() * 2)
    family.set_xlabel("T (K)")
    family.set_ylabel("ρ (Ω/□)")
    family.set_title("ρ(T) at each field — fits in black, excluded points faint")
    family.axhline(R_Q_OHM, color="tab:red", lw=0.8, ls=":")
    family.text(0.99, R_Q_OHM, f"R_Q = h/4e² = {R_Q_OHM / 1e3:.2f} kΩ", color="tab:red",
                fontsize=8, ha="right", va="bottom", transform=family.get_yaxis_transform(),
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1.0})
    family.legend([Line2D([], [], ls="", marker="o", ms=5, color=colour_of[H])
                   for H in field_values], [f"{H:g} Oe" for H in field_values],
                  title="|H|", fontsize=7, title_fontsize=7,
                  ncol=2 if len(field_values) > 8 else 1, loc="lower right", framealpha=0.9)

    ins = [r for r in summary.rows if r.fit.model == "eq1"]
    sc = [r for r in summary.rows if r.fit.model == "eq2" and r.field_Oe > 0
          and r.fit.values["rho_qf"] > 0]
    if ins:
        H = np.array([r.field_Oe for r in ins])
        y = np.array([r.fit.values["sigma_qf"] for r in ins])
        e = np.array([r.fit.stderr["sigma_qf"] for r in ins])
        fields.errorbar(H, y, e, fmt="D", color="tab:blue", ms=5, label="σ_QF (Eq. 1)")
    if sc:
        H = np.array([r.field_Oe for r in sc])
        rho_qf = np.array([r.fit.values["rho_qf"] for r in sc])
        e = np.array([r.fit.stderr["rho_qf"] for r in sc]) / rho_qf**2
        fields.errorbar(H, 1 / rho_qf, e, fmt="s", color="tab:green", ms=5,
                        label="1/ρ_QF (Eq. 2)")
    for law, color, name in ((summary.insulating, "tab:blue", "σ_QF"),
                             (summary.superconducting, "tab:green", "1/ρ_QF")):
        rows = ins if name == "σ_QF" else sc
        if law is not None and rows:
            H = np.linspace(min(r.field_Oe for r in rows), max(r.field_Oe for r in rows), 50)
            fields.plot(H, law(H), "--", color=color, lw=1,
                        label=f"{name} ∝ H^({law.exponent:.3g} ± {law.exponent_err:.2g})")
    fields.axhline(1 / R_Q_OHM, color="tab:red", lw=1, label="1/R_Q, R_Q = h/4e²")
    if math.isfinite(summary.H_star_Oe):
        fields.axvline(summary.H_star_Oe, color="gray", ls=":", lw=1,
                       label=f"H* ≈ {summary.H_star_Oe:.0f} Oe")
    fields.set_yscale("log")
    fields.set_xlabel("H (Oe)")
    fields.set_ylabel("σ_QF or 1/ρ_QF (S/□)")
    fields.set_title("field summary")
    energy = fields.twinx()
    if summary.rows:
        H = np.array([r.field_Oe for r in summary.rows])
        Ea = np.array([r.fit.values["Ea_K"] for r in summary.rows])
        Ea_err = np.array([r.fit.stderr["Ea_K"] for r in summary.rows])
        energy.errorbar(H, Ea, Ea_err, fmt="o-", color="black", ms=4, lw=0.8, label="E_a/k_B")
        for attribute, marker, color, name in (
                ("curvature_zeros_model_K", "o", "salmon", "d²ρ/dT² = 0 (fit)"),
                ("curvature_zeros_data_K", "x", "firebrick", "d²ρ/dT² = 0 (data)")):
            zeros = [(r.field_Oe, z) for r in summary.rows for z in getattr(r, attribute)]
            if zeros:
                zH, zT = zip(*zeros, strict=True)
                energy.plot(zH, zT, marker, color=color, ms=4, alpha=0.8, label=name)
    energy.set_ylabel("E_a/k_B, curvature zero (K)")
    handles = fields.get_legend_handles_labels()
    handles2 = energy.get_legend_handles_labels()
    fields.legend(handles[0] + handles2[0], handles[1] + handles2[1], fontsize=7, loc="best")
    if hall is not None:
        _draw_hall(axes[2], points, hall, colour_of)
    if title:
        fig.suptitle(title)
    return fig


def _draw_hall(ax, points: np.ndarray, hall: HallSummary, colour_of: dict[float, tuple]) -> None:
    """ρ_xy,anti(T) per |H| with R_H in the legend; raw ρ_xy(T) if no field has both signs."""
    if hall.fields:
        for f in hall.fields:
            mean, err = f.R_H_mean
            ax.errorbar(f.T_K, f.rho_xy_anti, f.rho_xy_anti_err, fmt=".-", ms=3, lw=0.8,
                        color=colour_of.get(abs(f.field_Oe), "black"),
                        label=f"{f.field_Oe:g} Oe: R_H = {mean:.3g} ± {err:.2g} Ω/T, "
                              f"max |ρ_xy/ρ_xx| = {f.hall_ratio_max:.2g}")
        ax.set_title("Hall: ρ_xy antisymmetrised in H")
        ax.legend(fontsize=7, loc="best")
    else:
        column, valid = f"{hall.xy}_rho_ohm_sq", points[f"{hall.xy}_valid"]
        rounded = np.round(points["field_Oe"])
        for H in np.unique(rounded[valid]):
            at = valid & (rounded == H)
            ax.plot(points["T_sample_K"][at], points[column][at], ".", ms=2,
                    color=colour_of.get(abs(H), colour_of.get(H, "black")), rasterized=True)
        ax.set_title("Hall: ρ_xy as measured (one sign of H only)")
    ax.axhline(0.0, color="gray", lw=0.6)
    ax.set_xscale("log")
    ax.set_xlabel("T (K)")
    ax.set_ylabel(f"ρ_xy ({hall.xy}) (Ω)")


def make_report(run_path: str | Path, out_path: str | Path, model: str = "auto") -> Path:
    """Analyse a run file's points and write the figure (PNG, PDF or SVG by extension)."""
    out = Path(out_path)
    if out.suffix.lower() not in FORMATS:
        raise ValueError(f"{out}: the report is written as {', '.join(FORMATS)}")
    with RunFile(run_path) as run:
        points = run.points()
        attrs = run.attrs
        channel = (run.longitudinal_channels() or run.channel_names)[0]
        pairs = hall_pairs(run.channels)
    summary, skipped = analyze_points(points, model, channel)
    hall = analyze_hall(points, *pairs[0]) if pairs else None
    title = f"{attrs.get('sequence_name', '')} — {Path(run_path).name}"
    if attrs.get("simulated"):
        title += f" (simulated, sample {attrs.get('preset')})"
    if skipped:
        title += f" — not fitted: {len(skipped)} field(s)"
    fig = draw(points, summary, title, channel, hall)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=130)
    return out
