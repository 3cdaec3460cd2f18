"""``hold``: wait, measuring, for a time or until the temperatures are stable."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, model_validator

from cryolab.inputs import Number
from cryolab.steps.base import DAY_S, Duration, Fraction, PlanState, Step, StepContext


class Hold(Step):
    """Wait (measuring) for ``duration_s``, or until the temperatures are stable."""

    kind: ClassVar[str] = "hold"
    retunes_frequency: ClassVar[bool] = True
    duration_s: Duration | None = None
    until: Literal["stable"] | None = None
    tolerance: Fraction = 0.01  # T_MC within ± this fraction over the window
    window_s: Annotated[Number, Field(gt=0, le=DAY_S)] = 120.0
    timeout_s: Duration = 3600.0

    @model_validator(mode="after")
    def _one_way(self) -> Hold:
        if (self.duration_s is None) == (self.until is None):
            raise ValueError("give either duration_s or until: stable")
        return self

    def describe(self) -> str:
        if self.duration_s:
            return f"hold {self.duration_s:g} s"
        return (f"hold until stable (±{self.tolerance * 100:.3g}%, {self.window_s:g} s window, "
                f"≤ {self.timeout_s:g} s)")

    def estimate_s(self, state: PlanState) -> float:
        return self.duration_s or self.window_s * 2

    def execute(self, ctx: StepContext) -> dict[str, Any]:
        if self.duration_s is not None:
            end = ctx.now() + self.duration_s
            ctx.acquire_until(lambda point: ctx.now() >= end)
            return {}
        stable = ctx.acquire_until(ctx.stable(None, self.tolerance, self.window_s),
                                   timeout_s=self.timeout_s)
        if not stable:
            ctx.note(f"temperatures not stable within {self.timeout_s:g} s", "warning")
        return {"stable": stable}
