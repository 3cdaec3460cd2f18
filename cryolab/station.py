"""The station file (what is wired to what, and the limits never to exceed) and its drivers.

A station file is YAML validated by the models below: unknown keys and out-of-range values are
refused with the key path. :func:`connect` opens the drivers and narrows each one's accepted
values to the station's limits, so a limit holds in the driver even if a caller skips validation.
A simulated station ships with the package (``cryolab/data/sim_station.yaml``).
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from cryolab.calibration import CalibrationError, Curve340, parse_340
from cryolab.guard import FaultReport, Guard, Guarded, OnDown, OnFault, classify
from cryolab.inputs import (
    InputError,
    Name,
    NotBool,
    Number,
    WholeNumber,
    read_text,
    read_yaml_mapping,
    validation_problems,
)
from instruments.adapter import ConfirmingAdapter
from instruments.ami_430 import AMI430
from instruments.bias import CurrentBias
from instruments.lakeshore_372 import LakeShore372, LS372Input
from instruments.limits import Span
from instruments.srs_sr830 import SR830

Positive = Annotated[Number, Field(gt=0)]
NonNegative = Annotated[Number, Field(ge=0)]
#: a VISA resource name or a file path: one printable line
Resource = Annotated[Name, Field(min_length=1, max_length=512)]
log = logging.getLogger(__name__)

#: the SR830's sine output range, V rms (manual p. 5-5)
SINE_OUTPUT_V = (0.004, 5.0)

Channel = Annotated[Literal["A", 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16], NotBool]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InstrumentConfig(_Strict):
    resource: Resource
    timeout_ms: Annotated[WholeNumber, Field(ge=10, le=120_000)] = 2000
    #: "@py" is pyvisa-py; "" for the system VISA (GPIB hardware)
    visa_library: Annotated[Name, Field(max_length=512)] = "@py"


class LockinConfig(InstrumentConfig):
    model: Literal["SR830"] = "SR830"


class HeaterRangeStep(_Strict):
    up_to_K: Positive
    range: Annotated[WholeNumber, Field(ge=1, le=8)]


class BridgeConfig(InstrumentConfig):
    model: Literal["LS372"] = "LS372"
    mc_channel: Channel = 1
    sample_channel: Channel = 2
    heater_resistance_ohm: Annotated[Number, Field(ge=1, le=2000)] = 120.0
    #: which heater range serves setpoints up to which temperature (ascending)
    heater_ranges: list[HeaterRangeStep] = Field(min_length=1)
    #: the MC thermometer's curve if the 372 has none loaded for it (else KRDG? is used)
    mc_calibration: Resource | None = None

    @field_validator("sample_channel")
    @classmethod
    def _distinct_channels(cls, channel: object, info: ValidationInfo) -> object:
        if channel == info.data.get("mc_channel"):
            raise ValueError(f"must differ from mc_channel ({channel})")
        return channel

    @field_validator("heater_ranges")
    @classmethod
    def _ascending(cls, steps: list[HeaterRangeStep]) -> list[HeaterRangeStep]:
        temps = [s.up_to_K for s in steps]
        if temps != sorted(set(temps)):
            raise ValueError("must be in strictly ascending up_to_K order")
        return steps


class MagnetConfig(InstrumentConfig):
    model: Literal["AMI430"] = "AMI430"


class InstrumentsConfig(_Strict):
    lockin: LockinConfig
    bridge: BridgeConfig
    magnet: MagnetConfig


class WiringConfig(_Strict):
    bias_resistor_ohm: Annotated[Number, Field(gt=0, le=1e13)] = 1.0e9
    #: what drives the bias resistor: the lock-in's own sine output
    bias_source: Literal["lockin"] = "lockin"
    #: wiring and contacts in the current path, added to the sample's R_2pt estimate
    lead_resistance_ohm: NonNegative = 5.0e3
    line_capacitance_F: Annotated[Number, Field(gt=0, lt=1e-6)] = 1.0e-9
    #: the largest two-point resistance expected; bounds the sine output the driver accepts
    max_two_point_ohm: Annotated[Number, Field(gt=0, le=1e13)] = 1.0e7
    #: R_2pt ≈ this × R_4pt + leads: the current path also crosses the bar beyond the voltage
    #: probes (≈ 2 for a Hall bar whose probes span half its length)
    two_point_per_four_point: Annotated[Number, Field(ge=1, le=100)] = 2.0


class SampleConfig(_Strict):
    name: Annotated[Name, Field(min_length=1, max_length=200)] = "sample"
    width_um: Annotated[Number, Field(gt=0, le=1e6)]
    length_um: Annotated[Number, Field(gt=0, le=1e6)]
    #: the on-chip RuO₂ calibration, a Lake Shore .340 file (relative to the station file)
    thermometer_calibration: Resource

    @property
    def width_over_length(self) -> float:
        return self.width_um / self.length_um


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
    #: the 372's setpoint ramp takes 0.001 K/min at the finest (372 manual, RAMP)
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
    preset: Literal["S0", "S1"] = "S1"


class StationConfig(_Strict):
    name: Annotated[Name, Field(min_length=1, max_length=200)] = "station"
    instruments: InstrumentsConfig
    wiring: WiringConfig = WiringConfig()
    sample: SampleConfig
    limits: LimitsConfig = LimitsConfig()
    safe_state: SafeStateConfig = SafeStateConfig()
    faults: FaultPolicyConfig = FaultPolicyConfig()
    simulation: SimulationConfig = SimulationConfig()
    #: directory that relative paths (calibrations) are resolved against
    base_dir: Resource = "."

    @model_validator(mode="after")
    def _check_bias(self) -> StationConfig:
        """Every current the limits allow must be one the sine output can make through the
        bias resistor (SR830: 4 mV to 5 V rms, manual p. 5-5); the safe state sets the lowest."""
        low_V = self.limits.current_nA[0] * 1e-9 * self.wiring.bias_resistor_ohm
        high_V = self.limits.current_nA[1] * 1e-9 * self.wiring.bias_resistor_ohm
        if low_V < SINE_OUTPUT_V[0] * (1 - 1e-9):
            raise ValueError(
                f"limits.current_nA: the lowest current, {self.limits.current_nA[0]:g} nA, needs "
                f"{low_V * 1e3:.3g} mV through the {self.wiring.bias_resistor_ohm:.3g} Ω bias "
                f"resistor; the lock-in's sine output starts at {SINE_OUTPUT_V[0] * 1e3:g} mV")
        if high_V > SINE_OUTPUT_V[1]:
            raise ValueError(
                f"limits.current_nA: the highest current, {self.limits.current_nA[1]:g} nA, "
                f"needs {high_V:.3g} V through the {self.wiring.bias_resistor_ohm:.3g} Ω bias "
                f"resistor; the lock-in's sine output gives at most {SINE_OUTPUT_V[1]:g} V")
        return self

    @model_validator(mode="after")
    def _check_heater(self) -> StationConfig:
        used = max(s.range for s in self.instruments.bridge.heater_ranges)
        if used > self.limits.max_heater_range:
            raise ValueError(f"instruments.bridge.heater_ranges: uses range {used}, above "
                             f"limits.max_heater_range = {self.limits.max_heater_range}")
        return self

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


#: the station keys naming .340 files, by the name the run file stores them under
CALIBRATION_KEYS = {"sample": "sample.thermometer_calibration",
                    "mc": "instruments.bridge.mc_calibration"}


def _calibration_paths(config: StationConfig) -> dict[str, Path]:
    rel = {"sample": config.sample.thermometer_calibration,
           "mc": config.instruments.bridge.mc_calibration}
    return {name: config.path(r) for name, r in rel.items() if r is not None}


def read_calibrations(config: StationConfig, source: str = "station") -> dict[str, str]:
    """The text of every calibration file the station names (read once: the run file keeps
    them, so a resumed run needs none of the original files)."""
    texts, problems = {}, []
    for name, path in _calibration_paths(config).items():
        try:
            texts[name] = read_text(path, what="calibration file")
        except InputError as exc:
            problems += [f"{CALIBRATION_KEYS[name]}: {path}: {p}" for p in exc.problems]
    if problems:
        raise InputError(source, problems)
    return texts


def parse_calibrations(config: StationConfig, texts: dict[str, str], source: str = "station"
                       ) -> dict[str, Curve340]:
    """The curves behind :func:`read_calibrations`' texts; InputError naming the key."""
    curves, problems = {}, []
    paths = _calibration_paths(config)
    for name, text in texts.items():
        try:
            curves[name] = parse_340(text, source=str(paths.get(name, name)))
        except CalibrationError as exc:
            problems.append(f"{CALIBRATION_KEYS[name]}: {exc}")
    if "sample" not in curves and not problems:
        problems.append(f"{CALIBRATION_KEYS['sample']}: no calibration")
    if problems:
        raise InputError(source, problems)
    return curves


