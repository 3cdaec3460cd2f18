"""Shared fixtures: simulated labs on a virtual or scaled clock, connected stations, raw clients."""

from __future__ import annotations

import math
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
if "PYTEST_QT_API" not in os.environ:  # pytest-qt on the binding the GUI uses (qtpy's choice)
    import qtpy

    os.environ["PYTEST_QT_API"] = qtpy.API_NAME.lower()

from cryolab.clock import ScaledClock, VirtualClock
from cryolab.sim.lab import SimulatedLab
from cryolab.station import Station, connect, load_station


@pytest.fixture
def hall_bar_station() -> Path:
    """The shipped Hall bar on two lock-ins: ``xx`` (longitudinal) on ``lockin_xx``, ``xy``
    (Hall) on ``lockin_xy``, driven by ``lockin_xx``'s current."""
    return Path(__file__).resolve().parent.parent / "sequences" / "stations" / "sim_hall_bar.yaml"


@pytest.fixture
def virtual_lab() -> Iterator[SimulatedLab]:
    """The three simulated instruments on a virtual clock (time moves only when waited on)."""
    lab = SimulatedLab(VirtualClock(start=1.7e9), preset="S1", seed=3, banner_delay_s=0.0)
    with lab:
        yield lab


class Thermometer:
    """A bridge input read as a temperature: its own curve, or the station's .340."""

    def __init__(self, bridge_input, calibration) -> None:
        self.input, self.calibration = bridge_input, calibration

    def read(self) -> tuple[float, float]:
        if self.calibration is None:
            return self.input.temperature_K, math.nan
        R = self.input.resistance_ohm
        return self.calibration.temperature_K(R), R


class Drivers:
    """The simulated station as its drivers, for tests of the physics and the protocols:
    cryolab's own drivers with the station's limits, connected the way a run connects them."""

    def __init__(self, station: Station) -> None:
        self.roles = station
        self.lockin = station.lockin.driver
        self.bridge = station.bridge.driver
        self.magnet = station.magnet.driver
        self.bias = station.bias
        bridge = station.config.bridge
        self.mc_thermometer = Thermometer(self.bridge.input(bridge.mc_channel),
                                          station.calibrations.get("mc"))
        self.sample_thermometer = Thermometer(self.bridge.input(bridge.sample_channel),
                                              station.calibrations["sample"])
        self.heater_range_for = station.heater_range_for
        self.read_temperatures = station.read_temperatures
        self.confirm_writes = station.confirm_writes


@pytest.fixture
def station(virtual_lab: SimulatedLab) -> Iterator[Drivers]:
    """cryolab's drivers connected to the virtual lab, writes confirmed before every jump."""
    st = connect(load_station().with_resources(virtual_lab.resources))
    virtual_lab.clock.before_jump(st.confirm_writes)
    yield Drivers(st)
    st.close()


@pytest.fixture
def fast_lab() -> Iterator[SimulatedLab]:
    """A lab on a scaled clock (100× real time), as `cryolab sim serve --speed 100` runs it."""
    with SimulatedLab(ScaledClock(100.0), preset="S1", seed=5) as lab:
        yield lab


class RawClient:
    """A bare TCP client: send exact bytes, read exact lines, see silence as silence."""

    def __init__(self, port: int, timeout_s: float = 0.5) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=2.0)
        self.timeout_s = timeout_s
        self.buffer = b""

    def send(self, data: bytes | str) -> None:
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def read_line(self, terminator: bytes = b"\n", timeout_s: float | None = None) -> str | None:
        """One reply line without its terminator, or None if nothing arrives in time."""
        deadline = time.monotonic() + (timeout_s or self.timeout_s)
        while terminator not in self.buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(4096)
            except TimeoutError:
                return None
            if not chunk:
                return None
            self.buffer += chunk
        line, self.buffer = self.buffer.split(terminator, 1)
        return line.decode()

    def query(self, command: str, terminator: bytes = b"\n") -> str | None:
        self.send(command + "\n")
        return self.read_line(terminator)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def raw_client():
    clients: list[RawClient] = []

    def make(port: int, timeout_s: float = 0.5) -> RawClient:
        client = RawClient(port, timeout_s)
        clients.append(client)
        return client

    yield make
    for c in clients:
        c.close()
