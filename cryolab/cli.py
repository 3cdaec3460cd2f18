"""The ``cryolab`` command line: argument parsing and dispatch (the work lives elsewhere)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from cryolab import __version__
from cryolab.clock import ScaledClock
from cryolab.inputs import InputError
from cryolab.progress import ProgressBar
from cryolab.sequence import format_duration, make_plan
from cryolab.session import (
    Session,
    mark_interrupted,
    new_run_path,
    parse_speed,
    prepare_resume,
    validate,
)
from cryolab.storage import RunFileError, export_csv
from instruments.simulated.lab import NAMES, SimulatedLab
from instruments.simulated.server import FAULT_KINDS, FaultRule

EXIT_OK, EXIT_FAILURE, EXIT_INVALID = 0, 1, 2


def parse_fault(spec: str) -> tuple[str, FaultRule]:
    """``INSTRUMENT:KIND[:rate=P|:at=S[,for=S]]`` → (instrument, rule).

    Examples: ``lockin:timeout:rate=0.01``, ``magnet:disconnect:at=3600``,
    ``bridge:timeout:at=600,for=120`` (an outage of 120 simulated seconds).
    """
    parts = spec.split(":")
    if len(parts) not in (2, 3) or parts[0] not in NAMES or parts[1] not in FAULT_KINDS:
        raise argparse.ArgumentTypeError(
            f"fault {spec!r}: expected INSTRUMENT:KIND[:rate=P|:at=S[,for=S]] with INSTRUMENT "
            f"one of {', '.join(NAMES)} and KIND one of {', '.join(FAULT_KINDS)}")
    options: dict[str, float] = {}
    if len(parts) == 3:
        for item in parts[2].split(","):
            key, _, value = item.partition("=")
            try:
                options[key.strip()] = float(value)
            except ValueError:
                raise argparse.ArgumentTypeError(f"fault {spec!r}: {item!r} is not key=number") \
                    from None
    if set(options) - {"rate", "at", "for"} or ("rate" in options) == ("at" in options) or \
            ("for" in options and "at" not in options):
        raise argparse.ArgumentTypeError(f"fault {spec!r}: give either rate=P or at=S[,for=S]")
    try:
        rule = FaultRule(parts[1], rate=options.get("rate", 0.0), at_s=options.get("at"),
                         duration_s=options.get("for", 0.0))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"fault {spec!r}: {exc}") from None
    return parts[0], rule


def _positive_speed(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"speed {text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"speed must be a positive number, got {text}")
    return value


def cmd_sim_serve(args: argparse.Namespace) -> int:
    faults: dict[str, list[FaultRule]] = {}
    for name, rule in args.fault or []:
        faults.setdefault(name, []).append(rule)
    lab = SimulatedLab(ScaledClock(args.speed), preset=args.sample, seed=args.seed,
                       port_base=args.port_base, faults=faults,
                       bridge_max_connections=args.bridge_max_connections)
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


def _report_input_error(exc: InputError) -> int:
    print("refused, nothing was moved and no file was written:", file=sys.stderr)
    for problem in exc.problems:
        print(f"  {exc.source}: {problem}", file=sys.stderr)
    return EXIT_INVALID


def cmd_check(args: argparse.Namespace) -> int:
    try:
        spec = validate(args.sequence, args.station, simulated=args.station is None)
    except InputError as exc:
        return _report_input_error(exc)
    plan = make_plan(spec.sequence, spec.station)
    where = args.station or "the simulated station"
    print(f"{args.sequence}: valid against {where} ({spec.station.name})")
    print(f"{'#':>4}  {'step':<18} {'what':<52} {'estimate':>9}")
    for p in plan:
        print(f"{p.index:>4}  {p.kind:<18} {p.describe():<52} "
              f"{format_duration(p.estimate_s):>9}")
    print(f"total: {len(plan)} steps, about {format_duration(sum(p.estimate_s for p in plan))} "
          "of lab time")
    return EXIT_OK


def _run_session(session: Session) -> int:
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
    return EXIT_OK if status == "completed" else EXIT_FAILURE


def cmd_run(args: argparse.Namespace) -> int:
    try:
        spec = validate(args.sequence, args.station, args.sim, parse_speed(args.speed),
                        args.seed, args.sample)
    except InputError as exc:
        return _report_input_error(exc)
    except ValueError as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return EXIT_INVALID
    path = new_run_path(args.out, spec.sequence.name)
    try:
        session = Session(spec, path, subscribers=[ProgressBar()])
    except Exception as exc:  # instruments not reachable, file not writable: nothing ran
        print(f"failed to start: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    return _run_session(session)


def cmd_resume(args: argparse.Namespace) -> int:
    try:
        plan = prepare_resume(args.run, parse_speed(args.speed) if args.speed else None)
    except InputError as exc:
        return _report_input_error(exc)
    mark_interrupted(args.run)
    session = Session(plan.spec, Path(args.run), start_index=plan.start_index, append=True,
                      initial_T_K=plan.last_T_K, initial_field_Oe=plan.last_field_Oe,
                      subscribers=[ProgressBar()])
    print(f"resuming {args.run} at step {plan.start_index}", file=sys.stderr)
    return _run_session(session)


def cmd_export(args: argparse.Namespace) -> int:
    try:
        written = export_csv(args.run, args.csv)
    except RunFileError as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return EXIT_INVALID
    for path in written:
        print(path)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cryolab", description=__doc__)
    parser.add_argument("--version", action="version", version=f"cryolab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    sim = sub.add_parser("sim", help="simulated instruments")
    sim_sub = sim.add_subparsers(dest="sim_command", required=True)
    serve = sim_sub.add_parser(
        "serve", help="serve the simulated SR830, 372 and 430 on 127.0.0.1 until interrupted")
    serve.add_argument("--sample", choices=("S0", "S1"), default="S1",
                       help="sample preset (default S1)")
    serve.add_argument("--speed", type=_positive_speed, default=1.0,
                       help="simulated seconds per wall second (default 1)")
    serve.add_argument("--port-base", type=int, default=5025,
                       help="lock-in on P, bridge on P+1, magnet on P+2 (default 5025; 0 = any)")
    serve.add_argument("--seed", type=int, default=0, help="noise and fault seed")
    serve.add_argument("--fault", type=parse_fault, action="append", metavar="SPEC",
                       help="inject faults: INSTRUMENT:KIND[:rate=P|:at=S[,for=S]], e.g. "
                            "lockin:timeout:rate=0.01 (repeatable)")
    serve.add_argument("--bridge-max-connections", type=int, default=None,
                       help="refuse bridge connections beyond this many (a real 372 allows 2)")
    serve.set_defaults(func=cmd_sim_serve)

    check = sub.add_parser("check", help="validate a sequence and print its plan and duration")
    check.add_argument("sequence", help="sequence file (YAML)")
    check.add_argument("--station", help="station file (default: the simulated station)")
    check.set_defaults(func=cmd_check)

    run = sub.add_parser("run", help="run a sequence headless, writing one HDF5 file")
    run.add_argument("sequence", help="sequence file (YAML)")
    run.add_argument("--sim", action="store_true", help="use the simulated instruments")
    run.add_argument("--speed", default="1",
                     help="simulated seconds per wall second, or 'max' (jumps; --sim only)")
    run.add_argument("--seed", type=int, default=0, help="simulation seed (recorded in the file)")
    run.add_argument("--station", help="station file (default with --sim: the simulated one)")
    run.add_argument("--sample", choices=("S0", "S1"),
                     help="simulated sample preset (default: the sequence's, else S1)")
    run.add_argument("--out", default="runs", help="directory for the run file (default runs/)")
    run.set_defaults(func=cmd_run)

    resume = sub.add_parser("resume", help="continue an interrupted run in the same file")
    resume.add_argument("run", help="the run file (.h5)")
    resume.add_argument("--speed", help="override the recorded simulation speed")
    resume.set_defaults(func=cmd_resume)

    export = sub.add_parser("export", help="export a run file to CSV")
    export.add_argument("run", help="the run file (.h5)")
    export.add_argument("--csv", required=True, metavar="DIR", help="output directory")
    export.set_defaults(func=cmd_export)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "port_base", None) == 0:
        args.port_base = None
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
