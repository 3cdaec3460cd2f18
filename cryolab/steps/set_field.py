"""``set_field``: ramp the magnet to a field at a rate, then wait (measuring) while it settles."""

from __future__ import annotations

from typing import Any, ClassVar

from cryolab.steps.base import (
    FieldRate,
    Finite,
    LimitChecker,
    PlanState,
    SettleTime,
    Step,
    StepContext,
)


class SetField(Step):
    """Ramp the magnet to ``field_Oe`` at ``rate_Oe_per_s``, then wait ``settle_s``."""

    kind: ClassVar[str] = "set_field"
    field_Oe: Finite
    rate_Oe_per_s: FieldRate | None = None  # default: settings.field_rate_Oe_per_s
    settle_s: SettleTime = 30.0

    def check(self, path: str, checker: LimitChecker) -> None:
        checker.field_rate(f"{path}.rate_Oe_per_s", self.rate_Oe_per_s)
        checker.field(f"{path}.field_Oe", self.field_Oe)

    def visits(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        return (), (self.field_Oe,)

    def describe(self) -> str:
        rate = f" at {self.rate_Oe_per_s:g} Oe/s" if self.rate_Oe_per_s else ""
        return f"field to {self.field_Oe:g} Oe{rate}"

    def estimate_s(self, state: PlanState) -> float:
        from cryolab.sequence import default_field_rate

        rate = self.rate_Oe_per_s or default_field_rate(state.settings, state.station)
        estimate = abs(self.field_Oe - state.field_Oe) / rate + self.settle_s
        state.field_Oe = self.field_Oe
        return estimate

    def execute(self, ctx: StepContext) -> dict[str, Any]:
        ctx.field.ramp_to(self.field_Oe, self.rate_Oe_per_s or ctx.field.default_rate,
                          acquire=True)
        acq = ctx.acq
        acq.mark_unsettled(max(self.settle_s, acq.settle_time_s()))
        end = ctx.now() + self.settle_s
        ctx.acquire_until(lambda point: ctx.now() >= end)
        return {"field_Oe": acq.field_Oe}
