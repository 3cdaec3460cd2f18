"""The terminal progress line: what it keeps when space is short, in a real 80-column
terminal, and the plan line's end of the night by the clock."""

import fcntl
import io
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from cryolab.events import RunStarted
from cryolab.progress import BAR_MIN, LineState, ProgressBar, progress_line
from cryolab.sequence import PlannedStep, RampTemperature, SetField

ROOT = Path(__file__).resolve().parent.parent
RAMP = LineState(step=5, n_steps=29, description="ramp from 0.06 K to 1 K (auto rate)",
                 done_s=8000.0, total_s=44851.0, T_mc_K=0.114, field_Oe=450.0, points=6215,
                 flagged=12)
PARTS = ["step 5/29", "ramp from 0.06 K to 1 K (auto rate)", "18% 2:13/12:28", "T_MC 114 mK",
         "H 450 Oe", "6215 pts, 12 flagged"]


def kept(line: str) -> list[str]:
    return [p for p in PARTS if p in line]


def bar_width(line: str) -> int:
    bar = re.search(r"\|([█▏▎▍▌▋▊▉ ]*)\|", line)
    return len(bar.group(1)) if bar else 0


@pytest.mark.parametrize("width, parts", [
    (160, PARTS),
    (110, PARTS),  # everything but the bar
    (100, PARTS[:5]),  # the points go first
    (80, PARTS[:4]),  # then the field
    (70, PARTS[:3]),  # then T_MC
])
def test_the_least_important_parts_go_first(width, parts):
    line = progress_line(RAMP, width)
    assert len(line) <= width - 1
    assert kept(line) == parts
    assert bar_width(line) == 0 or bar_width(line) >= BAR_MIN  # never a 1-character bar


def test_a_wide_terminal_shows_everything_with_a_bar():
    line = progress_line(RAMP, 160)
    assert line.startswith("step 5/29 ramp from 0.06 K to 1 K (auto rate) |█████")
    assert bar_width(line) >= BAR_MIN


def test_when_even_the_description_does_not_fit_it_is_shortened_then_dropped():
    line = progress_line(RAMP, 50)
    assert line.startswith("step 5/29 ramp from") and "…" in line and "2:13/12:28" in line
    assert progress_line(RAMP, 30) == "step 5/29 18% 2:13/12:28"


def _planned(n: int) -> list[PlannedStep]:
    steps = [SetField(field_Oe=100.0), RampTemperature(from_K=0.06, to_K=1.0)] * (n // 2)
    return [PlannedStep(i, s, 1800.0) for i, s in enumerate(steps)]


def test_the_plan_line_says_when_the_night_ends_by_the_clock():
    out = io.StringIO()
    bar = ProgressBar(out, speed=1.0)
    bar(RunStarted(time.time(), _planned(8), 0))
    assert re.fullmatch(r"plan: 8 steps, about 4:00:00 of lab time; ends about "
                        r"(\w{3} )?\d\d:\d\d local time\n", out.getvalue())
    out = io.StringIO()
    ProgressBar(out, speed=600.0)(RunStarted(time.time(), _planned(8), 0))
    assert "(0:00:24 of wall time at 600×)" in out.getvalue()
    out = io.StringIO()
    ProgressBar(out, speed=float("inf"))(RunStarted(time.time(), _planned(8), 0))
    assert "--speed max: as fast as the computer runs" in out.getvalue()


def test_after_a_resume_the_plan_line_counts_what_is_left():
    out = io.StringIO()
    ProgressBar(out)(RunStarted(time.time(), _planned(8), 5))
    assert out.getvalue().startswith("plan: steps 6–8 of 8 left, about 1:30:00 of lab time")


def test_a_real_run_in_an_80_column_terminal(tmp_path):
    """`cryolab run` in a pseudo-terminal of 80 columns: every redraw of the line fits, and
    the line keeps the step, its description, the progress and T_MC."""
    seq = tmp_path / "night.yaml"
    seq.write_text("name: pty test\nsteps:\n  - set_field: {field_Oe: 450}\n"
                   "  - hold: {duration_s: 900}\n")
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "cryolab", "run", str(seq), "--sim",
                             "--speed", "300", "--out", str(tmp_path / "runs")],
                            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=follower,
                            stderr=follower, close_fds=True)
    os.close(follower)
    output = b""
    while True:  # read until the process has exited and the terminal is drained
        ready, _, _ = select.select([leader], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the other end is closed
                break
            if not chunk:
                break
            output += chunk
        elif proc.poll() is not None:
            break
    proc.wait(timeout=60)
    os.close(leader)
    assert proc.returncode == 0, output.decode(errors="replace")
    text = output.decode()
    redraws = [part.rstrip() for line in text.split("\n") for part in line.split("\r")
               if part.strip().startswith("step ")]
    assert redraws, text
    assert all(len(r) <= 79 for r in redraws), max(redraws, key=len)
    hold = [r for r in redraws if r.startswith("step 2/2 hold 900 s ")]
    assert hold and all(re.search(r"\d+% \d:\d\d/0:\d\d · T_MC [\d.]+ mK", r) for r in hold)
    assert text.splitlines()[0].startswith(
        "plan: 2 steps, about 0:17:00 of lab time; ends about ")
