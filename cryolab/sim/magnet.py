"""The simulated superconducting magnet behind an AMI 430: current, ramp and state machine.

States follow the 430 manual's Table 4-5 (protocols.md §3.4): RAMP → 1 while the current moves at
the segment rate, then 2 at the target; PAUSE → 3; ZERO → 6, then 8 below 0.1 % of the limit;
a quench → 7 with the current collapsed, until the quench flag is cleared (then 3).
"""

from __future__ import annotations

from enum import IntEnum


class MagnetState(IntEnum):
    RAMPING = 1
    HOLDING = 2
    PAUSED = 3
    MANUAL_UP = 4
    MANUAL_DOWN = 5
    ZEROING = 6
    QUENCH = 7
    AT_ZERO = 8
    HEATING_SWITCH = 9
    COOLING_SWITCH = 10


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
        self.state = MagnetState.AT_ZERO
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
        self.state = MagnetState.HOLDING

    def ramp(self) -> None:
        if self.state == MagnetState.QUENCH:
            return
        self.state = (MagnetState.HOLDING if self.current_A == self.target_A
                      else MagnetState.RAMPING)

    def pause(self) -> None:
        if self.state != MagnetState.QUENCH:
            self.state = MagnetState.PAUSED

    def zero(self) -> None:
        if self.state != MagnetState.QUENCH:
            self.state = (MagnetState.AT_ZERO if self._near_zero() else MagnetState.ZEROING)

    def _near_zero(self) -> bool:
        return abs(self.current_A) < 1e-3 * self.current_limit_A

    def quench(self) -> None:
        """The coil goes normal: the stored current collapses within the step."""
        self.quenched = True
        self.state = MagnetState.QUENCH
        self.current_A = 0.0
        self._dIdt = 0.0

    def clear_quench(self) -> None:
        if self.quenched:
            self.quenched = False
            self.state = MagnetState.PAUSED

    def step(self, h_s: float) -> None:
        self._dIdt = 0.0
        if self.state == MagnetState.RAMPING:
            goal = self.target_A
        elif self.state == MagnetState.ZEROING:
            goal = 0.0
        else:
            return
        delta = goal - self.current_A
        move = self.rate_A_per_s * h_s
        if abs(delta) <= move:
            self.current_A = goal
            self._dIdt = 0.0
            if self.state == MagnetState.RAMPING:
                self.state = MagnetState.HOLDING
            elif self._near_zero():
                self.state = MagnetState.AT_ZERO
        else:
            step = move if delta > 0 else -move
            self.current_A += step
            self._dIdt = step / h_s
