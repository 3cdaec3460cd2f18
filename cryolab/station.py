"""The station: what is wired to what (instruments, measurement channels, sample, limits), read
once from its file, connected into roles with the limits applied inside the drivers.

A station file is YAML validated by the models below: unknown keys and out-of-range values are
refused with the key path. ``instruments`` maps a name to an instrument of any registered model
(``cryolab.roles.registry``); exactly one bridge and one magnet supply, any number of lock-ins.
``channels`` maps a name (it prefixes the run file's columns: ``xx_rho_ohm_sq``) to a lock-in,
the lock-in whose sine output drives its current through the bias resistor, its geometry and
whether it measures a longitudinal or a Hall voltage. A station without ``channels`` and with
one lock-in has one longitudinal channel, ``xx`` — every station file written before channels
existed reads unchanged. :func:`connect` opens the instruments and narrows each driver's
accepted values to the station's limits, so a limit holds in the driver even if a caller skips
validation. A simulated station ships with the package (``cryolab/data/sim_station.yaml``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from cryolab.bias import CurrentBias
from cryolab.calibration import CalibrationError, Curve340, parse_340
from cryolab.guard import FaultReport, Guard, Guarded, OnDown, OnFault, classify
from cryolab.inputs import (
    InputError,
    Name,
    Number,
    WholeNumber,
    read_text,
    read_yaml_mapping,
    validation_problems,
)
from cryolab.roles.protocols import Bridge, LockIn, MagnetSupply
from cryolab.roles.registry import (
    DEFAULT_MODEL_OF_KEY,
    MODELS,
    AnyInstrumentConfig,
    BridgeConfig,
    Resource,
    bridge_ramp_range_K_per_min,
    lockin_input_impedance,
    sine_output_range_V,
)
from instruments.limits import Span

NonNegative = Annotated[Number, Field(ge=0)]
log = logging.getLogger(__name__)

#: instrument and channel names: short identifiers (a channel's prefixes column names)
InstrumentName = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,31}$")]
ChannelName = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9]{0,15}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WiringConfig(_Strict):
    bias_resistor_ohm: Annotated[Number, Field(gt=0, le=1e13)] = 1.0e9
    #: (before channels existed) what drives the bias resistor: the lock-in's own sine output
    bias_source: Literal["lockin"] = "lockin"
    #: wiring and contacts in the current path, added to the sample's R_2pt estimate
    lead_resistance_ohm: NonNegative = 5.0e3
    line_capacitance_F: Annotated[Number, Field(gt=0, lt=1e-6)] = 1.0e-9
    #: the largest two-point resistance expected; bounds the sine output the driver accepts
    max_two_point_ohm: Annotated[Number, Field(gt=0, le=1e13)] = 1.0e7
    #: R_2pt ≈ this × R_4pt + leads: the current path also crosses the bar beyond the voltage
    #: probes (≈ 2 for a Hall bar whose probes span half its length)
    two_point_per_four_point: Annotated[Number, Field(ge=1, le=100)] = 2.0


class GeometryConfig(_Strict):
    width_um: Annotated[Number, Field(gt=0, le=1e6)]
    length_um: Annotated[Number, Field(gt=0, le=1e6)]


class SampleConfig(_Strict):
    name: Annotated[Name, Field(min_length=1, max_length=200)] = "sample"
    width_um: Annotated[Number, Field(gt=0, le=1e6)]
    length_um: Annotated[Number, Field(gt=0, le=1e6)]
    #: the on-chip RuO₂ calibration, a Lake Shore .340 file (relative to the station file)
    thermometer_calibration: Resource

    @property
    def width_over_length(self) -> float:
        return self.width_um / self.length_um


class BiasConfig(_Strict):
    #: the lock-in whose sine output drives the current through the bias resistor
    source: InstrumentName
    #: default: wiring.bias_resistor_ohm
    resistor_ohm: Annotated[Number, Field(gt=0, le=1e13)] | None = None


class PreamplifierConfig(_Strict):
    """A voltage preamplifier between the probes and the lock-in: its input, not the
    lock-in's, loads the sample, and the lock-in reads ``gain`` times the probes' voltage."""

    input_resistance_ohm: Annotated[Number, Field(gt=0, le=1e16)]
    input_capacitance_F: Annotated[Number, Field(ge=0, le=1e-6)] = 0.0
    gain: Annotated[Number, Field(gt=0, le=1e6)] = 1.0


class ChannelConfig(_Strict):
    """One measured voltage: a lock-in on a pair of probes."""

    lockin: InstrumentName
    #: longitudinal: ρ = R·W/L (Ω/□); hall: ρ_xy = R_xy, no geometry factor (Ω)
    kind: Literal["longitudinal", "hall"] = "longitudinal"
    #: default: the channel's own lock-in's sine output through wiring.bias_resistor_ohm
    bias: BiasConfig | None = None
    #: default: the sample's width and length
    geometry: GeometryConfig | None = None
    #: default: none, the lock-in's own voltage input loads the probes
    preamplifier: PreamplifierConfig | None = None


def _pair(name: str, unit: str, low_min: float, high_max: float):
    def check(v: object) -> tuple[float, float]:
        if not (isinstance(v, list | tuple) and len(v) == 2) or any(
                isinstance(x, bool) or not isinstance(x, int | float) for x in v):
            raise ValueError(f"{name} must be [low, high]: two numbers in {unit}")
        low, high = (float(x) for x in v)
        if not (math.isfinite(low) and math.isfinite(high)):
            raise ValueError(f"{name} must be finite")
        if not low_min <= low < high <= high_max:
            raise ValueError(f"{name} must satisfy {low_min:g} ≤ low < high ≤ {high_max:g} {unit}")
        return low, high
    return check


class LimitsConfig(_Strict):
    max_field_Oe: Annotated[Number, Field(gt=0, le=1e5)] = 600.0
    max_field_ramp_Oe_per_s: Annotated[Number, Field(ge=1e-4, le=1e3)] = 10.0
    current_nA: tuple[float, float] = (0.1, 1.0)
    frequency_Hz: tuple[float, float] = (0.7, 7.0)
    temperature_K: tuple[float, float] = (0.01, 1.5)
    #: a Lake Shore setpoint ramp takes 0.001 K/min at the finest (372 manual, RAMP)
    max_temperature_ramp_K_per_min: Annotated[Number, Field(ge=1e-3, le=100)] = 0.5
    max_heater_range: Annotated[WholeNumber, Field(ge=0, le=8)] = 7
    #: a run stops safely when the run file's disk has less than this free (and does not
    #: start unless the estimated file fits above it)
    min_free_disk_MB: Annotated[Number, Field(ge=0, le=1e7)] = 100.0

    _current = field_validator("current_nA", mode="before")(
        _pair("current_nA", "nA", 1e-3, 100.0))
    _frequency = field_validator("frequency_Hz", mode="before")(
        _pair("frequency_Hz", "Hz", 0.001, 102000.0))
    _temperature = field_validator("temperature_K", mode="before")(
        _pair("temperature_K", "K", 0.0, 400.0))


class SafeStateConfig(_Strict):
    heater: Literal["off", "hold"] = "off"
    magnet: Literal["hold", "zero"] = "hold"
    excitation: Literal["minimum", "keep"] = "minimum"


class FaultPolicyConfig(_Strict):
    #: how often a failing instrument call is retried (with reconnects) before it counts as down
    retries: Annotated[WholeNumber, Field(ge=0, le=20)] = 3
    #: how long (s of run time) a sequence waits paused for an instrument before aborting
    grace_s: Annotated[Number, Field(ge=0, le=7 * 86400)] = 600.0


class SimulationConfig(_Strict):
    """The simulated twin's sample (used only with ``--sim``)."""

    preset: Literal["S0", "S1"] = "S1"
    #: the film's Hall coefficient, Ω/T (ρ_xy = R_H·B)
    hall_ohm_per_T: Annotated[Number, Field(ge=-1e6, le=1e6)] = 0.3
    #: the Hall probes' offset along the bar over its width: ρ_xy picks up this × ρ_xx
    hall_misalignment: Annotated[Number, Field(ge=-0.5, le=0.5)] = 0.01


