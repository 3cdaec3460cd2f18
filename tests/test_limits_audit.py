"""Whatever the input, no command outside the station's limits reaches an instrument.

Proved from the simulated servers' record of every line they received: random sequences (many
beyond the limits) go through validation and, when accepted, run on the simulated instruments;
random driver calls (validation bypassed) go straight at the drivers. Every recorded command is
then checked against the station's limits.
"""

import contextlib
import math
import re

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cryolab.clock import VirtualClock
from cryolab.inputs import InputError
from cryolab.session import Session, validate
from cryolab.sim.lab import SimulatedLab
from cryolab.station import connect, load_station
from instruments.limits import LimitError

STATION = load_station()
LIM = STATION.limits
WIRING = STATION.wiring
V_MAX = LIM.current_nA[1] * 1e-9 * (WIRING.bias_resistor_ohm + WIRING.max_two_point_ohm)
NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def numbers(text: str) -> list[float]:
    return [float(x) for x in NUMBER.findall(text)]


def violations(lab: SimulatedLab) -> list[str]:
    """Recorded commands beyond the station's limits (the simulated 430 works in tesla and
    per-second units, which the drivers read at connection)."""
    bad = []
    for name, server in lab.servers.items():
        for _, line in server.received:
            for command in line.split(";"):
                c = command.strip().upper()
                args = numbers(c.split(" ", 1)[1]) if " " in c else numbers(c[4:])
                if name == "lockin" and c.startswith("SLVL") and "?" not in c:
                    ok = 0.004 - 1e-9 <= args[0] <= V_MAX * (1 + 1e-9)
                elif name == "lockin" and c.startswith("FREQ") and "?" not in c:
                    ok = LIM.frequency_Hz[0] - 1e-9 <= args[0] <= LIM.frequency_Hz[1] + 1e-9
                elif name == "bridge" and c.startswith("RANGE ") and args[0] == 0:
                    ok = args[1] <= LIM.max_heater_range
                elif name == "bridge" and c.startswith("SETP ") and args[0] == 0:
                    ok = args[1] <= LIM.temperature_K[1] + 1e-9
                elif name == "bridge" and c.startswith("RAMP ") and args[0] == 0:
                    ok = args[2] <= LIM.max_temperature_ramp_K_per_min + 1e-9
                elif name == "magnet" and c.startswith("CONF:FIELD:TARG"):
                    ok = abs(args[0]) * 1e4 <= LIM.max_field_Oe * (1 + 1e-9)
                elif name == "magnet" and c.startswith("CONF:RAMP:RATE:FIELD"):
                    ok = args[1] * 1e4 <= LIM.max_field_ramp_Oe_per_s * (1 + 1e-9)
                elif name == "magnet" and c.split(" ")[0] in (
                        "CONF:CURR:TARG", "CONF:COIL", "CONF:CURR:LIM", "QU", "PS",
                        "CONF:FIELD:UNITS", "CONF:RAMP:RATE:UNITS"):
                    ok = False  # cryolab never sends these
                else:
                    continue
                if not ok:
                    bad.append(f"{name}: {command}")
    return bad


def step_strategy(field, field_rate, current, frequency, temperature, t_rate):
    return st.one_of(
        st.builds(lambda f, r: {"set_field": {"field_Oe": f, "rate_Oe_per_s": r,
                                              "settle_s": 5}}, field, field_rate),
        st.builds(lambda i, f: {"set_excitation": {"current_nA": i, "frequency_Hz": f}},
                  current, frequency),
        st.builds(lambda a, b, r: {"ramp_temperature": {"from_K": a, "to_K": b,
                                                        "rate_K_per_min": r,
                                                        "timeout_s": 900}},
                  temperature, temperature, t_rate),
        st.builds(lambda n: {"measure": {"points": n}}, st.integers(1, 4)),
        st.builds(lambda t: {"cooldown": {"to_K": t, "timeout_s": 600}}, temperature),
        st.builds(lambda a, b: {"linearity_check": {"currents_nA": [a, b], "points": 2}},
                  current, current),
    )


