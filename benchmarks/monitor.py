"""The monitor against its three figures: the first page load of a 48-hour night (≈ 60 000
points), how far the page is behind the file, and how much of a core the monitor takes while a
night is written and the page is open (and while nobody looks: notifications only).

The nights are written by cryolab's own RunWriter (the same SWMR file a run writes), with
synthetic points of an S1-like ρ(T) every 3 s of a field sweep: fast to make, and the monitor
cannot tell them from measured ones. ``cryolab monitor`` runs as its own process, as it does
beside a night; its CPU time is read from /proc. The page's requests are made as monitor.js
makes them (``/api/runs/ID?since=V&width=W`` every second); the first load is also timed in a
real headless Chromium when Debian's chromium and chromium-driver are installed.
"""

from __future__ import annotations

import json
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from cryolab.events import RunEnded, RunStarted, StepEnded, StepStarted
from cryolab.measurement import ChannelReading, Point
from cryolab.runfile import RunFile, RunWriter
from cryolab.sequence import FieldSweep, RampSpec, Sequence, SetExcitation, make_plan
from cryolab.station import load_station

POINT_EVERY_S = 3.0
NIGHT_POINTS = 60_000  # 50 h at one point per 3 s
PLOT_WIDTH = 1200


def _plan():
    station = load_station()
    fields = [float(f) for f in range(0, 601, 25)]
    sequence = Sequence(name="48 h night", steps=[
        SetExcitation(current_nA=0.5),
        FieldSweep(fields_Oe=fields + fields[::-1][1:], rate_Oe_per_s=5.0,
                   ramp=RampSpec(from_K=0.06, to_K=1.0))])
    return sequence, station, make_plan(sequence, station)


def _point(step: int, t: float, T: float, H: float) -> Point:
    rho = 1.0 / (2.3e-5 + 1.0e-4 * math.exp(-0.34 / T))
    channel = ChannelReading(rho * 5e-10, -1e-8, 2 * rho, rho, 5e-10, 6.93, 1.0, 1e-3, 0, True)
    return Point(step, t, T * 0.99, T, 2000.0, H, T, 0, (channel,))


class Night:
    """A run file written like a run: steps of temperature ramps, a point every 3 s."""

    def __init__(self, path: Path, t0: float) -> None:
        self.sequence, self.station, self.plan = _plan()
        attrs = {"sequence": self.sequence.to_yaml(), "sequence_name": self.sequence.name,
                 "station": self.station.snapshot_json(), "simulated": False, "speed": 1.0,
                 "channels": json.dumps([{"name": "xx", "kind": "longitudinal"}])}
        self.writer = RunWriter(path, attrs, ["xx"])
        self.t = t0
        self.n = 0
        self.writer(RunStarted(t0, self.plan, 0, {}))
        self.ramps = [p for p in self.plan if p.kind == "ramp_temperature"]
        self.step = -1
        self.per_step = NIGHT_POINTS // len(self.ramps) + 1

    def add(self, count: int) -> None:
        for _ in range(count):
            if self.n % self.per_step == 0:
                if self.step >= 0:
                    self.writer(StepEnded(self.t, self.ramps[self.step].index, "completed"))
                self.step += 1
                self.writer(StepStarted(self.t, self.ramps[self.step]))
            k = self.n % self.per_step / self.per_step
            T = 0.06 + 0.94 * (k if self.step % 2 == 0 else 1 - k)
            H = 25.0 * (self.step % 25)
            self.writer(_point(self.ramps[self.step].index, self.t, T, H))
            self.t += POINT_EVERY_S
            self.n += 1

    def close(self, status: str = "completed") -> None:
        self.writer(StepEnded(self.t, self.ramps[self.step].index, status))
        self.writer(RunEnded(self.t, status))
        self.writer.close()


def _monitor(path: Path) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "cryolab", "monitor", str(path), "--port",
                             "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    if not line.startswith("monitor: "):
        proc.kill()
        raise RuntimeError(f"the monitor did not start: {line!r}")
    return proc, line.split(" ", 1)[1].strip()


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    proc.stdout.close()


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read()


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _run_id(base: str) -> str:
    return json.loads(_get(f"{base}api/runs"))["runs"][0]["id"]


