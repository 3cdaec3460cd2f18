"""The simulated instruments on the wire: framing, formats, silence and faults."""

import re
import socket
import time

import numpy as np
import pytest

from cryolab.clock import VirtualClock
from cryolab.sim.faults import FaultInjector, FaultRule, parse_fault_spec
from cryolab.sim.lab import SimulatedLab

READING = re.compile(r"^[+-]\d{3}\.\d{3}E[+-]\d{2}$")  # 372: +012.034E-03


def port(lab, name):
    return lab.servers[name].port


# ----------------------------------------------------------------------------- framing


@pytest.mark.parametrize("terminator", ["\n", "\r", "\r\n"])
def test_every_line_ending_is_accepted(virtual_lab, raw_client, terminator):
    c = raw_client(port(virtual_lab, "lockin"))
    c.send(f"FREQ 3.33{terminator}FREQ?{terminator}")
    assert c.read_line() == "3.33"


def test_empty_lines_are_ignored_and_sets_stay_silent(virtual_lab, raw_client):
    c = raw_client(port(virtual_lab, "lockin"))
    c.send("\n\r\n\nSLVL 0.5\n")
    assert c.read_line(timeout_s=0.2) is None
    assert c.query("SLVL?") == "0.5"


def test_sr830_answers_pymeasures_spellings(virtual_lab, raw_client):
    c = raw_client(port(virtual_lab, "lockin"))
    c.send("FREQ3.33000e+00\nOFLT10\nSRAT4.000000\n")
    assert c.query("FREQ?") == "3.33"
    assert c.query("OUTP?1") is not None
    assert c.query("DDEF?1;") == "0,0"
    assert c.query("SRAT?") == "4"
    assert c.query("LIAS?2") in ("0", "1")


def test_sr830_one_reply_per_query_on_a_chained_line(virtual_lab, raw_client):
    c = raw_client(port(virtual_lab, "lockin"))
    c.send("OFLT 10;OFSL 3;OFLT?;OFSL?\n")
    assert (c.read_line(), c.read_line()) == ("10", "3")


def test_sr830_snap_values_in_request_order_without_spaces(virtual_lab, raw_client):
    c = raw_client(port(virtual_lab, "lockin"))
    c.send("FREQ 3.33\n")
    reply = c.query("SNAP?1,2,9")
    x, y, f = reply.split(",")
    assert " " not in reply and float(f) == 3.33
    float(x), float(y)


def test_sr830_errors_are_silent_and_land_in_esr(virtual_lab, raw_client):
    c = raw_client(port(virtual_lab, "lockin"))
    c.send("SLVL 7\n")  # above 5 V: execution error
    assert c.read_line(timeout_s=0.2) is None
    assert c.query("*ESR?") == "16"
    c.send("BOGUS\n")
    assert c.read_line(timeout_s=0.2) is None
    assert c.query("*ESR?") == "32"
    assert c.query("SLVL?") == "1"  # unchanged from *RST


def test_sr830_infinite_index_is_an_execution_error_not_a_dropped_connection(virtual_lab,
                                                                           raw_client):
    c = raw_client(port(virtual_lab, "lockin"))
    c.send("OFLT inf\n")
    assert c.query("*ESR?") == "16"
    assert c.query("OFLT?") == "8"  # unchanged from *RST (0.1 s)


def test_sr830_enable_registers_take_a_value_or_one_bit(virtual_lab, raw_client):
    """``LIAE {i,} j`` (SR830 manual p. 5-21): pymeasure's quick_range sends ``LIAE 2,1``."""
    c = raw_client(port(virtual_lab, "lockin"))
    c.send("LIAE 2,1\n")
    assert (c.query("LIAE?"), c.query("LIAE? 2"), c.query("LIAE? 1")) == ("4", "1", "0")
    c.send("SENS 0\nFREQ 3.33\n")  # 1 nA into a 2 nV full scale: output overload, bit 2
    c.query("OUTP?3")
    assert int(c.query("*STB?")) & 8  # an enabled LIA bit is set
    c.send("LIAE 3\n")
    assert c.query("LIAE?") == "3"


def test_sr830_status_bits_latch_until_read(virtual_lab, raw_client):
    c = raw_client(port(virtual_lab, "lockin"))
    # 1 V through 1 GΩ = 1 nA; the sample's volts exceed a 2 nV full scale at once
    c.send("SENS 0\nFREQ 3.33\n")
    c.query("OUTP?3")
    c.send("SENS 26\n")  # no longer overloaded ...
    assert c.query("LIAS?2") == "1"  # ... but the bit latched
    assert c.query("LIAS?2") == "0"  # reading cleared it