@dataclass(frozen=True)
class ChannelSpec:
    """A channel with every default filled in (what the station means, not what it wrote)."""

    name: str
    lockin: str
    kind: Literal["longitudinal", "hall"]
    source: str  # the lock-in whose sine output drives this channel's current
    #: ρ = R · w_over_l: W/L for a longitudinal channel, 1 for a Hall channel
    w_over_l: float
    #: what loads the probes: R_in (Ω) ∥ C_in (F), the preamplifier's or the lock-in's own
    input_ohm: float = math.inf
    input_F: float = 0.0
    gain: float = 1.0  # the lock-in reads gain × the probes' voltage


@dataclass(frozen=True)
class SourceSpec:
    """A current path: a lock-in's sine output through a bias resistor, and its channels."""

    name: str  # the driving lock-in
    resistor_ohm: float
    channels: tuple[str, ...]
    #: the longitudinal channel whose R estimates the path's two-point resistance, if any
    longitudinal: str | None


class StationConfig(_Strict):
    name: Annotated[Name, Field(min_length=1, max_length=200)] = "station"
    instruments: dict[InstrumentName, AnyInstrumentConfig] = Field(min_length=1, max_length=32)
    channels: dict[ChannelName, ChannelConfig] = Field(default_factory=dict, max_length=32)
    wiring: WiringConfig = WiringConfig()
    sample: SampleConfig
    limits: LimitsConfig = LimitsConfig()
    safe_state: SafeStateConfig = SafeStateConfig()
    faults: FaultPolicyConfig = FaultPolicyConfig()
    simulation: SimulationConfig = SimulationConfig()
    #: directory that relative paths (calibrations) are resolved against
    base_dir: Resource = "."

    @model_validator(mode="before")
    @classmethod
    def _default_models(cls, data: Any) -> Any:
        """An instrument named after its role (``lockin``, ``bridge``, ``magnet``) without a
        model is the model that role had before several were supported."""
        if not isinstance(data, dict) or not isinstance(data.get("instruments"), dict):
            return data
        instruments = {}
        for key, entry in data["instruments"].items():
            if isinstance(entry, dict) and "model" not in entry:
                if key not in DEFAULT_MODEL_OF_KEY:
                    raise ValueError(f"instruments.{key}.model: required, one of "
                                     f"{', '.join(MODELS)}")
                entry = {**entry, "model": DEFAULT_MODEL_OF_KEY[key]}
            instruments[key] = entry
        return {**data, "instruments": instruments}

    # ------------------------------------------------------------------ roles
    def names_of(self, role: str) -> list[str]:
        return [n for n, c in self.instruments.items() if MODELS[c.model].role == role]

    @property
    def bridge_name(self) -> str:
        return self.names_of("bridge")[0]

    @property
    def magnet_name(self) -> str:
        return self.names_of("magnet")[0]

    @property
    def bridge(self) -> BridgeConfig:
        config = self.instruments[self.bridge_name]
        assert isinstance(config, BridgeConfig)
        return config

    # ------------------------------------------------------------------ channels
    def channel_specs(self) -> list[ChannelSpec]:
        channels = self.channels or {"xx": ChannelConfig(lockin=self.names_of("lockin")[0])}
        out = []
        for name, c in channels.items():
            geometry = c.geometry or self.sample
            w_over_l = geometry.width_um / geometry.length_um if c.kind == "longitudinal" \
                else 1.0
            if c.preamplifier is not None:
                amp = c.preamplifier
                input_ohm, input_F, gain = (amp.input_resistance_ohm, amp.input_capacitance_F,
                                            amp.gain)
            else:
                model = self.instruments[c.lockin].model
                (input_ohm, input_F), gain = lockin_input_impedance(model), 1.0
            out.append(ChannelSpec(name, c.lockin, c.kind, c.bias.source if c.bias else c.lockin,
                                   w_over_l, input_ohm, input_F, gain))
        return out

    def source_specs(self) -> list[SourceSpec]:
        channels = self.channels or {"xx": ChannelConfig(lockin=self.names_of("lockin")[0])}
        specs = self.channel_specs()
        out = []
        for source in dict.fromkeys(s.source for s in specs):
            resistors = {c.bias.resistor_ohm for c in channels.values()
                         if c.bias and c.bias.source == source and c.bias.resistor_ohm}
            mine = [s for s in specs if s.source == source]
            longitudinal = next((s.name for s in mine if s.kind == "longitudinal"), None)
            out.append(SourceSpec(source, resistors.pop() if resistors else
                                  self.wiring.bias_resistor_ohm,
                                  tuple(s.name for s in mine), longitudinal))
        return out

    # ------------------------------------------------------------------ checks
    @model_validator(mode="after")
    def _check_roles(self) -> StationConfig:
        problems = []
        for role, what in (("bridge", "resistance bridge"), ("magnet", "magnet supply")):
            names = self.names_of(role)
            if len(names) != 1:
                problems.append(f"instruments: needs exactly one {what}, found "
                                f"{len(names)} ({', '.join(names) or 'none'})")
        lockins = self.names_of("lockin")
        if not lockins:
            problems.append("instruments: needs at least one lock-in")
        elif not self.channels and len(lockins) > 1:
            problems.append(f"channels: required with more than one lock-in ({', '.join(lockins)}"
                            "): say which lock-in measures what")
        for name, c in self.channels.items():
            for key, instrument in (("lockin", c.lockin),
                                    ("bias.source", c.bias.source if c.bias else None)):
                if instrument is not None and instrument not in lockins:
                    problems.append(f"channels.{name}.{key}: {instrument!r} is not a lock-in of "
                                    f"this station ({', '.join(lockins) or 'none'})")
        for source in {c.bias.source for c in self.channels.values() if c.bias}:
            resistors = {c.bias.resistor_ohm for c in self.channels.values()
                         if c.bias and c.bias.source == source and c.bias.resistor_ohm}
            if len(resistors) > 1:
                problems.append(f"channels: the current from {source!r} passes one bias "
                                f"resistor, but its channels give "
                                f"{', '.join(f'{r:g}' for r in sorted(resistors))} Ω "
                                "(bias.resistor_ohm)")
        if self.channels:
            used = [c.lockin for c in self.channels.values()]
            twice = sorted({n for n in used if used.count(n) > 1})
            if twice:
                problems.append(f"channels: lock-in {twice[0]!r} measures more than one channel; "
                                "a lock-in reads one voltage")
        if problems:
            raise ValueError("; ".join(problems) if len(problems) > 1 else problems[0])
        return self

    @model_validator(mode="after")
    def _check_bias(self) -> StationConfig:
        """Every current the limits allow must be one each source's sine output can make
        through its bias resistor (a lock-in's sine output spans e.g. 4 mV to 5 V rms); the safe
        state sets the lowest."""
        low_A, high_A = (x * 1e-9 for x in self.limits.current_nA)
        for source in self.source_specs():
            v_min, v_max = sine_output_range_V(self.instruments[source.name].model)
            R = source.resistor_ohm
            if low_A * R < v_min * (1 - 1e-9):
                raise ValueError(
                    f"limits.current_nA: the lowest current, {low_A * 1e9:g} nA, needs "
                    f"{low_A * R * 1e3:.3g} mV through the {R:.3g} Ω bias resistor; the sine "
                    f"output of {source.name} starts at {v_min * 1e3:g} mV")
            if high_A * R > v_max:
                raise ValueError(
                    f"limits.current_nA: the highest current, {high_A * 1e9:g} nA, needs "
                    f"{high_A * R:.3g} V through the {R:.3g} Ω bias resistor; the sine output of "
                    f"{source.name} gives at most {v_max:g} V")
        return self

    @model_validator(mode="after")
    def _check_heater(self) -> StationConfig:
        used = max(s.range for s in self.bridge.heater_ranges)
        if used > self.limits.max_heater_range:
            raise ValueError(f"instruments.{self.bridge_name}.heater_ranges: uses range {used}, "
                             f"above limits.max_heater_range = {self.limits.max_heater_range}")
        fastest = bridge_ramp_range_K_per_min(self.bridge.model)[1]
        if self.limits.max_temperature_ramp_K_per_min > fastest:
            raise ValueError(
                f"limits.max_temperature_ramp_K_per_min: "
                f"{self.limits.max_temperature_ramp_K_per_min:g} K/min is faster than the "
                f"{self.bridge.model} ramps its setpoint (at most {fastest:g} K/min)")
        return self

    # ------------------------------------------------------------------ files
    def path(self, relative: str) -> Path:
        p = Path(relative)
        return p if p.is_absolute() else Path(self.base_dir) / p

    def with_resources(self, resources_by_name: dict[str, str]) -> StationConfig:
        """A copy pointing the instruments at other resources (the simulated servers)."""
        data = self.model_dump()
        for name, resource in resources_by_name.items():
            data["instruments"][name]["resource"] = resource
        return StationConfig.model_validate(data)

    def snapshot_json(self) -> str:
        return json.dumps(self.model_dump(), sort_keys=True)


