"""Simulated instruments on one physical world, each a TCP server on 127.0.0.1: build them from
a list of instrument specs (name, model, wiring), start them, reach them, stop them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from cryolab.clock import Clock
from cryolab.sim.devices import DEVICES
from cryolab.sim.faults import MAGNET_FAULT_KINDS, FaultRule
from cryolab.sim.lockin import LockinInput
from cryolab.sim.protocol import TableDevice
from cryolab.sim.server import LineServer
from cryolab.sim.world import World


class InstrumentSpec(NamedTuple):
    """One simulated instrument: its name (a station's, a fault spec's), its model (a key of
    ``DEVICES``) and its wiring (keyword arguments of the twin, e.g. a lock-in's
    ``sample``, ``measures``, ``driven_by``)."""

    name: str
    model: str
    wiring: Mapping[str, Any] = {}


#: what ``SimulatedLab()`` and ``cryolab sim serve`` build, in port order for ``--port-base``:
#: one SR830 driving and measuring one sample, a 372 and a 430
DEFAULT_INSTRUMENTS = (InstrumentSpec("lockin", "SR830"), InstrumentSpec("bridge", "LS372"),
                       InstrumentSpec("magnet", "AMI430"))
#: station names of the default lab's instruments
NAMES = tuple(spec.name for spec in DEFAULT_INSTRUMENTS)
#: roles a world has room for once: one fridge (its heater loop), one magnet
SINGLE_ROLES = ("bridge", "magnet")


class SimulatedLab:
    """Simulated instruments as TCP servers on 127.0.0.1, sharing one world and clock.

    ``instruments`` lists (name, model, wiring) in port order; ``samples`` maps a sample's name
    to its ``World.add_sample`` options (``preset`` and SampleModel fields), for labs whose
    lock-ins name their samples. ``faults`` maps instrument names to fault rules; a magnet
    supply's ``quench`` rule quenches the world's magnet at its simulated time.
    ``banner_delay_s`` overrides the delay of every device that sends a banner, and
    ``bridge_max_connections`` the connection limit of the bridge. ``lockin_inputs`` maps a
    lock-in's name to the input its signal goes through when it is not the lock-in's own (a
    preamplifier, ``cryolab.sim.lockin.preamplifier``).
    """

    def __init__(self, clock: Clock, preset: str = "S1", seed: int = 0,
                 port_base: int | None = None,
                 faults: dict[str, list[FaultRule]] | None = None,
                 T_start_K: float | None = None, initial_field_Oe: float = 0.0,
                 record_limit: int | None = 100_000,
                 bridge_max_connections: int | None = None,
                 banner_delay_s: float | None = None,
                 instruments: Iterable[tuple[str, str, Mapping[str, Any]]] = DEFAULT_INSTRUMENTS,
                 samples: Mapping[str, Mapping[str, Any]] | None = None,
                 lockin_inputs: Mapping[str, LockinInput] | None = None) -> None:
        specs = [InstrumentSpec(*spec) for spec in instruments]
        _check(specs, faults or {})
        self.clock = clock
        self.world = World(clock, preset, seed, T_start_K=T_start_K)
        for name, options in (samples or {}).items():
            self.world.add_sample(name, **options)
        if initial_field_Oe:  # a magnet that was left holding a field (resuming a run)
            self.world.magnet.hold_at(initial_field_Oe / 1.0e4 / self.world.magnet.coil_T_per_A)
        self.devices: dict[str, TableDevice] = {}
        for spec in specs:
            try:
                device = DEVICES[spec.model](self.world, spec.name, **spec.wiring)
            except TypeError as exc:  # a wiring option the model does not have
                raise ValueError(f"instrument {spec.name!r} ({spec.model}): {exc}") from None
            # the lab's overrides of the devices' own quirks
            if banner_delay_s is not None and device.banner:
                device.banner_delay_s = banner_delay_s
            if bridge_max_connections is not None and device.role == "bridge":
                device.max_connections = bridge_max_connections
            self.devices[spec.name] = device
        link_faults: dict[str, list[FaultRule]] = {}
        for name, rules in (faults or {}).items():
            for rule in rules:
                if rule.kind in MAGNET_FAULT_KINDS:  # _check: only a magnet supply's
                    self.world.schedule_quench(clock.now() + (rule.at_s or 0.0))
                else:
                    link_faults.setdefault(name, []).append(rule)
        for name, stage in (lockin_inputs or {}).items():
            if name not in self.world.lockins:
                raise ValueError(f"an input stage for {name!r}, which is not a lock-in of this "
                                 f"lab (lock-ins: {', '.join(self.world.lockins)})")
            self.world.lockins[name].input_stage = stage
        self.servers: dict[str, LineServer] = {
            spec.name: LineServer(
                spec.name, self.devices[spec.name], clock,
                port=0 if port_base is None else port_base + i,
                faults=link_faults.get(spec.name), seed=seed * 7919 + i + 1,
                record_limit=record_limit)
            for i, spec in enumerate(specs)}

    @property
    def resources(self) -> dict[str, str]:
        """Instrument name → the VISA resource a client opens, in port order."""
        return {name: server.resource for name, server in self.servers.items()}

    def start(self) -> SimulatedLab:
        for server in self.servers.values():
            server.start()
        return self

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()

    def __enter__(self) -> SimulatedLab:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _check(specs: list[InstrumentSpec], faults: Mapping[str, list[FaultRule]]) -> None:
    """Refuse a lab that cannot be built, before any port is opened."""
    names = [spec.name for spec in specs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"instrument names used twice: {', '.join(twice)}")
    for spec in specs:
        if spec.model not in DEVICES:
            raise ValueError(f"instrument {spec.name!r}: no simulated {spec.model!r} "
                             f"(models: {', '.join(DEVICES)})")
    for role in SINGLE_ROLES:
        having = [s.name for s in specs if DEVICES[s.model].role == role]
        if len(having) > 1:
            raise ValueError(f"one world has one {role}; {', '.join(having)} would share it")
    unknown = set(faults) - set(names)
    if unknown:
        raise ValueError(f"faults for unknown instruments: {', '.join(sorted(unknown))}")
    roles = {spec.name: DEVICES[spec.model].role for spec in specs}
    for name, rules in faults.items():
        for rule in rules:
            if rule.kind in MAGNET_FAULT_KINDS and roles[name] != "magnet":
                raise ValueError(f"fault {name}:{rule.kind}: {name} is a {roles[name]}, not a "
                                 "magnet supply")