def test_sr830_external_reference_with_nothing_at_ref_in_reports_an_unlock(virtual_lab,
                                                                           raw_client):
    """The lab's only lock-in drives the sample itself; FMOD 0 leaves its REF IN empty."""
    c = raw_client(port(virtual_lab, "lockin"))
    c.send("FREQ 3.33;SENS 26\n")
    assert c.query("FMOD 0;FMOD?") == "0"
    assert c.query("LIAS? 3") == "1"  # reference unlock
    assert c.query("FREQ?") == "3.33"  # the oscillator free-runs where it was (⚠) ...
    c.send("FREQ 5\n")  # ... and FREQ sets it in internal mode only (SR830 manual p. 5-4)
    assert (c.query("*ESR?"), c.query("FREQ?")) == ("16", "3.33")
    assert c.query("FMOD 1;LIAS? 3") == "0"
    assert c.query("FREQ 5;FREQ?") == "5"


def test_372_joins_replies_with_semicolons_and_ends_with_crlf(virtual_lab, raw_client):
    c = raw_client(port(virtual_lab, "bridge"))
    c.send("RANGE 0,4;RAMP 0,1,0.5;SETP 0,0.100\r\n")
    assert c.query("SETP? 0;RAMPST? 0", terminator=b"\r\n") == "+100.000E-03;1"


def test_372_reading_and_setting_formats(virtual_lab, raw_client):
    c = raw_client(port(virtual_lab, "bridge"))
    q = lambda cmd: c.query(cmd, terminator=b"\r\n")  # noqa: E731
    assert q("*IDN?") == "LSCI,MODEL372,LSA2245,1.3"
    for cmd in ("KRDG? 1", "RDGK? 1", "SRDG? 2", "RDGR? 2", "HTR?", "HTR? 2"):
        assert READING.match(q(cmd)), cmd
    assert q("KRDG? 2") == "+000.000E+00"  # the sample channel has no curve in the 372
    assert q("RDGST? 1") == "000"
    assert q("INSET? 1") == "1,007,003,21,1"
    assert q("INTYPE? 2") == "0,07,1,10,0,2"
    assert q("OUTMODE? 0") == "0,1,0,0,1,001"
    assert q("SCAN?") == "01,0"
    assert q("TLIMIT? 5") == "+0000"
    assert q("HTRSET? 0").count(",") == 3  # four fields, as a real 372 answers
    for out in (1, 2):  # QCoDeS asks these of every output
        for cmd in ("PID? {}", "SETP? {}", "RAMP? {}", "RAMPST? {}", "OUTMODE? {}"):
            assert q(cmd.format(out)) is not None


def test_372_ignores_invalid_input(virtual_lab, raw_client):
    c = raw_client(port(virtual_lab, "bridge"))
    c.send("KRDG? 99\r\nRANGE 0,12\r\nNOPE?\r\n")
    assert c.read_line(b"\r\n", timeout_s=0.2) is None
    assert c.query("RANGE? 0", terminator=b"\r\n") == "0"


def test_372_quoted_names_keep_commas_and_semicolons(virtual_lab, raw_client):
    c = raw_client(port(virtual_lab, "bridge"))
    c.send('INNAME 3,"a;b,c"\r\n')
    assert c.query("INNAME? 3", terminator=b"\r\n") == "a;b,c"


def test_430_banner_comes_late_and_before_any_reply():
    lab = SimulatedLab(VirtualClock(), banner_delay_s=0.3)
    with lab:
        sock = socket.create_connection(("127.0.0.1", port(lab, "magnet")))
        t0 = time.monotonic()
        sock.sendall(b"*IDN?\r\n")  # sent before the banner: must wait for it
        data = b""
        while data.count(b"\r\n") < 3:
            data += sock.recv(4096)
        sock.close()
    lines = data.decode().split("\r\n")
    assert lines[:3] == ["American Magnetics Model 430 IP Interface", "Hello.",
                         "AMERICAN MAGNETICS INC.,MODEL 430,2.01"]
    assert time.monotonic() - t0 >= 0.25


def test_430_long_and_short_forms_units_and_integers(virtual_lab, raw_client):
    c = raw_client(port(virtual_lab, "magnet"))
    q = lambda cmd: c.query(cmd, terminator=b"\r\n")  # noqa: E731
    c.read_line(b"\r\n"), c.read_line(b"\r\n")  # banner
    assert q("FIELD:UNITS?") == "1"
    assert q("STATE?") == "8"
    assert q("COIL?") == "0.1"
    c.send("CONFigure:FIELD:UNITS 0\r\n")
    assert q("COILconst?") == "1.0"  # kG/A now
    c.send("CONF:RAMP:RATE:UNITS 1\r\nCONF:RAMP:RATE:SEG 1\r\nCONF:RAMP:RATE:FIELD 1,0.3,0\r\n")
    assert q("RAMP:RATE:FIELD:1?") == "0.3,0.0"
    assert q("CURR:LIMIT?") == q("CURRent:LIMit?") == "1.0"
    assert q("PS:INST?") == "0" and q("QU?") == "0"


