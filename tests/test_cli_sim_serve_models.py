"""`cryolab sim serve --lockin/--bridge/--magnet`: the other models behind the same three
NAME RESOURCE lines, each answering its own *IDN?."""

import signal
import subprocess
import sys

import pytest

from tests.conftest import RawClient
from tests.test_cli_sim_serve import start_server


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_serve_sr860_370_and_mercury_ips():
    proc, ports = start_server("--lockin", "SR860", "--bridge", "LS370", "--magnet", "MercuryiPS")
    try:
        assert set(ports) == {"lockin", "bridge", "magnet"}
        lockin = RawClient(ports["lockin"], timeout_s=2.0)
        assert lockin.query("*IDN?") == "Stanford_Research_Systems,SR860,004025,V1.51"
        bridge = RawClient(ports["bridge"], timeout_s=2.0)
        assert bridge.query("*IDN?", b"\r\n") == "LSCI,MODEL370,370665,04102008"
        magnet = RawClient(ports["magnet"], timeout_s=2.0)  # no banner: the iPS sends none
        assert magnet.query("*IDN?") == "IDN:OXFORD INSTRUMENTS:MERCURY IPS:SIM0001:2.5.09.000"
        assert magnet.query("READ:DEV:GRPZ:PSU:ACTN") == "STAT:DEV:GRPZ:PSU:ACTN:HOLD"
        for client in (lockin, bridge, magnet):
            client.close()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        stop(proc)


def test_serve_cryomagnetics_4g():
    proc, ports = start_server("--magnet", "CM4G", "--bridge-max-connections", "2")
    try:
        magnet = RawClient(ports["magnet"], timeout_s=2.0)
        assert magnet.query("*IDN?", b"\r\n") == "Cryomagnetics,4G,2239,1.02,208"
        magnet.close()
        lockin = RawClient(ports["lockin"], timeout_s=2.0)  # the default lock-in stays
        assert lockin.query("*IDN?").startswith("Stanford_Research_Systems,SR830,")
        lockin.close()
    finally:
        stop(proc)


@pytest.mark.parametrize("args", [["--bridge", "LS371"], ["--magnet", "IPS"],
                                  ["--bridge-max", "2"]])  # no abbreviations of options
def test_unknown_models_and_abbreviations_are_refused_with_exit_2(args):
    result = subprocess.run([sys.executable, "-m", "cryolab", "sim", "serve", *args],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
