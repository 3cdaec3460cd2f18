"""``set_excitation``: the bias current and the lock-ins' frequency, time constant and slope.

``current_nA: auto`` chooses the current for linear response, as the paper's Methods ask
("linear response to excitation current was confirmed at the highest resistance"): at the
night's highest resistance (its coldest temperature and largest |field| after this step, or
``probe_K`` / ``probe_Oe``), ρ is measured on a 1-2-5 ladder of currents within the station's
``limits.current_nA``, from the lowest up, and the largest current whose ρ stays within
``tolerance`` of ρ at the lowest is kept. Heating only grows with the current, so the ladder
stops at the first current beyond the tolerance.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field

from cryolab.inputs import FloatOrAuto, NotBool, auto_or_number
from cryolab.steps.base import (
    STABILIZE_ESTIMATE_S,
    TAU_ESTIMATE_S,
    Count,
    Finite,
    Fraction,
    Frequency,
    LimitChecker,
    PlanState,
    Step,
    StepContext,
    Temperature,
)
from cryolab.steps.linearity_check import longitudinal_channels, mean_rho

TimeConstant = Annotated[FloatOrAuto, auto_or_number(0.0, 30_000.0, "s")]
Current = Annotated[FloatOrAuto, auto_or_number(0.0, 1.0e6, "nA")]


def current_ladder_nA(low: float, high: float) -> list[float]:
    """The 1-2-5 currents strictly between low and high, with both ends: 0.1–1 nA gives
    0.1, 0.2, 0.5, 1."""
    ladder = [low]
    decade = 10.0 ** math.floor(math.log10(low))
    while decade <= high:
        for mantissa in (1.0, 2.0, 5.0):
            value = round(mantissa * decade, 12)
            if low * (1 + 1e-9) < value < high * (1 - 1e-9):
                ladder.append(value)
        decade *= 10.0
    return [*ladder, high]


class SetExcitation(Step):
    """Set the bias current (fixed, or ``auto`` for the largest current with linear response)
    and the lock-ins' frequency and time constant (``auto`` or fixed)."""

    kind: ClassVar[str] = "set_excitation"
    current_nA: Current
    frequency_Hz: Frequency = "auto"
    time_constant_s: TimeConstant = "auto"
    slope_dB_per_oct: Annotated[Literal[6, 12, 18, 24], NotBool] = 24
    #: ``auto`` current: ρ within this fraction of ρ at the lowest current
    tolerance: Fraction = 0.01
    #: ``auto`` current: points averaged at each current of the ladder
    points: Annotated[Count, Field(le=10_000)] = 10
    #: ``auto`` current: where to choose it (default: the plan's coldest temperature and
    #: largest |field| after this step; neither: where the fridge and the magnet are)
    probe_K: Temperature | None = None
    probe_Oe: Finite | None = None

    @property
    def auto_current(self) -> bool:
        return self.current_nA == "auto"

    def planned(self, later: list[Step]) -> Step:
        if not self.auto_current:
            return self
        temperatures = [T for step in later for T in step.visits()[0]]
        fields = [H for step in later for H in step.visits()[1]]
        update: dict[str, float] = {}
        if self.probe_K is None and temperatures:
            update["probe_K"] = min(temperatures)
        if self.probe_Oe is None and fields:
            update["probe_Oe"] = max(fields, key=abs)
        return self.model_copy(update=update) if update else self

    def check(self, path: str, checker: LimitChecker) -> None:
        if not self.auto_current:
            checker.current(f"{path}.current_nA", self.current_nA)  # type: ignore[arg-type]
        checker.frequency(f"{path}.frequency_Hz", self.frequency_Hz)
        checker.time_constant(f"{path}.time_constant_s", self.time_constant_s)
        if self.probe_K is not None:
            checker.temperature(f"{path}.probe_K", self.probe_K)
        if self.probe_Oe is not None:
            checker.field(f"{path}.probe_Oe", self.probe_Oe)

    def describe(self) -> str:
        tail = f"f = {self.frequency_Hz}, τ = {self.time_constant_s}"
        if not self.auto_current:
            return f"excitation {self.current_nA:g} nA, {tail}"
        where = [f"{v:g} {unit}" for v, unit in ((self.probe_K, "K"), (self.probe_Oe, "Oe"))
                 if v is not None]
        at = f" at {', '.join(where)}" if where else ""
        return f"excitation: the largest linear current{at} (±{self.tolerance:.0%}), {tail}"

    def estimate_s(self, state: PlanState) -> float:
        estimate = 20.0 * TAU_ESTIMATE_S
        if self.auto_current:
            from cryolab.sequence import default_field_rate

            if self.probe_Oe is not None:
                rate = default_field_rate(state.settings, state.station)
                estimate += abs(self.probe_Oe - state.field_Oe) / rate
                state.field_Oe = self.probe_Oe
            if self.probe_K is not None:
                max_rate = state.station.limits.max_temperature_ramp_K_per_min
                estimate += abs(self.probe_K - state.T_K) / max_rate * 60 + STABILIZE_ESTIMATE_S
                state.T_K = self.probe_K
            rungs = len(current_ladder_nA(*state.station.limits.current_nA))
            estimate += rungs * (20.0 * TAU_ESTIMATE_S + self.points * state.point_interval_s)
        return estimate

    def execute(self, ctx: StepContext) -> dict[str, Any]:
        tau = None if self.time_constant_s == "auto" else float(self.time_constant_s)
        acq = ctx.acq
        if not self.auto_current:
            ctx.excitation.apply(self.current_nA, self.frequency_Hz, tau, self.slope_dB_per_oct)
            return {"current_A": acq.requested_current_A, "frequency_Hz": acq.frequency_Hz,
                    "time_constant_s": acq.tau_s}
        return {**self._choose_current(ctx, tau), "current_A": acq.requested_current_A,
                "frequency_Hz": acq.frequency_Hz, "time_constant_s": acq.tau_s}

    def _choose_current(self, ctx: StepContext, tau: float | None) -> dict[str, Any]:
        from cryolab.steps.ramp_temperature import go_to_temperature

        acq = ctx.acq
        if self.probe_Oe is not None:
            ctx.field.ramp_to(self.probe_Oe, ctx.field.default_rate, acquire=True)
        if self.probe_K is not None:
            temperature = ctx.temperature
            T_now = temperature.T_mc_K()
            temperature.regulate(max(T_now, self.probe_K))
            temperature.set_ramp(False, ctx.limits.max_temperature_ramp_K_per_min)
            temperature.set_setpoint(T_now)
            if not go_to_temperature(ctx, self.probe_K, T_now, "the current's test temperature"):
                ctx.note(f"not stable at {self.probe_K:g} K; choosing the current anyway",
                         "warning")
        ladder = current_ladder_nA(*ctx.limits.current_nA)
        channels = longitudinal_channels(acq)
        rhos: list[list[float]] = []
        deviations: list[float] = []
        chosen = ladder[0]
        for k, current_nA in enumerate(ladder):
            if k == 0:  # the lowest current also picks the frequency for the sample
                ctx.excitation.apply(current_nA, self.frequency_Hz, tau, self.slope_dB_per_oct)
            else:
                ctx.excitation.set_current(current_nA * 1e-9)
                ctx.excitation.settle_and_range()
            rhos.append(mean_rho(ctx, channels, self.points))
            deviation = max(abs(r / r0 - 1.0) if r0 else math.inf
                            for r, r0 in zip(rhos[-1], rhos[0], strict=True))
            deviations.append(deviation)
            if not deviation <= self.tolerance:  # NaN (no reading) stops too
                break
            chosen = current_nA
        if chosen != ladder[len(rhos) - 1]:
            ctx.excitation.set_current(chosen * 1e-9)
            ctx.excitation.settle_and_range()
        names = [acq.channel_names[i] for i in channels]
        tried = ladder[:len(rhos)]
        summary = ", ".join(f"{c:g} nA: {d:.2%}" for c, d in zip(tried, deviations, strict=True))
        ctx.note(f"auto current: {chosen:g} nA, the largest with ρ({', '.join(names)}) within "
                 f"{self.tolerance:.0%} of ρ at {ladder[0]:g} nA (deviations {summary})")
        return {"auto_current": True, "chosen_nA": chosen, "ladder_nA": tried,
                "max_deviation": deviations, "tolerance": self.tolerance,
                "channels": names, "probe_K": self.probe_K, "probe_Oe": self.probe_Oe,
                **{f"rho_ohm_sq_{name}": [r[j] for r in rhos] for j, name in enumerate(names)}}
