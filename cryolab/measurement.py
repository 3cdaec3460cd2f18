"""One point: instrument readings → R, ρ and flags; excitation set-up, settling and ranging.

R is the four-point resistance from the lock-in's X and the actual current, with the current
I = V / (R_bias + R_leads + k·R) (k·R the part of the two-point resistance in the sample, station
``wiring.two_point_per_four_point``) solved for R in closed form; ρ = R · W / L. A point is *valid*
(used in fits) only when no flag is set. Flag bits (the run file's ``flags`` column):

==== ============================================================================
1    thermal mismatch: |T_sample − T_MC| / T_MC above the threshold (paper, Methods)
2    lock-in overload (input, filter or output; LIAS? bits 0–2)
4    not settled: within the settle time after a change of excitation, range or field
8    phase out of range: |θ| above the limit while the signal is above the noise
16   instrument fault: a reading needed a retry or reconnect (reliability layer)
==== ============================================================================
"""

from __future__ import annotations

import math
from enum import IntFlag

import numpy as np

from cryolab.clock import Clock
from cryolab.sequence import RunSettings
from cryolab.station import Station
from instruments.srs_sr830 import SR830, settle_time_s, time_constant_for


class Flag(IntFlag):
    THERMAL_MISMATCH = 1
    OVERLOAD = 2
    NOT_SETTLED = 4
    PHASE = 8
    INSTRUMENT_FAULT = 16


#: the columns of a point, in order (the run file's ``points`` tables; docs/data-format.md)
POINT_FIELDS: list[tuple[str, str]] = [
    ("time_s", "f8"),
    ("T_mc_K", "f8"),
    ("T_sample_K", "f8"),
    ("field_Oe", "f8"),
    ("lockin_x_V", "f8"),
    ("lockin_y_V", "f8"),
    ("current_A", "f8"),
    ("frequency_Hz", "f8"),
    ("time_constant_s", "f8"),
    ("R_ohm", "f8"),
    ("rho_ohm_sq", "f8"),
    ("valid", "?"),
    ("flags", "u2"),
    ("sample_thermometer_ohm", "f8"),
    ("setpoint_K", "f8"),
    ("sensitivity_V", "f8"),
]
POINT_DTYPE = np.dtype(POINT_FIELDS)
_MISMATCH, _OVERLOAD, _NOT_SETTLED, _PHASE, _FAULT = (
    int(f) for f in (Flag.THERMAL_MISMATCH, Flag.OVERLOAD, Flag.NOT_SETTLED, Flag.PHASE,
                     Flag.INSTRUMENT_FAULT))
COLUMN = {name: i for i, (name, _) in enumerate(POINT_FIELDS)}

#: mains frequencies that the excitation's low harmonics should keep away from
MAINS_HZ = (50.0, 60.0)
MAINS_HARMONICS = 10
MAINS_MARGIN_HZ = 1.0
#: ωR_2pt·C at or below this keeps the line-capacitance phase under 3° and amplitude error
#: under 0.1 %; above twice this the frequency is lowered even mid-ramp
RC_TARGET = 0.05
PERIODS_PER_TAU = 3.0  # 'auto' time constant: at least this many reference periods


def choose_frequency(R_2pt_ohm: float, line_capacitance_F: float,
                     limits_Hz: tuple[float, float], harmonics: int = MAINS_HARMONICS,
                     margin_Hz: float = MAINS_MARGIN_HZ) -> float:
    """The highest frequency inside the limits with ωR_2pt·C ≤ RC_TARGET whose first
    ``harmonics`` multiples all stay ``margin_Hz`` away from 50 and 60 Hz.

    Mains pickup that lands near a harmonic of the excitation leaks into the demodulated
    signal (through any non-linearity in the wiring), hence the usual rule of steering clear
    of f = 50/n and 60/n; an absolute margin at each harmonic keeps that rule from forbidding
    every frequency below a few Hz, where the sub-harmonics crowd together.
    """
    low, high = limits_Hz
    ceiling = RC_TARGET / (2 * math.pi * max(R_2pt_ohm, 1.0) * line_capacitance_F)
    f = math.floor(min(high, ceiling) * 100 + 1e-9) / 100  # 0.01 Hz steps, never above high
    while f >= low:
        if all(abs(n * f - m) >= margin_Hz for m in MAINS_HZ for n in range(1, harmonics + 1)):
            return f
        f = round(f - 0.01, 2)
    return low


