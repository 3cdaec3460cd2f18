"""cryolab: measure a thin film's resistance through a night on a dilution refrigerator.

Lock-ins drive the sample through a bias resistor and read its voltages, a resistance bridge
reads the mixing-chamber and on-chip thermometers and regulates the temperature, a magnet
supply sets the field. cryolab checks a night's sequence against your station before anything
moves, runs it (headless or in the GUI), keeps every point with flags, fits the paper's Eq. 1 /
Eq. 2 to ρ(T) as the data arrive, and resumes a night that was interrupted.
"""

from __future__ import annotations

# Only the standard library at the top: `cryolab --help` and `cryolab check` must answer at
# once, so each command imports what it needs (numpy, h5py, scipy, matplotlib, Qt, the drivers)
# when it runs.
import argparse
import contextlib
import faulthandler
import json
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from cryolab import __version__, arguments
from cryolab.monitor import arguments as monitor_arguments  # standard library only

if TYPE_CHECKING:
    from cryolab.analysis.hall import HallSummary
    from cryolab.sim.faults import FaultRule
    from cryolab.station import StationConfig

EXIT_OK, EXIT_FAILURE, EXIT_INVALID = 0, 1, 2
MAX_CSV_BYTES = 200_000_000  # 10⁶ points of a few columns fit many times over


def _serve_plan(args: argparse.Namespace) -> tuple[list, dict[str, dict], StationConfig | None]:
    """(instrument specs in port order, samples, station) that ``sim serve`` builds: the
    station file's instruments, or one lock-in, bridge and magnet of the models asked for."""
    from cryolab.inputs import InputError
    from cryolab.roles.registry import DEFAULT_MODEL_OF_KEY
    from cryolab.sim.lab import NAMES, InstrumentSpec
    from cryolab.sim.station import lab_for_station
    from cryolab.station import load_station

    if args.station is None:
        # the CLI's model names are the registry's, as a station file's ``model:`` says
        return [InstrumentSpec(name, getattr(args, name) or DEFAULT_MODEL_OF_KEY[name])
                for name in NAMES], {}, None
    chosen = [f"--{name}" for name in NAMES if getattr(args, name) is not None]
    if chosen:
        raise InputError("cryolab sim serve", [
            f"{', '.join(chosen)}: the station file names every instrument's model; give "
            "either --station or the models"])
    station = load_station(args.station)
    specs, samples = lab_for_station(station, args.sample)
    return specs, samples, station


def cmd_sim_serve(args: argparse.Namespace) -> int:
    from cryolab.clock import ScaledClock
    from cryolab.inputs import InputError
    from cryolab.sim.faults import parse_fault_spec
    from cryolab.sim.lab import SimulatedLab
    from cryolab.sim.station import match_magnet

    try:
        specs, samples, station = _serve_plan(args)
    except InputError as exc:
        return _report_input_error(exc, moved=False)
    names = [spec.name for spec in specs]
    faults: dict[str, list[FaultRule]] = {}
    for text in args.fault or []:
        try:
            name, rule = parse_fault_spec(text, names)
        except ValueError as exc:
            print(f"cryolab sim serve: --fault: {exc}", file=sys.stderr)
            return EXIT_INVALID
        faults.setdefault(name, []).append(rule)
    last_port = (args.port_base or 0) + len(specs) - 1
    if args.port_base and last_port > 65535:
        print(f"cryolab sim serve: --port-base {args.port_base}: {len(specs)} instruments need "
              f"ports up to {last_port}, beyond 65535", file=sys.stderr)
        return EXIT_INVALID
    try:
        lab = SimulatedLab(ScaledClock(args.speed), preset=args.sample, seed=args.seed,
                           port_base=args.port_base, faults=faults,
                           bridge_max_connections=args.bridge_max_connections,
                           instruments=specs, samples=samples)
        if station is not None:
            match_magnet(lab.world, station)
    except OSError as exc:
        where = f"ports {args.port_base}–{last_port}" if args.port_base else "a port"
        print(f"cannot serve the simulated instruments on {where} of 127.0.0.1: "
              f"{exc.strerror or exc} (another program may be using them; try --port-base 0)",
              file=sys.stderr)
        return EXIT_FAILURE
    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    with lab:
        for name, resource in lab.resources.items():
            print(f"{name} {resource}", flush=True)
        while not stop.wait(0.5):
            pass
    return EXIT_OK


