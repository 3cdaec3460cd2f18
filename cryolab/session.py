"""Assemble a run for the command line or the GUI: validate, start instruments, file, runner.

Order matters and is the point of this module: every input is validated before any instrument
is contacted and before any file is created; then the clock, the simulated instruments (in
``--sim``), the drivers, the run file and the subscribers are set up, and the runner runs.
Whatever happens, the instruments and the file are closed in the end.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
from pydantic import ValidationError

from cryolab.analysis.live import LiveFitter
from cryolab.clock import Clock, ScaledClock, VirtualClock, WallClock
from cryolab.events import SubscriberFunc
from cryolab.inputs import InputError, validation_problems
from cryolab.measurement import Flag
from cryolab.monitor.companion import Companion, CompanionOptions
from cryolab.runfile import (
    RunFile,
    RunFileError,
    RunWriter,
    WriterLock,
    clear_write_flag,
    steps_completed,
    upgrade_layout,
)
from cryolab.runfile.diskspace import (
    DiskSpaceInterlock,
    SpaceCheck,
    check_space,
    estimate_points,
    estimate_run_bytes,
)
from cryolab.runfile.schema import ENTRY
from cryolab.runner import Runner
from cryolab.runspec import RunSpec, validate  # noqa: F401 (validate: re-exported, light)
from cryolab.sequence import (
    make_plan,
    sequence_from_text,
)
from cryolab.sim.lab import SimulatedLab
from cryolab.sim.station import lab_for_station, match_magnet
from cryolab.station import (
    CALIBRATIONS,
    Station,
    StationConfig,
    connect,
    parse_calibrations,
    read_calibrations,
)
from cryolab.units import OE_PER_TESLA

log = logging.getLogger("cryolab")

#: the companion (web page, notifications) of every Session that is given none: `cryolab gui
#: --notify/--monitor-port` sets it for the runs its window starts
DEFAULT_COMPANION: CompanionOptions | None = None


def space_check(spec: RunSpec, folder: Path, start_index: int = 0) -> SpaceCheck:
    """Will the run file fit on the disk of ``folder``, above the station's margin?"""
    plan = make_plan(spec.sequence, spec.station)[start_index:]
    interval = spec.sequence.settings.point_interval_tau * 1.0  # τ ≈ 1 s at a few Hz
    points = estimate_points((p.estimate_s for p in plan), interval)
    return check_space(folder, estimate_run_bytes(points, len(plan)),
                       int(spec.station.limits.min_free_disk_MB * 1e6))


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


FLAG_DOC = {int(f): (f.name or "").lower() for f in Flag}


class QuietFileHandler(logging.FileHandler):
    """The run's log file: a failure to write it (a full disk) must not print a traceback
    or stop the run; the run file, not the log, is the record."""

    def handleError(self, record: logging.LogRecord) -> None:
        self.close_quietly()

    def close_quietly(self) -> None:
        log.removeHandler(self)
        with contextlib.suppress(OSError):  # flushing the last lines failed too: disk full
            self.close()


