"""The night away from the lab: `cryolab monitor`'s page in a real headless Chromium, and the
notifications of a run's companion arriving at a local SMTP server and a local webhook.

Every process is a real `cryolab` subprocess on simulated instruments; every wait is on a
condition with a deadline; every port is chosen by the kernel (bind 0); every process is ended
by the test that started it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from cryolab.inputs import InputError
from cryolab.monitor.alerts import Notice
from cryolab.monitor.config import NotifyConfig, load_notifications
from cryolab.monitor.decimate import minmax, stride
from cryolab.monitor.notify import Notifier
from cryolab.runfile import RunFile
from cryolab.sim.faults import parse_fault_spec

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
SEQUENCE = """
name: monitored night
simulation: {preset: S1}
steps:
  - set_excitation: {current_nA: 0.5}
  - field_sweep:
      fields_Oe: [100, 400]
      rate_Oe_per_s: 10
      ramp: {from_K: 0.07, to_K: 0.4}
"""
DOCS_SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "images" / "monitor.png"


def wait_for(condition, timeout_s: float, what: str, interval_s: float = 0.1):
    """Poll ``condition`` until it returns something true; fail naming ``what`` at the end."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(interval_s)


def cryolab_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "cryolab", *args]


@contextlib.contextmanager
def started(*args: str, **popen):
    """A cryolab subprocess, ended (SIGTERM, then SIGKILL) whatever the test does."""
    proc = subprocess.Popen(cryolab_command(*args), **popen)
    try:
        yield proc
    finally:
        end(proc)


