"""One physical world shared by the simulated instruments, advanced lazily to the clock's now:
one fridge and one magnet, and as many samples and lock-ins as the lab wires up.

Whenever an instrument is asked anything, the world integrates fridge, magnet and lock-in filters
from its last update to ``clock.now()``; it is therefore correct under any clock (wall, scaled or
virtual). Long jumps (an hour's hold under the virtual clock) are integrated coarsely and each
lock-in's filter follows only its last 40 time constants: it has forgotten everything before.

Wiring: each sample's current comes from one lock-in's sine output through the bias resistor,
I = V / (R_bias + R_2pt), at that lock-in's reference frequency. Any number of lock-ins measure
a sample's longitudinal (``xx``) or transverse (``xy``) voltage, each through its own input
stage (the SR830's 10 MΩ ∥ 25 pF, or a preamplifier), which loads the probes; a lock-in
``driven_by`` another has its REF IN on that one's reference output, so in external-reference
mode (SR830 ``FMOD 0``) it runs at the driver's frequency. A lock-in sees a sample's voltage
only when its reference frequency is the current's (⚠ an independent oscillator at exactly the
same nominal frequency is treated as locked; a real pair drifts slowly in phase).
"""

from __future__ import annotations

import cmath
import math
import threading

import numpy as np

from cryolab.clock import Clock
from cryolab.sim.fridge import Fridge, FridgeParams
from cryolab.sim.lockin import SR830_INPUT, Lockin, LockinInput, LockinSettings
from cryolab.sim.magnet import Magnet
from cryolab.sim.sample import PRESETS, Drive, SampleModel, SamplePreset

MAX_STEP_S = 2.0  # the fridge's own dynamics are ≥ 10 s; 2 s steps are plenty
FILTER_MEMORY_TAU = 40.0  # after 40 τ the 4-pole filter's residual is < 1e-13