def default_sim_station_path() -> Path:
    return Path(str(resources.files("cryolab") / "data" / "sim_station.yaml"))


def load_station(path: str | Path | None = None) -> StationConfig:
    """Read and validate a station file (the packaged simulated station when None).

    Raises InputError listing every problem, calibration files included.
    """
    path = Path(path) if path is not None else default_sim_station_path()
    data, _ = read_yaml_mapping(path)
    data.setdefault("base_dir", str(path.resolve().parent))
    try:
        config = StationConfig.model_validate(data)
    except ValidationError as exc:
        raise InputError(str(path), validation_problems(exc, model=StationConfig)) from None
    parse_calibrations(config, read_calibrations(config, str(path)), str(path))
    return config


#: the .340 files a station names, by the name the run file stores them under
CALIBRATIONS = ("sample", "mc")


def _calibration_keys(config: StationConfig) -> dict[str, str]:
    return {"sample": "sample.thermometer_calibration",
            "mc": f"instruments.{config.bridge_name}.mc_calibration"}


def _calibration_paths(config: StationConfig) -> dict[str, Path]:
    rel = {"sample": config.sample.thermometer_calibration, "mc": config.bridge.mc_calibration}
    return {name: config.path(r) for name, r in rel.items() if r is not None}


def read_calibrations(config: StationConfig, source: str = "station") -> dict[str, str]:
    """The text of every calibration file the station names (read once: the run file keeps
    them, so a resumed run needs none of the original files)."""
    texts, problems = {}, []
    keys = _calibration_keys(config)
    for name, path in _calibration_paths(config).items():
        try:
            texts[name] = read_text(path, what="calibration file")
        except InputError as exc:
            problems += [f"{keys[name]}: {path}: {p}" for p in exc.problems]
    if problems:
        raise InputError(source, problems)
    return texts


