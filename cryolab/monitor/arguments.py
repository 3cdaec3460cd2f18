"""The monitor's command-line options (standard library only: building the parser stays cheap):
``cryolab monitor``'s, and ``--notify`` / ``--monitor-port`` of run, resume and gui."""

from __future__ import annotations

import argparse

#: where the page's access token comes from when the notifications file gives none
TOKEN_ENV = "CRYOLAB_MONITOR_TOKEN"
DEFAULT_PORT = 8765


def port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port number (0–65535)")
    return value


def add_monitor_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help="run files (.h5) or folders of run files")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to serve on (default 127.0.0.1; any other address "
                             "needs an access token)")
    parser.add_argument("--port", type=port, default=None,
                        help=f"port (default {DEFAULT_PORT}; 0: any free port)")
    parser.add_argument("--notify", metavar="FILE",
                        help="notifications file (YAML): targets, events, rate limit")
    parser.add_argument("--new-token", action="store_true",
                        help=f"make up an access token and print it in the address (else: "
                             f"the notifications file's access_token, or ${TOKEN_ENV})")
    # a run's companion: started by `cryolab run/resume/gui --notify/--monitor-port`
    parser.add_argument("--companion", action="store_true", help=argparse.SUPPRESS)


def add_companion_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--notify", metavar="FILE",
                        help="notifications file: send notifications about this run (quench, "
                             "instrument down, run ended or died, …) from a companion process")
    parser.add_argument("--monitor-port", type=port, metavar="P",
                        help="serve the read-only web page of this run on 127.0.0.1:P from a "
                             "companion process (0: any free port)")