def first_load(folder: Path) -> dict:
    night = Night(folder / "night48.h5", time.time() - NIGHT_POINTS * POINT_EVERY_S)
    night.add(NIGHT_POINTS)
    night.close()
    proc, base = _monitor(folder / "night48.h5")
    try:
        rid = _run_id(base)
        t0 = time.perf_counter()
        page = _get(f"{base}run/{rid}")
        js = _get(f"{base}static/monitor.js")
        css = _get(f"{base}static/monitor.css")
        t_api = time.perf_counter()
        state = _get(f"{base}api/runs/{rid}?since=-1&width={PLOT_WIDTH}")
        done = time.perf_counter()
        view = json.loads(state)
        again = []
        for _ in range(5):  # a second viewer, or a reload: the built view is cached
            t = time.perf_counter()
            _get(f"{base}api/runs/{rid}?since=-1&width={PLOT_WIDTH}")
            again.append(time.perf_counter() - t)
        out = {"night_points": view["night"]["n"],
               "first_load_http_s": done - t0, "first_state_s": done - t_api,
               "first_load_bytes": len(page) + len(js) + len(css) + len(state),
               "state_json_bytes": len(state), "curve_points_sent": len(view["night"]["t_s"]),
               "reload_state_s_median": statistics.median(again)}
        out.update(_browser_first_load(f"{base}run/{rid}"))
        return out
    finally:
        _stop(proc)


def _browser_first_load(url: str) -> dict:
    """Navigation start → readings and plots drawn, in headless Chromium (if installed)."""
    if not (Path("/usr/bin/chromium").exists() and Path("/usr/bin/chromedriver").exists()):
        return {"first_load_browser_s": "chromium not installed"}
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="cryolab-bench-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--window-size=1280,1400",
                f"--user-data-dir={profile}"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        driver.get(url)  # returns after the load event; the data come with the first poll
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            shown = driver.execute_script(
                "const r = document.getElementById('readings').textContent;"
                "return r.includes('T_MC') ? performance.now() : null")
            if shown:
                return {"first_load_browser_s": shown / 1000.0}
            time.sleep(0.01)
        return {"first_load_browser_s": math.nan}
    finally:
        driver.quit()


def live(folder: Path, seconds: float = 40.0, rate_per_s: float = 1.0) -> dict:
    """A night being written (half done, then a point per second): the page's lag behind the
    file, and the monitor's CPU while the page is open and while nobody looks."""
    night = Night(folder / "live.h5", time.time() - NIGHT_POINTS / 2 * POINT_EVERY_S)
    night.add(NIGHT_POINTS // 2)
    stop = threading.Event()
    written: dict[int, float] = {}  # point number → wall time it was handed to the writer

    def write() -> None:
        while not stop.wait(1.0 / rate_per_s):
            written[night.n] = time.time()
            night.add(1)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    proc, base = _monitor(folder / "live.h5")
    try:
        rid = _run_id(base)
        on_disk: dict[int, float] = {}  # point count → wall time a reader first saw it

        def read_file() -> None:
            with RunFile(folder / "live.h5") as run:
                while not stop.is_set():
                    run.refresh()
                    n = sum(s.n_points for s in run.steps())
                    on_disk.setdefault(n, time.time())
                    time.sleep(0.05)

        reader = threading.Thread(target=read_file, daemon=True)
        reader.start()
        version, seen, lags = -1, 0, []
        cpu0, wall0 = _cpu_s(proc.pid), time.monotonic()
        while time.monotonic() - wall0 < seconds:  # the page: a request a second
            view = json.loads(_get(f"{base}api/runs/{rid}?since={version}&width={PLOT_WIDTH}"))
            now = time.time()
            if not view.get("unchanged"):
                version = view["version"]
                n = view["n_points"]
                if n > seen:
                    seen = n
                    if n in on_disk:
                        lags.append(now - on_disk[n])
            time.sleep(1.0)
        viewed_cpu = (_cpu_s(proc.pid) - cpu0) / (time.monotonic() - wall0)
        time.sleep(32)  # the page is closed: the points are forgotten after 30 s
        cpu1, wall1 = _cpu_s(proc.pid), time.monotonic()
        time.sleep(seconds / 2)
        unviewed_cpu = (_cpu_s(proc.pid) - cpu1) / (time.monotonic() - wall1)
    finally:
        stop.set()
        writer.join(timeout=10)
        _stop(proc)
        night.close()
    return {"points_per_s_written": rate_per_s,
            "lag_behind_file_s_median": statistics.median(lags) if lags else math.nan,
            "lag_behind_file_s_max": max(lags) if lags else math.nan,
            "lag_samples": len(lags),
            "cpu_core_percent_page_open": 100 * viewed_cpu,
            "cpu_core_percent_nobody_looking": 100 * unviewed_cpu}


def run() -> dict:
    with tempfile.TemporaryDirectory(prefix="cryolab-bench-monitor-") as tmp:
        folder = Path(tmp)
        out = first_load(folder)
        out.update(live(folder))
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in out.items()}


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key:<34} {value}")
