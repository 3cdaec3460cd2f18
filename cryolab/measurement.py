"""One point: every channel's lock-in reading → R, ρ and flags; what the lock-ins are set to.

A point is a named record (:class:`Point`): the time, the temperatures, the field, the setpoint,
the point's own flags and one :class:`ChannelReading` per measurement channel. For each current
path (a lock-in's sine output through a bias resistor) the current is I = V / (R_bias + R_leads
+ k·R), k·R the part of the two-point resistance in the sample (station
``wiring.two_point_per_four_point``, R from the path's longitudinal channel); for the
longitudinal channel R = X / I solved in closed form, ρ = R · W / L; for a Hall channel on the
same path R_xy = X / I and ρ_xy = R_xy. A channel's reading is *valid* (used in fits) only when
no flag is set, its own or the point's. Flag bits (the run file's ``point_flags`` and
``<channel>_flags`` columns; a channel's flags include the point's):

==== ============================================================================
1    thermal mismatch: |T_sample − T_MC| / T_MC above the threshold (paper, Methods) — point
2    lock-in overload (input, filter or output) — channel
4    not settled: within the settle time after a change of excitation, range or field — channel
8    phase out of range: θ off the real axis beyond the limit while the signal is above the
     noise (for a Hall channel either sign of the voltage is on the axis) — channel
16   instrument fault: a reading needed a retry or reconnect (reliability layer) — point
==== ============================================================================
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from enum import IntFlag
from typing import TYPE_CHECKING, NamedTuple

from cryolab.bias import CurrentBias
from cryolab.clock import Clock
from cryolab.roles.protocols import LockIn
from cryolab.station import ChannelSpec, Station
from instruments.lockin_filter import settle_time_s

if TYPE_CHECKING:
    from cryolab.sequence import RunSettings


class Flag(IntFlag):
    THERMAL_MISMATCH = 1
    OVERLOAD = 2
    NOT_SETTLED = 4
    PHASE = 8
    INSTRUMENT_FAULT = 16
    HEATED = 32  # at a power and temperature where a linearity check found self-heating


_MISMATCH, _OVERLOAD, _NOT_SETTLED, _PHASE, _FAULT, _HEATED = (
    int(f) for f in (Flag.THERMAL_MISMATCH, Flag.OVERLOAD, Flag.NOT_SETTLED, Flag.PHASE,
                     Flag.INSTRUMENT_FAULT, Flag.HEATED))


class ChannelReading(NamedTuple):
    """One channel's part of a point."""

    x_V: float
    y_V: float
    R_ohm: float
    rho_ohm_sq: float  # Ω/□ for a longitudinal channel; ρ_xy in Ω for a Hall channel
    current_A: float
    frequency_Hz: float
    time_constant_s: float
    sensitivity_V: float
    flags: int  # this channel's bits and the point's
    valid: bool


class Point(NamedTuple):
    """One point of a run: what every subscriber receives (a named record, one per point)."""

    step_index: int
    time_s: float
    T_mc_K: float
    T_sample_K: float
    sample_thermometer_ohm: float
    field_Oe: float
    setpoint_K: float
    flags: int  # the point's own bits: thermal mismatch, instrument fault
    channels: tuple[ChannelReading, ...]


_new = tuple.__new__
_TWO_PI = 2.0 * math.pi

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


def time_constant_for(min_tau_s: float, grid: list[float] | tuple[float, ...]) -> float:
    """The shortest time constant of a lock-in's grid of at least ``min_tau_s``."""
    i = bisect.bisect_left(grid, min_tau_s * (1 - 1e-9))
    return grid[min(i, len(grid) - 1)]


