"""Stand-in instruments that answer at once, in this process: no sockets, no protocol, no file.

They fill the runner's roles (``cryolab.roles.protocols``) over one tiny shared state: the
mixing chamber sits at its setpoint as soon as the heater regulates, the magnet is at its
target as soon as it is asked, and each lock-in reads the voltage its channel's current makes
through a fixed sample — R_xx on a longitudinal channel, R_H·H on a Hall channel — with that
current computed exactly as the bias network gives it, I = V / (R_bias + R_leads + k·R_xx).
So a run on them recovers R, ρ = R·W/L and ρ_xy = R_H·H to rounding, and the engine and the
whole data path can be run and timed without the twins' TCP servers.

A reading is recomputed only when something it depends on changed (a setpoint, the field, a
sine amplitude), so timing a point times cryolab's own work, not the stand-ins'.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from cryolab.calibration import Curve340
from cryolab.roles.protocols import LockinReading, MagnetStatus
from cryolab.station import (
    Station,
    StationConfig,
    load_station,
    parse_calibrations,
    read_calibrations,
)
from instruments.limits import LimitError, Span

#: grids like the lock-ins' own: time constants 1-3-10 from 10 µs to 30 ks, full scales 1-2-5
#: from 1 nV to 1 V
TIME_CONSTANTS_S = tuple(m * 10.0 ** e for e in range(-5, 5) for m in (1, 3))
SENSITIVITIES_V = (*(m * 10.0 ** e for e in range(-9, 0) for m in (1, 2, 5)), 1.0)


@dataclass
class InstantState:
    """What every stand-in shares: the sample, the fridge and the field."""

    R_xx_ohm: float
    R_H_ohm_per_Oe: float
    T_base_K: float
    sample_curve: Curve340
    two_point_per_four_point: float
    lead_resistance_ohm: float
    T_K: float = math.nan
    field_Oe: float = 0.0
    version: int = 0  # bumped on every change a reading depends on
    lockins: dict[str, InstantLockIn] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.T_K = self.T_base_K

    def changed(self) -> None:
        self.version += 1


class _Instant:
    """The connection upkeep every stand-in shares: nothing to reconnect or confirm."""

    model: str
    name: str

    def identify(self) -> str:
        return f"cryolab,{self.model},{self.name},0"

    def reconnect(self) -> None:
        pass

    def confirm(self) -> None:
        pass

    def close(self) -> None:
        pass


class InstantLockIn(_Instant):
    """A lock-in reading one channel: its own current's voltage, or a source lock-in's."""

    model = "instant lock-in"
    time_constants_s: Sequence[float] = TIME_CONSTANTS_S
    sensitivities_V: Sequence[float] = SENSITIVITIES_V

    def __init__(self, name: str, state: InstantState, source: str, resistor_ohm: float,
                 hall: bool, input_ohm: float = math.inf, input_F: float = 0.0,
                 hall_squares: float = 1.0) -> None:
        self.name = name
        # what loads the probes: R_in ∥ C_in (the acquisition undoes it, cryolab.measurement)
        self._input_ohm, self._input_F = input_ohm, input_F
        self._hall_squares = hall_squares  # a Hall pair's source resistance: R_xx × this
        self._state = state
        self._source = source
        self._resistor_ohm = resistor_ohm
        self._hall = hall
        self.sine_limits_V = Span(0.004, 5.0, "an instant lock-in's sine output")
        self.frequency_Hz = 6.93
        self.time_constant_s = 1.0
        self.slope_dB_per_oct = 24
        self.sensitivity_V = 1e-4
        self._sine_V = 0.004
        self.external_reference = False
        self.synchronous_filter = False
        self._cached: tuple[int, LockinReading] | None = None

    @property
    def sine_V(self) -> float:
        return self._sine_V

    @sine_V.setter
    def sine_V(self, value: float) -> None:
        self._check_sine(value)
        self._sine_V = float(value)
        self._state.changed()

    def _check_sine(self, value: float) -> None:
        low, high = self.sine_limits_V
        if not low <= value <= high:
            raise LimitError(f"{self.name}: sine amplitude {value:g} V is outside "
                             f"{low:g}–{high:g} V")

    def read(self) -> LockinReading:
        state = self._state
        if self._cached is None or self._cached[0] != state.version:
            source = state.lockins[self._source]
            R_2pt = state.two_point_per_four_point * state.R_xx_ohm + state.lead_resistance_ohm
            current_A = source.sine_V / (source._resistor_ohm + R_2pt)
            R = state.R_H_ohm_per_Oe * state.field_Oe if self._hall else state.R_xx_ohm
            # the probes' voltage through a line of phase φ = 1e-4 and divided by the input's
            # loading (R_s/R_in), as the acquisition expects and undoes
            R_s = state.R_xx_ohm * (self._hall_squares if self._hall else 1.0)
            loading = complex(1.0 + R_s / self._input_ohm,
                              2 * math.pi * source.frequency_Hz * self._input_F * R_s)
            v = current_A * R / (complex(1.0, 1e-4) * loading)
            x, y = v.real, v.imag
            reading = LockinReading(x, y, math.hypot(x, y), math.degrees(math.atan2(y, x)),
                                    abs(x) > self.sensitivity_V)
            self._cached = (state.version, reading)
        return self._cached[1]

    def set_synchronous_filter(self, on: bool) -> None:
        self.synchronous_filter = on

    def set_reference(self, external: bool) -> None:
        self.external_reference = external

    def auto_range(self, wait: Callable[[float], object]) -> float:
        """The smallest full scale above twice the signal, as the lock-ins' AGAN does."""
        self._cached = None
        r_V = self.read().r_V
        self.sensitivity_V = next((s for s in self.sensitivities_V if s >= 2 * r_V),
                                  self.sensitivities_V[-1])
        self._cached = None
        return self.sensitivity_V