class World:
    """Fridge, magnet, samples and lock-in analog state on one clock, behind one lock."""

    def __init__(self, clock: Clock, preset: str | SamplePreset = "S1", seed: int = 0,
                 fridge_params: FridgeParams | None = None, T_start_K: float | None = None
                 ) -> None:
        self.clock = clock
        self.lock = threading.RLock()
        self.t = clock.now()
        self.seed = seed
        # the first lock-in's noise and the thermometer readings draw from this generator in
        # query order; every further lock-in has its own (add_lockin)
        self.rng = np.random.default_rng(seed)
        #: the preset of samples added without one
        self.preset = _preset(preset)
        self.fridge = Fridge(fridge_params, T_start_K)
        self.magnet = Magnet()
        self.samples: dict[str, SampleModel] = {}
        self.lockins: dict[str, Lockin] = {}
        self._sources: dict[str, Lockin] = {}  # sample name → the lock-in driving its current
        #: clock times at which the magnet quenches (an injected fault), soonest first
        self._quenches: list[float] = []

    # ---------------------------------------------------------------- wiring
    def add_sample(self, name: str = "sample", preset: str | SamplePreset | None = None,
                   **model: float) -> SampleModel:
        """A sample on the cold stage; ``model`` sets SampleModel fields (geometry, wiring,
        ``hall_ohm_per_T``, ``misalignment``)."""
        if name in self.samples:
            raise ValueError(f"there is already a sample {name!r}")
        sample = SampleModel(self.preset if preset is None else _preset(preset), **model)
        self.samples[name] = sample
        return sample

    def add_lockin(self, name: str = "lockin", sample: str | None = None, measures: str = "xx",
                   driven_by: str | None = None, input_stage: LockinInput = SR830_INPUT
                   ) -> Lockin:
        """A lock-in measuring ``sample``'s ``measures`` voltage ("xx" or "xy") through
        ``input_stage`` (its own input, or a preamplifier in front of it).

        ``driven_by`` None: its own sine output drives the sample's current (one such lock-in
        per sample). Otherwise the name of an already added lock-in whose reference output
        feeds its REF IN; it then measures that lock-in's sample (``sample`` may repeat it).
        ``sample`` None: the driver's, or the only sample, or a new "sample" of the default
        preset when there is none.
        """
        if name in self.lockins:
            raise ValueError(f"there is already a lock-in {name!r}")
        if driven_by is not None:
            if driven_by not in self.lockins:
                raise ValueError(f"lock-in {name!r} is driven by {driven_by!r}, which is not "
                                 f"there (add it first; lock-ins: {', '.join(self.lockins)})")
            driver_sample = self.lockins[driven_by].sample
            if sample not in (None, driver_sample):
                raise ValueError(f"lock-in {name!r} is driven by {driven_by!r}, whose current "
                                 f"flows through {driver_sample!r}, not {sample!r}")
            sample = driver_sample
        elif sample is None:
            if not self.samples:
                self.add_sample()
            if len(self.samples) > 1:
                raise ValueError(f"lock-in {name!r}: say which sample it measures "
                                 f"({', '.join(self.samples)})")
            sample = next(iter(self.samples))
        if sample not in self.samples:
            raise ValueError(f"lock-in {name!r} measures sample {sample!r}, which is not there "
                             f"(samples: {', '.join(self.samples) or 'none'})")
        if driven_by is None and sample in self._sources:
            raise ValueError(f"lock-in {name!r} would drive the current of {sample!r}, which "
                             f"{self._sources[sample].name!r} drives already; give driven_by")
        # independent noise per lock-in, the same for the same seed and wiring
        rng = self.rng if not self.lockins else np.random.default_rng(
            np.random.SeedSequence(self.seed, spawn_key=(len(self.lockins),)))
        lockin = Lockin(name, sample, measures, driven_by, rng, input_stage)
        with self.lock:
            self.lockins[name] = lockin
            if driven_by is None:
                self._sources[sample] = lockin
        return lockin

    # ---------------------------------------------------------------- the one-lock-in view
    # The default lab has one sample and one lock-in; these name them without a name.
    @property
    def lockin(self) -> LockinSettings:
        """The first lock-in's settings."""
        return self._first_lockin().settings

    @property
    def sample(self) -> SampleModel:
        """The first sample."""
        return next(iter(self.samples.values()))

    @property
    def true_current_A(self) -> float:
        return self._first_lockin().true_current_A

    @property
    def true_R_ohm(self) -> float:
        return self._first_lockin().true_R_ohm

    def _first_lockin(self) -> Lockin:
        return next(iter(self.lockins.values()))

    # ---------------------------------------------------------------- time
    @property
    def field_Oe(self) -> float:
        return self.magnet.field_T * 1.0e4

    def advance(self) -> float:
        """Integrate everything up to the clock's now; return that time."""
        with self.lock:
            self._advance_to(self.clock.now())
            return self.t

    def schedule_quench(self, t: float) -> None:
        """The magnet goes normal at clock time ``t`` (an injected fault)."""
        with self.lock:
            self._quenches = sorted([*self._quenches, t])

    def _advance_to(self, t: float) -> None:
        while self._quenches and self._quenches[0] <= t:
            self._integrate_to(max(self._quenches.pop(0), self.t))
            self.magnet.quench()
        self._integrate_to(t)

    def _integrate_to(self, t: float) -> None:
        lockins = self.lockins.values()
        # Unix seconds near 1.8e9 step in 2.4e-7 s: a smaller step would not move self.t and
        # the loop would spin for ever (seen at high speeds with short time constants), so
        # every step below is longer than 1 ms or ends the loop
        while t - self.t > 1e-6:
            remaining = t - self.t
            # the filters within their memory window follow the input; the others wait, and
            # the step stops where the next of them (the longest memory) has to join
            following, later, tau_min = [], 0.0, math.inf
            for lk in lockins:
                tau = lk.filter.tau_s
                if remaining - FILTER_MEMORY_TAU * tau <= 1e-3:
                    following.append(lk)
                    if tau < tau_min:
                        tau_min = tau
                else:
                    if FILTER_MEMORY_TAU * tau > later:
                        later = FILTER_MEMORY_TAU * tau
                    lk.stale = True
            if not following:
                h = min(remaining - later, MAX_STEP_S)
                self._step_slow(h)
            else:
                for lk in following:
                    if lk.stale:
                        lk.filter.reset(self.input_phasor(lk))
                        lk.stale = False
                h = min(remaining, MAX_STEP_S, 0.5 * tau_min)
                if later:
                    h = min(h, remaining - later)
                self._step_slow(h)
                drives: dict[str, Drive] = {}
                for lk in following:
                    lk.filter.step(self._input(lk, drives), h)
            self.t += h

    def _step_slow(self, h: float) -> None:
        self.fridge.step(h)
        self.magnet.step(h)

    # ---------------------------------------------------------------- lock-in signals
    def reference_frequency_Hz(self, lockin: Lockin) -> float:
        """What the lock-in's reference runs at: its own oscillator, or in external mode the
        frequency arriving at REF IN from the lock-in driving it (SR830 manual, FREQ?).
        External with nothing at REF IN: the oscillator free-runs where it was (⚠)."""
        while lockin.settings.external_reference and lockin.driven_by is not None:
            lockin = self.lockins[lockin.driven_by]
        return lockin.settings.frequency_Hz

    def reference_locked(self, lockin: Lockin) -> bool:
        """False for an external reference with no signal at REF IN (SR830 LIAS bit 3)."""
        return not (lockin.settings.external_reference and lockin.driven_by is None)

    def input_phasor(self, lockin: Lockin | None = None) -> complex:
        """The demodulated lock-in input X + iY now (before the output filter); the first
        lock-in's without an argument."""
        return self._input(lockin or self._first_lockin(), {})

    def _input(self, lockin: Lockin, drives: dict[str, Drive]) -> complex:
        """As input_phasor; ``drives`` shares one sample's drive among its lock-ins."""
        # a lock-in not driven by another drives its own sample's current (add_lockin)
        source = lockin if lockin.driven_by is None else self._sources[lockin.sample]
        sample = self.samples[lockin.sample]
        f_Hz = source.settings.frequency_Hz
        drive = drives.get(lockin.sample)
        if drive is None:
            drive = drives[lockin.sample] = sample.drive(
                source.settings.amplitude_V, f_Hz, self.fridge.T_sample_K, self.field_Oe)
        lockin.true_current_A, lockin.true_R_ohm = drive.current_A, drive.R4pt_ohm
        lockin.source_ohm = sample.source_ohm(drive, lockin.measures)
        lockin.source_T_K, lockin.signal_frequency_Hz = drive.T_electron_K, f_Hz
        if lockin is not source and not math.isclose(
                self.reference_frequency_Hz(lockin), f_Hz, rel_tol=1e-9):
            return 0j  # demodulated at another frequency: the signal averages out
        V = drive.V_xx if lockin.measures == "xx" else sample.V_xy(drive, self.field_Oe)
        # the probes' open-circuit voltage, loaded by the input: V·Z_in/(Z_in + R_source)
        V *= lockin.input_stage.divider(lockin.source_ohm, f_Hz) * lockin.input_stage.gain
        return V * cmath.exp(-1j * math.radians(lockin.settings.phase_deg))

    def lockin_changed(self, lockin: Lockin | None = None) -> None:
        """Call after a lock-in setting changed (the world must already be advanced to now)."""
        lk = lockin or self._first_lockin()
        s = lk.settings
        if s.tau_s != lk.filter.tau_s or s.poles != len(lk.filter.stages):
            lk.filter.reconfigure(s.tau_s, s.poles)

    def lockin_output(self, lockin: Lockin | None = None) -> complex:
        """X + iY at the lock-in output now: the filtered signal plus output noise."""
        lk = lockin or self._first_lockin()
        with self.lock:
            self._advance_to(self.clock.now())
            if lk.stale:
                lk.filter.reset(self.input_phasor(lk))
                lk.stale = False
            return lk.filter.output + lk.noise.sample(self.t, lk.noise_rms_V(),
                                                      lk.settings.noise_correlation_s)

    def relative_noise(self, rms: float) -> float:
        """A factor 1 + N(0, rms²) for instrument readings (thermometer bridge noise)."""
        with self.lock:
            return 1.0 + rms * float(self.rng.standard_normal())


def _preset(preset: str | SamplePreset) -> SamplePreset:
    return PRESETS[preset] if isinstance(preset, str) else preset