class Thermometer:
    """A 372 input read as a temperature: from the bridge's own curve or a .340 calibration."""

    def __init__(self, bridge_input: LS372Input, calibration: Curve340 | None) -> None:
        self.input = bridge_input
        self.calibration = calibration

    def read(self) -> tuple[float, float]:
        """(T in K, R in Ω); T is NaN when R is outside the calibrated range."""
        if self.calibration is None:
            return self.input.temperature_K, math.nan
        R = self.input.resistance_ohm
        return self.calibration.temperature_K(R), R


@dataclass
class Station:
    """Connected drivers with the station's limits applied."""

    config: StationConfig
    lockin: SR830
    bridge: LakeShore372
    magnet: AMI430
    bias: CurrentBias
    mc_thermometer: Thermometer
    sample_thermometer: Thermometer
    #: faults met (and overcome) while connecting, for the run file to record
    connect_faults: list[FaultReport] = field(default_factory=list)
    #: what each instrument answered to its identification query when connected
    identities: dict[str, str] = field(default_factory=dict)

    @property
    def width_over_length(self) -> float:
        return self.config.sample.width_over_length

    def read_temperatures(self) -> tuple[float, float, float]:
        """(T_MC in K, T_sample in K, R of the sample thermometer in Ω) from one 372 exchange.

        Both channels are asked on one ``;``-chained line, answered in one line (372 manual
        §6.3), so the two readings come from the same instant and cost one round trip.
        """
        mc, sample = self.mc_thermometer, self.sample_thermometer
        mc_value, R_sample = self.bridge.read_values(self._temperature_queries)
        T_mc = mc.calibration.temperature_K(mc_value) if mc.calibration is not None else mc_value
        return T_mc, sample.calibration.temperature_K(R_sample), R_sample

    @functools.cached_property
    def _temperature_queries(self) -> list[str]:
        mc, sample = self.mc_thermometer, self.sample_thermometer
        mc_query = "SRDG?" if mc.calibration is not None else "KRDG?"
        return [f"{mc_query} {mc.input.id}", f"SRDG? {sample.input.id}"]

    def heater_range_for(self, T_K: float) -> int:
        """The heater range the station assigns to a setpoint."""
        for step in self.config.instruments.bridge.heater_ranges:
            if step.up_to_K >= T_K:
                return step.range
        return self.config.instruments.bridge.heater_ranges[-1].range

    @property
    def instruments(self) -> dict[str, SR830 | LakeShore372 | AMI430]:
        return {"lockin": self.lockin, "bridge": self.bridge, "magnet": self.magnet}

    def confirm_writes(self) -> None:
        """Make sure every instrument has processed every command sent to it so far.

        An instrument that does not answer is skipped: the fault shows up, and is handled, on
        the next real call to it; its unconfirmed writes are moot until it answers again.
        """
        for name, inst in self.instruments.items():
            try:
                inst.adapter.confirm()
            except Exception as exc:
                reported = isinstance(inst, Guarded) and inst.guard.report(exc, "confirm")
                if not reported and classify(exc) is None:
                    raise
                log.debug("confirming %s's writes failed: %s", name, exc)

    def unguard(self) -> None:
        """Back to the bare drivers (the guards report to the runner that installed them)."""
        for name in ("lockin", "bridge", "magnet"):
            inst = getattr(self, name)
            if isinstance(inst, Guarded):
                setattr(self, name, inst.unguarded)
        self.bias.source = self.lockin

    def guard(self, retries: int, on_fault: OnFault, on_down: OnDown) -> None:
        """Route every driver call through a fault guard (retry, reconnect, report)."""
        for name in ("lockin", "bridge", "magnet"):
            raw = getattr(self, name)
            raw = raw.unguarded if isinstance(raw, Guarded) else raw
            setattr(self, name, Guarded(raw, Guard(name, raw, retries, on_fault, on_down)))
        self.bias.source = self.lockin

    def close(self) -> None:
        for inst in self.instruments.values():
            with contextlib.suppress(Exception):
                inst.adapter.close()


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
    """Open every instrument and apply the station's limits inside the drivers.

    ``calibration_texts`` (from :func:`read_calibrations`, or from a run file when resuming)
    replaces reading the .340 files again. A failure names the instrument and its address.
    """
    lim, ins, wiring = config.limits, config.instruments, config.wiring
    texts = calibration_texts if calibration_texts is not None else read_calibrations(config)
    curves = parse_calibrations(config, texts)
    opened: list = []
    faults: list[FaultReport] = []
    identities: dict[str, str] = {}

    def open_driver(name: str, c: InstrumentConfig, driver: type, identity: str):
        """Open, construct and identify; a timeout or garbled reply on the way is retried
        (and reported, as during a run); anything else, or too many, is a ConnectError."""
        where = f"{name} ({c.model}) at {c.resource}"
        attempt = 0
        while True:
            attempt += 1
            adapter = None
            try:
                adapter = ConfirmingAdapter(c.resource, timeout=c.timeout_ms,
                                            visa_library=c.visa_library,
                                            read_termination=driver.READ_TERMINATION,
                                            write_termination=driver.WRITE_TERMINATION)
                instrument = driver(adapter)
                answer = str(instrument.id)
                break
            except Exception as exc:
                if adapter is not None:
                    with contextlib.suppress(Exception):
                        adapter.close()
                kind = classify(exc)
                if kind is None or kind == "disconnected" or attempt > config.faults.retries:
                    raise ConnectError(f"{where}: {_describe_failure(exc)}") from exc
                faults.append(FaultReport(name, kind, f"{type(exc).__name__}: {exc}"[:300],
                                          attempt, "retry"))
        opened.append(instrument)
        identities[name] = answer.strip()
        if identity not in answer:  # something answers there, but not this model
            raise ConnectError(f"{where}: it identifies as {answer.strip()[:80]!r}, not as a "
                               f"{c.model}; check the address in the station file")
        return instrument

    try:
        lockin = open_driver("lockin", ins.lockin, SR830, "SR830")
        bridge = open_driver("bridge", ins.bridge, LakeShore372, "MODEL372")
        magnet = open_driver("magnet", ins.magnet, AMI430, "MODEL 430")
    except BaseException:
        for instrument in opened:
            with contextlib.suppress(Exception):
                instrument.adapter.close()
        raise
    lockin.set_frequency_limits(*lim.frequency_Hz, source="station limits.frequency_Hz")
    i_max_A = lim.current_nA[1] * 1e-9
    lockin.set_sine_voltage_limits(
        0.004, i_max_A * (wiring.bias_resistor_ohm + wiring.max_two_point_ohm),
        source="station limits.current_nA × (wiring.bias_resistor_ohm + max_two_point_ohm)")

    heater = bridge.sample_heater
    heater.range_index_values = Span(0, lim.max_heater_range, "station limits.max_heater_range")
    heater.setpoint_K_values = Span(0.0, lim.temperature_K[1], "station limits.temperature_K")
    heater.ramp_rate_limits = Span(0.0, lim.max_temperature_ramp_K_per_min,
                                   "station limits.max_temperature_ramp_K_per_min")

    magnet.set_limits(lim.max_field_Oe, lim.max_field_ramp_Oe_per_s, "station limits.")

    bias = CurrentBias(
        lockin, wiring.bias_resistor_ohm,
        Span(lim.current_nA[0] * 1e-9, i_max_A, "station limits.current_nA"),
        r2pt_estimate_ohm=wiring.lead_resistance_ohm)

    return Station(config, lockin, bridge, magnet, bias,
                   Thermometer(bridge.input(ins.bridge.mc_channel), curves.get("mc")),
                   Thermometer(bridge.input(ins.bridge.sample_channel), curves["sample"]),
                   connect_faults=faults, identities=identities)