def parse_calibrations(config: StationConfig, texts: dict[str, str], source: str = "station"
                       ) -> dict[str, Curve340]:
    """The curves behind :func:`read_calibrations`' texts; InputError naming the key."""
    curves, problems = {}, []
    paths, keys = _calibration_paths(config), _calibration_keys(config)
    for name, text in texts.items():
        try:
            curves[name] = parse_340(text, source=str(paths.get(name, name)))
        except CalibrationError as exc:
            problems.append(f"{keys[name]}: {exc}")
    if "sample" not in curves and not problems:
        problems.append(f"{keys['sample']}: no calibration")
    if problems:
        raise InputError(source, problems)
    return curves


# ------------------------------------------------------------------------------ connected


@dataclass
class Channel:
    """A channel of a connected station: its spec and its lock-in (role)."""

    spec: ChannelSpec
    lockin: LockIn


@dataclass
class Station:
    """Connected instruments as roles, with the station's limits applied in their drivers."""

    config: StationConfig
    instruments: dict[str, Any]  # name → LockIn | Bridge | MagnetSupply
    calibrations: dict[str, Curve340]
    #: faults met (and overcome) while connecting, for the run file to record
    connect_faults: list[FaultReport] = field(default_factory=list)
    #: what each instrument answered to its identification query when connected
    identities: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        config = self.config
        self.lockins: dict[str, LockIn] = {n: self.instruments[n]
                                           for n in config.names_of("lockin")}
        self.bridge: Bridge = self.instruments[config.bridge_name]
        self.magnet: MagnetSupply = self.instruments[config.magnet_name]
        self.channels = [Channel(spec, self.lockins[spec.lockin])
                         for spec in config.channel_specs()]
        lim, wiring = config.limits, config.wiring
        current = Span(lim.current_nA[0] * 1e-9, lim.current_nA[1] * 1e-9,
                       "station limits.current_nA")
        self.sources: dict[str, CurrentBias] = {
            s.name: CurrentBias(self.lockins[s.name], s.resistor_ohm, current,
                                r2pt_estimate_ohm=wiring.lead_resistance_ohm)
            for s in config.source_specs()}
        self._mc_curve = self.calibrations.get("mc")
        self._sample_curve = self.calibrations["sample"]
        bridge = config.bridge
        self._thermometers = (bridge.mc_channel, self._mc_curve is None, bridge.sample_channel)

    @property
    def bias(self) -> CurrentBias:
        """The current source of a station with one (a Hall bar, or one sample)."""
        return next(iter(self.sources.values()))

    @property
    def lockin(self) -> LockIn:
        """The lock-in of a station with one."""
        return next(iter(self.lockins.values()))

    def read_temperatures(self) -> tuple[float, float, float]:
        """(T_MC in K, T_sample in K, R of the sample thermometer in Ω): the MC from the
        bridge's own curve (or the station's .340), the sample from its .340."""
        mc_value, R_sample = self.bridge.read_thermometers(*self._thermometers)
        mc = self._mc_curve
        T_mc = mc.temperature_K(mc_value) if mc is not None else mc_value
        return T_mc, self._sample_curve.temperature_K(R_sample), R_sample

    def heater_range_for(self, T_K: float) -> int:
        """The heater range the station assigns to a setpoint."""
        ranges = self.config.bridge.heater_ranges
        return next((step.range for step in ranges if step.up_to_K >= T_K), ranges[-1].range)

    def confirm_writes(self) -> None:
        """Make sure every instrument has processed every command sent to it so far.

        An instrument that does not answer is skipped: the fault shows up, and is handled, on
        the next real call to it; its unconfirmed writes are moot until it answers again.
        """
        for name, inst in self.instruments.items():
            try:
                (inst.unguarded if isinstance(inst, Guarded) else inst).confirm()
            except Exception as exc:
                reported = isinstance(inst, Guarded) and inst.guard.report(exc, "confirm")
                if not reported and classify(exc) is None:
                    raise
                log.debug("confirming %s's writes failed: %s", name, exc)

    def guarded(self, retries: int, on_fault: OnFault, on_down: OnDown) -> Station:
        """This station with every instrument call going through a fault guard (retry,
        reconnect, report); the station itself is left as it is."""
        wrapped = {name: Guarded(inst, Guard(name, inst, retries, on_fault, on_down))
                   for name, inst in self.instruments.items()}
        copy = Station(self.config, wrapped, self.calibrations, self.connect_faults,
                       self.identities)
        for name, source in copy.sources.items():  # keep what the bias knows of the sample
            source.r2pt_estimate_ohm = self.sources[name].r2pt_estimate_ohm
        return copy

    def close(self) -> None:
        for inst in self.instruments.values():
            with contextlib.suppress(Exception):
                inst.close()