class Bench:
    """The clock, the simulated instruments (``--sim``) and the connected station.

    A headless run makes one for itself; the GUI keeps one for as long as it is open, so the
    instruments can be watched and moved by hand between runs.
    """

    def __init__(self, station: StationConfig, simulated: bool, speed: float = 1.0, *,
                 seed: int = 0, preset: str = "S1", T_start_K: float | None = None,
                 field_Oe: float = 0.0, clock_start: float | None = None,
                 lab_options: dict | None = None,
                 calibration_texts: dict[str, str] | None = None) -> None:
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
                instruments, samples = lab_for_station(station, preset)
                self.lab = SimulatedLab(self.clock, preset=preset, seed=seed, T_start_K=T_start_K,
                                        instruments=instruments, samples=samples,
                                        **(lab_options or {}))
                match_magnet(self.lab.world, station)
                if field_Oe:  # a magnet left holding a field (resuming a run)
                    magnet = self.lab.world.magnet
                    magnet.hold_at(field_Oe / OE_PER_TESLA / magnet.coil_T_per_A)
                self.lab.start()
                station = station.with_resources(self.lab.resources)
            self.station = connect(station, calibration_texts)
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
                 subscribers: Iterable[SubscriberFunc] = (), lab_options: dict | None = None,
                 lock: WriterLock | None = None,
                 companion: CompanionOptions | None = None) -> None:
        self.spec = spec
        self.path = path
        self._owns_bench = bench is None
        self.bench: Bench | None = bench
        self.writer: RunWriter | None = None
        self.fitter: LiveFitter | None = None
        self.runner: Runner | None = None
        self._log_handler: QuietFileHandler | None = None
        self.companion: Companion | None = None
        try:
            if self.bench is None:
                start_K = initial_T_K if initial_T_K is not None else \
                    spec.sequence.simulation.start_K
                self.bench = Bench(spec.station, spec.simulated, spec.speed, seed=spec.seed,
                                   preset=spec.preset, T_start_K=start_K,
                                   field_Oe=initial_field_Oe, clock_start=clock_start,
                                   lab_options=lab_options,
                                   calibration_texts=spec.calibrations or None)
            station = self.bench.station
            assert station is not None  # a Bench connects in its constructor or raises
            self.clock, self.lab, self.station = self.bench.clock, self.bench.lab, station
            self._start_log()
            channels = [c.name for c in spec.station.channel_specs()]
            self.writer = RunWriter(path, self._attrs(), channels, append=append, lock=lock)
            companion = companion or DEFAULT_COMPANION
            if companion is not None:  # the page and the notifications, in their own process
                self.companion = Companion(path, companion)
            extra = list(subscribers)
            longitudinal = [(i, c.name) for i, c in enumerate(spec.station.channel_specs())
                            if c.kind == "longitudinal"]
            self.fitter = LiveFitter(longitudinal, publish=[self.writer, *extra])
            margin = int(spec.station.limits.min_free_disk_MB * 1e6)
            self.runner = Runner(station, spec.sequence, self.clock,
                                 [self.writer, self.fitter, *extra], start_index=start_index,
                                 meta={"path": str(path)},
                                 interlocks=[DiskSpaceInterlock(path, margin)])
        except BaseException:
            self.close()
            if lock is not None and self.writer is None:
                lock.release()
            raise

    def _attrs(self) -> dict:
        config, station = self.spec.station, self.station
        assert station is not None
        calibrations = self.spec.calibrations or read_calibrations(config)
        return {
            "sample": json.dumps({"name": config.sample.name, "width_um": config.sample.width_um,
                                  "length_um": config.sample.length_um,
                                  "preset": self.spec.preset if self.spec.simulated else None}),
            "channels": json.dumps([{"name": c.name, "kind": c.kind, "lockin": c.lockin,
                                     "source": c.source, "w_over_l": c.w_over_l}
                                    for c in config.channel_specs()]),
            "station": config.snapshot_json(),
            "instruments": json.dumps({name: {"id": identity}
                                       for name, identity in station.identities.items()}),
            "sequence": self.spec.sequence_text,
            "sequence_name": self.spec.sequence.name,
            "sequence_source": self.spec.sequence_source,
            "simulated": self.spec.simulated,
            "speed": self.spec.speed,
            "clock": type(self.clock).__name__,
            # a scaled clock's time maps back to wall time: w = wall + (t − sim) / speed
            "clock_wall_origin_s": getattr(self.clock, "wall_origin", math.nan),
            "clock_sim_origin_s": getattr(self.clock, "sim_origin", math.nan),
            "preset": self.spec.preset if self.spec.simulated else "",
            "seed": self.spec.seed,
            "mismatch_threshold": self.spec.sequence.settings.mismatch_threshold,
            "flag_bits": json.dumps(FLAG_DOC),
            **{f"{name}_calibration_340": text for name, text in calibrations.items()},
        }

    def _start_log(self) -> None:
        handler = QuietFileHandler(self.path.with_suffix(".log"), encoding="utf-8")
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
                       self.bench.close if self.bench and self._owns_bench else None,
                       self.companion.stop if self.companion else None):
            if closer is None:
                continue
            try:
                closer()
            except Exception:  # closing one thing must not stop closing the others
                log.exception("while closing the run")
        if self._log_handler is not None:
            self._log_handler.close_quietly()


# ------------------------------------------------------------------------------ resume


@dataclass
class ResumePlan:
    spec: RunSpec
    start_index: int
    last_T_K: float | None
    last_field_Oe: float
    last_time_s: float  # the newest time in the file: a resumed clock must not start earlier
    lock: WriterLock  # held from the first check on: no other process may write meanwhile


def prepare_resume(path: str | Path, speed: float | None = None) -> ResumePlan:
    """Everything needed to continue a run, read from the file alone; InputError if it can't.

    Nothing is changed and nothing connected here: the writer's lock is taken first (so a
    second ``resume`` of the same file stops at once), then the stored sequence is validated
    against the stored station exactly as ``cryolab check`` would.
    """
    path = Path(path)
    try:
        lock = WriterLock.acquire(path)
    except RunFileError as exc:
        raise InputError(str(path), [f"cannot resume: {exc}"]) from None
    try:
        return _read_resume_plan(path, speed, lock)
    except BaseException:
        lock.release()
        raise


