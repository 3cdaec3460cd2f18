"""``linearity_check``: ρ at two or three currents at the same conditions; a difference beyond
the tolerance means self-heating (paper, Methods: linear response confirmed at the highest
resistance)."""

from __future__ import annotations

import math
import statistics
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from pydantic import Field

from cryolab.inputs import WholeNumber
from cryolab.steps.base import (
    TAU_ESTIMATE_S,
    Fraction,
    LimitChecker,
    PlanState,
    PositiveFinite,
    Step,
    StepContext,
)

if TYPE_CHECKING:  # the measurement layer loads the drivers; a sequence is checked without them
    from cryolab.measurement import Point


class LinearityCheck(Step):
    """ρ at two or three currents; flagged when they differ by more than ``tolerance``."""

    kind: ClassVar[str] = "linearity_check"
    currents_nA: list[PositiveFinite] = Field(min_length=2, max_length=3)
    tolerance: Fraction = 0.02
    points: Annotated[WholeNumber, Field(ge=1, le=10_000)] = 10

    def check(self, path: str, checker: LimitChecker) -> None:
        for j, value in enumerate(self.currents_nA):
            checker.current(f"{path}.currents_nA[{j}]", value)

    def describe(self) -> str:
        return "linearity check at " + ", ".join(f"{c:g}" for c in self.currents_nA) + " nA"

    def estimate_s(self, state: PlanState) -> float:
        return len(self.currents_nA) * (14.0 * TAU_ESTIMATE_S
                                        + self.points * state.point_interval_s)

    def execute(self, ctx: StepContext) -> dict[str, Any]:
        acq = ctx.acq
        original_A = acq.requested_current_A  # the current asked for, not one derived from R
        channels = longitudinal_channels(acq)
        rhos: list[list[float]] = []  # per current, per channel
        taken: list[list[Point]] = []  # per current, the points averaged
        for current_nA in self.currents_nA:
            ctx.excitation.set_current(current_nA * 1e-9)
            ctx.sleep(acq.settle_time_s(0.999))
            taken.append([])
            rhos.append(mean_rho(ctx, channels, self.points, taken[-1]))
        ctx.excitation.set_current(original_A)
        ctx.sleep(acq.settle_time_s(0.999))
        temperatures = [p.T_sample_K for points in taken for p in points]
        T_K = statistics.median(temperatures) if temperatures else math.nan
        results: dict[str, Any] = {"currents_nA": list(self.currents_nA)}
        deviations = []
        for j, channel in enumerate(channels):
            plan = acq._plans[channel]
            name = plan.spec.name
            series = [r[j] for r in rhos]
            reference = series[0]
            off = [abs(r / reference - 1.0) if reference else math.inf for r in series]
            deviation = max(off)
            deviations.append(deviation)
            summary = ", ".join(f"{c:g} nA: {r:.5g} Ω/□" for c, r in
                                zip(self.currents_nA, series, strict=True))
            results[f"rho_ohm_sq_{name}"] = series
            if deviation <= self.tolerance:
                ctx.note(f"{name}: linear response ({summary}; max deviation {deviation:.2%})")
                continue
            # the lowest current beyond the tolerance heats; so does any point heated as much
            # as the least heated point taken at it: at least its I²R/T⁵ (hot electrons,
            # events.HeatingFound)
            current_nA = min(c for c, d in zip(self.currents_nA, off, strict=True)
                             if not d <= self.tolerance)
            at = taken[self.currents_nA.index(current_nA)]
            least = min((p for p in at if p.T_sample_K > 0 and p.channels[channel].R_ohm > 0),
                        key=lambda p: p.channels[channel].current_A ** 2
                        * p.channels[channel].R_ohm / p.T_sample_K ** 5, default=None)
            reason = (f"linearity check: ρ({name}) differs by {deviation:.2%} (> "
                      f"{self.tolerance:.0%}) at {current_nA:g} nA, {T_K:.4g} K ({summary})")
            if least is None:  # no clean reading at that current to bound the heating by
                ctx.note(f"{reason} — self-heating; no point flagged (no reading without "
                         "overload at that current)", "warning")
                continue
            power_W = least.channels[channel].current_A ** 2 * least.channels[channel].R_ohm
            T_heated = least.T_sample_K
            ctx.note(f"{reason} — self-heating: points with I²R/T⁵ ≥ {power_W:.3g} W / "
                     f"({T_heated:.4g} K)⁵ are flagged 'heated'", "warning")
            ctx.flag_heating(plan.source.name, power_W, T_heated, reason)
        linear = all(d <= self.tolerance for d in deviations)
        results.update({"max_deviation": max(deviations), "linear": linear,
                        "channel": acq.channel_names[channels[0]],
                        "rho_ohm_sq": results[f"rho_ohm_sq_{acq.channel_names[channels[0]]}"],
                        "T_K": T_K})
        return results


def mean_rho(ctx: StepContext, channels: list[int], points: int,
             taken: list[Point] | None = None) -> list[float]:
    """ρ of each of ``channels`` averaged over ``points`` points that did not overload (NaN
    for a channel that had none before the time-out); the points that did not overload are
    appended to ``taken``."""
    from cryolab.measurement import Flag  # the measurement layer loads when a step runs

    acq = ctx.acq
    values: list[list[float]] = [[] for _ in channels]

    def done(point: Point) -> bool:
        clean = True
        for j, channel in enumerate(channels):
            reading = point.channels[channel]
            if not reading.flags & Flag.OVERLOAD:
                values[j].append(reading.rho_ohm_sq)
            else:
                clean = False
        if clean and taken is not None:
            taken.append(point)
        return min(len(v) for v in values) >= points

    ctx.acquire_until(done, timeout_s=points * acq.interval_s * 5)
    return [sum(v[:points]) / len(v[:points]) if v else math.nan for v in values]


def longitudinal_channels(acq: Any) -> list[int]:
    """The channels whose ρ heating changes first: every longitudinal one."""
    return [i for i, plan in enumerate(acq._plans) if plan.spec.kind == "longitudinal"] or [0]


