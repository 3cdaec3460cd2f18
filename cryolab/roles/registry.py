"""The one place that knows the list of models: name → role, station keys, driver, adapter, twin.

A station file's ``model:`` picks a row here; the row says what the instrument is for (its
role), which keys its station entry takes, how to open its driver and what its identification
must contain; its simulated twin is ``cryolab.sim.devices.DEVICES`` under the same name (the
simulation imports the station, so the registry cannot import it back). Adding a model is a
driver in ``instruments/``, an adapter in ``cryolab/roles/``, a twin in ``cryolab/sim/devices/``
and one row below.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from cryolab.inputs import UNION_TAGS, Name, NotBool, Number, WholeNumber

Role = Literal["lockin", "bridge", "magnet"]
Positive = Annotated[Number, Field(gt=0)]
#: a VISA resource name or a file path: one printable line
Resource = Annotated[Name, Field(min_length=1, max_length=512)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InstrumentConfig(_Strict):
    """Station keys every instrument takes."""

    model: str
    resource: Resource
    timeout_ms: Annotated[WholeNumber, Field(ge=10, le=120_000)] = 2000
    #: "@py" is pyvisa-py; "" for the system VISA (GPIB hardware)
    visa_library: Annotated[Name, Field(max_length=512)] = "@py"


class LockinConfig(InstrumentConfig):
    model: Literal["SR830", "SR860"]


BridgeChannel = Annotated[Literal["A", 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16],
                          NotBool]


class HeaterRangeStep(_Strict):
    up_to_K: Positive
    range: Annotated[WholeNumber, Field(ge=1, le=8)]


class BridgeConfig(InstrumentConfig):
    model: Literal["LS372", "LS370"]
    mc_channel: BridgeChannel = 1
    sample_channel: BridgeChannel = 2
    heater_resistance_ohm: Annotated[Number, Field(ge=1, le=2000)] = 120.0
    #: which heater range serves setpoints up to which temperature (ascending)
    heater_ranges: list[HeaterRangeStep] = Field(min_length=1)
    #: the MC thermometer's curve if the bridge has none loaded for it (else it reads kelvin)
    mc_calibration: Resource | None = None

    @field_validator("sample_channel")
    @classmethod
    def _distinct_channels(cls, channel: object, info: ValidationInfo) -> object:
        if channel == info.data.get("mc_channel"):
            raise ValueError(f"must differ from mc_channel ({channel})")
        return channel

    @field_validator("mc_channel", "sample_channel")
    @classmethod
    def _input_exists(cls, channel: object, info: ValidationInfo) -> object:
        if channel == "A" and info.data.get("model") == "LS370":
            raise ValueError("the Lake Shore 370 has inputs 1 to 16 only (no control input A)")
        return channel

    @field_validator("heater_ranges")
    @classmethod
    def _ascending(cls, steps: list[HeaterRangeStep]) -> list[HeaterRangeStep]:
        temps = [s.up_to_K for s in steps]
        if temps != sorted(set(temps)):
            raise ValueError("must be in strictly ascending up_to_K order")
        return steps


class AMI430Config(InstrumentConfig):
    model: Literal["AMI430"]


class MercuryiPSConfig(InstrumentConfig):
    model: Literal["MercuryiPS"]
    #: the power supply's device UID (the Z axis of a vector magnet, or a single solenoid's)
    axis: Annotated[Name, Field(pattern=r"^[A-Z0-9]+(\.[A-Z0-9]+)?$", max_length=16)] = "GRPZ"


class CM4GConfig(InstrumentConfig):
    model: Literal["CM4G"]
    #: the magnet's field per ampere (data sheet), Oe/A: the 4G ramps in A/s
    coil_constant_Oe_per_A: Annotated[Number, Field(gt=0, le=1e6)]


#: a station's ``instruments:`` entry, chosen by its ``model`` key
AnyInstrumentConfig = Annotated[LockinConfig | BridgeConfig | AMI430Config | MercuryiPSConfig
                                | CM4GConfig, Field(discriminator="model")]


def _load(path: str) -> Any:
    """``"package.module:Name"`` → the object, importing the module on first use."""
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class Model:
    """One row. Driver and adapter are named, not imported: validating a station file (what
    ``cryolab check`` does) must not load pymeasure, pyvisa and scipy for every model."""

    name: str
    role: Role
    config: type[InstrumentConfig]
    driver_path: str  # "instruments.module:Class"
    adapter_path: str  # "cryolab.roles.module:Class"
    #: what the identification reply must contain
    identity: str
    #: keyword arguments the driver's constructor takes from the station entry
    driver_options: Callable[[Any], dict[str, Any]] = lambda config: {}

    @property
    def driver(self) -> type:
        return _load(self.driver_path)

    @property
    def adapter(self) -> Callable[[str, Any], Any]:
        return _load(self.adapter_path)

    def open(self, name: str, config: InstrumentConfig) -> Any:
        """Connect the driver and wrap it in its role's adapter (the caller identifies it)."""
        from instruments.adapter import ConfirmingAdapter

        adapter = ConfirmingAdapter(config.resource, timeout=config.timeout_ms,
                                    visa_library=config.visa_library,
                                    read_termination=self.driver.READ_TERMINATION,
                                    write_termination=self.driver.WRITE_TERMINATION)
        try:
            driver = self.driver(adapter, **self.driver_options(config))
        except BaseException:
            adapter.close()
            raise
        return self.adapter(name, driver)


