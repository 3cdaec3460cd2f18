"""`cryolab sim serve` as DESIGN.md specifies it: one NAME RESOURCE line each, then serve until
SIGINT/SIGTERM and exit cleanly."""

import re
import signal
import subprocess
import sys

import pytest

from tests.conftest import RawClient

LINE = re.compile(r"^([A-Za-z]\w*) TCPIP0::127\.0\.0\.1::(\d+)::SOCKET$")


def start_server(*args, instruments: int = 3):
    proc = subprocess.Popen(
        [sys.executable, "-m", "cryolab", "sim", "serve", "--port-base", "0", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ports = {}
    for _ in range(instruments):
        line = proc.stdout.readline().strip()
        m = LINE.match(line)
        assert m, f"unexpected line {line!r}; stderr: {proc.stderr.read() if proc.poll() else ''}"
        ports[m.group(1)] = int(m.group(2))
    return proc, ports


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_serve_prints_resources_answers_and_stops_on_a_signal(sig):
    proc, ports = start_server("--speed", "10", "--sample", "S0")
    try:
        assert set(ports) == {"lockin", "bridge", "magnet"}
        lockin = RawClient(ports["lockin"], timeout_s=2.0)
        assert lockin.query("*IDN?").startswith("Stanford_Research_Systems,SR830")
        bridge = RawClient(ports["bridge"], timeout_s=2.0)
        assert bridge.query("*IDN?", b"\r\n") == "LSCI,MODEL372,LSA2245,1.3"
        magnet = RawClient(ports["magnet"], timeout_s=2.0)
        assert magnet.read_line(b"\r\n") == "American Magnetics Model 430 IP Interface"
        for c in (lockin, bridge, magnet):
            c.close()
        proc.send_signal(sig)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_serve_injects_the_faults_it_is_given():
    proc, ports = start_server("--fault", "lockin:timeout:rate=1")
    try:
        lockin = RawClient(ports["lockin"], timeout_s=0.5)
        assert lockin.query("*IDN?") is None
        lockin.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)


@pytest.mark.parametrize("spec", ["lockin:melt", "toaster:timeout:rate=0.1", "lockin:timeout",
                                  "lockin:timeout:rate=2", "magnet:disconnect:at=x"])
def test_bad_fault_specs_are_refused_with_exit_2(spec):
    result = subprocess.run([sys.executable, "-m", "cryolab", "sim", "serve", "--fault", spec],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "fault" in result.stderr and "Traceback" not in result.stderr
