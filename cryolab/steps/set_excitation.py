"""``set_excitation``: the bias current and the lock-ins' frequency, time constant and slope."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from cryolab.inputs import NotBool, number_or_auto
from cryolab.steps.base import (
    TAU_ESTIMATE_S,
    Frequency,
    LimitChecker,
    PlanState,
    PositiveFinite,
    Step,
    StepContext,
)

TimeConstant = number_or_auto(0.0, 30_000.0, "s")


class SetExcitation(Step):
    """Set the bias current and the lock-in's frequency and time constant (``auto`` or fixed)."""

    kind: ClassVar[str] = "set_excitation"
    current_nA: PositiveFinite
    frequency_Hz: Frequency = "auto"
    time_constant_s: TimeConstant = "auto"  # type: ignore[valid-type]
    slope_dB_per_oct: Annotated[Literal[6, 12, 18, 24], NotBool] = 24

    def check(self, path: str, checker: LimitChecker) -> None:
        checker.current(f"{path}.current_nA", self.current_nA)
        checker.frequency(f"{path}.frequency_Hz", self.frequency_Hz)
        checker.time_constant(f"{path}.time_constant_s", self.time_constant_s)

    def describe(self) -> str:
        return (f"excitation {self.current_nA:g} nA, f = {self.frequency_Hz}, τ = "
                f"{self.time_constant_s}")

    def estimate_s(self, state: PlanState) -> float:
        return 20.0 * TAU_ESTIMATE_S

    def execute(self, ctx: StepContext) -> dict[str, Any]:
        tau = None if self.time_constant_s == "auto" else float(self.time_constant_s)
        ctx.excitation.apply(self.current_nA, self.frequency_Hz, tau, self.slope_dB_per_oct)
        acq = ctx.acq
        return {"current_A": acq.requested_current_A, "frequency_Hz": acq.frequency_Hz,
                "time_constant_s": acq.tau_s}