class ConnectError(RuntimeError):
    """An instrument that could not be reached or did not identify as expected."""


def _describe_failure(exc: BaseException) -> str:
    """Why a connection failed, in words (pyvisa's codes are for programmers)."""
    from pyvisa import constants
    from pyvisa.errors import VisaIOError

    if isinstance(exc, VisaIOError):
        if exc.error_code == constants.StatusCode.error_timeout:
            return "it did not answer in time (is it on, and is the address right?)"
        if exc.error_code == constants.StatusCode.error_resource_not_found:
            return "nothing answers at that address (is it on, and is the address right?)"
        return f"VISA error {exc.abbreviation}: {exc.description}"
    if isinstance(exc, ConnectionRefusedError):
        return "the connection was refused (is it on, and is the address right?)"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return f"{type(exc).__name__}: {exc}"


def connect(config: StationConfig, calibration_texts: dict[str, str] | None = None) -> Station:
    """Open every instrument as its role and apply the station's limits inside the drivers.

    ``calibration_texts`` (from :func:`read_calibrations`, or from a run file when resuming)
    replaces reading the .340 files again. A failure names the instrument and its address.
    """
    texts = calibration_texts if calibration_texts is not None else read_calibrations(config)
    curves = parse_calibrations(config, texts)
    opened: dict[str, Any] = {}
    faults: list[FaultReport] = []
    identities: dict[str, str] = {}
    try:
        for name, instrument_config in config.instruments.items():
            opened[name] = _open(name, instrument_config, config.faults.retries, faults,
                                 identities)
    except BaseException:
        for role in opened.values():
            with contextlib.suppress(Exception):
                role.close()
        raise
    _apply_limits(config, opened)
    return Station(config, opened, curves, connect_faults=faults, identities=identities)


