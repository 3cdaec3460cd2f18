"""The simulated dilution refrigerator: mixing chamber, heater loop, and the lagging sample stage.

Mixing chamber: C(T) dT/dt = P_heater − P_cool(T), with a dilution unit's cooling power
P_cool = k (T² − T_base²) and a heat capacity linear in T, so that y = T² relaxes exponentially
with one time constant τ_MC. The 372's closed loop is modelled as a well-tuned controller that
drives y toward the (ramping) working setpoint with τ_loop, limited to the power its heater range
can deliver.

Sample stage: a heat capacity C = γT (electrons of its metal) linked to the MC by a conductance
that grows as T³ (a Kapitza boundary or phonon-limited contact), P_link = κ (T_s⁴ − T_MC⁴),
and warmed by a constant residual load P₀ = κ T_floor⁴:

    γ T_s dT_s/dt = P₀ − κ (T_s⁴ − T_MC⁴)

so T_s relaxes to T_s,eq = (T_MC⁴ + T_floor⁴)^¼ with the time constant τ_s = C/G = γ/(4κT²)
(G = dP/dT = 4κT³). In y = T_s² the equation is dy/dt = (2κ/γ)(Y² − y²), Y = T_s,eq², whose
solution for a constant T_MC is exact: (y − Y)/(y + Y) decays as e^(−4κY t/γ). At base the
sample is therefore far above the MC, as in a real fridge, and a fast ramp leaves it behind.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: 372 sample-heater (output 0) full-scale currents by range index (372 manual, RANGE)
HEATER_RANGE_A = (0.0, 31.6e-6, 100e-6, 316e-6, 1e-3, 3.16e-3, 10e-3, 31.6e-3, 100e-3)

# 372 OUTMODE modes (protocols.md §2.5)
MODE_OFF, MODE_MONITOR, MODE_OPEN_LOOP, MODE_ZONE, MODE_STILL, MODE_CLOSED_LOOP, MODE_WARMUP = \
    range(7)


@dataclass
class FridgeParams:
    T_base_K: float = 0.020  # MC with the heater off
    T_floor_K: float = 0.035  # the sample stage cannot cool below about this (residual heating)
    tau_mc_s: float = 300.0  # MC relaxation: 1 K → 0.1 K in ~23 min with the heater off
    cooling_W_per_K2: float = 1.0e-2  # P_cool = k (T² − T_base²): ~100 µW at 100 mK
    tau_loop_s_at_P10: float = 20.0  # closed-loop response time with P = 10
    # the sample stage: C = γT with γ = 8 µJ/K², the electronic heat capacity of 0.73 g of
    # copper (γ_Cu = 0.695 mJ mol⁻¹ K⁻²); link P = κ(T_s⁴ − T_MC⁴) with κ = 10 µW/K⁴, so the
    # residual load κ T_floor⁴ is 15 pW and τ_s = γ/(4κT²) = 0.2 s·(1 K/T)² (20 s at 0.1 K)
    stage_gamma_J_per_K2: float = 8.0e-6
    stage_link_W_per_K4: float = 1.0e-5
    T_max_K: float = 10.0

    def sample_tau_s(self, T_K: float) -> float:
        """τ_s = C/G = γT / (4κT³): the sample stage's linear relaxation time at T."""
        return self.stage_gamma_J_per_K2 / (4.0 * self.stage_link_W_per_K4 * T_K * T_K)

    @property
    def residual_load_W(self) -> float:
        """P₀ = κ T_floor⁴: the heat that keeps the stage at T_floor with the MC at 0 K."""
        return self.stage_link_W_per_K4 * self.T_floor_K**4


