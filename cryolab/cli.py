"""The ``cryolab`` command line: argument parsing and dispatch (the work lives elsewhere)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence

from cryolab import __version__
from cryolab.clock import ScaledClock
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "port_base", None) == 0:
        args.port_base = None
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