def _open(name: str, c: Any, retries: int, faults: list[FaultReport],
          identities: dict[str, str]) -> Any:
    """Open, construct and identify one instrument; a timeout or garbled reply on the way is
    retried (and reported, as during a run); anything else, or too many, is a ConnectError."""
    model = MODELS[c.model]
    where = f"{name} ({c.model}) at {c.resource}"
    attempt = 0
    while True:
        attempt += 1
        role = None
        try:
            role = model.open(name, c)
            answer = role.identify()
            break
        except Exception as exc:
            if role is not None:
                with contextlib.suppress(Exception):
                    role.close()
            kind = classify(exc)
            if kind is None or kind == "disconnected" or attempt > retries:
                raise ConnectError(f"{where}: {_describe_failure(exc)}") from exc
            faults.append(FaultReport(name, kind, f"{type(exc).__name__}: {exc}"[:300],
                                      attempt, "retry"))
    identities[name] = answer.strip()
    if model.identity not in answer:  # something answers there, but not this model
        with contextlib.suppress(Exception):
            role.close()
        raise ConnectError(f"{where}: it identifies as {answer.strip()[:80]!r}, not as a "
                           f"{c.model}; check the address in the station file")
    return role


def _apply_limits(config: StationConfig, roles: dict[str, Any]) -> None:
    lim, wiring = config.limits, config.wiring
    for source in config.source_specs():
        high_V = lim.current_nA[1] * 1e-9 * (source.resistor_ohm + wiring.max_two_point_ohm)
        roles[source.name].narrow(
            lim.frequency_Hz, "station limits.frequency_Hz", (0.0, high_V),
            "station limits.current_nA × (bias resistor + wiring.max_two_point_ohm)")
    roles[config.bridge_name].narrow(lim.max_heater_range, lim.temperature_K[1],
                                     lim.max_temperature_ramp_K_per_min, "station limits.")
    roles[config.magnet_name].set_limits(lim.max_field_Oe, lim.max_field_ramp_Oe_per_s,
                                         "station limits.")