def _read_resume_plan(path: Path, speed: float | None, lock: WriterLock) -> ResumePlan:
    source = str(path)
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
    except (RunFileError, OSError, KeyError, ValueError, TypeError) as exc:
        raise InputError(source, [f"cannot resume: {exc}"]) from None
    if status == "completed":
        raise InputError(source, ["this run is already completed; nothing to resume"])
    if status not in ("running", "interrupted", "failed", "aborted"):
        raise InputError(source, [f"cannot resume: attribute 'status' is {status!r}, not a "
                                  "run's status"])

    def stored(name: str, kind: type, default: object = None) -> object:
        value = attrs.get(name, default)
        if value is None or isinstance(value, bool) is not (kind is bool) or \
                not isinstance(value, kind):
            raise InputError(source, [f"cannot resume: attribute {name!r} is damaged or "
                                      f"missing (got {str(value)[:40]!r})"])
        return value

    station_text = stored("station", str)
    sequence_text = stored("sequence", str)
    simulated = stored("simulated", bool, False)
    stored_speed = float(stored("speed", float | int, 1.0))  # type: ignore[arg-type]
    seed = stored("seed", int, 0)
    preset = str(attrs.get("preset") or "S1")
    for name, bad in (("speed", not (0 < stored_speed <= 1e6 or math.isinf(stored_speed))
                       or (not simulated and stored_speed != 1.0)),
                      ("seed", not 0 <= seed < 2**63),  # type: ignore[operator]
                      ("preset", preset not in ("S0", "S1"))):
        if bad:
            raise InputError(source, [f"cannot resume: attribute {name!r} is damaged (got "
                                      f"{str(attrs.get(name))[:40]!r})"])
    if speed is not None and not simulated:
        raise InputError(source, ["--speed applies to simulated runs only; this run was "
                                  "measured on hardware"])
    try:
        station_data = json.loads(station_text)  # type: ignore[arg-type]
        station = StationConfig.model_validate(station_data)
    except json.JSONDecodeError:
        raise InputError(source, ["cannot resume: attribute 'station' is damaged (not JSON)"]
                         ) from None
    except ValidationError as exc:
        raise InputError(f"{source} (attribute 'station')",
                         validation_problems(exc, model=StationConfig)) from None
    # the calibrations travel inside the file: the original files may not exist any more
    texts = {name: attrs[f"{name}_calibration_340"] for name in CALIBRATIONS
             if isinstance(attrs.get(f"{name}_calibration_340"), str)}
    parse_calibrations(station, texts, f"{source} (stored calibrations)")
    sequence = sequence_from_text(sequence_text,  # type: ignore[arg-type]
                                  f"{source} (attribute 'sequence')", station)
    plan = make_plan(sequence, station)
    start = next((i for i in range(len(plan)) if i not in done), len(plan))
    if start == len(plan):  # stopped after its last step ended, before the run did
        raise InputError(source, [f"every step of this run is completed (its status is "
                                  f"{status!r}); nothing to resume"])
    spec = RunSpec(sequence, sequence_text, str(attrs.get("sequence_source", source)),  # type: ignore[arg-type]
                   station, simulated, speed if speed is not None else stored_speed,  # type: ignore[arg-type]
                   seed, preset, texts)  # type: ignore[arg-type]
    last_T = float(last_row["T_mc_K"]) if last_row is not None else None
    last_H = float(last_row["field_Oe"]) if last_row is not None and \
        math.isfinite(last_row["field_Oe"]) else 0.0
    return ResumePlan(spec, start, last_T, last_H, last_time, lock)


def mark_interrupted(path: str | Path) -> None:
    """Before appending: the run and any step or segment still 'running' were interrupted.

    A file of an older layout is converted to the columnar one first (its original is kept
    beside it, ``cryolab.runfile.upgrade_layout``), so the resumed run appends to one layout.
    """
    clear_write_flag(path)
    upgraded = upgrade_layout(path)
    if upgraded is not None:
        log.info("%s was converted to the columnar layout to be resumed; the original is %s",
                 path, upgraded)
    with h5py.File(path, "r+", libver="latest") as f:
        if f.attrs.get("status") in ("running", b"running"):
            f.attrs["status"] = "interrupted"
        entry = f[ENTRY]
        for name, column, reason in (("steps", "status", None),
                                     ("segments", "end_status",
                                      "the process stopped without ending the run")):
            table = entry[name]
            for i in np.flatnonzero(table[column] == b"running") if table.shape[0] else ():
                row = table[i]
                row[column] = b"interrupted"
                if reason is not None:
                    row["reason"] = reason.encode()
                table[i] = row