class InstantBridge(_Instant):
    """The MC thermometer in kelvin (its curve 'in the bridge'), the sample thermometer in
    ohms from the station's .340; the MC is at the setpoint while the heater regulates."""

    model = "instant bridge"

    def __init__(self, name: str, state: InstantState) -> None:
        self.name = name
        self._state = state
        self._range = 0
        self._setpoint_K = 0.0
        self._ramp = (False, 0.1)
        self.limit_K: float | None = None
        self.heater_ohm = 120.0
        self._sample_ohm = (math.nan, math.nan)  # (T, R) last converted

    def _follow(self) -> None:
        state = self._state
        state.T_K = self._setpoint_K if self._range > 0 and self._setpoint_K > state.T_base_K \
            else state.T_base_K
        state.changed()

    def read_thermometers(self, mc_channel: int | str, mc_in_kelvin: bool,
                          sample_channel: int | str) -> tuple[float, float]:
        T = self._state.T_K
        if self._sample_ohm[0] != T:
            self._sample_ohm = (T, float(self._state.sample_curve.resistance_ohm(T)))
        return T, self._sample_ohm[1]

    def regulate_on(self, channel: int | str) -> None:
        pass

    @property
    def heater_range(self) -> int:
        return self._range

    @heater_range.setter
    def heater_range(self, index: int) -> None:
        self._range = int(index)
        self._follow()

    @property
    def setpoint_K(self) -> float:
        return self._setpoint_K

    @setpoint_K.setter
    def setpoint_K(self, value: float) -> None:
        self._setpoint_K = float(value)
        self._follow()

    @property
    def heater_percent(self) -> float:
        return 10.0 if self._range > 0 else 0.0

    def ramp(self) -> tuple[bool, float]:
        return self._ramp

    def set_ramp(self, on: bool, rate_K_per_min: float) -> None:
        self._ramp = (on, rate_K_per_min)

    @property
    def ramping(self) -> bool:
        return False

    def set_heater_resistance(self, ohm: float) -> None:
        self.heater_ohm = ohm

    def heaters_off(self) -> None:
        self.heater_range = 0

    def set_temperature_limit(self, channel: int | str, limit_K: float) -> bool:
        self.limit_K = limit_K
        return True


class InstantMagnet(_Instant):
    """At the target as soon as it is asked; refuses what its limits refuse, as the drivers
    do."""

    model = "instant magnet"

    def __init__(self, name: str, state: InstantState) -> None:
        self.name = name
        self._state = state
        self._limits = (math.inf, math.inf)
        self.status = MagnetStatus.HOLDING
        self.requests: list[tuple[float, float]] = []  # (target Oe, rate Oe/s) asked for

    @property
    def field_Oe(self) -> float:
        return self._state.field_Oe

    def set_limits(self, max_field_Oe: float, max_rate_Oe_per_s: float, source: str) -> None:
        self._limits = (max_field_Oe, max_rate_Oe_per_s)

    def start_ramp(self, target_Oe: float, rate_Oe_per_s: float) -> None:
        max_field, max_rate = self._limits
        if abs(target_Oe) > max_field or not 0 < rate_Oe_per_s <= max_rate:
            raise LimitError(f"{self.name}: {target_Oe:g} Oe at {rate_Oe_per_s:g} Oe/s is "
                             f"beyond ±{max_field:g} Oe, {max_rate:g} Oe/s")
        self.requests.append((target_Oe, rate_Oe_per_s))
        self._state.field_Oe = float(target_Oe)
        self._state.changed()
        self.status = MagnetStatus.HOLDING

    def hold(self) -> None:
        self.status = MagnetStatus.HOLDING

    def continue_ramp(self) -> None:
        self.status = MagnetStatus.HOLDING

    def zero(self) -> None:
        self._state.field_Oe = 0.0
        self._state.changed()
        self.status = MagnetStatus.AT_ZERO


def instant_station(config: StationConfig | None = None, *, R_xx_ohm: float = 2.5e4,
                    R_H_ohm_per_Oe: float = 0.5, T_base_K: float = 0.1) -> Station:
    """A real :class:`~cryolab.station.Station` (calibrations, channels, sources, the fault
    guards the engine puts around it) on stand-ins for every instrument ``config`` names
    (default: the simulated station)."""
    config = config if config is not None else load_station()
    curves = parse_calibrations(config, read_calibrations(config))
    wiring = config.wiring
    state = InstantState(R_xx_ohm, R_H_ohm_per_Oe, T_base_K, curves["sample"],
                         wiring.two_point_per_four_point, wiring.lead_resistance_ohm)
    resistors = {s.name: s.resistor_ohm for s in config.source_specs()}
    channel_of = {c.lockin: c for c in config.channel_specs()}
    instruments: dict[str, object] = {}
    for name in config.names_of("lockin"):
        channel = channel_of.get(name)
        source = channel.source if channel is not None else name
        lockin = InstantLockIn(name, state, source, resistors.get(name, math.nan),
                               channel is not None and channel.kind == "hall",
                               channel.input_ohm if channel is not None else math.inf,
                               channel.input_F if channel is not None else 0.0,
                               config.sample.width_um / config.sample.length_um)
        state.lockins[name] = lockin
        instruments[name] = lockin
    instruments[config.bridge_name] = InstantBridge(config.bridge_name, state)
    magnet = InstantMagnet(config.magnet_name, state)
    limits = config.limits
    magnet.set_limits(limits.max_field_Oe, limits.max_field_ramp_Oe_per_s, "station limits")
    instruments[config.magnet_name] = magnet
    return Station(config, instruments, curves)
