"""Assemble a run for the command line or the GUI: validate, start instruments, file, runner.

Order matters and is the point of this module: every input is validated before any instrument
is contacted and before any file is created; then the clock, the simulated instruments (in
``--sim``), the drivers, the run file and the subscribers are set up, and the runner runs.
Whatever happens, the instruments and the file are closed in the end.
"""

from __future__ import annotations

import json
import logging
import math
import re
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import h5py

from cryolab.analysis.live import LiveFitter
from cryolab.calibration import load_340
from cryolab.clock import Clock, ScaledClock, VirtualClock, WallClock
from cryolab.events import Subscriber
from cryolab.inputs import InputError
from cryolab.measurement import Flag
from cryolab.runner import Runner
from cryolab.sequence import (
    Sequence,
    load_sequence,
    make_plan,
    sequence_from_text,
)
from cryolab.sim.lab import SimulatedLab
from cryolab.station import Station, StationConfig, connect, load_station
from cryolab.storage import (
    RunFile,
    RunFileError,
    RunWriter,
    clear_write_flag,
    is_being_written,
    steps_completed,
)

log = logging.getLogger("cryolab")


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


def parse_speed(text: str | float | None) -> float:
    if text is None:
        return 1.0
    if isinstance(text, str) and text.strip().lower() == "max":
        return math.inf
    value = float(text)
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"speed must be a positive number or 'max', got {text!r}")
    return value


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
    sequence = load_sequence(path, station)  # size, encoding and alias guards come first
    return RunSpec(sequence, path.read_text(encoding="utf-8"), str(path), station, simulated,
                   speed, seed, preset or sequence.simulation.preset)


def new_run_path(out_dir: str | Path, name: str) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    slug = re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_")[:40] or "run"
    base = f"{time.strftime('%Y%m%d-%H%M%S')}_{slug}"
    path = out / f"{base}.h5"
    n = 1
    while path.exists():
        path = out / f"{base}-{n}.h5"
        n += 1
    return path


FLAG_DOC = {int(f): f.name.lower() for f in Flag}


class Bench:
    """The clock, the simulated instruments (``--sim``) and the connected station.

    A headless run makes one for itself; the GUI keeps one for as long as it is open, so the
    instruments can be watched and moved by hand between runs.
    """

    def __init__(self, station: StationConfig, simulated: bool, speed: float = 1.0, *,
                 seed: int = 0, preset: str = "S1", T_start_K: float | None = None,
                 field_Oe: float = 0.0, clock_start: float | None = None,
                 lab_options: dict | None = None) -> None:
        self.config = station
        self.simulated = simulated
        if not simulated:
            self.clock: Clock = WallClock()
        elif math.isinf(speed):
            self.clock = VirtualClock(clock_start)
        else:
            self.clock = ScaledClock(speed, clock_start)
        self.lab: SimulatedLab | None = None
        self.station: Station | None = None
        try:
            if simulated:
                self.lab = SimulatedLab(self.clock, preset=preset, seed=seed, T_start_K=T_start_K,
                                        initial_field_Oe=field_Oe, **(lab_options or {})).start()
                station = station.with_resources(self.lab.resources)
            self.station = connect(station)
            if isinstance(self.clock, VirtualClock):
                self.clock.before_jump(self.station.confirm_writes)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        for closer in (self.station.close if self.station else None,
                       self.lab.stop if self.lab else None):
            if closer is None:
                continue
            try:
                closer()
            except Exception:  # closing one thing must not stop closing the others
                log.exception("while closing the instruments")


