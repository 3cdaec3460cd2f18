"""What the GUI says about a live fit: a result with units, or a first look that is not one.

A fit is shown as a result only when the data determine every parameter (the rule of
``cryolab.analysis.quality``, the one ``cryolab fit`` applies to a forced model); until then the
plot draws no curve and the line under it says how far the fit has got. "decided" appears only
when the model choice is (``Choice.decided``).
"""

from __future__ import annotations

from cryolab.analysis.fit import Choice
from cryolab.analysis.quality import SYMBOLS, format_parameters, undetermined

MODEL_NAMES = {"eq1": "Eq. 1, insulating side", "eq2": "Eq. 2, superconducting side"}


def fit_is_result(choice: Choice) -> bool:
    return not undetermined(choice.best)


def describe(choice: Choice | None, points: int) -> str:
    """Two lines: the model and its standing; the parameters with their units."""
    if choice is None:
        return "no fit yet: a fit needs 20 valid points over 20 % in temperature" if points \
            else ""
    best = choice.best
    span = f"{best.n_points} points, {best.T_min_K:.3g}–{best.T_max_K:.3g} K"
    missing = undetermined(best)
    if missing:
        names = ", ".join(SYMBOLS[m] for m in missing)
        return (f"first look, not a result yet ({span}): {names} not determined by the data "
                f"so far\n{best.model} ({MODEL_NAMES[best.model]}) tried; the curve is drawn "
                "once every parameter is determined")
    standing = "decided" if choice.decided else "undecided (both models reported)"
    return (f"{best.model} ({MODEL_NAMES[best.model]}), {standing} · χ²_red {best.chi2_red:.3g}"
            f" · {span}\n{format_parameters(best)}")