@dataclass
class HeaterLoop:
    """What the 372's output 0 is set to (the simulated 372 writes these)."""

    mode: int = MODE_OFF
    input_channel: str = "1"
    range_index: int = 0
    resistance_ohm: float = 120.0
    setpoint_K: float = 0.0  # the target the user set
    working_setpoint_K: float = 0.0  # where the setpoint ramp currently is
    ramp_enabled: bool = False
    ramp_rate_K_per_min: float = 0.1
    P: float = 10.0
    I: float = 20.0
    D: float = 0.0
    manual_percent: float = 0.0
    power_W: float = 0.0  # last applied heater power

    @property
    def ramping(self) -> bool:
        return (self.ramp_enabled and self.ramp_rate_K_per_min > 0
                and self.working_setpoint_K != self.setpoint_K)

    @property
    def max_power_W(self) -> float:
        return HEATER_RANGE_A[self.range_index] ** 2 * self.resistance_ohm

    @property
    def output_percent(self) -> float:
        """Heater current in % of its range (the 372's HTR? in current display)."""
        i_max = HEATER_RANGE_A[self.range_index]
        if i_max == 0.0:
            return 0.0
        return 100.0 * math.sqrt(self.power_W / self.resistance_ohm) / i_max


class Fridge:
    """MC and sample-stage temperatures, integrated with exact exponential steps."""

    def __init__(self, params: FridgeParams | None = None, T_start_K: float | None = None
                 ) -> None:
        self.p = params or FridgeParams()
        self.heater = HeaterLoop()
        T0 = self.p.T_base_K if T_start_K is None else T_start_K
        self.T_mc_K = T0
        self.T_sample_K = self._sample_equilibrium(T0)

    def _sample_equilibrium(self, T_mc: float) -> float:
        return (T_mc**4 + self.p.T_floor_K**4) ** 0.25

    def heater_off(self) -> None:
        self.heater.range_index = 0
        self.heater.power_W = 0.0

    def step(self, h_s: float) -> None:
        p, loop = self.p, self.heater
        k, Tb2 = p.cooling_W_per_K2, p.T_base_K**2
        if loop.ramp_enabled and loop.ramp_rate_K_per_min > 0:
            delta = loop.setpoint_K - loop.working_setpoint_K
            move = loop.ramp_rate_K_per_min / 60.0 * h_s
            loop.working_setpoint_K = (loop.setpoint_K if abs(delta) <= move
                                       else loop.working_setpoint_K + math.copysign(move, delta))
        else:
            loop.working_setpoint_K = loop.setpoint_K

        y = self.T_mc_K**2
        P_max = loop.max_power_W
        tracked = False
        if loop.mode == MODE_CLOSED_LOOP and P_max > 0:
            tau_loop = min(max(p.tau_loop_s_at_P10 * 10.0 / max(loop.P, 1e-3), 2.0), 2000.0)
            y_sp = loop.working_setpoint_K**2
            P_needed = k * ((y - Tb2) + p.tau_mc_s * (y_sp - y) / tau_loop)
            P = min(max(P_needed, 0.0), P_max)
            if P_needed == P:
                y = y_sp + (y - y_sp) * math.exp(-h_s / tau_loop)
                tracked = True
        elif loop.mode == MODE_OPEN_LOOP and P_max > 0:
            P = (loop.manual_percent / 100.0 * HEATER_RANGE_A[loop.range_index]) ** 2 \
                * loop.resistance_ohm
        else:
            P = 0.0
        loop.power_W = P
        if not tracked:
            y_eq = Tb2 + P / k
            y = y_eq + (y - y_eq) * math.exp(-h_s / p.tau_mc_s)
        self.T_mc_K = min(math.sqrt(max(y, Tb2)), p.T_max_K)
        self.step_sample(h_s)

    def step_sample(self, h_s: float) -> None:
        """Advance the sample stage by ``h_s`` with the MC held at ``T_mc_K``.

        γT dT/dt = κ(T_eq⁴ − T⁴) is exact in y = T²: (y − Y)/(y + Y) ∝ e^(−4κY t/γ), Y = T_eq².
        """
        p = self.p
        Y = self._sample_equilibrium(self.T_mc_K) ** 2
        y = self.T_sample_K**2
        q = (y - Y) / (y + Y) * math.exp(
            -4.0 * p.stage_link_W_per_K4 * Y * h_s / p.stage_gamma_J_per_K2)
        self.T_sample_K = math.sqrt(Y * (1.0 + q) / (1.0 - q))