class Session:
    """One process's part of a run: instruments up (its own bench, or a shared one), file open,
    runner ready."""

    def __init__(self, spec: RunSpec, path: Path, *, bench: Bench | None = None,
                 start_index: int = 0, append: bool = False, initial_T_K: float | None = None,
                 initial_field_Oe: float = 0.0, clock_start: float | None = None,
                 subscribers: Iterable[Subscriber] = (), lab_options: dict | None = None
                 ) -> None:
        self.spec = spec
        self.path = path
        self._owns_bench = bench is None
        self.bench: Bench | None = bench
        self.writer: RunWriter | None = None
        self.fitter: LiveFitter | None = None
        self.runner: Runner | None = None
        self._log_handler: logging.Handler | None = None
        try:
            if self.bench is None:
                start_K = initial_T_K if initial_T_K is not None else \
                    spec.sequence.simulation.start_K
                self.bench = Bench(spec.station, spec.simulated, spec.speed, seed=spec.seed,
                                   preset=spec.preset, T_start_K=start_K,
                                   field_Oe=initial_field_Oe, clock_start=clock_start,
                                   lab_options=lab_options)
            self.clock, self.lab, self.station = \
                self.bench.clock, self.bench.lab, self.bench.station
            self._start_log()
            self.writer = RunWriter(path, self._attrs(), append=append)
            extra = list(subscribers)
            self.fitter = LiveFitter(publish=[self.writer, *extra])
            self.runner = Runner(self.station, spec.sequence, self.clock,
                                 [self.writer, self.fitter, *extra], start_index=start_index,
                                 meta={"path": str(path)})
        except BaseException:
            self.close()
            raise

    def _attrs(self) -> dict:
        config, station = self.spec.station, self.station
        assert station is not None
        calibration = Path(config.path(config.sample.thermometer_calibration))
        return {
            "sample": json.dumps({"name": config.sample.name, "width_um": config.sample.width_um,
                                  "length_um": config.sample.length_um,
                                  "preset": self.spec.preset if self.spec.simulated else None}),
            "station": config.snapshot_json(),
            "instruments": json.dumps({name: {"id": str(inst.id)}
                                       for name, inst in station.instruments.items()}),
            "sequence": self.spec.sequence_text,
            "sequence_name": self.spec.sequence.name,
            "sequence_source": self.spec.sequence_source,
            "simulated": self.spec.simulated,
            "speed": self.spec.speed,
            "clock": type(self.clock).__name__,
            "preset": self.spec.preset if self.spec.simulated else "",
            "seed": self.spec.seed,
            "mismatch_threshold": self.spec.sequence.settings.mismatch_threshold,
            "flag_bits": json.dumps(FLAG_DOC),
            "sample_calibration_340": calibration.read_text(),
        }

    def _start_log(self) -> None:
        handler = logging.FileHandler(self.path.with_suffix(".log"), encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        self._log_handler = handler

    def run(self) -> str:
        assert self.runner is not None
        return self.runner.run()

    def close(self) -> None:
        # the fitter first: its last fits and the summary still go into the open file
        for closer in (self.fitter.close if self.fitter else None,
                       self.writer.close if self.writer else None,
                       self.bench.close if self.bench and self._owns_bench else None):
            if closer is None:
                continue
            try:
                closer()
            except Exception:  # closing one thing must not stop closing the others
                log.exception("while closing the run")
        if self._log_handler is not None:
            log.removeHandler(self._log_handler)
            self._log_handler.close()


# ------------------------------------------------------------------------------ resume


@dataclass
class ResumePlan:
    spec: RunSpec
    start_index: int
    last_T_K: float | None
    last_field_Oe: float
    last_time_s: float  # the newest time in the file: a resumed clock must not start earlier


def prepare_resume(path: str | Path, speed: float | None = None) -> ResumePlan:
    """Everything needed to continue a run, read from the file alone; InputError if it can't."""
    path = Path(path)
    if is_being_written(path):
        raise InputError(str(path), ["cannot resume: another process is still writing this "
                                     "file (its .lock is held)"])
    try:
        with RunFile(path) as run:
            attrs = run.attrs
            status = run.status
            done = steps_completed(run)
            with_points = [s for s in run.steps() if s.n_points]
            last_row = run.points(with_points[-1].name)[-1] if with_points else None
            last_time = max([s["started_s"] for s in run.segments()] +
                            [e["time_s"] for e in run.events()] +
                            ([float(last_row["time_s"])] if last_row is not None else []))
    except (RunFileError, OSError, KeyError, ValueError) as exc:
        raise InputError(str(path), [f"cannot resume: {exc}"]) from None
    if status == "completed":
        raise InputError(str(path), ["this run is already completed; nothing to resume"])
    try:
        station_data = json.loads(attrs["station"])
        sequence = sequence_from_text(attrs["sequence"], f"{path} (stored sequence)")
        calibration_text = attrs["sample_calibration_340"]
    except (KeyError, json.JSONDecodeError) as exc:
        raise InputError(str(path), [f"cannot resume: the file lacks its run description "
                                     f"({exc})"]) from None
    # the calibration travels inside the file: the original path may not exist any more
    tmp = Path(tempfile.mkdtemp(prefix="cryolab-resume-"))
    (tmp / "sample.340").write_text(calibration_text)
    station_data["sample"]["thermometer_calibration"] = str(tmp / "sample.340")
    station = StationConfig.model_validate(station_data)
    load_340(station.path(station.sample.thermometer_calibration))
    plan = make_plan(sequence, station)
    start = next((i for i in range(len(plan)) if i not in done), len(plan))
    simulated = bool(attrs.get("simulated", False))
    stored_speed = float(attrs.get("speed", 1.0))
    spec = RunSpec(sequence, attrs["sequence"], attrs.get("sequence_source", str(path)), station,
                   simulated, speed if speed is not None else stored_speed,
                   int(attrs.get("seed", 0)), str(attrs.get("preset") or "S1"))
    last_T = float(last_row["T_mc_K"]) if last_row is not None else None
    last_H = float(last_row["field_Oe"]) if last_row is not None and \
        math.isfinite(last_row["field_Oe"]) else 0.0
    return ResumePlan(spec, start, last_T, last_H, last_time)


def mark_interrupted(path: str | Path) -> None:
    """Before appending: the run and any step still 'running' were interrupted."""
    clear_write_flag(path)
    with h5py.File(path, "r+", libver="latest") as f:
        if f.attrs.get("status") in ("running", b"running"):
            f.attrs["status"] = "interrupted"
        for group in f["steps"].values():
            if group.attrs.get("status") in ("running", b"running"):
                group.attrs["status"] = "interrupted"
        seg = f["segments"]
        for i in range(seg.shape[0]):
            if seg[i]["end_status"] in (b"running",):
                row = seg[i]
                seg[i] = (row["started_s"], row["ended_s"], row["first_step"], b"interrupted",
                          "the process stopped without ending the run")

