"""``measure``: take a number of points at fixed conditions."""

from __future__ import annotations

from typing import Any, ClassVar

from cryolab.steps.base import Count, PlanState, Step, StepContext


class Measure(Step):
    """Take ``points`` points at fixed conditions."""

    kind: ClassVar[str] = "measure"
    retunes_frequency: ClassVar[bool] = True
    points: Count

    def describe(self) -> str:
        return f"measure {self.points} points"

    def estimate_s(self, state: PlanState) -> float:
        return self.points * state.point_interval_s

    def execute(self, ctx: StepContext) -> dict[str, Any]:
        taken = [0]

        def done(point: object) -> bool:
            taken[0] += 1
            return taken[0] >= self.points

        ctx.acquire_until(done)
        return {}

