"""``field_sweep``: the overnight plan — at each field, set it and ramp the temperature (or take
points at fixed temperature); a composite step, expanded into primitive ones in the plan."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cryolab.inputs import Flag
from cryolab.steps.base import (
    Count,
    FieldRate,
    Finite,
    LimitChecker,
    SettleTime,
    Step,
    Temperature,
    TemperatureRate,
)
from cryolab.steps.measure import Measure
from cryolab.steps.ramp_temperature import RampTemperature
from cryolab.steps.set_field import SetField


class RampSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    from_K: Temperature
    to_K: Temperature
    rate_K_per_min: TemperatureRate = "auto"


class FieldSweep(Step):
    """For each field, set it and ramp the temperature (``ramp``) — or, at fixed temperature,
    take ``measure_points`` points.

    With ``alternate`` the ramps go up and down in turn (from→to, to→from, …), so no time is
    spent going back to the start temperature.
    """

    kind: ClassVar[str] = "field_sweep"
    fields_Oe: list[Finite] = Field(min_length=1, max_length=1000)
    rate_Oe_per_s: FieldRate | None = None
    settle_s: SettleTime = 30.0
    ramp: RampSpec | None = None
    measure_points: Count | None = None
    alternate: Flag = True

    @model_validator(mode="after")
    def _one_action(self) -> FieldSweep:
        if (self.ramp is None) == (self.measure_points is None):
            raise ValueError("give either ramp (a temperature ramp at each field) or "
                             "measure_points (points at each field)")
        return self

    def check(self, path: str, checker: LimitChecker) -> None:
        checker.field_rate(f"{path}.rate_Oe_per_s", self.rate_Oe_per_s)
        for j, value in enumerate(self.fields_Oe):
            checker.field(f"{path}.fields_Oe[{j}]", value)
        if self.ramp is not None:
            checker.temperature(f"{path}.ramp.from_K", self.ramp.from_K)
            checker.temperature(f"{path}.ramp.to_K", self.ramp.to_K)
            checker.temperature_rate(f"{path}.ramp.rate_K_per_min", self.ramp.rate_K_per_min)

    def expand(self) -> list[Step]:
        out: list[Step] = []
        for i, field_Oe in enumerate(self.fields_Oe):
            out.append(SetField(field_Oe=field_Oe, rate_Oe_per_s=self.rate_Oe_per_s,
                                settle_s=self.settle_s))
            if self.ramp is None:
                assert self.measure_points is not None  # the validator: ramp or measure_points
                out.append(Measure(points=self.measure_points))
                continue
            a, b = self.ramp.from_K, self.ramp.to_K
            if self.alternate and i % 2 == 1:
                a, b = b, a
            out.append(RampTemperature(from_K=a, to_K=b, rate_K_per_min=self.ramp.rate_K_per_min))
        return out

    def describe(self) -> str:
        what = (f"ramp {self.ramp.from_K:g}–{self.ramp.to_K:g} K" if self.ramp else
                f"{self.measure_points} points")
        return f"{len(self.fields_Oe)} fields, {what} at each"
