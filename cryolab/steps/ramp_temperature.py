"""``ramp_temperature``: go to a start temperature (at the station's fastest allowed rate) and
settle, then ramp to the end temperature measuring, slowing down when the sample falls out of
equilibrium with the mixing chamber."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar

from cryolab.steps.base import (
    MIN_TEMPERATURE_RATE_K_PER_MIN,
    STABILIZE_ESTIMATE_S,
    Duration,
    LimitChecker,
    PlanState,
    Step,
    StepContext,
    Temperature,
    TemperatureRate,
)

if TYPE_CHECKING:  # the measurement layer loads the drivers; a sequence is checked without them
    from cryolab.measurement import Point

STABLE_FRACTION = 0.02  # a ramp's start and end count as reached within ±2 %
STABLE_WINDOW_S = 60.0
MAX_SLOWDOWNS = 3  # a ramp is halved at most this often (down to 1/8 of its rate)
START_TIMEOUT_S = 7200.0  # settling at the start temperature, after getting there


def approach_duration_s(T_from: float, T_to: float, max_rate_K_per_min: float) -> float:
    """Going to a ramp's start temperature: at the station's fastest allowed rate."""
    return abs(T_to - T_from) / max_rate_K_per_min * 60.0


def ramp_duration_s(T_from: float, T_to: float, rate: float | str, auto_percent: float) -> float:
    """Planned ramp time: linear at a fixed rate, exponential in T at ``auto``."""
    if rate == "auto":
        return abs(math.log(T_to / T_from)) / (auto_percent / 100.0) * 60.0
    return abs(T_to - T_from) / float(rate) * 60.0


class RampTemperature(Step):
    """Go to ``from_K`` (if given) and wait until stable, then ramp to ``to_K``, measuring."""

    kind: ClassVar[str] = "ramp_temperature"
    fitted: ClassVar[bool] = True
    retunes_frequency: ClassVar[bool] = True
    from_K: Temperature | None = None
    to_K: Temperature
    rate_K_per_min: TemperatureRate = "auto"
    timeout_s: Duration | None = None  # default: 3 × the planned duration + 1 h

    def check(self, path: str, checker: LimitChecker) -> None:
        checker.temperature(f"{path}.from_K", self.from_K)
        checker.temperature(f"{path}.to_K", self.to_K)
        checker.temperature_rate(f"{path}.rate_K_per_min", self.rate_K_per_min)

    def visits(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        return tuple(T for T in (self.from_K, self.to_K) if T is not None), ()

    def describe(self) -> str:
        start = f"from {self.from_K:g} K " if self.from_K else ""
        rate = "auto rate" if self.rate_K_per_min == "auto" else f"{self.rate_K_per_min:g} K/min"
        return f"ramp {start}to {self.to_K:g} K ({rate})"

    def estimate_s(self, state: PlanState) -> float:
        start = self.from_K or state.T_K
        estimate = 0.0
        if self.from_K and abs(self.from_K - state.T_K) > STABLE_FRACTION * state.T_K:
            estimate = STABILIZE_ESTIMATE_S + approach_duration_s(
                state.T_K, self.from_K, state.station.limits.max_temperature_ramp_K_per_min)
        estimate += ramp_duration_s(start, self.to_K, self.rate_K_per_min,
                                    state.settings.auto_ramp_percent_per_min)
        state.T_K = self.to_K
        return estimate

    def execute(self, ctx: StepContext) -> dict[str, Any]:
        temperature = ctx.temperature
        max_rate = ctx.limits.max_temperature_ramp_K_per_min
        T_now = temperature.T_mc_K()
        start = self.from_K if self.from_K is not None else T_now
        temperature.regulate(max(start, self.to_K))
        # the bridge ramps its setpoint from where the setpoint is: put it where the fridge is
        temperature.set_ramp(False, max_rate)
        temperature.set_setpoint(T_now)
        if self.from_K is not None and abs(T_now - self.from_K) > STABLE_FRACTION * self.from_K:
            if not go_to_temperature(ctx, self.from_K, T_now, "the start temperature"):
                ctx.note(f"did not settle at {self.from_K:g} K within 2 h; ramping anyway",
                         "warning")
            T_now = temperature.T_mc_K()
        governor = _RampGovernor(self, ctx, T_now)
        planned_s = ramp_duration_s(start, self.to_K, self.rate_K_per_min,
                                    ctx.settings.auto_ramp_percent_per_min)
        timeout = self.timeout_s or 3 * planned_s + 3600.0
        temperature.set_ramp(True, governor.rate)
        temperature.set_setpoint(self.to_K)
        ctx.note(f"ramping to {self.to_K:g} K at {governor.rate:.3g} K/min"
                 + (" (auto)" if governor.auto else ""))

        def done(point: Point) -> bool:
            return not governor.ramping and \
                abs(point.T_mc_K - self.to_K) <= STABLE_FRACTION * self.to_K

        reached = ctx.acquire_until(done, timeout_s=timeout, on_point=governor.on_point)
        if not reached:
            ctx.note(f"the ramp did not reach {self.to_K:g} K within {timeout:g} s", "warning")
        return {"reached": reached, "final_rate_K_per_min": governor.rate,
                "slowdowns": governor.slowdowns}


def go_to_temperature(ctx: StepContext, T_K: float, T_now: float, what: str) -> bool:
    """Regulating already, setpoint at T_now: go to T_K at the station's fastest allowed
    rate (never faster, even on the way), measuring, and wait until T is stable there.
    Returns whether it settled; the setpoint is left at T_K with the ramp off."""
    temperature, max_rate = ctx.temperature, ctx.limits.max_temperature_ramp_K_per_min
    ctx.note(f"going to {what} {T_K:g} K at {max_rate:g} K/min")
    temperature.set_ramp(True, max_rate)
    temperature.set_setpoint(T_K)
    travel_s = approach_duration_s(T_now, T_K, max_rate)
    settled = ctx.acquire_until(ctx.stable(T_K, STABLE_FRACTION, STABLE_WINDOW_S),
                                timeout_s=travel_s + START_TIMEOUT_S)
    temperature.set_ramp(False, max_rate)
    temperature.set_setpoint(T_K)
    return settled


class _RampGovernor:
    """The ramp's rate as it goes: ``auto`` follows T; a sample out of equilibrium for
    ``slow_down_after_points`` points in a row halves it (at most MAX_SLOWDOWNS times)."""

    def __init__(self, step: RampTemperature, ctx: StepContext, T_K: float) -> None:
        from cryolab.measurement import Flag

        self.mismatch_bit = int(Flag.THERMAL_MISMATCH)
        self.step, self.ctx = step, ctx
        self.auto = step.rate_K_per_min == "auto"
        self.factor = 1.0
        self.slowdowns = 0
        self.streak = 0
        self.points = 0
        self.ramping = True
        self.alarmed = False
        self.rate_T = T_K
        self.rate = self.rate_at(T_K)

    def rate_at(self, T_K: float) -> float:
        settings, limits = self.ctx.settings, self.ctx.limits
        base = settings.auto_ramp_percent_per_min / 100.0 * T_K if self.auto \
            else float(self.step.rate_K_per_min)
        # the bridge's finest rate below, the station's limit above: both validated to hold
        return min(max(base * self.factor, MIN_TEMPERATURE_RATE_K_PER_MIN),
                   limits.max_temperature_ramp_K_per_min)

    def on_point(self, point: Point) -> None:
        ctx, settings = self.ctx, self.ctx.settings
        T = point.T_mc_K
        self.streak = self.streak + 1 if point.flags & self.mismatch_bit else 0
        if self.streak >= settings.slow_down_after_points and self.ramping:
            if self.slowdowns < MAX_SLOWDOWNS:
                self.factor /= 2
                self.slowdowns += 1
                self.rate = self.rate_at(T)
                ctx.temperature.set_ramp(True, self.rate)
                ctx.note(f"sample out of equilibrium for {settings.slow_down_after_points} "
                         f"points (> {settings.mismatch_threshold:.0%}): ramp slowed to "
                         f"{self.rate:.3g} K/min", "warning")
            elif not self.alarmed:
                self.alarmed = True  # once a step: the notifications rate-limit the rest
                ctx.alarm("thermal_mismatch",
                          f"the sample stays out of equilibrium (> "
                          f"{settings.mismatch_threshold:.0%}) at {T:.4g} K although the ramp "
                          f"was slowed {MAX_SLOWDOWNS} times")
            self.streak = 0
        elif self.auto and self.ramping and abs(T - self.rate_T) > 0.1 * self.rate_T:
            self.rate, self.rate_T = self.rate_at(T), T
            ctx.temperature.set_ramp(True, self.rate)
        self.points += 1
        if self.points % 10 == 0:
            self.ramping = ctx.temperature.ramping()
