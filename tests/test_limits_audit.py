"""Whatever the input, no command outside the station's limits reaches an instrument.

Proved from the simulated servers' record of every line they received: random sequences (many
beyond the limits) go through validation and, when accepted, run on the simulated instruments;
random driver calls (validation bypassed) go straight at the drivers. Every recorded command is
then checked against the station's limits.
"""

import contextlib
import math
import re
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cryolab.clock import VirtualClock
from cryolab.inputs import InputError
from cryolab.runfile import RunFile
from cryolab.session import Session, validate
from cryolab.sim.lab import SimulatedLab
from cryolab.station import connect, load_station
from instruments.limits import LimitError
from tests.conftest import Drivers

STATION = load_station()
LIM = STATION.limits
WIRING = STATION.wiring
NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def numbers(text: str) -> list[float]:
    return [float(x) for x in NUMBER.findall(text)]


def violations(lab: SimulatedLab, LIM=LIM, WIRING=WIRING) -> list[str]:
    """Recorded commands beyond the station's limits (the simulated 430 works in tesla and
    per-second units, which the drivers read at connection)."""
    V_MAX = LIM.current_nA[1] * 1e-9 * (WIRING.bias_resistor_ohm + WIRING.max_two_point_ohm)
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
    st.floats(-LIM.max_field_Oe, LIM.max_field_Oe).map(lambda x: round(x, 6)),
    st.floats(0.5, LIM.max_field_ramp_Oe_per_s),
    st.floats(*LIM.current_nA), st.one_of(st.just("auto"), st.floats(*LIM.frequency_Hz)),
    st.floats(0.05, 0.6), st.one_of(st.just("auto"), st.floats(0.05, 0.5)))
# ... and values anywhere (mostly refused; those accepted must run within the limits too)
anywhere = step_strategy(
    st.floats(-2000, 2000), st.floats(0.1, 40), st.floats(0.01, 3),
    st.one_of(st.just("auto"), st.floats(0.2, 15)), st.floats(0.005, 2.5),
    st.one_of(st.just("auto"), st.floats(0.01, 2)))


def station_file(tmp, limits: dict) -> Path:
    """The simulated station with other limits (its calibration found by absolute path)."""
    source = Path("cryolab/data/sim_station.yaml")
    data = yaml.safe_load(source.read_text().replace(": off", ": 'off'"))
    data["limits"].update(limits)
    data["sample"]["thermometer_calibration"] = str((source.parent /
                                                     "sim_sample_ruo2.340").resolve())
    path = tmp / "station.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def run_audited(tmp, plan, must_validate, station: Path | None = None, must_complete=False):
    path = tmp / "seq.yaml"
    path.write_text(yaml.safe_dump({"steps": plan}))
    try:
        spec = validate(path, station, simulated=True, speed=math.inf, seed=0)
    except InputError:
        assert not must_validate, "values inside every limit were refused"
        return  # refused before any instrument existed: nothing can have been sent
    session = Session(spec, tmp / "run.h5", lab_options={"banner_delay_s": 0.0,
                                                         "record_limit": None})
    try:
        status = session.run()
        sent = sum(len(server.received) for server in session.lab.servers.values())
        with contextlib.suppress(Exception):  # events exist only inside a hypothesis test
            event(f"{len(plan)} steps; commands sent: {'>1000' if sent > 1000 else '<=1000'}")
        assert violations(session.lab, spec.station.limits, spec.station.wiring) == []
        if must_complete:  # a night `check` accepts never dies on a limit the runner chose
            with RunFile(tmp / "run.h5") as run:
                assert status == "completed", run.attrs.get("end_reason")
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


def test_a_tight_temperature_ramp_limit_holds_on_the_way_to_the_start_too(tmp_path):
    """The approach to a ramp's start temperature is a rate the runner chooses: it must obey
    the station's limit as the ramp itself does (it used to reuse the 372's 0.1 K/min)."""
    station = station_file(tmp_path, {"max_temperature_ramp_K_per_min": 0.005})
    plan = [{"set_excitation": {"current_nA": 0.5}},
            {"ramp_temperature": {"from_K": 0.1, "to_K": 0.12}}]
    run_audited(tmp_path, plan, must_validate=True, station=station, must_complete=True)


@st.composite
def station_and_plan(draw):
    """Limits a lab might set (some tight), and a sequence inside them."""
    T_max = draw(st.floats(0.3, 1.5))
    i_low = draw(st.floats(0.004, 0.3))
    f_low = draw(st.floats(0.5, 2.0))
    limits = {
        "max_field_Oe": draw(st.floats(50, 600)),
        "max_field_ramp_Oe_per_s": draw(st.floats(1.0, 10)),
        "current_nA": [i_low, draw(st.floats(max(i_low * 1.5, 0.5), 1.0))],
        "frequency_Hz": [f_low, draw(st.floats(f_low + 1, 9.0))],
        "temperature_K": [0.01, T_max],
        "max_temperature_ramp_K_per_min": draw(st.floats(0.001, 0.5)),
    }
    rounded = {k: [round(x, 4) for x in v] if isinstance(v, list) else round(v, 4)
               for k, v in limits.items()}
    L = rounded
    inside_these = step_strategy(
        # rounded to 3 decimals, then kept inside: 488.3745 would round to 488.375, past it
        st.floats(-L["max_field_Oe"], L["max_field_Oe"]).map(
            lambda x: min(max(round(x, 3), -L["max_field_Oe"]), L["max_field_Oe"])),
        st.floats(1.0, L["max_field_ramp_Oe_per_s"]),
        st.floats(*L["current_nA"]), st.one_of(st.just("auto"), st.floats(*L["frequency_Hz"])),
        st.floats(0.05, 0.15),
        st.one_of(st.just("auto"), st.floats(0.001, L["max_temperature_ramp_K_per_min"])))
    return rounded, draw(st.lists(inside_these, min_size=2, max_size=3))


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=station_and_plan())
def test_any_station_and_sequence_check_accepts_runs_to_the_end(tmp_path_factory, case):
    limits, plan = case
    tmp = tmp_path_factory.mktemp("stations")
    run_audited(tmp, plan, must_validate=True, station=station_file(tmp, limits),
                must_complete=True)


@pytest.fixture(scope="module")
def audited_station():
    clock = VirtualClock()
    lab = SimulatedLab(clock, banner_delay_s=0.0, record_limit=None).start()
    station = Drivers(connect(STATION.with_resources(lab.resources)))
    clock.before_jump(station.confirm_writes)
    yield lab, station
    station.roles.close()
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
