"""Command-line values checked as argparse types: speeds, seeds, ports, output places.

Each refuses a bad value with a sentence naming the option and saying what would be accepted
(argparse then exits with status 2 and its usage line), so no command gets as far as moving
an instrument or creating a file with it.
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

#: a scaled clock faster than this loses the lab's dynamics between two queries; use 'max'
MAX_SPEED = 1.0e6
MAX_SEED = 2**63 - 1  # stored as a 64-bit integer in the run file


def speed(text: str) -> float:
    """'max' (the virtual clock, inf) or a positive number of simulated seconds per second."""
    if text.strip().lower() == "max":
        return math.inf
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--speed {text!r}: give a number of simulated seconds per second, or 'max'"
        ) from None
    if not (math.isfinite(value) and 0 < value <= MAX_SPEED):
        raise argparse.ArgumentTypeError(
            f"--speed {text}: must be above 0 and at most {MAX_SPEED:g}, or 'max'")
    return value


def scaled_speed(text: str) -> float:
    """A finite speed: instruments served to other programs cannot jump ahead in time."""
    value = speed(text)
    if math.isinf(value):
        raise argparse.ArgumentTypeError(
            "--speed max jumps the clock, which only a headless run can do; give a number")
    return value


def seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seed {text!r}: must be a whole number") from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"--seed {text}: must be between 0 and {MAX_SEED}")
    return value


def port_base(text: str) -> int | None:
    """0 (any free ports) or P, with P, P+1, P+2 all valid TCP ports."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--port-base {text!r}: must be a port number") \
            from None
    if value == 0:
        return None
    if not 1 <= value <= 65535 - 2:
        raise argparse.ArgumentTypeError(
            f"--port-base {text}: must be 0 (any free ports) or 1 to 65533 (the instruments "
            "take P, P+1 and P+2)")
    return value


def connection_limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: must be a whole number") from None
    if not 1 <= value <= 1000:
        raise argparse.ArgumentTypeError(f"{text}: must be between 1 and 1000")
    return value


def output_folder(path: str | Path) -> Path:
    """A folder new files can be written in (created if missing); ValueError saying why not."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{folder} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"{folder}: cannot create this folder ({exc.strerror})") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"{folder}: this folder is not writable")
    probe = folder / f".cryolab-write-test-{os.getpid()}"
    try:
        probe.write_bytes(b"")
    except OSError as exc:
        raise ValueError(f"{folder}: cannot write in this folder ({exc.strerror})") from None
    finally:
        probe.unlink(missing_ok=True)
    return folder


def output_file(path: str | Path, suffixes: tuple[str, ...]) -> Path:
    """A file to write: a known suffix, and a folder it can go in (created if missing)."""
    out = Path(path)
    if out.suffix.lower() not in suffixes:
        raise ValueError(f"{out}: the file name must end in {', '.join(suffixes)}")
    if out.is_dir():
        raise ValueError(f"{out} is a folder; give a file name")
    output_folder(out.parent if str(out.parent) else ".")
    return out