def test_430_refuses_targets_beyond_the_current_limit_via_the_error_queue(virtual_lab,
                                                                           raw_client):
    c = raw_client(port(virtual_lab, "magnet"))
    c.read_line(b"\r\n"), c.read_line(b"\r\n")
    c.send("CONF:FIELD:TARG 0.03\r\nCONF:FIELD:TARG 5\r\n")
    assert c.read_line(b"\r\n", timeout_s=0.2) is None
    assert c.query("FIELD:TARG?", terminator=b"\r\n") == "0.03"
    assert c.query("SYST:ERR?", terminator=b"\r\n") == '-105,"Out of range"'
    assert c.query("SYST:ERR?", terminator=b"\r\n") == '0,"No errors"'


def test_430_ramps_at_the_set_rate_and_quenches(virtual_lab, raw_client):
    clock = virtual_lab.clock
    c = raw_client(port(virtual_lab, "magnet"))
    q = lambda cmd: c.query(cmd, terminator=b"\r\n")  # noqa: E731
    c.read_line(b"\r\n"), c.read_line(b"\r\n")
    c.send("CONF:RAMP:RATE:FIELD 1,0.0005,0\r\nPAUSE\r\nCONF:FIELD:TARG 0.03\r\nRAMP\r\n")
    assert q("STATE?") == "1"
    clock.wait(30.0)  # 0.0005 T/s for 30 s
    assert float(q("FIELD:MAG?")) == pytest.approx(0.015, rel=1e-6)
    assert q("STATE?") == "1"
    clock.wait(31.0)
    assert (q("STATE?"), q("FIELD:MAG?")) == ("2", "0.03")
    c.send("QU 1\r\n")
    assert (q("STATE?"), q("QU?"), q("FIELD:MAG?")) == ("7", "1", "0.0")
    c.send("QU 0\r\n")
    assert q("STATE?") == "3"
    c.send("ZERO\r\n")
    assert q("STATE?") == "8"


def test_430_zeroing_reads_6_while_the_current_falls_then_8(virtual_lab, raw_client):
    """The magnet's states are model-neutral; the 430 twin maps them to its STATE? codes."""
    c = raw_client(port(virtual_lab, "magnet"))
    q = lambda cmd: c.query(cmd, terminator=b"\r\n")  # noqa: E731
    c.read_line(b"\r\n"), c.read_line(b"\r\n")
    assert q("CONF:FIELD:TARG 0.02;RAMP;STATE?") == "1"  # the reply: both sets were executed
    virtual_lab.clock.wait(25.0)  # 0.001 T/s by default: there after 20 s
    assert (q("STATE?"), q("PAUSE;STATE?")) == ("2", "3")
    assert q("ZERO;STATE?") == "6"
    virtual_lab.clock.wait(5.0)
    assert q("STATE?") == "6" and float(q("FIELD:MAG?")) == pytest.approx(0.015)
    virtual_lab.clock.wait(20.0)
    assert (q("STATE?"), q("FIELD:MAG?")) == ("8", "0.0")


def test_each_connection_has_its_own_input_buffer(virtual_lab, raw_client):
    a = raw_client(port(virtual_lab, "lockin"))
    b = raw_client(port(virtual_lab, "lockin"))
    a.send("FREQ")  # half a command on one connection ...
    assert b.query("*IDN?").startswith("Stanford_Research_Systems,SR830")  # ... not the other
    a.send("?\n")
    assert a.read_line() == "1000"


def test_every_received_line_is_recorded_with_its_simulated_time(virtual_lab, raw_client):
    c = raw_client(port(virtual_lab, "lockin"))
    c.query("FREQ?")
    virtual_lab.clock.wait(100.0)
    c.query("SLVL?")
    (t1, l1), (t2, l2) = list(virtual_lab.servers["lockin"].received)[-2:]
    assert (l1, l2) == ("FREQ?", "SLVL?")
    assert t2 - t1 == pytest.approx(100.0)


# ----------------------------------------------------------------------------- faults


def test_injected_timeout_drops_one_reply_and_keeps_the_exchange_in_step(virtual_lab,
                                                                          raw_client):
    c = raw_client(port(virtual_lab, "lockin"))
    virtual_lab.servers["lockin"].faults.inject("timeout")
    assert c.query("FREQ?") is None
    assert c.query("SLVL?") == "1"
    assert [f.kind for f in virtual_lab.servers["lockin"].fault_log] == ["timeout"]


