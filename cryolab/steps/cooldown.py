"""``cooldown``: heater off, measuring while the fridge cools to a temperature or for a time."""

from __future__ import annotations

import math
from typing import Any, ClassVar

from pydantic import model_validator

from cryolab.steps.base import (
    COOLING_TAU_ESTIMATE_S,
    Duration,
    LimitChecker,
    PlanState,
    Step,
    StepContext,
    Temperature,
)


class Cooldown(Step):
    """Heater off; measure while the fridge cools, to ``to_K`` or for ``duration_s``."""

    kind: ClassVar[str] = "cooldown"
    fitted: ClassVar[bool] = True
    retunes_frequency: ClassVar[bool] = True
    to_K: Temperature | None = None
    duration_s: Duration | None = None
    timeout_s: Duration = 4 * 3600.0

    @model_validator(mode="after")
    def _end(self) -> Cooldown:
        if self.to_K is None and self.duration_s is None:
            raise ValueError("give to_K, duration_s or both")
        return self

    def check(self, path: str, checker: LimitChecker) -> None:
        checker.temperature(f"{path}.to_K", self.to_K)

    def describe(self) -> str:
        return "cooldown" + (f" to {self.to_K:g} K" if self.to_K else "") + \
            (f" for {self.duration_s:g} s" if self.duration_s else "")

    def estimate_s(self, state: PlanState) -> float:
        goal = self.to_K or max(state.station.limits.temperature_K[0], 0.02)
        # T² relaxes toward a base of roughly goal/2 with the cooling time constant
        estimate = self.duration_s or COOLING_TAU_ESTIMATE_S * math.log(
            max(state.T_K, goal) ** 2 / (0.75 * goal**2))
        state.T_K = goal
        return estimate

    def execute(self, ctx: StepContext) -> dict[str, Any]:
        ctx.temperature.heater_off()
        start = ctx.now()
        ctx.note("cooldown: heater off" + (f", until {self.to_K:g} K" if self.to_K else ""))

        def done(point: Any) -> bool:
            if self.to_K is not None and point.T_mc_K <= self.to_K:
                return True
            return self.duration_s is not None and ctx.now() - start >= self.duration_s

        reached = ctx.acquire_until(done, timeout_s=self.timeout_s)
        if not reached:
            goal = f"reach {self.to_K:g} K" if self.to_K is not None else \
                f"last {self.duration_s:g} s"
            ctx.note(f"cooldown did not {goal} within its timeout of {self.timeout_s:g} s",
                     "warning")
        return {"reached": reached}
