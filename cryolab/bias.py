"""The AC current bias: a voltage source in series with a 1 GΩ resistor (wiring, not an instrument).

I = V / (R_bias + R_2pt): the source voltage is chosen from the requested current and the best
estimate of the sample's two-point resistance, and the actual current is reported back from the
voltage the source says it is putting out (the paper's Methods: an AC voltage source in series
with a 1 GΩ resistor).
"""

from __future__ import annotations

from typing import Protocol

from instruments.limits import LimitError, Span, in_range


class VoltageSource(Protocol):
    """Anything with a settable AC amplitude in V rms (a lock-in's sine output is one)."""

    sine_V: float


class CurrentBias:
    """Sets and reports the sample current through the bias resistor."""

    def __init__(self, source: VoltageSource, bias_resistor_ohm: float = 1.0e9,
                 current_limits_A: Span | tuple[float, float] = (0.1e-9, 1.0e-9),
                 r2pt_estimate_ohm: float = 0.0) -> None:
        if not bias_resistor_ohm > 0:
            raise ValueError(f"bias resistor must be positive, got {bias_resistor_ohm}")
        self.source = source
        self.bias_resistor_ohm = float(bias_resistor_ohm)
        self.current_limits_A = current_limits_A if isinstance(current_limits_A, Span) \
            else Span(*current_limits_A)
        self.r2pt_estimate_ohm = float(r2pt_estimate_ohm)

    @property
    def series_resistance_ohm(self) -> float:
        return self.bias_resistor_ohm + self.r2pt_estimate_ohm

    def voltage_for(self, current_A: float) -> float:
        """The source voltage for a current: V = I · (R_bias + R_2pt)."""
        return current_A * self.series_resistance_ohm

    def check(self, current_A: float) -> float:
        """Validate a current against the limits without touching the source."""
        return in_range("bias current", "A")(current_A, self.current_limits_A)

    def set_current(self, current_A: float) -> float:
        """Set the current (A rms); return the actual current. Refuses out-of-limit currents."""
        current_A = self.check(current_A)
        voltage = self.voltage_for(current_A)
        try:
            self.source.sine_V = voltage
        except LimitError as exc:
            raise LimitError(f"bias current {current_A:g} A needs {voltage:g} V through "
                             f"{self.series_resistance_ohm:g} Ω: {exc}") from None
        return self.current_A

    def set_minimum(self) -> float:
        """The safe state: the lowest current the limits allow."""
        return self.set_current(self.current_limits_A.low)

    @property
    def current_A(self) -> float:
        """The current now flowing, from the source's own reading of its amplitude."""
        return float(self.source.sine_V) / self.series_resistance_ohm