def test_injected_garbled_reply_cannot_be_parsed(virtual_lab, raw_client):
    c = raw_client(port(virtual_lab, "bridge"))
    virtual_lab.servers["bridge"].faults.inject("garbled")
    reply = c.query("KRDG? 1", terminator=b"\r\n")
    with pytest.raises(ValueError):
        float(reply)
    assert READING.match(c.query("KRDG? 1", terminator=b"\r\n"))


def test_injected_disconnect_closes_only_that_connection(virtual_lab, raw_client):
    c = raw_client(port(virtual_lab, "lockin"))
    virtual_lab.servers["lockin"].faults.inject("disconnect")
    c.send("FREQ?\n")
    assert c.sock.recv(10) == b""  # closed by the instrument
    fresh = raw_client(port(virtual_lab, "lockin"))
    assert fresh.query("FREQ?") == "1000"


def test_faults_at_a_simulated_time_once_and_as_an_outage(raw_client):
    clock = VirtualClock(start=0.0)
    faults = {"lockin": [FaultRule("timeout", at_s=100.0)],
              "bridge": [FaultRule("timeout", at_s=50.0, duration_s=20.0)]}
    with SimulatedLab(clock, faults=faults) as lab:
        lockin, bridge = raw_client(port(lab, "lockin")), raw_client(port(lab, "bridge"))
        q = lambda cmd: bridge.query(cmd, terminator=b"\r\n")  # noqa: E731
        assert q("SCAN?") == "01,0"
        clock.wait(60.0)  # inside the bridge's 50–70 s outage
        assert q("SCAN?") is None and q("SCAN?") is None
        clock.wait(20.0)
        assert q("SCAN?") == "01,0"
        assert lockin.query("FREQ?") == "1000"
        clock.wait(20.0)  # t = 100 s: the lock-in's one-shot
        assert lockin.query("FREQ?") is None
        assert lockin.query("FREQ?") == "1000"
        assert [(round(f.time), f.kind) for f in lab.servers["lockin"].fault_log] == \
            [(100, "timeout")]


def test_rate_faults_hit_about_the_stated_fraction():
    injector = FaultInjector([FaultRule("garbled", rate=0.2)], np.random.default_rng(11), 0.0)
    hits = sum(injector.next_fault(float(i)) == "garbled" for i in range(2000))
    assert 0.17 < hits / 2000 < 0.23  # binomial σ ≈ 0.009


def test_the_bridge_can_refuse_a_third_connection():
    with SimulatedLab(VirtualClock(), bridge_max_connections=2) as lab:
        p = port(lab, "bridge")
        a = socket.create_connection(("127.0.0.1", p))
        b = socket.create_connection(("127.0.0.1", p))
        deadline = time.monotonic() + 10  # until the server has taken both (a condition)
        while lab.servers["bridge"].connection_count < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        c = socket.create_connection(("127.0.0.1", p))
        c.settimeout(1.0)
        assert c.recv(10) == b""  # accepted by the kernel, dropped by the 372
        a.sendall(b"*IDN?\r\n")
        a.settimeout(1.0)
        assert a.recv(100).startswith(b"LSCI,MODEL372")
        for s in (a, b, c):
            s.close()


def test_one_fault_spec_parser_reads_rates_one_shots_and_outages():
    names = ("lockin", "bridge", "magnet")
    assert parse_fault_spec("lockin:timeout:rate=0.01", names) == \
        ("lockin", FaultRule("timeout", rate=0.01))
    assert parse_fault_spec("magnet:disconnect:at=3600", names) == \
        ("magnet", FaultRule("disconnect", at_s=3600.0))
    assert parse_fault_spec("bridge:garbled:at=600,for=120", names) == \
        ("bridge", FaultRule("garbled", at_s=600.0, duration_s=120.0))
    for bad, says in [("lockin:melt", "KIND one of"), ("lockin_xy:timeout:rate=0.1", "lockin, "),
                      ("lockin:timeout", "either rate=P or at=S"),
                      ("lockin:timeout:rate=0.1,for=5", "either rate=P"),
                      ("lockin:timeout:rate=2", "not a probability"),
                      ("magnet:disconnect:at=x", "'at=x' is not key=number")]:
        with pytest.raises(ValueError, match=re.escape(says)) as refused:
            parse_fault_spec(bad, names)
        assert f"fault {bad!r}" in str(refused.value)
    # the names are the lab's: a lab with two lock-ins takes specs for either
    assert parse_fault_spec("lockin_xy:timeout:rate=0.1", ("lockin_xx", "lockin_xy"))[0] == \
        "lockin_xy"
