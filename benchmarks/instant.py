"""Stations of 1, 2 and 4 measurement channels on instruments that answer instantly, for timing
cryolab's own per-point work.

The stand-ins (``cryolab.sim.instant``) sit inside a real ``Station`` — calibrations, channels,
current sources — and the engine puts its fault guards around them as for hardware; the real
Acquisition, engine and writer run unchanged. One channel is the simulated station; two are
its Hall bar (ρ_xx and ρ_xy); four are two Hall bars on one cooldown.
"""

from __future__ import annotations

from pathlib import Path

from cryolab.sim.instant import instant_station
from cryolab.station import Station, StationConfig, load_station

HALL_BAR = Path(__file__).resolve().parent.parent / "sequences/stations/sim_hall_bar.yaml"


def two_hall_bars() -> StationConfig:
    """The Hall-bar station with a second sample beside the first: four lock-ins, four
    channels, two current sources."""
    config = load_station(HALL_BAR)
    data = config.model_dump()
    instruments, channels = data["instruments"], data["channels"]
    for name in ("lockin_xx", "lockin_xy"):
        instruments[f"{name}_2"] = dict(instruments[name])
    channels["xx2"] = {**channels["xx"], "lockin": "lockin_xx_2",
                        "geometry": {"width_um": 50, "length_um": 300}}
    channels["xy2"] = {**channels["xy"], "lockin": "lockin_xy_2",
                        "bias": {"source": "lockin_xx_2"}}
    return StationConfig.model_validate(data)


def station_config(channels: int) -> StationConfig:
    if channels == 1:
        return load_station()
    if channels == 2:
        return load_station(HALL_BAR)
    if channels == 4:
        return two_hall_bars()
    raise ValueError(f"no benchmark station with {channels} channels (1, 2 or 4)")


def InstantStation(channels: int = 1) -> Station:
    """A real Station of ``channels`` channels on stand-ins, all at 100 mK, so every point is
    valid and the live fitter takes each one."""
    return instant_station(station_config(channels), T_base_K=0.1)
