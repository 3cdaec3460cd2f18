"""``linearity_check``: ρ at two or three currents at the same conditions; a difference beyond
the tolerance means self-heating (paper, Methods: linear response confirmed at the highest
resistance)."""

from __future__ import annotations

import math
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
        channel = _first_longitudinal(acq)
        rhos = []
        for current_nA in self.currents_nA:
            ctx.excitation.set_current(current_nA * 1e-9)
            ctx.sleep(acq.settle_time_s(0.999))
            rhos.append(mean_rho(ctx, [channel], self.points)[0])
        ctx.excitation.set_current(original_A)
        ctx.sleep(acq.settle_time_s(0.999))
        reference = rhos[0]
        deviation = max(abs(r / reference - 1.0) for r in rhos) if reference else math.inf
        linear = bool(deviation <= self.tolerance)
        summary = ", ".join(f"{c:g} nA: {r:.5g} Ω/□" for c, r in zip(self.currents_nA, rhos,
                                                                     strict=True))
        if linear:
            ctx.note(f"linear response ({summary}; max deviation {deviation:.2%})")
        else:
            ctx.note(f"linearity check failed: ρ differs by {deviation:.2%} (> "
                     f"{self.tolerance:.0%}) — self-heating? ({summary})", "warning")
        return {"currents_nA": list(self.currents_nA), "rho_ohm_sq": rhos,
                "max_deviation": deviation, "linear": linear,
                "channel": acq.channel_names[channel]}


def mean_rho(ctx: StepContext, channels: list[int], points: int) -> list[float]:
    """ρ of each of ``channels`` averaged over ``points`` points that did not overload (NaN
    for a channel that had none before the time-out)."""
    from cryolab.measurement import Flag  # the measurement layer loads when a step runs

    acq = ctx.acq
    values: list[list[float]] = [[] for _ in channels]

    def done(point: Point) -> bool:
        for j, channel in enumerate(channels):
            reading = point.channels[channel]
            if not reading.flags & Flag.OVERLOAD:
                values[j].append(reading.rho_ohm_sq)
        return min(len(v) for v in values) >= points

    ctx.acquire_until(done, timeout_s=points * acq.interval_s * 5)
    return [sum(v[:points]) / len(v[:points]) if v else math.nan for v in values]


def longitudinal_channels(acq: Any) -> list[int]:
    """The channels whose ρ heating changes first: every longitudinal one."""
    return [i for i, plan in enumerate(acq._plans) if plan.spec.kind == "longitudinal"] or [0]


def _first_longitudinal(acq: Any) -> int:
    kinds = [plan.spec.kind for plan in acq._plans]
    return kinds.index("longitudinal") if "longitudinal" in kinds else 0