class Acquisition:
    """Reads points and owns what the lock-in is set to (so no point re-queries settings)."""

    def __init__(self, station: Station, settings: RunSettings, clock: Clock) -> None:
        self.station = station
        self.settings = settings
        self.clock = clock
        wiring = station.config.wiring
        self.series_ohm = wiring.bias_resistor_ohm + wiring.lead_resistance_ohm
        self.k2 = wiring.two_point_per_four_point
        self.w_over_l = station.width_over_length
        self.source_V = math.nan
        self.frequency_Hz = math.nan
        self.tau_s = math.nan
        self.slope_dB = 24
        self.sensitivity_V = math.nan
        self.field_Oe = math.nan
        self.setpoint_K = math.nan
        self.settled_at = -math.inf
        self.last_R_ohm = math.nan
        self.requested_current_A = math.nan  # what the sequence asked for (current_A: actual)
        self.fault_pending = False  # set by the reliability layer when a read was retried

    # ------------------------------------------------------------------ state from instruments
    def sync_from_instruments(self) -> None:
        """Read what the lock-in and bias are set to now (at the start of a run)."""
        lockin = self.station.lockin
        self.frequency_Hz = lockin.frequency
        self.tau_s = lockin.time_constant
        self.slope_dB = lockin.filter_slope
        self.sensitivity_V = lockin.sensitivity
        self.source_V = lockin.sine_voltage
        self.field_Oe = self.station.magnet.field_Oe

    @property
    def current_A(self) -> float:
        return self.source_V / (self.series_ohm + self.k2 * self._R())

    def _R(self) -> float:
        return self.last_R_ohm if math.isfinite(self.last_R_ohm) else 0.0

    def two_point_ohm(self) -> float:
        """R_2pt ≈ k·R_4pt + leads: what the bias resistor and the line capacitance see."""
        return self.k2 * self._R() + self.station.config.wiring.lead_resistance_ohm

    @property
    def interval_s(self) -> float:
        return self.settings.point_interval_tau * self.tau_s

    def settle_time_s(self, precision: float = 0.99) -> float:
        return settle_time_s(self.tau_s, self.slope_dB, precision)

    def mark_unsettled(self, duration_s: float) -> None:
        self.settled_at = max(self.settled_at, self.clock.now() + duration_s)

    # ------------------------------------------------------------------ excitation
    def set_current(self, current_A: float) -> str | None:
        """Bias current via the source voltage; the points after it are 'not settled'.

        The current must lie within the station's limits (validated before the run). The
        voltage it takes depends on the sample's resistance, known only now: if the source
        cannot make it, the nearest voltage it can is used and the reason is returned (the
        actual current is in every point's current_A), rather than ending the night.
        """
        bias = self.station.bias
        bias.r2pt_estimate_ohm = self.two_point_ohm()
        bias.check(current_A)
        self.requested_current_A = current_A
        wanted = bias.voltage_for(current_A)
        limits = self.station.lockin.sine_voltage_limits
        low, high = limits
        self.source_V = min(max(wanted, low), high)
        self.station.lockin.sine_voltage = self.source_V
        self.mark_unsettled(self.settle_time_s())
        if self.source_V == wanted:
            return None
        return (f"{current_A * 1e9:.4g} nA would need {wanted:.4g} V from the sine output "
                f"through {bias.series_resistance_ohm:.4g} Ω, beyond its {low:g}–{high:.4g} V "
                f"({limits.source}): "
                f"{self.current_A * 1e9:.4g} nA instead")

    def configure_lockin(self, frequency_Hz: float, tau_s: float | None = None,
                         slope_dB: int | None = None) -> None:
        """Reference frequency and time constant (``None`` → several periods)."""
        lockin = self.station.lockin
        tau = tau_s if tau_s is not None else time_constant_for(PERIODS_PER_TAU / frequency_Hz)
        if slope_dB is not None and slope_dB != self.slope_dB:
            lockin.filter_slope = slope_dB
            self.slope_dB = slope_dB
        if frequency_Hz != self.frequency_Hz:
            lockin.frequency = frequency_Hz
            self.frequency_Hz = frequency_Hz
        if tau != self.tau_s:
            lockin.time_constant = tau
            self.tau_s = tau
        self.mark_unsettled(self.settle_time_s())

    def auto_frequency(self) -> float:
        """The frequency 'auto' picks for the last measured resistance."""
        return choose_frequency(self.two_point_ohm(),
                                self.station.config.wiring.line_capacitance_F,
                                self.station.config.limits.frequency_Hz)

    def rc_product(self) -> float:
        return 2 * math.pi * self.frequency_Hz * self.two_point_ohm() \
            * self.station.config.wiring.line_capacitance_F

    def set_sensitivity(self, sensitivity_V: float) -> None:
        self.station.lockin.sensitivity = sensitivity_V
        self.sensitivity_V = sensitivity_V
        self.mark_unsettled(3.0 * self.tau_s)

    def keep_in_range(self, r_V: float, overloaded: bool) -> None:
        """One sensitivity step up on overload or above 90 % of full scale; down below 15 %."""
        table, sensitivity = SR830.SENSITIVITIES, self.sensitivity_V
        if overloaded or r_V > 0.9 * sensitivity:
            i = table.index(sensitivity)
            if i < len(table) - 1:
                self.set_sensitivity(table[i + 1])
        elif r_V < 0.15 * sensitivity:
            i = table.index(sensitivity)
            if i > 0:
                self.set_sensitivity(table[i - 1])

    # ------------------------------------------------------------------ points
    def take_point(self, moving: bool = False) -> tuple:
        """Read the instruments once; return the row (POINT_FIELDS order).

        ``moving``: the caller saw the field (or another condition) still changing, so the
        point is 'not settled' whatever the settle window says — the window is on the
        clock, and reading the instruments takes clock time too (much of it at high
        simulation speeds), so a window alone can run out before a point is stamped.
        """
        st = self.station
        reading, status = st.lockin.snap_with_status()
        T_mc, T_sample, R_thermometer = st.read_temperatures()
        now = self.clock.now()
        overloaded = SR830.is_overload(status)

        x, V = reading.x_V, self.source_V
        # I = V / (R_bias + R_leads + k·R) and R = X / I, solved for R
        R = x * self.series_ohm / (V - self.k2 * x)
        I = V / (self.series_ohm + self.k2 * R)
        flags = 0  # plain ints here: IntFlag arithmetic costs ~1 µs per operation
        if not (abs(T_sample - T_mc) <= self.settings.mismatch_threshold * T_mc):
            flags |= _MISMATCH  # NaN (uncalibrated T_sample) fails too
        if overloaded:
            flags |= _OVERLOAD
        if moving or now < self.settled_at:
            flags |= _NOT_SETTLED
        if reading.r_V > self.settings.phase_min_signal_V and \
                abs(reading.theta_deg) > self.settings.phase_limit_deg:
            flags |= _PHASE
        if self.fault_pending:
            flags |= _FAULT
            self.fault_pending = False
        row = (now, T_mc, T_sample, self.field_Oe, x, reading.y_V, I, self.frequency_Hz,
               self.tau_s, R, R * self.w_over_l, flags == 0, flags, R_thermometer,
               self.setpoint_K, self.sensitivity_V)
        if not overloaded:
            self.last_R_ohm = R
        self.keep_in_range(reading.r_V, overloaded)
        return row
