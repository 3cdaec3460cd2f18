"""`cryolab sim serve --lockin/--bridge/--magnet`: the other models behind the same three
NAME RESOURCE lines, each answering its own *IDN?; `--station FILE`: a twin of every instrument
a station names, wired as its channels say."""

import signal
import subprocess
import sys
from pathlib import Path

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


MIXED = Path(__file__).resolve().parent.parent / "sequences" / "stations" / "sim_mixed.yaml"


def test_serve_a_station_file_twins_every_instrument_it_names():
    proc, ports = start_server("--station", str(MIXED), instruments=4)
    try:
        assert list(ports) == ["lockin_xx", "lockin_xy", "bridge", "magnet"]
        xx = RawClient(ports["lockin_xx"], timeout_s=2.0)
        assert xx.query("*IDN?").startswith("Stanford_Research_Systems,SR860,")
        xy = RawClient(ports["lockin_xy"], timeout_s=2.0)
        assert xy.query("*IDN?").startswith("Stanford_Research_Systems,SR830,")
        bridge = RawClient(ports["bridge"], timeout_s=2.0)
        assert bridge.query("*IDN?", b"\r\n").startswith("LSCI,MODEL370,")
        magnet = RawClient(ports["magnet"], timeout_s=2.0)
        assert magnet.query("*IDN?").startswith("IDN:OXFORD INSTRUMENTS:MERCURY IPS")
        for client in (xx, xy, bridge, magnet):
            client.close()
    finally:
        stop(proc)


@pytest.mark.parametrize("args, says", [
    (["--station", str(MIXED), "--lockin", "SR860"], "either --station or the models"),
    (["--station", "/nonexistent/station.yaml"], "station.yaml"),
    (["--station", str(MIXED), "--fault", "lockin:timeout:rate=0.1"], "lockin_xx"),
])
def test_station_serving_mistakes_are_refused_with_exit_2(args, says):
    result = subprocess.run([sys.executable, "-m", "cryolab", "sim", "serve", *args],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert says in result.stderr and "Traceback" not in result.stderr