@dataclass
class LockinState:
    """What a lock-in is set to, kept here so no point re-queries its settings."""

    name: str
    role: LockIn
    drives: bool  # its sine output drives a current (else it follows another's reference)
    frequency_Hz: float = math.nan
    tau_s: float = math.nan
    slope_dB: int = 24
    sensitivity_V: float = math.nan
    settled_at: float = -math.inf
    #: the role's full scales (read once: a point must not go through the guard for them)
    sensitivities_V: tuple[float, ...] = ()
    #: a reading between these keeps the sensitivity (see Acquisition.keep_in_range)
    in_range_V: tuple[float, float] = (0.0, math.inf)

    def set_sensitivity(self, sensitivity_V: float) -> None:
        """Record the full scale and the band of readings that keep it: up above 90 %, down
        below 15 % (unless there is no step that way)."""
        table = self.sensitivities_V
        if table and sensitivity_V not in table:  # a driver's float: the grid's nearest
            sensitivity_V = min(table, key=lambda s: abs(math.log(s / sensitivity_V)))
        self.sensitivity_V = sensitivity_V
        i = table.index(sensitivity_V) if table else -1
        low = 0.15 * sensitivity_V if i > 0 else 0.0
        high = 0.9 * sensitivity_V if 0 <= i < len(table) - 1 else math.inf
        self.in_range_V = (low, high)


@dataclass
class SourceState:
    """A current path: what its source puts out and the best estimate of the sample in it."""

    name: str
    bias: CurrentBias
    lockin: LockinState
    series_ohm: float  # R_bias + leads
    source_V: float = math.nan
    requested_A: float = math.nan  # what the sequence asked for (the points hold the actual)
    last_R_ohm: float = math.nan  # of the path's longitudinal channel, from the last point
    has_longitudinal: bool = False  # a channel of this path measures R_xx (sets point_I)
    point_I: float = math.nan  # the current of the point being taken
    #: φ = ωR_2pt·C of the path's line for the point being taken, from the phase of its
    #: longitudinal channel once the input's share is taken out
    point_line: float = 0.0
    point_rho_ohm: float = 0.0  # ρ_xx of the point being taken: what loads a Hall channel
    #: P/T⁵ (W/K⁵, P = I²R_xx) at and beyond which a linearity check found heating
    heating_bound: float | None = None
    point_heated: bool = False


@dataclass
class _ChannelPlan:
    """Precomputed per point: which lock-in, which path, longitudinal or Hall."""

    spec: ChannelSpec
    lockin: LockinState
    source: SourceState
    longitudinal_of_source: bool  # its R sets the path's current
    hall: bool
    w_over_l: float
    input_S: float  # 1/R_in of what loads the probes (the lock-in's input or a preamplifier)
    input_F: float  # its C_in
    inverse_gain: float  # 1/gain of a preamplifier: the probes' voltage from the reading


