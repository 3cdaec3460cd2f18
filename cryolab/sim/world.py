"""One physical world shared by the simulated instruments, advanced lazily to the clock's now.

Whenever an instrument is asked anything, the world integrates fridge, magnet and lock-in filter
from its last update to ``clock.now()``; it is therefore correct under any clock (wall, scaled or
virtual). Long jumps (an hour's hold under the virtual clock) are integrated coarsely and only
the last 40 time constants track the lock-in filter, which has forgotten everything before.
"""

from __future__ import annotations

import cmath
import math
import threading

import numpy as np

from cryolab.clock import Clock
from cryolab.sim.fridge import Fridge, FridgeParams
from cryolab.sim.lockin import LockinSettings, OUNoise, OutputFilter
from cryolab.sim.magnet import Magnet
from cryolab.sim.sample import PRESETS, SampleModel, SamplePreset

MAX_STEP_S = 2.0  # the fridge's own dynamics are ≥ 10 s; 2 s steps are plenty
FILTER_MEMORY_TAU = 40.0  # after 40 τ the 4-pole filter's residual is < 1e-13


class World:
    """Fridge, sample, magnet and lock-in analog state on one clock, behind one lock."""

    def __init__(self, clock: Clock, preset: str | SamplePreset = "S1", seed: int = 0,
                 fridge_params: FridgeParams | None = None, T_start_K: float | None = None
                 ) -> None:
        self.clock = clock
        self.lock = threading.RLock()
        self.t = clock.now()
        self.rng = np.random.default_rng(seed)
        self.preset = PRESETS[preset] if isinstance(preset, str) else preset
        self.fridge = Fridge(fridge_params, T_start_K)
        self.magnet = Magnet()
        self.sample = SampleModel(self.preset)
        self.lockin = LockinSettings()
        self.filter = OutputFilter(self.lockin.tau_s, self.lockin.poles)
        self.noise = OUNoise(self.rng)
        self._filter_stale = True
        # the true values behind the last lock-in input, for tests and the docs' figures
        self.true_current_A = 0.0
        self.true_R_ohm = 0.0

    @property
    def field_Oe(self) -> float:
        return self.magnet.field_T * 1.0e4

    def advance(self) -> float:
        """Integrate everything up to the clock's now; return that time."""
        with self.lock:
            self._advance_to(self.clock.now())
            return self.t

    def _advance_to(self, t: float) -> None:
        # Unix seconds near 1.8e9 step in 2.4e-7 s: a smaller remainder would not move self.t
        # and the loop would spin for ever (at high speeds with short time constants)
        while t - self.t > 1e-6:
            remaining = t - self.t
            memory = FILTER_MEMORY_TAU * self.filter.tau_s
            if remaining - memory > 1e-3:  # a step the float time can resolve
                h = min(remaining - memory, MAX_STEP_S)
                self._step_slow(h)
                self._filter_stale = True
            else:
                if self._filter_stale:
                    self.filter.reset(self.input_phasor())
                    self._filter_stale = False
                h = min(remaining, MAX_STEP_S, 0.5 * self.filter.tau_s)
                self._step_slow(h)
                self.filter.step(self.input_phasor(), h)
            self.t += h

    def _step_slow(self, h: float) -> None:
        self.fridge.step(h)
        self.magnet.step(h)

    def input_phasor(self) -> complex:
        """The demodulated lock-in input X + iY now (before the output filter)."""
        s = self.lockin
        V, I, R = self.sample.response(s.amplitude_V, s.frequency_Hz, self.fridge.T_sample_K,
                                       self.field_Oe)
        self.true_current_A, self.true_R_ohm = I, R
        return V * cmath.exp(-1j * math.radians(s.phase_deg))

    def lockin_changed(self) -> None:
        """Call after a lock-in setting changed (the world must already be advanced to now)."""
        s = self.lockin
        if s.tau_s != self.filter.tau_s or s.poles != len(self.filter.stages):
            self.filter.reconfigure(s.tau_s, s.poles)

    def lockin_output(self) -> complex:
        """X + iY at the lock-in output now: the filtered signal plus output noise."""
        with self.lock:
            self._advance_to(self.clock.now())
            if self._filter_stale:
                self.filter.reset(self.input_phasor())
                self._filter_stale = False
            s = self.lockin
            return self.filter.output + self.noise.sample(self.t, s.noise_rms_V,
                                                          s.noise_correlation_s)

    def relative_noise(self, rms: float) -> float:
        """A factor 1 + N(0, rms²) for instrument readings (thermometer bridge noise)."""
        with self.lock:
            return 1.0 + rms * float(self.rng.standard_normal())
