"""The simulated superconducting magnet behind a magnet supply: current, ramp and state machine.

The states are the supply's, in no model's codes (a twin maps them to its own, e.g. the 430's
STATE?): ramp → RAMPING while the current moves at the rate, then HOLDING at the target;
pause → PAUSED; zero → ZEROING, then AT_ZERO below 0.1 % of the limit; a quench → QUENCHED with
the current collapsed, until the quench flag is cleared (then PAUSED ⚠: assumed; the 430
manual's Table 4-5 lists the states, not this transition).
"""

from __future__ import annotations

from enum import Enum


class RampState(Enum):
    """What the supply is doing with the magnet current."""

    RAMPING = "ramping"
    HOLDING = "holding"
    PAUSED = "paused"
    ZEROING = "zeroing"
    AT_ZERO = "at zero"
    QUENCHED = "quenched"


class Magnet:
    """Magnet current in amperes; field = coil constant × current."""

    def __init__(self, coil_T_per_A: float = 0.1, current_limit_A: float = 1.0,
                 inductance_H: float = 0.5) -> None:
        self.coil_T_per_A = coil_T_per_A
        self.current_limit_A = current_limit_A
        self.inductance_H = inductance_H
        self.current_A = 0.0
        self.target_A = 0.0
        self.rate_A_per_s = 0.01
        self.state = RampState.AT_ZERO
        self.quenched = False
        self._dIdt = 0.0

    @property
    def field_T(self) -> float:
        return self.current_A * self.coil_T_per_A

    @property
    def voltage_V(self) -> float:
        """Magnet voltage L dI/dt while the current changes."""
        return self.inductance_H * self._dIdt

    def hold_at(self, current_A: float) -> None:
        """Start out holding this current (a magnet left at field by an earlier process)."""
        self.current_A = self.target_A = current_A
        self.state = RampState.HOLDING

    def ramp(self) -> None:
        if self.state == RampState.QUENCHED:
            return
        self.state = (RampState.HOLDING if self.current_A == self.target_A
                      else RampState.RAMPING)

    def pause(self) -> None:
        if self.state != RampState.QUENCHED:
            self.state = RampState.PAUSED

    def zero(self) -> None:
        if self.state != RampState.QUENCHED:
            self.state = (RampState.AT_ZERO if self._near_zero() else RampState.ZEROING)

    def _near_zero(self) -> bool:
        return abs(self.current_A) < 1e-3 * self.current_limit_A

    def quench(self) -> None:
        """The coil goes normal: the stored current collapses within the step."""
        self.quenched = True
        self.state = RampState.QUENCHED
        self.current_A = 0.0
        self._dIdt = 0.0

    def clear_quench(self) -> None:
        if self.quenched:
            self.quenched = False
            self.state = RampState.PAUSED

    def step(self, h_s: float) -> None:
        self._dIdt = 0.0
        if self.state == RampState.RAMPING:
            goal = self.target_A
        elif self.state == RampState.ZEROING:
            goal = 0.0
        else:
            return
        delta = goal - self.current_A
        move = self.rate_A_per_s * h_s
        if abs(delta) <= move:
            self.current_A = goal
            self._dIdt = 0.0
            if self.state == RampState.RAMPING:
                self.state = RampState.HOLDING
            elif self._near_zero():
                self.state = RampState.AT_ZERO
        else:
            step = move if delta > 0 else -move
            self.current_A += step
            self._dIdt = step / h_s
