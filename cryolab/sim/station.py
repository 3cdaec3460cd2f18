"""A station's simulated twin: one twin per instrument the station names, wired as its channels
say (which lock-in drives which sample's current, which measures a Hall voltage), each sample
with the station's geometry, bias resistor, leads and line capacitance."""

from __future__ import annotations

from typing import Any

from cryolab.sim.lab import InstrumentSpec
from cryolab.sim.lockin import preamplifier
from cryolab.sim.world import World
from cryolab.station import StationConfig
from cryolab.units import OE_PER_TESLA


def lab_for_station(config: StationConfig, preset: str | None = None
                    ) -> tuple[list[InstrumentSpec], dict[str, dict[str, Any]]]:
    """(instruments in port order, samples) for ``SimulatedLab(instruments=…, samples=…)``.

    Each current path is a sample named after its driving lock-in. Driving lock-ins come
    first (a lock-in on another's reference needs it in place), then the others, then the
    bridge and the magnet: a station with one lock-in keeps the ``lockin, bridge, magnet``
    port order of ``cryolab sim serve``.
    """
    wiring = config.wiring
    channels = {c.lockin: c for c in config.channel_specs()}
    samples: dict[str, dict[str, Any]] = {}
    for source in config.source_specs():
        geometry: Any = config.sample
        longitudinal = config.channels.get(source.longitudinal or "")
        if longitudinal is not None and longitudinal.geometry is not None:
            geometry = longitudinal.geometry
        options: dict[str, Any] = {
            "width_m": geometry.width_um * 1e-6, "length_m": geometry.length_um * 1e-6,
            "contact_ohm": wiring.lead_resistance_ohm,
            "bias_resistor_ohm": source.resistor_ohm,
            "line_capacitance_F": wiring.line_capacitance_F,
            "hall_ohm_per_T": config.simulation.hall_ohm_per_T,
            "misalignment": config.simulation.hall_misalignment}
        if preset is not None:
            options["preset"] = preset
        samples[source.name] = options
    lockins = config.names_of("lockin")
    sources = [name for name in lockins if name in samples]
    specs = []
    for name in sources + [n for n in lockins if n not in samples]:
        channel = channels.get(name)
        measures = "xy" if channel is not None and channel.kind == "hall" else "xx"
        source = channel.source if channel is not None else name
        lock_wiring: dict[str, Any] = {"sample": source, "measures": measures}
        if source != name:
            lock_wiring["driven_by"] = source
        amp = config.channels[channel.name].preamplifier if channel is not None and \
            channel.name in config.channels else None
        if amp is not None:  # the station's preamplifier, not the lock-in's input, loads it
            lock_wiring["input_stage"] = preamplifier(amp.input_resistance_ohm,
                                                      amp.input_capacitance_F, gain=amp.gain)
        specs.append(InstrumentSpec(name, config.instruments[name].model, lock_wiring))
    for name in (config.bridge_name, config.magnet_name):
        specs.append(InstrumentSpec(name, config.instruments[name].model, {}))
    return specs, samples


def match_magnet(world: World, config: StationConfig) -> None:
    """The simulated coil as the station describes it: a supply that ramps in amperes (the
    4G) converts with the station's coil constant, so the twin's coil must have the same; its
    current limit leaves room for the station's highest field."""
    entry = config.instruments[config.magnet_name]
    coil_Oe_per_A = getattr(entry, "coil_constant_Oe_per_A", None)
    magnet = world.magnet
    if coil_Oe_per_A is not None:
        magnet.coil_T_per_A = coil_Oe_per_A / OE_PER_TESLA
    needed_A = config.limits.max_field_Oe / (magnet.coil_T_per_A * OE_PER_TESLA)
    magnet.current_limit_A = max(magnet.current_limit_A, 1.2 * needed_A)