# values at or inside every station limit (a sequence of these must validate and run) ...
inside = step_strategy(
    st.floats(-LIM.max_field_Oe, LIM.max_field_Oe), st.floats(0.5, LIM.max_field_ramp_Oe_per_s),
    st.floats(*LIM.current_nA), st.one_of(st.just("auto"), st.floats(*LIM.frequency_Hz)),
    st.floats(0.05, 0.6), st.one_of(st.just("auto"), st.floats(0.05, 0.5)))
# ... and values anywhere (mostly refused; those accepted must run within the limits too)
anywhere = step_strategy(
    st.floats(-2000, 2000), st.floats(0.1, 40), st.floats(0.01, 3),
    st.one_of(st.just("auto"), st.floats(0.2, 15)), st.floats(0.005, 2.5),
    st.one_of(st.just("auto"), st.floats(0.01, 2)))


def run_audited(tmp, plan, must_validate):
    import yaml

    path = tmp / "seq.yaml"
    path.write_text(yaml.safe_dump({"steps": plan}))
    try:
        spec = validate(path, None, simulated=True, speed=math.inf, seed=0)
    except InputError:
        assert not must_validate, "values inside every limit were refused"
        return  # refused before any instrument existed: nothing can have been sent
    session = Session(spec, tmp / "run.h5", lab_options={"banner_delay_s": 0.0,
                                                         "record_limit": None})
    try:
        session.run()
        sent = sum(len(server.received) for server in session.lab.servers.values())
        event(f"{len(plan)} steps; commands sent: {'>1000' if sent > 1000 else '<=1000'}")
        assert violations(session.lab) == []
    finally:
        session.close()


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(plan=st.lists(inside, min_size=2, max_size=4))
def test_sequences_within_the_limits_run_and_stay_within_them(tmp_path_factory, plan):
    run_audited(tmp_path_factory.mktemp("inside"), plan, must_validate=True)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(plan=st.lists(anywhere, min_size=1, max_size=4))
def test_any_sequence_is_refused_or_stays_within_the_limits(tmp_path_factory, plan):
    run_audited(tmp_path_factory.mktemp("anywhere"), plan, must_validate=False)


@pytest.fixture(scope="module")
def audited_station():
    clock = VirtualClock()
    lab = SimulatedLab(clock, banner_delay_s=0.0, record_limit=None).start()
    station = connect(STATION.with_resources(lab.resources))
    clock.before_jump(station.confirm_writes)
    yield lab, station
    station.close()
    lab.stop()


def with_nan(low, high):
    return st.one_of(st.floats(low, high), st.sampled_from([math.nan, math.inf, -math.inf]))


calls = st.one_of(
    st.tuples(st.just("field"), with_nan(-1e7, 1e7)),
    st.tuples(st.just("field_rate"), with_nan(-100, 1000)),
    st.tuples(st.just("ramp"), st.floats(-2000, 2000), st.floats(-50, 500)),
    st.tuples(st.just("current"), with_nan(-1e-8, 1e-7)),
    st.tuples(st.just("sine"), st.floats(-10, 10)),
    st.tuples(st.just("frequency"), st.floats(0, 1e5)),
    st.tuples(st.just("heater_range"), st.integers(-3, 12)),
    st.tuples(st.just("setpoint"), st.floats(-1, 400)),
    st.tuples(st.just("temperature_ramp"), st.floats(-1, 200)),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture])
@given(call=calls)
def test_no_driver_call_sends_a_command_beyond_the_limits(audited_station, call):
    lab, st_ = audited_station
    name, *args = call
    action = {
        "field": lambda v: setattr(st_.magnet, "target_field_Oe", v),
        "field_rate": lambda v: setattr(st_.magnet, "ramp_rate_Oe_per_s", v),
        "ramp": lambda f, r: st_.magnet.start_ramp(f, r),
        "current": lambda i: st_.bias.set_current(i),
        "sine": lambda v: setattr(st_.lockin, "sine_voltage", v),
        "frequency": lambda f: setattr(st_.lockin, "frequency", f),
        "heater_range": lambda r: setattr(st_.bridge.sample_heater, "range_index", r),
        "setpoint": lambda t: setattr(st_.bridge.sample_heater, "setpoint_K", t),
        "temperature_ramp": lambda r: st_.bridge.sample_heater.set_ramp(True, r),
    }[name]
    with contextlib.suppress(LimitError):
        action(*args)
    st_.confirm_writes()
    assert violations(lab) == []