def end(proc: subprocess.Popen, timeout_s: float = 20.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    for stream in (proc.stdout, proc.stderr, proc.stdin):
        if stream is not None:
            stream.close()


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def kill_if_alive(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def run_file(folder: Path) -> Path | None:
    files = list(folder.glob("*.h5"))
    return files[0] if files else None


def points_in(path: Path) -> int:
    try:
        with RunFile(path) as run:
            return sum(s.n_points for s in run.steps())
    except Exception:  # mid-creation
        return 0


def start_monitor(*args: str) -> tuple[subprocess.Popen, str]:
    """`cryolab monitor … --port 0`; returns the process and the address it printed."""
    proc = subprocess.Popen(cryolab_command("monitor", *args, "--port", "0"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout=30)
    if not lines or not lines[0].startswith("monitor: "):
        end(proc)
        raise AssertionError(f"the monitor printed no address: {lines} {proc.stderr.read()}")
    return proc, lines[0].split(" ", 1)[1].strip()


def http_get(url: str, headers: dict | None = None, method: str = "GET"):
    """(status, headers, body) of one request, whatever the status."""
    request = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


# ------------------------------------------------------------------ receivers


class Webhook:
    """A local HTTP receiver for json:// notifications (a tiny threaded server)."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                hook.received.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def events(self) -> list[str]:
        return [r.get("event") for r in self.received]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Inbox:
    """A local SMTP server (aiosmtpd) on a socket the kernel chose."""

    def __init__(self) -> None:
        from aiosmtpd.smtp import SMTP

        self.messages: list = []
        self.loop = asyncio.new_event_loop()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        self.port = sock.getsockname()[1]
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

        async def serve():
            return await self.loop.create_server(lambda: SMTP(self, hostname="inbox"),
                                                 sock=sock)

        self.server = asyncio.run_coroutine_threadsafe(serve(), self.loop).result(10)

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 OK"

    def subjects(self) -> list[str]:
        out = []
        for m in self.messages:
            found = re.search(rb"^Subject: (.*)$", m.content, re.M)
            out.append(found.group(1).decode(errors="replace") if found else "")
        return out

    def close(self) -> None:
        async def stop():
            self.server.close()
            await self.server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture
def webhook():
    hook = Webhook()
    yield hook
    hook.close()


@pytest.fixture
def inbox():
    box = Inbox()
    yield box
    box.close()


def notifications_file(tmp_path: Path, webhook: Webhook, inbox: Inbox, **extra) -> Path:
    text = f"""
targets:
  - url: json://127.0.0.1:{webhook.port}/cryolab
    name: webhook
  - url: mailto://127.0.0.1:{inbox.port}?from=cryolab@lab.example.org&to=night@lab.example.org
    name: e-mail
    events: [quench, run_failed, run_stalled, run_ended]
stall_after_s: {extra.get('stall_after_s', 600)}
rate_limit: {{window_s: 600, max_per_window: 3}}
retry: {{attempts: 3, first_delay_s: 0.5}}
"""
    path = tmp_path / "notify.yaml"
    path.write_text(text)
    return path


# ------------------------------------------------------------------ the notifications file


def test_the_notifications_file_is_checked_key_by_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("targets:\n  - url: json://127.0.0.1:9/hook\n    events: [quench, run_stalld]\n"
                   "  - url: not a url\nstall_after_s: true\nrate_limt: {window_s: 60}\n")
    with pytest.raises(InputError) as caught:
        load_notifications(bad)
    problems = "\n".join(caught.value.problems)
    assert "targets[0].events: unknown event 'run_stalld' (did you mean `run_stalled`?)" \
        in problems
    assert "targets[1].url: must be a notification URL" in problems
    assert "stall_after_s: must be a number (got True)" in problems
    assert "rate_limt: unknown key (did you mean `rate_limit`?)" in problems

    good = tmp_path / "good.yaml"
    good.write_text("targets:\n  - url: ntfy://cryolab-fridge-3\n    events: all\n")
    config = load_notifications(good)
    assert config.targets[0].events[0] == "run_ended" and len(config.targets[0].events) == 8
    assert config.rate_limit.max_per_window == 3 and config.stall_after_s == 600


def test_a_target_that_fails_is_retried_and_a_flood_is_rate_limited():
    config = NotifyConfig.model_validate({
        "targets": [{"url": "json://127.0.0.1:9/a", "name": "flaky"},
                    {"url": "json://127.0.0.1:9/b", "name": "dead", "events": ["quench"]}],
        "rate_limit": {"window_s": 600, "max_per_window": 2},
        "retry": {"attempts": 3, "first_delay_s": 0.1}})
    tries: dict[str, int] = {}
    flaky_ok_after = 2

    def send(target, notice):
        tries[target.label] = tries.get(target.label, 0) + 1
        if target.label == "dead":
            time.sleep(0.2)  # as a target that does not answer; the other one goes on
            return False
        return tries[target.label] > flaky_ok_after

    notifier = Notifier(config, send)
    t0 = time.monotonic()
    for i in range(5):  # a flapping fault
        notifier.submit(Notice("quench", "night", "night.h5", f"quench {i}", 1.8e9))
    assert time.monotonic() - t0 < 0.1, "submitting must never wait for a target"
    assert notifier.drain(20)
    flaky, dead = notifier.workers
    assert [n.message for n in flaky.sent] == ["quench 0", "quench 1"]  # 2 per window
    assert tries["flaky"] == flaky_ok_after + 2  # the first one was retried until it went
    assert len(dead.failed) == 2 and tries["dead"] == 6  # 3 attempts each, then given up
    notifier.close()


# ------------------------------------------------------------------ pieces


def test_decimation_keeps_each_columns_extremes_and_the_newest_point():
    t = np.arange(60_000, dtype=float) * 3.0  # 48 h at one point per 3 s
    y = np.sin(t / 5000.0)
    y[12_345] = 7.0  # one spike must survive
    x, (d,) = minmax(t, [y], 800)
    assert len(x) <= 2 * 800 + 1
    assert d.max() == 7.0 and d.min() == pytest.approx(y.min(), abs=1e-3)
    assert x[-1] == t[-1] and d[-1] == y[-1]
    idx = stride(10_001, 4000)
    assert len(idx) <= 4000 and idx[-1] == 10_000


def test_quench_is_a_fault_of_the_magnet_at_a_simulated_time():
    name, rule = parse_fault_spec("magnet:quench:at=3600", ("lockin", "bridge", "magnet"))
    assert (name, rule.kind, rule.at_s) == ("magnet", "quench", 3600.0)
    with pytest.raises(ValueError, match="at=S only"):
        parse_fault_spec("magnet:quench:rate=0.1", ("magnet",))
    from cryolab.clock import VirtualClock
    from cryolab.sim.lab import SimulatedLab

    with pytest.raises(ValueError, match="not a magnet supply"):
        SimulatedLab(VirtualClock(start=1.7e9), faults={"lockin": [rule]})
    clock = VirtualClock(start=1.7e9)
    lab = SimulatedLab(clock, faults={"magnet": [rule]})
    lab.world.magnet.hold_at(0.3)  # 300 Oe
    clock.wait(3599.0)
    lab.world.advance()
    assert not lab.world.magnet.quenched and lab.world.field_Oe == pytest.approx(300)
    clock.wait(2.0)
    lab.world.advance()
    assert lab.world.magnet.quenched and lab.world.field_Oe == 0.0


def test_cryolab_run_refuses_a_quench_of_an_instrument_that_is_not_the_magnet(tmp_path):
    seq = tmp_path / "seq.yaml"
    seq.write_text("steps:\n  - measure: {points: 3}\n")
    result = subprocess.run(cryolab_command("run", str(seq), "--sim", "--speed", "max",
                                            "--fault", "lockin:quench:at=10", "--out",
                                            str(tmp_path)), capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2, result.stderr
    assert "only the magnet supply (magnet) can quench" in result.stderr
    assert not list(tmp_path.glob("*.h5"))


# ------------------------------------------------------------------ security


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """One short completed simulated run, shared by the HTTP tests."""
    folder = tmp_path_factory.mktemp("finished")
    seq = folder / "short.yaml"
    seq.write_text("name: short\nsteps:\n  - set_excitation: {current_nA: 0.5}\n"
                   "  - measure: {points: 20}\n")
    result = subprocess.run(cryolab_command("run", str(seq), "--sim", "--speed", "max",
                                            "--out", str(folder / "runs")),
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    return run_file(folder / "runs")


def test_a_non_loopback_address_needs_an_access_token(finished_run, monkeypatch):
    monkeypatch.delenv("CRYOLAB_MONITOR_TOKEN", raising=False)
    not_a_run = finished_run.with_suffix(".log")
    result = subprocess.run(cryolab_command("monitor", str(not_a_run)), capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2 and "not a readable HDF5 file" in result.stderr
    result = subprocess.run(cryolab_command("monitor", str(finished_run), "--host", "0.0.0.0",
                                            "--port", "0"), capture_output=True, text=True,
                            timeout=60, env={k: v for k, v in os.environ.items()
                                             if k != "CRYOLAB_MONITOR_TOKEN"})
    assert result.returncode == 2
    assert "needs an access token" in result.stderr

    proc, address = start_monitor(str(finished_run), "--host", "0.0.0.0", "--new-token")
    try:
        token = address.split("?token=")[1]
        port = int(re.search(r":(\d+)/", address).group(1))
        base = f"http://127.0.0.1:{port}"
        assert http_get(f"{base}/api/runs")[0] == 401
        assert http_get(f"{base}/api/runs", {"Authorization": "Bearer wrong" * 3})[0] == 401
        status, _, body = http_get(f"{base}/api/runs", {"Authorization": f"Bearer {token}"})
        assert status == 200 and json.loads(body)["runs"][0]["status"] == "completed"
    finally:
        end(proc)


def test_the_page_serves_the_given_files_only_and_changes_nothing(finished_run, tmp_path):
    secret = tmp_path / "secret.h5"
    shutil.copy(finished_run, secret)  # a run file that was not given
    proc, address = start_monitor(str(finished_run))
    try:
        status, _, body = http_get(f"{address}api/runs")
        (run,) = json.loads(body)["runs"]
        assert status == 200 and re.fullmatch(r"[0-9a-f]{12}", run["id"])
        assert str(finished_run.parent) not in body.decode()  # no path leaves the machine
        for path in ("api/runs/../../etc/passwd", "api/runs/%2e%2e%2fsecret.h5",
                     f"api/runs/{secret}", "static/..%2fwatch.py", "static/page.html",
                     "static/../../cryolab/monitor/web.py", "run/secret", "api/runs/0000"):
            assert http_get(address + path)[0] == 404, path
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            for path in ("", f"run/{run['id']}", f"api/runs/{run['id']}", "api/runs"):
                assert http_get(address + path, method=method)[0] == 405, (method, path)
        status, headers, _ = http_get(f"{address}run/{run['id']}")
        assert status == 200 and "default-src 'none'" in headers["content-security-policy"]
        # DNS rebinding: a loopback monitor answers loopback names only
        assert http_get(f"{address}api/runs", {"Host": "evil.example.org"})[0] == 421
    finally:
        end(proc)


# ------------------------------------------------------------------ the page, in Chromium


@pytest.fixture
def browser():
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        if os.environ.get("CI"):
            pytest.fail("chromium and chromium-driver must be installed (.ci/run does)")
        pytest.skip("Debian's chromium and chromium-driver are not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="cryolab-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--window-size=1280,1400",
                f"--user-data-dir={profile}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def text_of(driver, element_id: str) -> str:
    return driver.execute_script(f"return document.getElementById('{element_id}').textContent")


def test_the_page_follows_a_live_night_and_shows_the_abort(tmp_path, browser):
    seq = tmp_path / "night.yaml"
    seq.write_text(SEQUENCE)
    out = tmp_path / "runs"
    out.mkdir()
    errors_file = tmp_path / "run.stderr"
    with errors_file.open("w") as errors_out, \
            started("run", str(seq), "--sim", "--speed", "150", "--out", str(out),
                    stdout=subprocess.DEVNULL, stderr=errors_out) as run:
        path = wait_for(lambda: run_file(out), 60, "the run file")
        wait_for(lambda: points_in(path) > 0, 60, "the first points")
        monitor, address = start_monitor(str(out))  # a folder: the lab's shared folder
        try:
            browser.get(address)
            link = wait_for(lambda: browser.execute_script(
                "const a = document.querySelector('#runs a'); return a && a.href"), 20,
                "the run in the list")
            browser.get(link)
            browser.execute_script("window.cryolabNotReloaded = true")
            wait_for(lambda: text_of(browser, "status") == "running", 20, "status running")
            wait_for(lambda: "T_MC" in text_of(browser, "readings"), 20, "the readings")

            def shown_points() -> int:
                found = re.search(r"(\d+) points tonight", text_of(browser, "step"))
                return int(found.group(1)) if found else 0

            first = wait_for(shown_points, 20, "a point count")
            # the page follows the file by itself: more points, no reload
            wait_for(lambda: shown_points() >= first + 20, 30, "the count to grow")
            assert browser.execute_script("return window.cryolabNotReloaded === true")
            assert "mK" in text_of(browser, "readings") and "Ω/□" in text_of(browser,
                                                                               "readings")
            # the page is at most ~2 s behind the file
            on_disk = points_in(path)
            wait_for(lambda: shown_points() >= on_disk, 3, "the page to catch up with the file")
            wait_for(lambda: "ends about" in text_of(browser, "end"), 10, "the end time")
            shot = tmp_path / "monitor.png"
            browser.save_screenshot(str(shot))
            if os.environ.get("CRYOLAB_DOCS_SCREENSHOT"):
                shutil.copy(shot, DOCS_SCREENSHOT)

            run.send_signal(signal.SIGTERM)
            try:
                assert run.wait(timeout=60) == 1
            except subprocess.TimeoutExpired:  # say where it hangs: SIGUSR1 dumps the threads
                run.send_signal(signal.SIGUSR1)
                wait_for(lambda: "Thread" in errors_file.read_text(), 10, "the thread dump")
                pytest.fail("the run did not end within 60 s of SIGTERM:\n"
                            + errors_file.read_text()[-6000:])
            wait_for(lambda: text_of(browser, "status") == "aborted", 10, "status aborted")
            assert "aborted" in text_of(browser, "live-message")
            assert browser.execute_script("return window.cryolabNotReloaded === true")
            errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
            assert not errors, errors
        finally:
            end(monitor)


# ------------------------------------------------------------------ notifications


def test_an_injected_quench_reaches_the_inbox_and_the_webhook(tmp_path, webhook, inbox):
    seq = tmp_path / "night.yaml"
    seq.write_text(SEQUENCE)
    notify = notifications_file(tmp_path, webhook, inbox)
    result = subprocess.run(cryolab_command(
        "run", str(seq), "--sim", "--speed", "max", "--fault", "magnet:quench:at=900",
        "--notify", str(notify), "--out", str(tmp_path / "runs")),
        capture_output=True, text=True, timeout=240)
    assert result.returncode == 1, result.stderr
    with RunFile(run_file(tmp_path / "runs")) as run:
        assert run.status == "failed" and [a["kind"] for a in run.alarms()] == ["quench"]
    # the run waits for its companion's last notifications before it exits
    quench = next(r for r in webhook.received if r["event"] == "quench")
    assert quench["run"] == "monitored night" and "quenched" in quench["message"]
    assert quench["time"].endswith("+00:00") and quench["type"] == "failure"
    # and the run's end, for the targets that route only that
    failed = next(r for r in webhook.received if r["event"] == "run_failed")
    assert "the run failed: the magnet quenched" in failed["message"]
    assert any("MAGNET QUENCH" in s for s in inbox.subjects())


def test_a_killed_run_is_reported_by_its_companion(tmp_path, webhook, inbox):
    seq = tmp_path / "night.yaml"
    seq.write_text(SEQUENCE)
    notify = notifications_file(tmp_path, webhook, inbox)
    out = tmp_path / "runs"
    companion = None
    with started("run", str(seq), "--sim", "--speed", "150", "--notify", str(notify),
                 "--out", str(out), stdout=subprocess.DEVNULL,
                 stderr=subprocess.DEVNULL) as run:
        try:
            path = wait_for(lambda: run_file(out), 60, "the run file")
            wait_for(lambda: points_in(path) >= 30, 60, "some points")
            (companion,) = wait_for(lambda: children(run.pid), 10, "the companion process")
            run.send_signal(signal.SIGKILL)
            run.wait(timeout=10)
            wait_for(lambda: "run_stalled" in webhook.events(), 30, "the webhook's notice")
            wait_for(lambda: any("run stalled" in s for s in inbox.subjects()), 30,
                     "the e-mail")
            notice = next(r for r in webhook.received if r["event"] == "run_stalled")
            assert "acquisition process is gone" in notice["message"]
            assert path.name in notice["message"]
            # having reported, the companion ends by itself
            wait_for(lambda: not alive(companion), 40, "the companion to end")
        finally:
            if companion is not None:
                kill_if_alive(companion)
    with RunFile(path) as run_after:
        assert run_after.status == "running"  # nothing wrote the file after the kill


# ------------------------------------------------------------------ what is worth a notice


class WrittenNight:
    """A run file written in this process by cryolab's RunWriter (its lock held while open)."""

    def __init__(self, path: Path) -> None:
        from cryolab.events import RunStarted, StepStarted
        from cryolab.runfile import RunWriter
        from cryolab.sequence import make_plan, sequence_from_text
        from cryolab.station import load_station

        station = load_station()
        plan = make_plan(sequence_from_text(SEQUENCE, "test", station), station)
        self.writer = RunWriter(path, {"sequence_name": "written night"}, ["xx"])
        self.t = 1.8e9
        self.writer(RunStarted(self.t, plan, 0, {}))
        self.writer(StepStarted(self.t, plan[2]))

    def points(self, n: int) -> None:
        from cryolab.measurement import ChannelReading, Point

        for _ in range(n):
            self.t += 3.0
            channel = ChannelReading(1e-6, 0.0, 4e3, 2e3, 5e-10, 7.0, 1.0, 1e-3, 0, True)
            self.writer(Point(2, self.t, 0.1, 0.1, 2e3, 100.0, 0.1, 0, (channel,)))
        self.writer._flush()  # what the writer's thread does within a second

    def alarm(self, kind: str, message: str) -> None:
        from cryolab.events import Alarm

        self.writer(Alarm(self.t, 2, kind, message))
        self.writer._flush()

    def end(self, status: str, reason: str = "") -> None:
        from cryolab.events import RunEnded, StepEnded

        self.writer(StepEnded(self.t, 2, status))
        self.writer(RunEnded(self.t, status, reason))
        self.writer.close()


def test_notices_new_alarms_a_stall_and_the_end_but_not_what_was_there_before(tmp_path):
    from cryolab.monitor.alerts import RunAlerts
    from cryolab.monitor.watch import RunWatcher

    night = WrittenNight(tmp_path / "night.h5")
    night.points(10)
    night.alarm("disk_space_low", "12 GB left")
    watcher = RunWatcher(tmp_path / "night.h5")
    watcher.poll()
    late = RunAlerts(watcher, stall_after_s=3600, from_start=False)
    companion = RunAlerts(watcher, stall_after_s=3600, from_start=True)
    assert late.check() == []  # a monitor started later: the old alarm is not news
    assert [n.event for n in companion.check()] == ["disk_space_low"]

    night.alarm("instrument_down", "lockin not answering (timeout)")
    night.points(5)
    watcher.poll()
    (notice,) = late.check()
    assert (notice.event, notice.kind, notice.run) == ("instrument_down", "instrument_down",
                                                       "written night")
    assert watcher.live.writer_alive is True

    # alive but silent: stalled, once
    stalled = wait_for(lambda: late.check(now=time.time() + 3601), 5, "the stall notice")
    assert [n.event for n in stalled] == ["run_stalled"]
    assert "no new point for 60 min" in stalled[0].message
    assert late.check(now=time.time() + 7200) == []

    night.end("aborted", "interrupted by SIGTERM")
    wait_for(watcher.poll, 5, "the file's end")
    (end_notice,) = late.check()
    assert end_notice.event == "run_failed"
    assert end_notice.message == "the run aborted: interrupted by SIGTERM"
    assert late.done and watcher.live.writer_alive is None
    watcher.close()

    # a folder's old, finished night, seen for the first time: nothing to say
    fresh = RunWatcher(tmp_path / "night.h5")
    fresh.poll()
    assert RunAlerts(fresh, 3600, from_start=False).check() == []
    fresh.close()


def test_a_bad_notifications_file_refuses_the_run_before_anything_moves(tmp_path):
    seq = tmp_path / "seq.yaml"
    seq.write_text("steps:\n  - measure: {points: 3}\n")
    notify = tmp_path / "notify.yaml"
    notify.write_text("targets:\n  - url: json://127.0.0.1:9/x\n    events: [quenched]\n")
    for command in (["run", str(seq), "--sim", "--speed", "max", "--out", str(tmp_path)],
                    ["gui", "--sim"]):
        result = subprocess.run(cryolab_command(*command, "--notify", str(notify)),
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 2, result.stderr
        assert "targets[0].events: unknown event 'quenched' (did you mean `quench`?)" \
            in result.stderr
    assert not list(tmp_path.glob("*.h5"))
