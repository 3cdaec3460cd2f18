"""The current bias: a lock-in's sine output through the bias resistor, I = V / (R_bias + R_2pt)
(paper, Methods), its limits refused before the source is touched."""

import pytest

from cryolab.bias import CurrentBias
from instruments.limits import LimitError, Span


class FakeSource:
    """A voltage source that records what it was set to and enforces the SR830's range."""

    def __init__(self):
        self._v = 0.004

    @property
    def sine_V(self):
        return self._v

    @sine_V.setter
    def sine_V(self, v):
        if not 0.004 <= v <= 5.0:
            raise LimitError(f"lock-in sine output: {v:g} V is outside the allowed 0.004 to 5 V")
        self._v = v


def test_bias_sets_voltage_from_current_and_series_resistance():
    bias = CurrentBias(FakeSource(), 1.0e9, (1e-10, 1e-9), r2pt_estimate_ohm=20e3)
    actual = bias.set_current(0.5e-9)
    # V = I (R_bias + R_2pt) = 0.5 nA × 1.00002 GΩ; I = V / (1 GΩ + R)
    assert bias.source.sine_V == pytest.approx(0.500010)
    assert actual == pytest.approx(0.5e-9)


def test_bias_refuses_currents_outside_its_limits_without_touching_the_source():
    source = FakeSource()
    bias = CurrentBias(source, 1.0e9, Span(1e-10, 1e-9, "station limits.current_nA"))
    for bad in (2e-9, 5e-11, -1e-10, float("nan")):
        with pytest.raises(LimitError, match="bias current"):
            bias.set_current(bad)
    assert source.sine_V == 0.004
    assert bias.set_minimum() == pytest.approx(1e-10)


def test_bias_reports_when_the_source_cannot_make_the_voltage():
    bias = CurrentBias(FakeSource(), 1.0e10, (1e-10, 1e-9))
    with pytest.raises(LimitError, match="needs 10 V"):
        bias.set_current(1e-9)