class Acquisition:
    """Reads points and owns what the lock-ins and current sources are set to."""

    def __init__(self, station: Station, settings: RunSettings, clock: Clock) -> None:
        self.station = station
        self.settings = settings
        self.clock = clock
        wiring = station.config.wiring
        self.k2 = wiring.two_point_per_four_point
        self.leads_ohm = wiring.lead_resistance_ohm
        sources = {s.name: s for s in station.config.source_specs()}
        self.lockins = {name: LockinState(name, role, name in sources,
                                          sensitivities_V=tuple(role.sensitivities_V))
                        for name, role in station.lockins.items()}
        self.sources = {name: SourceState(name, station.sources[name], self.lockins[name],
                                          spec.resistor_ohm + self.leads_ohm)
                        for name, spec in sources.items()}
        plans = []
        for channel in station.channels:
            spec = channel.spec
            source = self.sources[spec.source]
            longitudinal = sources[spec.source].longitudinal == spec.name
            source.has_longitudinal |= longitudinal
            plans.append(_ChannelPlan(spec, self.lockins[spec.lockin], source, longitudinal,
                                      spec.kind == "hall", spec.w_over_l, 1.0 / spec.input_ohm,
                                      spec.input_F, 1.0 / spec.gain))
        # the path's longitudinal channel first: its R sets the current the others see; the
        # readings still come out in the station's channel order
        order = sorted(range(len(plans)), key=lambda i: not plans[i].longitudinal_of_source)
        self._order = [(i, plans[i]) for i in order]
        self._reads = [plan.lockin.role.read for plan in plans]  # bound once, called per point
        self._plans = plans
        self.channel_names = [p.spec.name for p in plans]
        self.field_Oe = math.nan
        self.setpoint_K = math.nan
        self.slope_dB = 24
        self.tau_s = math.nan
        self.fault_pending = False  # set by the reliability layer when a read was retried

    # ------------------------------------------------------------------ state from instruments
    def sync_from_instruments(self) -> None:
        """Read what the lock-ins and sources are set to now (at the start of a run)."""
        for state in self.lockins.values():
            role = state.role
            state.frequency_Hz = role.frequency_Hz
            state.tau_s = role.time_constant_s
            state.slope_dB = role.slope_dB_per_oct
            state.set_sensitivity(role.sensitivity_V)
        for source in self.sources.values():
            source.source_V = source.lockin.role.sine_V
        first = next(iter(self.lockins.values()))
        self.tau_s, self.slope_dB = first.tau_s, first.slope_dB
        self.field_Oe = self.station.magnet.field_Oe

    # ------------------------------------------------------------------ derived
    @property
    def frequency_Hz(self) -> float:
        return next(iter(self.sources.values())).lockin.frequency_Hz

    @property
    def interval_s(self) -> float:
        return self.settings.point_interval_tau * self.tau_s

    def settle_time_s(self, precision: float = 0.99) -> float:
        return settle_time_s(self.tau_s, self.slope_dB, precision)

    def mark_unsettled(self, duration_s: float) -> None:
        until = self.clock.now() + duration_s
        for state in self.lockins.values():
            state.settled_at = max(state.settled_at, until)

    def two_point_ohm(self, source: SourceState) -> float:
        """R_2pt ≈ k·R_4pt + leads: what the bias resistor and the line capacitance see."""
        R = source.last_R_ohm if math.isfinite(source.last_R_ohm) else 0.0
        return self.k2 * R + self.leads_ohm

    def current_A(self, source: SourceState) -> float:
        return source.source_V / (source.series_ohm + self.k2 * (
            source.last_R_ohm if math.isfinite(source.last_R_ohm) else 0.0))

    @property
    def last_R_ohm(self) -> float:
        """The largest resistance any path measured last (what 'auto' frequency follows)."""
        values = [s.last_R_ohm for s in self.sources.values() if math.isfinite(s.last_R_ohm)]
        return max(values) if values else math.nan

    # ------------------------------------------------------------------ excitation
    def set_current(self, current_A: float) -> list[str]:
        """The same current on every path, via its source voltage; points after it are 'not
        settled'.

        The current must lie within the station's limits (validated before the run). The
        voltage it takes depends on the sample's resistance, known only now: if a source cannot
        make it, the nearest voltage it can is used and the reason is returned (the actual
        current is in every point's current_A), rather than ending the night.
        """
        limited = []
        for source in self.sources.values():
            bias = source.bias
            bias.r2pt_estimate_ohm = self.two_point_ohm(source)
            bias.check(current_A)
            source.requested_A = current_A
            wanted = bias.voltage_for(current_A)
            limits = source.lockin.role.sine_limits_V
            source.source_V = min(max(wanted, limits.low), limits.high)
            source.lockin.role.sine_V = source.source_V
            if source.source_V != wanted:
                limited.append(
                    f"{source.name}: {current_A * 1e9:.4g} nA would need {wanted:.4g} V through "
                    f"{bias.series_resistance_ohm:.4g} Ω, beyond its {limits.low:g}–"
                    f"{limits.high:.4g} V ({limits.source}): "
                    f"{self.current_A(source) * 1e9:.4g} nA instead")
        self.mark_unsettled(self.settle_time_s())
        return limited

    @property
    def requested_current_A(self) -> float:
        return next(iter(self.sources.values())).requested_A

    def configure_lockins(self, frequency_Hz: float, tau_s: float | None = None,
                          slope_dB: int | None = None) -> None:
        """Reference frequency (the driving lock-ins; the others follow their reference) and
        time constant (``None`` → several periods, on each lock-in's own grid)."""
        for state in self.lockins.values():
            role = state.role
            if slope_dB is not None and slope_dB != state.slope_dB:
                role.slope_dB_per_oct = slope_dB
                state.slope_dB = slope_dB
            if state.drives and frequency_Hz != state.frequency_Hz:
                role.frequency_Hz = frequency_Hz
            state.frequency_Hz = frequency_Hz
            tau = tau_s if tau_s is not None else \
                time_constant_for(PERIODS_PER_TAU / frequency_Hz, role.time_constants_s)
            if tau != state.tau_s:
                role.time_constant_s = tau
                state.tau_s = tau
        first = next(iter(self.lockins.values()))
        self.tau_s, self.slope_dB = first.tau_s, first.slope_dB
        self.mark_unsettled(self.settle_time_s())

    def follow_references(self) -> None:
        """Lock-ins that drive no current take their reference from the one that does."""
        for state in self.lockins.values():
            state.role.set_reference(external=not state.drives)

    def auto_frequency(self) -> float:
        """The frequency 'auto' picks for the largest two-point resistance of any path."""
        R_2pt = max(self.two_point_ohm(s) for s in self.sources.values())
        config = self.station.config
        return choose_frequency(R_2pt, config.wiring.line_capacitance_F,
                                config.limits.frequency_Hz)

    def rc_product(self) -> float:
        R_2pt = max(self.two_point_ohm(s) for s in self.sources.values())
        return 2 * math.pi * self.frequency_Hz * R_2pt \
            * self.station.config.wiring.line_capacitance_F

    def set_sensitivity(self, state: LockinState, sensitivity_V: float) -> None:
        state.role.sensitivity_V = sensitivity_V
        state.set_sensitivity(sensitivity_V)
        state.settled_at = max(state.settled_at, self.clock.now() + 3.0 * state.tau_s)

    def keep_in_range(self, state: LockinState, r_V: float, overloaded: bool) -> None:
        """One sensitivity step up on overload or above 90 % of full scale; down below 15 %."""
        table, sensitivity = state.sensitivities_V, state.sensitivity_V
        low, high = state.in_range_V
        if overloaded or r_V > high:
            i = table.index(sensitivity)
            if i < len(table) - 1:
                self.set_sensitivity(state, table[i + 1])
        elif r_V < low:
            self.set_sensitivity(state, table[table.index(sensitivity) - 1])

    # ------------------------------------------------------------------ points
    def take_point(self, step_index: int, moving: bool = False) -> Point:
        """Read the instruments once.

        ``moving``: the caller saw the field (or another condition) still changing, so every
        channel is 'not settled' whatever the settle window says — the window is on the clock,
        and reading the instruments takes clock time too (much of it at high simulation
        speeds), so a window alone can run out before a point is stamped.
        """
        readings = [read() for read in self._reads]
        T_mc, T_sample, R_thermometer = self.station.read_temperatures()
        now = self.clock.now()
        settings = self.settings
        point_flags = 0  # plain ints here: IntFlag arithmetic costs ~1 µs per operation
        if not (abs(T_sample - T_mc) <= settings.mismatch_threshold * T_mc):
            point_flags |= _MISMATCH  # NaN (uncalibrated T_sample) fails too
        if self.fault_pending:
            point_flags |= _FAULT
            self.fault_pending = False
        k2 = self.k2
        phase_min_V, phase_limit = settings.phase_min_signal_V, settings.phase_limit_deg
        out: list[ChannelReading | None] = [None] * len(readings)
        for i, plan in self._order:
            x, y, r, theta, overloaded = readings[i]
            source, lockin = plan.source, plan.lockin
            # What the lock-in reads is the probes' voltage IR low-passed by the line, 1/(1 + jφ)
            # with φ = ωR_2pt·C, and divided by the input's loading, 1 + R_s(1/R_in + jωC_in).
            # Both are undone from the complex reading w = (X + jY)(a + jb), a = 1 + R_s/R_in,
            # b = ωC_in·R_s: IR = |w|²/Re w, and φ = −Im w/Re w is the path's line phase, which
            # the Hall voltage shares. (X alone would read IR/(1 + φ²), 1 % low at φ = 0.1.)
            g = plan.inverse_gain  # the file keeps the lock-in's own X, Y
            u, w = x * g, y * g
            omega_C = _TWO_PI * lockin.frequency_Hz * plan.input_F
            if plan.longitudinal_of_source:
                V, series = source.source_V, source.series_ohm
                if u > 0.0:
                    G = plan.input_S
                    R = source.last_R_ohm
                    for _ in range(2):
                        # b (C_in's share) from an R near the answer: it enters φ·b·δR/R,
                        # 4·10⁻⁶ for a 1 % change at 2 MΩ and 7 Hz
                        last = R if R == R else 0.0
                        a1, b = 1.0 + G * last, omega_C * last
                        wr, wi = u * a1 - w * b, u * b + w * a1
                        # IR = m·a with m = |w|²/(a·Re w), which depends on b/a only; with
                        # I = V/(series + k·R): R·V = m(1 + G·R)(series + k·R), a quadratic
                        m = (wr * wr + wi * wi) / (wr * a1)
                        B = V - m * (k2 + series * G)
                        disc = B * B - 4.0 * m * k2 * G * m * series
                        # no root: more than the input lets through (noise on an open input)
                        R = 2.0 * m * series / (B + math.sqrt(disc)) \
                            if disc > 0.0 and B > 0.0 else m * series / (V - k2 * m)
                        if abs(R - last) <= 0.01 * R:
                            break
                    source.point_line = -wi / wr
                else:  # no signal to take a phase from
                    R = u * series / (V - k2 * u)
                    source.point_line = 0.0
                I = source.point_I = V / (series + k2 * R)
                source.point_rho_ohm = R * plan.w_over_l
                # hot electrons: T_e⁵ − T⁵ = P/Σ, so ΔT/T grows with P/T⁵ (electron–phonon
                # coupling in metal films, Wellstood, Urbina & Clarke, PRB 49, 5942 (1994))
                bound = source.heating_bound
                source.point_heated = bound is not None and bound * T_sample**5 <= I * I * R
                if not overloaded:
                    source.last_R_ohm = R
            else:  # the path's longitudinal channel went first, if it has one
                if source.has_longitudinal:
                    # a Hall pair sits about one square of ρ_xx from the current path
                    R_s = source.point_rho_ohm
                    a, b = 1.0 + R_s * plan.input_S, omega_C * R_s
                    wr, wi = u * a - w * b, u * b + w * a
                    I, v = source.point_I, wr - source.point_line * wi
                else:
                    I, v = self.current_A(source), u
                R = v / I
            flags = point_flags
            if source.point_heated:
                flags |= _HEATED
            if overloaded:
                flags |= _OVERLOAD
            if moving or now < lockin.settled_at:
                flags |= _NOT_SETTLED
            theta = abs(theta)
            if plan.hall:
                theta = min(theta, 180.0 - theta)  # either sign of V_xy is on the real axis
            if r > phase_min_V and theta > phase_limit:
                flags |= _PHASE
            # tuple.__new__ skips NamedTuple's Python-level __new__: 0.1 µs a record
            out[i] = _new(ChannelReading, (x, y, R, R * plan.w_over_l, I, lockin.frequency_Hz,
                                           lockin.tau_s, lockin.sensitivity_V, flags,
                                           flags == 0))
            low, high = lockin.in_range_V
            if overloaded or not low <= r <= high:
                self.keep_in_range(lockin, r, overloaded)
        return _new(Point, (step_index, now, T_mc, T_sample, R_thermometer, self.field_Oe,
                            self.setpoint_K, point_flags, tuple(out)))