def _report_input_error(exc, moved: bool = True) -> int:
    """Every problem of an InputError, each naming the file and the key; exit 2."""
    print("refused, nothing was moved and no file was written:" if moved else "refused:",
          file=sys.stderr)
    for problem in exc.problems:
        print(f"  {exc.source}: {problem}", file=sys.stderr)
    return EXIT_INVALID


def cmd_check(args: argparse.Namespace) -> int:
    from cryolab.eta import ends_by_the_clock
    from cryolab.inputs import InputError
    from cryolab.lint import sequence_warnings
    from cryolab.runspec import validate
    from cryolab.sequence import format_duration, make_plan

    try:
        spec = validate(args.sequence, args.station, simulated=args.station is None)
    except InputError as exc:
        return _report_input_error(exc)
    plan = make_plan(spec.sequence, spec.station)
    where = args.station or "the simulated station"
    print(f"{args.sequence}: valid against {where} ({spec.station.name})")
    for warning in sequence_warnings(spec.sequence):
        print(f"warning: {args.sequence}: {warning}", file=sys.stderr)
    print(f"{'#':>4}  {'step':<18} {'what':<52} {'estimate':>9}")
    for p in plan:  # numbered from 1, as the progress line and the log count them
        print(f"{p.index + 1:>4}  {p.kind:<18} {p.describe():<52} "
              f"{format_duration(p.estimate_s):>9}")
    total = sum(p.estimate_s for p in plan)
    print(f"total: {len(plan)} steps, about {format_duration(total)} of lab time; started now, "
          f"it {ends_by_the_clock(total)}")
    return EXIT_OK


def _run_session(session, report: str | None = None) -> int:
    """Run with SIGINT/SIGTERM mapped to a safe abort; exit 0 on completion, 1 otherwise."""

    def on_signal(signum, frame):
        if session.runner is not None:
            session.runner.abort(f"interrupted by {signal.Signals(signum).name}")

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        status = session.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        session.close()
    print(f"{status}: {session.path}")
    if status != "completed" and session.runner is not None:
        print(f"the run {status}: {session.runner.end_reason}", file=sys.stderr)
    rescued = getattr(session.writer, "rescued_to", None)
    if rescued is not None:
        print(f"the run file's folder vanished; the file was copied to {rescued}",
              file=sys.stderr)
    if report:
        from cryolab.analysis.report import make_report

        try:
            print(f"report: {make_report(session.path, report)}")
        except Exception as exc:  # the data are safe in the file; say why there is no figure
            print(f"no report figure: {type(exc).__name__}: {exc}", file=sys.stderr)
    return EXIT_OK if status == "completed" else EXIT_FAILURE


def _refused(message: str) -> int:
    print(f"refused, nothing was moved and no file was written: {message}", file=sys.stderr)
    return EXIT_INVALID


def _companion(args: argparse.Namespace):
    """The monitor companion of --notify/--monitor-port (InputError for a bad file)."""
    from cryolab.monitor.companion import companion_options

    return companion_options(args.notify, args.monitor_port)


def _run_faults(specs: list[str] | None, spec) -> dict[str, list[FaultRule]]:
    """--fault specs for a simulated run, by the station's instrument names (ValueError)."""
    from cryolab.sim.faults import parse_fault_spec

    if specs and not spec.simulated:
        raise ValueError("--fault injects faults into the simulated instruments (--sim) only")
    faults: dict[str, list[FaultRule]] = {}
    for text in specs or []:
        name, rule = parse_fault_spec(text, spec.station.instruments)
        if rule.kind == "quench" and name != spec.station.magnet_name:
            raise ValueError(f"fault {text!r}: only the magnet supply "
                             f"({spec.station.magnet_name}) can quench")
        faults.setdefault(name, []).append(rule)
    return faults


