"""The three simulated instruments on one physical world: start them, reach them, stop them."""

from __future__ import annotations

from cryolab.clock import Clock
from cryolab.sim.devices.ami430 import AMI430Device
from cryolab.sim.devices.ls372 import LS372Device
from cryolab.sim.devices.sr830 import SR830Device
from cryolab.sim.faults import FaultRule
from cryolab.sim.server import LineServer
from cryolab.sim.world import World

#: station names of the simulated instruments, in port order for ``--port-base``
NAMES = ("lockin", "bridge", "magnet")


class SimulatedLab:
    """An SR830, a 372 and a 430 as TCP servers on 127.0.0.1, sharing one world and clock."""

    def __init__(self, clock: Clock, preset: str = "S1", seed: int = 0,
                 port_base: int | None = None,
                 faults: dict[str, list[FaultRule]] | None = None,
                 T_start_K: float | None = None, initial_field_Oe: float = 0.0,
                 record_limit: int | None = 100_000,
                 bridge_max_connections: int | None = None,
                 banner_delay_s: float | None = None) -> None:
        unknown = set(faults or {}) - set(NAMES)
        if unknown:
            raise ValueError(f"faults for unknown instruments: {', '.join(sorted(unknown))}")
        self.clock = clock
        self.world = World(clock, preset, seed, T_start_K=T_start_K)
        if initial_field_Oe:  # a magnet that was left holding a field (resuming a run)
            self.world.magnet.hold_at(initial_field_Oe / 1.0e4 / self.world.magnet.coil_T_per_A)
        devices = {"lockin": SR830Device(self.world), "bridge": LS372Device(self.world),
                   "magnet": AMI430Device(self.world)}
        self.devices = devices
        for device in devices.values():  # the lab's overrides of the devices' own quirks
            if banner_delay_s is not None and device.banner:
                device.banner_delay_s = banner_delay_s
            if bridge_max_connections is not None and device.role == "bridge":
                device.max_connections = bridge_max_connections
        faults = faults or {}
        self.servers: dict[str, LineServer] = {}
        for i, name in enumerate(NAMES):
            self.servers[name] = LineServer(
                name, devices[name], clock,
                port=0 if port_base is None else port_base + i,
                faults=faults.get(name), seed=seed * 7919 + i + 1, record_limit=record_limit)

    @property
    def resources(self) -> dict[str, str]:
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