MODELS: dict[str, Model] = {m.name: m for m in (
    Model("SR830", "lockin", LockinConfig, "instruments.srs_sr830:SR830",
          "cryolab.roles.lockins:SR830LockIn", "SR830"),
    Model("SR860", "lockin", LockinConfig, "instruments.srs_sr860:SR860",
          "cryolab.roles.lockins:SR860LockIn", "SR86"),
    Model("LS372", "bridge", BridgeConfig, "instruments.lakeshore_372:LakeShore372",
          "cryolab.roles.bridges:LS372Bridge", "MODEL372"),
    Model("LS370", "bridge", BridgeConfig, "instruments.lakeshore_370:LakeShore370",
          "cryolab.roles.bridges:LS370Bridge", "MODEL370"),
    Model("AMI430", "magnet", AMI430Config, "instruments.ami_430:AMI430",
          "cryolab.roles.magnets:AMI430Magnet", "MODEL 430"),
    Model("MercuryiPS", "magnet", MercuryiPSConfig, "instruments.oxford_mercury_ips:MercuryiPS",
          "cryolab.roles.magnets:MercuryIPSMagnet", "MERCURY", lambda c: {"axis": c.axis}),
    Model("CM4G", "magnet", CM4GConfig, "instruments.cryomagnetics_4g:Cryomagnetics4G",
          "cryolab.roles.magnets:CM4GMagnet", "4G",
          lambda c: {"coil_constant_Oe_per_A": c.coil_constant_Oe_per_A}),
)}

UNION_TAGS.update(MODELS)

#: the model a station entry named after its role gets when it names none (station files
#: from before several models: ``instruments: {lockin: …, bridge: …, magnet: …}``)
DEFAULT_MODEL_OF_KEY = {"lockin": "SR830", "bridge": "LS372", "magnet": "AMI430"}


def models_of(role: Role) -> list[str]:
    return [m.name for m in MODELS.values() if m.role == role]


def sine_output_range_V(model: str) -> tuple[float, float]:
    """What a lock-in model's sine output can put out, V rms (its adapter knows)."""
    adapter = MODELS[model].adapter
    span = adapter.SINE_RANGE_V  # type: ignore[attr-defined]
    return span.low, span.high


def lockin_input_impedance(model: str) -> tuple[float, float]:
    """A lock-in model's voltage input: (R_in in Ω, C_in in F), in parallel (its adapter knows:
    no driver is loaded to validate a station)."""
    resistance_ohm, capacitance_F = MODELS[model].adapter.INPUT_IMPEDANCE  # type: ignore[attr-defined]
    return resistance_ohm, capacitance_F


def bridge_ramp_range_K_per_min(model: str) -> tuple[float, float]:
    """The setpoint ramp rates a bridge model accepts, K/min (its adapter knows: no driver is
    loaded to validate a station)."""
    span = MODELS[model].adapter.RAMP_RATE_RANGE  # type: ignore[attr-defined]
    return span.low, span.high


def time_constants_s(model: str) -> tuple[float, ...]:
    return tuple(MODELS[model].driver.TIME_CONSTANTS)