def cmd_run(args: argparse.Namespace) -> int:
    from cryolab.inputs import InputError
    from cryolab.lint import sequence_warnings
    from cryolab.runspec import validate

    try:
        spec = validate(args.sequence, args.station, args.sim, args.speed, args.seed,
                        args.sample)
        companion = _companion(args)
    except InputError as exc:
        return _report_input_error(exc)
    from cryolab.analysis.report import FORMATS
    from cryolab.progress import ProgressBar
    from cryolab.runfile import RunFileError
    from cryolab.session import Session, new_run_path, space_check
    from cryolab.station import ConnectError

    for warning in sequence_warnings(spec.sequence):
        print(f"warning: {args.sequence}: {warning}", file=sys.stderr)
    try:
        faults = _run_faults(args.fault, spec)
    except ValueError as exc:
        return _refused(str(exc))
    try:
        out = arguments.output_folder(args.out)
        if args.report:
            arguments.output_file(args.report, FORMATS)
    except ValueError as exc:
        return _refused(str(exc))
    room = space_check(spec, out)
    if not room.fits:
        return _refused(f"not enough disk space: {room.describe(out)}")
    if room.tight:
        print(f"warning: disk space is tight: {room.describe(out)}", file=sys.stderr)
    path = new_run_path(out, spec.sequence.name)
    try:
        session = Session(spec, path, subscribers=[ProgressBar(speed=spec.speed)],
                          companion=companion,
                          lab_options={"faults": faults} if faults else None)
    except ConnectError as exc:
        print(f"failed to start, nothing was moved: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except (OSError, RunFileError) as exc:  # the run file could not be created
        print(f"failed to start, nothing was moved: {path}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    return _run_session(session, args.report)


def cmd_resume(args: argparse.Namespace) -> int:
    from cryolab.inputs import InputError
    from cryolab.progress import ProgressBar
    from cryolab.runfile import RunFileError
    from cryolab.session import Session, mark_interrupted, prepare_resume, space_check
    from cryolab.station import ConnectError

    try:
        companion = _companion(args)
        plan = prepare_resume(args.run, args.speed)
    except InputError as exc:
        return _report_input_error(exc)
    room = space_check(plan.spec, Path(args.run).resolve().parent, plan.start_index)
    if not room.fits:
        plan.lock.release()
        return _refused(f"not enough disk space to continue: "
                        f"{room.describe(Path(args.run).resolve().parent)}")
    try:
        mark_interrupted(args.run)
        start = max(time.time(), plan.last_time_s + 1.0)  # simulated time never runs backwards
        session = Session(plan.spec, Path(args.run), start_index=plan.start_index, append=True,
                          initial_T_K=plan.last_T_K, initial_field_Oe=plan.last_field_Oe,
                          clock_start=start if plan.spec.simulated else None,
                          subscribers=[ProgressBar(speed=plan.spec.speed)], lock=plan.lock,
                          companion=companion)
    except ConnectError as exc:
        plan.lock.release()
        print(f"failed to resume, nothing was moved: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except (OSError, RunFileError) as exc:
        plan.lock.release()
        print(f"failed to resume: {args.run}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    assert session.runner is not None
    print(f"resuming {args.run} at step {plan.start_index + 1} of {len(session.runner.plan)}",
          file=sys.stderr)
    return _run_session(session)


def cmd_export(args: argparse.Namespace) -> int:
    from cryolab.runfile import RunFile, RunFileError, export_csv

    try:
        RunFile(args.run).close()  # refuse a bad file before creating anything
        written = export_csv(args.run, arguments.output_folder(args.csv))
    except (RunFileError, ValueError) as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except OSError as exc:
        print(f"export failed: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    for path in written:
        print(path)
    return EXIT_OK


def _read_fit_csv(path: str) -> tuple:
    """T_K, rho_ohm_sq (and optional rho_err_ohm_sq) columns of a CSV file."""
    import io

    import pandas as pd

    from cryolab.inputs import InputError, read_input

    raw = read_input(path, MAX_CSV_BYTES, "CSV file")
    try:
        frame = pd.read_csv(io.BytesIO(raw))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(path, [f"cannot read as CSV ({exc})"]) from None
    missing = [c for c in ("T_K", "rho_ohm_sq") if c not in frame.columns]
    if missing:
        raise InputError(path, [f"missing column(s) {', '.join(missing)}; expected T_K, "
                                f"rho_ohm_sq (and optionally rho_err_ohm_sq), found "
                                f"{', '.join(map(str, frame.columns)) or 'none'}"])
    try:
        T = frame["T_K"].to_numpy(dtype=float)
        rho = frame["rho_ohm_sq"].to_numpy(dtype=float)
        err = frame["rho_err_ohm_sq"].to_numpy(dtype=float) \
            if "rho_err_ohm_sq" in frame.columns else None
    except ValueError as exc:
        raise InputError(path, [f"non-numeric values ({exc})"]) from None
    return T, rho, err


def _choice_json(choice) -> dict:
    out = choice.best.as_json()
    out.update({"decided": choice.decided, "reason": choice.reason})
    other = next((f for m, f in choice.fits.items() if m != choice.model), None)
    if other is not None and not choice.decided:
        out["alternative"] = other.as_json()
    return out


def _print_fit(choice, label: str = "") -> None:
    from cryolab.analysis.quality import format_parameters

    f = choice.best
    print(f"{label}{f.model}: {format_parameters(f)}; χ²_red {f.chi2_red:.3g}, "
          f"{f.n_points} points, {f.T_min_K:.3g}–{f.T_max_K:.3g} K")
    print(f"{' ' * len(label)}{'' if choice.decided else 'undecided: '}{choice.reason}")


def _forced(model: str, T, rho, err):
    """The fit of a model the user asked for, and what --model auto would have chosen."""
    from cryolab.analysis.fit import Choice, FitError, choose_model, fit

    try:
        auto = choose_model(T, rho, err)
    except FitError:
        auto = None
    forced = auto.fits.get(model) if auto is not None else None
    if forced is None:
        forced = fit(T, rho, model, err)  # raises FitError with the reason
    return Choice(model, True, f"{model} requested", {model: forced}, math.nan, math.nan), auto


def _warn_poor(model: str, reasons: list[str], label: str = "") -> None:
    print(f"warning: {label}{model} is a poor description of these data: "
          + "; ".join(reasons), file=sys.stderr)


def cmd_fit(args: argparse.Namespace) -> int:
    from cryolab.analysis.fit import FitError, choose_model
    from cryolab.analysis.hall import analyze_hall, hall_pairs
    from cryolab.analysis.quality import poor_fit_reasons
    from cryolab.analysis.summary import analyze_points
    from cryolab.inputs import InputError
    from cryolab.runfile import RunFile, RunFileError

    data = Path(args.data)
    poor = False
    try:
        if data.suffix.lower() in (".h5", ".hdf5"):
            with RunFile(data) as run:
                points = run.points()
                channel = (run.longitudinal_channels() or run.channel_names)[0]
                pairs = hall_pairs(run.channels)
            summary, skipped = analyze_points(points, args.model, channel)
            auto_rows = {}
            if args.model != "auto":
                auto_rows = {r.field_Oe: r.choice
                             for r in analyze_points(points, "auto", channel)[0].rows}
            for r in summary.rows:
                reasons = poor_fit_reasons(r.fit, auto_rows.get(r.field_Oe)) \
                    if args.model != "auto" else []
                if reasons:
                    poor = True
                    _warn_poor(args.model, reasons, f"{r.field_Oe:g} Oe: ")
            result = {"fields": [{"field_Oe": r.field_Oe, **_choice_json(r.choice),
                                  "curvature_zeros_data_K": r.curvature_zeros_data_K,
                                  "curvature_zeros_model_K": r.curvature_zeros_model_K}
                                 for r in summary.rows],
                      "summary": summary.attrs(), "skipped": skipped}
            halls = [analyze_hall(points, xx, xy) for xx, xy in pairs]
            if halls:
                result["hall"] = [_hall_json(h) for h in halls]
            if args.json:
                print(json.dumps(result, indent=1, default=float))
            else:
                for r in summary.rows:
                    _print_fit(r.choice, f"{r.field_Oe:7.1f} Oe  ")
                print(json.dumps(summary.attrs(), indent=1, default=float))
                for line in skipped:
                    print(f"not fitted: {line}")
                for hall in halls:
                    _print_hall(hall)
            return EXIT_FAILURE if poor else EXIT_OK
        T, rho, err = _read_fit_csv(str(data))
        if args.model == "auto":
            choice = choose_model(T, rho, err)
        else:
            choice, auto = _forced(args.model, T, rho, err)
            reasons = poor_fit_reasons(choice.best, auto)
            if reasons:
                poor = True
                _warn_poor(args.model, reasons)
    except InputError as exc:
        return _report_input_error(exc)
    except (RunFileError, FitError) as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return EXIT_INVALID
    if args.json:
        print(json.dumps(_choice_json(choice), default=float))
    else:
        _print_fit(choice)
    return EXIT_FAILURE if poor else EXIT_OK


def _hall_json(hall: HallSummary) -> dict:
    fields = []
    for f in hall.fields:
        mean, err = f.R_H_mean
        fields.append({"field_Oe": f.field_Oe, "R_H_ohm_per_T": mean, "R_H_err_ohm_per_T": err,
                       "misalignment": f.misalignment, "hall_ratio_max": f.hall_ratio_max,
                       "sigma_xx_deviation_max": f.sigma_xx_deviation_max,
                       "T_K": f.T_K.tolist(), "rho_xx_sym_ohm_sq": f.rho_xx_sym.tolist(),
                       "rho_xy_anti_ohm": f.rho_xy_anti.tolist(),
                       "R_H_T_ohm_per_T": f.R_H_ohm_per_T.tolist(),
                       "sigma_xx_S": f.sigma_xx_S.tolist(), "sigma_xy_S": f.sigma_xy_S.tolist()})
    return {"longitudinal": hall.xx, "hall": hall.xy, "fields": fields, "notes": hall.notes}


def _print_hall(hall: HallSummary) -> None:
    print(f"Hall {hall.xy} against {hall.xx} (antisymmetrised in H):")
    for f in hall.fields:
        mean, err = f.R_H_mean
        print(f"  {f.field_Oe:7.1f} Oe  R_H = {mean:.4g} ± {err:.2g} Ω/T over "
              f"{f.T_K[0]:.3g}–{f.T_K[-1]:.3g} K; probes pick up {f.misalignment:.3g}·ρ_xx; "
              f"max |ρ_xy/ρ_xx| = {f.hall_ratio_max:.2g} (σ_xx within "
              f"{f.sigma_xx_deviation_max:.1e} of 1/ρ_xx)")
    for note in hall.notes:
        print(f"  {note}")


def cmd_report(args: argparse.Namespace) -> int:
    from cryolab.analysis.report import FORMATS, make_report
    from cryolab.runfile import RunFileError

    try:
        arguments.output_file(args.output, FORMATS)
        print(make_report(args.run, args.output, args.model))
    except (RunFileError, ValueError) as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except OSError as exc:
        print(f"report failed: {args.output}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK


def cmd_gui(args: argparse.Namespace) -> int:
    from cryolab import session
    from cryolab.gui.app import run_gui  # Qt is imported only when the GUI is wanted
    from cryolab.inputs import InputError

    try:
        session.DEFAULT_COMPANION = _companion(args)  # for every run the window starts
    except InputError as exc:
        return _report_input_error(exc)
    return run_gui(args)


def cmd_monitor(args: argparse.Namespace) -> int:
    from cryolab.monitor.command import run_monitor  # the web stack only when it is wanted

    return run_monitor(args)


EPILOG = """\
a night, command by command:
  cryolab check tonight.yaml --station lab.yaml    validate; print the plan and when it ends
  cryolab run tonight.yaml --station lab.yaml      run it headless (Ctrl-C: abort safely)
  cryolab gui --station lab.yaml --sequence tonight.yaml   the same night in a window
  cryolab resume runs/RUN.h5                       continue a night that was interrupted
  cryolab fit runs/RUN.h5                          Eq. 1 / Eq. 2 at each field, and the summary
  cryolab report runs/RUN.h5 -o runs/RUN.pdf       the ρ(T) family and the field summary
  cryolab gui --open runs/RUN.h5                   look at a night again (no instruments)
  cryolab monitor runs/                            a read-only web page of the nights in runs/

without hardware, add --sim: simulated instruments that answer the real command sets
(cryolab run sequences/overnight_field_sweep.yaml --sim --speed 750: a 12.5 h night in a
minute). Each command has its own --help.
"""


def build_parser() -> argparse.ArgumentParser:
    from cryolab.roles.registry import DEFAULT_MODEL_OF_KEY, Role, models_of

    parser = argparse.ArgumentParser(prog="cryolab", description=__doc__, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"cryolab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sim = sub.add_parser("sim", help="simulated instruments, for other programs to talk to",
                         description="Simulated instruments that speak the real command sets.")
    sim_sub = sim.add_subparsers(dest="sim_command", required=True)
    # no abbreviations: "--bridge MODEL" must never be taken for --bridge-max-connections
    serve = sim_sub.add_parser(
        "serve", allow_abbrev=False,
        help="serve a simulated lock-in, bridge and magnet supply (or a station's instruments) "
             "on 127.0.0.1 until interrupted")
    roles: tuple[tuple[Role, str], ...] = (
        ("lockin", "lock-in"), ("bridge", "resistance bridge"), ("magnet", "magnet supply"))
    for role, what in roles:
        default = DEFAULT_MODEL_OF_KEY[role]
        serve.add_argument(f"--{role}", choices=models_of(role), default=None,
                           help=f"{what} model (default {default})")
    serve.add_argument("--station", metavar="FILE",
                       help="serve a twin of every instrument this station file names, wired "
                            "as its channels say (instead of --lockin/--bridge/--magnet)")
    serve.add_argument("--sample", choices=("S0", "S1"), default="S1",
                       help="sample preset (default S1)")
    serve.add_argument("--speed", type=arguments.scaled_speed, default=1.0,
                       help="simulated seconds per wall second (default 1)")
    serve.add_argument("--port-base", type=arguments.port_base, default=5025,
                       help="lock-in on P, bridge on P+1, magnet on P+2, or a station's "
                            "instruments in the order printed (default 5025; 0 = any)")
    serve.add_argument("--seed", type=arguments.seed, default=0, help="noise and fault seed")
    serve.add_argument("--fault", action="append", metavar="SPEC",
                       help="inject faults: INSTRUMENT:KIND[:rate=P|:at=S[,for=S]], e.g. "
                            "lockin:timeout:rate=0.01 (repeatable)")
    serve.add_argument("--bridge-max-connections", type=arguments.connection_limit,
                       default=None,
                       help="refuse bridge connections beyond this many (a real 372 allows 2)")
    serve.set_defaults(func=cmd_sim_serve)

    check = sub.add_parser(
        "check", help="validate a sequence; print its plan, its duration and when it ends",
        description="Validate a sequence against the station (every problem at once, by key), "
                    "then print the plan step by step, the lab time it takes and when it would "
                    "end by the clock if started now. Nothing is contacted.")
    check.add_argument("sequence", help="sequence file (YAML)")
    check.add_argument("--station", help="station file (default: the simulated station)")
    check.set_defaults(func=cmd_check)

    run = sub.add_parser(
        "run", help="run a sequence headless, writing one HDF5 file",
        description="Run a sequence with a progress line; one HDF5 file per run. Ctrl-C or "
                    "SIGTERM aborts safely (the station's safe state). Exit 0 completed, "
                    "1 aborted or failed (the file says why), 2 refused input (nothing moved).")
    run.add_argument("sequence", help="sequence file (YAML)")
    run.add_argument("--sim", action="store_true", help="use the simulated instruments")
    run.add_argument("--speed", type=arguments.speed, default=1.0,
                     help="simulated seconds per wall second, or 'max' (jumps; --sim only)")
    run.add_argument("--seed", type=arguments.seed, default=0,
                     help="simulation seed (recorded in the file)")
    run.add_argument("--station", help="station file (default with --sim: the simulated one)")
    run.add_argument("--sample", choices=("S0", "S1"),
                     help="simulated sample preset (default: the sequence's, else S1)")
    run.add_argument("--out", default="runs", help="directory for the run file (default runs/)")
    run.add_argument("--report", metavar="FILE",
                     help="when the run ends, also write the report figure (.png/.pdf/.svg)")
    run.add_argument("--fault", action="append", metavar="SPEC",
                     help="with --sim: inject faults as `sim serve` does, and magnet:quench:at=S "
                          "(repeatable)")
    monitor_arguments.add_companion_arguments(run)
    run.set_defaults(func=cmd_run)

    resume = sub.add_parser(
        "resume", help="continue an interrupted run in the same file",
        description="Continue an interrupted, aborted or failed run from its first unfinished "
                    "step, appending to the same file; everything needed is read from it.")
    resume.add_argument("run", help="the run file (.h5)")
    resume.add_argument("--speed", type=arguments.speed,
                        help="override the recorded simulation speed (a number or 'max')")
    monitor_arguments.add_companion_arguments(resume)
    resume.set_defaults(func=cmd_resume)

    export = sub.add_parser("export", help="export a run file to CSV (points, steps, events)")
    export.add_argument("run", help="the run file (.h5)")
    export.add_argument("--csv", required=True, metavar="DIR", help="output directory")
    export.set_defaults(func=cmd_export)

    fit_cmd = sub.add_parser(
        "fit", help="fit Eq. 1 / Eq. 2 to a CSV (T_K,rho_ohm_sq) or a run",
        description="Fit the paper's Eq. 1 (insulating side) or Eq. 2 (superconducting side) "
                    "to ρ(T): a CSV file with columns T_K,rho_ohm_sq, or a run file (one fit "
                    "per field, then the field summary). A model forced with --model that "
                    "does not describe the data (an undetermined parameter, or the other model "
                    "fitting ten times better) is printed with a warning and exits 1.")
    fit_cmd.add_argument("data", help="CSV file or run file (.h5)")
    fit_cmd.add_argument("--model", choices=("eq1", "eq2", "auto"), default="auto",
                         help="eq1: ρ = 1/(σ_QF + σ_0·exp(−E_a/T)); eq2: ρ = ρ_QF + "
                              "ρ_0·exp(−E_a/T); auto (default): chosen by the sign of dρ/dT "
                              "at low temperature and by the fits' quality")
    fit_cmd.add_argument("--json", action="store_true", help="print one JSON object")
    fit_cmd.set_defaults(func=cmd_fit)

    report = sub.add_parser("report", help="the ρ(T) family and the field summary as a figure")
    report.add_argument("run", help="the run file (.h5)")
    report.add_argument("-o", "--output", required=True, help="FILE.png, .pdf or .svg")
    report.add_argument("--model", choices=("eq1", "eq2", "auto"), default="auto",
                        help="the model fitted at every field (default auto: chosen per field)")
    report.set_defaults(func=cmd_report)

    gui = sub.add_parser(
        "gui", help="the cooldown GUI (or --open RUN.h5 to review a night)",
        description="Live readings of every channel, plots with the live fits, the plan with "
                    "its end by the clock, alarms, start/pause/resume/abort, manual control. "
                    "--open RUN.h5 alone reviews a run file with no instruments.")
    gui.add_argument("--sim", action="store_true", help="use the simulated instruments")
    gui.add_argument("--sequence", help="sequence file to load (validated at once)")
    gui.add_argument("--start", action="store_true", help="start the loaded sequence at once")
    gui.add_argument("--station", help="station file (default with --sim: the simulated one)")
    gui.add_argument("--speed", type=arguments.scaled_speed, default=60.0,
                     help="simulated seconds per wall second with --sim (default 60)")
    gui.add_argument("--sample", choices=("S0", "S1"), help="simulated sample preset")
    gui.add_argument("--seed", type=arguments.seed, default=0, help="simulation seed")
    gui.add_argument("--out", default="runs", help="directory for run files (default runs/)")
    gui.add_argument("--open", metavar="RUN.h5", help="open a run file to review it")
    gui.add_argument("--screenshot", metavar="FILE.png",
                     help="save the window as PNG after --exit-after seconds, then exit")
    gui.add_argument("--exit-after", type=float, default=0.0, metavar="SECONDS",
                     help="close the window after this many seconds (with --screenshot: "
                          "take the screenshot then)")
    monitor_arguments.add_companion_arguments(gui)
    gui.set_defaults(func=cmd_gui)

    monitor = sub.add_parser("monitor", help="a read-only web page of run files (a file or a "
                                             "folder), and notifications")
    monitor_arguments.add_monitor_arguments(monitor)
    monitor.set_defaults(func=cmd_monitor)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if hasattr(signal, "SIGUSR1"):  # `kill -USR1 PID`: where every thread of a process is
        with contextlib.suppress(ValueError, OSError):  # a stderr with no file behind it
            faulthandler.register(signal.SIGUSR1, all_threads=True)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: say so in one line; the traceback goes to a file
        where = _record_crash()
        print(f"cryolab: internal error ({type(exc).__name__}: {exc}); this is a bug in "
              f"cryolab, not in your input. Details: {where}", file=sys.stderr)
        return EXIT_FAILURE


def _record_crash() -> str:
    """Append the current exception's traceback to the user's cryolab error log."""
    import traceback

    state = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    path = state / "cryolab" / "errors.log"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as f:
            f.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} cryolab {__version__} "
                    f"{' '.join(sys.argv)}\n{traceback.format_exc()}\n")
        return str(path)
    except OSError:
        return "(the error log could not be written)"


if __name__ == "__main__":
    sys.exit(main())
