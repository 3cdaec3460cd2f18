"""What a run needs, validated before anything moves: the sequence, the station, the mode.

Kept apart from :mod:`cryolab.session` (which opens instruments and files) so that
``cryolab check`` validates a night with nothing but the schema, the station file and the
calibrations loaded: no drivers, no HDF5, no fitting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cryolab.inputs import InputError
from cryolab.sequence import Sequence, read_sequence
from cryolab.station import StationConfig, load_station, read_calibrations


@dataclass
class RunSpec:
    """Everything a run needs, validated; nothing has moved yet."""

    sequence: Sequence
    sequence_text: str
    sequence_source: str
    station: StationConfig
    simulated: bool
    speed: float  # simulated seconds per wall second; inf = virtual clock (--speed max)
    seed: int
    preset: str
    #: the .340 texts the station names, by CALIBRATION_KEYS name (stored in the run file)
    calibrations: dict[str, str] = field(default_factory=dict)


def validate(sequence_path: str | Path, station_path: str | Path | None, simulated: bool,
             speed: float = 1.0, seed: int = 0, preset: str | None = None) -> RunSpec:
    """Load and check station and sequence; InputError (naming file and key) on any problem."""
    if not simulated and station_path is None:
        raise InputError("cryolab run", ["a run on hardware needs --station FILE "
                                         "(or --sim for the simulated instruments)"])
    if not simulated and speed != 1.0:
        raise InputError("cryolab run", ["--speed applies to simulated runs only (--sim)"])
    station = load_station(station_path)
    path = Path(sequence_path)
    sequence, text = read_sequence(path, station)  # size, encoding and alias guards come first
    return RunSpec(sequence, text, str(path), station, simulated, speed, seed,
                   # --sample, else the sequence's sample, else the station's
                   preset or sequence.simulation.preset or station.simulation.preset,
                   read_calibrations(station, str(station_path or "station")))
