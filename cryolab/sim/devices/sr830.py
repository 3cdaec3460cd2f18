"""The simulated SR830: its GPIB command set (SR830 manual ch. 5) as one table over the world.

Mnemonics are four letters with an optional ``?`` and no required space (pymeasure sends
``FREQ3.33000e+00``, ``OUTP?1``); ``;`` separates commands and every query gets its own
LF-terminated reply. Errors never produce a reply: they set bits in ``*ESR?`` (4 EXE for a bad
parameter, 5 CMD for an unknown command). LIAS? bits latch until read or ``*CLS``.
"""

from __future__ import annotations

import cmath
import math
from abc import abstractmethod

from cryolab.sim.lockin import SR830_INPUT, LockinInput
from cryolab.sim.protocol import (
    Row,
    Stored,
    Table,
    TableDevice,
    float_in,
    four_letter,
    int_in,
    optional,
    rest,
    six_digits,
)
from cryolab.sim.world import World
from instruments.srs_sr830 import SR830

ESR_EXE, ESR_CMD = 16, 32
LIAS_INPUT_OVERLOAD, LIAS_OUTPUT_OVERLOAD, LIAS_UNLOCK = 1, 4, 8
INPUT_OVERLOAD_V = 1.0  # the A input saturates around 1 V (SR830 spec, full-scale input)


def _index(table: list[float], value: float) -> int:
    return min(range(len(table)), key=lambda i: abs(table[i] - value))


#: a status bit to read alone: ``LIAS? 2``
BIT = optional(int_in(0, 7))


class Register(Stored):
    """An enable register of ``bits`` bits: ``{i,} j`` sets it to j or its bit i to j (0/1);
    ``? {i}`` reads it or its bit i (SR830 manual p. 5-21). Zero after power-on and ``*RST``."""

    def __init__(self, command: str, bits: int = 8) -> None:
        top = (1 << bits) - 1

        def apply(device: TableDevice, first: int, second: int | None) -> None:
            value = device.stored[command]
            if second is None:
                value = first
            elif first < bits and second <= 1:
                value = value & ~(1 << first) | second << first
            else:
                raise ValueError(f"{command} {first},{second}: bit 0–{bits - 1} to 0 or 1")
            device.stored[command] = value

        def get(device: TableDevice, bit: int | None) -> str:
            value = device.stored[command]
            return str(value if bit is None else (value >> bit) & 1)

        super().__init__(command, 0, set=(int_in(0, top), optional(int_in(0, top))),
                         get=get, get_args=optional(int_in(0, bits - 1)), apply=apply)


def wrap_deg(p: float) -> float:
    """Phases are kept in −180…180° (SR830 and SR860 manuals, PHAS)."""
    return (p + 180.0) % 360.0 - 180.0


class SRSLockinDevice(TableDevice):
    """What the SRS lock-in twins share: wired into a world as one of its lock-ins
    (``World.add_lockin``: which sample, which voltage, whose reference, through which input),
    the standard event status register, and analog settings changed on the world's clock."""

    role = "lockin"
    reply_terminator = "\n"
    esr: int

    def __init__(self, world: World, name: str = "lockin", *, sample: str | None = None,
                 measures: str = "xx", driven_by: str | None = None,
                 input_stage: LockinInput = SR830_INPUT) -> None:
        super().__init__(world, name)
        self.lk = world.add_lockin(name, sample=sample, measures=measures, driven_by=driven_by,
                                   input_stage=input_stage)
        self.reset()

    @abstractmethod
    def reset(self) -> None:
        """The model's *RST defaults."""

    def command_error(self, query: bool, unknown: bool) -> None:
        self.esr |= ESR_CMD if unknown else ESR_EXE

    def _change(self, **settings: float) -> None:
        """New analog settings; the past ran with the old ones, so integrate up to now first."""
        self.world.advance()
        for key, value in settings.items():
            setattr(self.lk.settings, key, value)
        self.world.lockin_changed(self.lk)


class SR830Device(SRSLockinDevice):
    """Command interpreter of one simulated SR830."""

    idn = "Stanford_Research_Systems,SR830,s/n46117,ver1.07"

    def reset(self) -> None:
        """*RST defaults (⚠ assumed from the front-panel defaults, not the SR830 manual's list)."""
        with self.world.lock:
            self._change(frequency_Hz=1000.0, amplitude_V=1.0, phase_deg=0.0, tau_s=0.1,
                         slope_dB=12, sensitivity_V=1.0, external_reference=False)
        self.stored = self.table.defaults()
        self.display = {1: (0, 0), 2: (0, 0)}
        self.aux_out = dict.fromkeys(range(1, 5), 0.0)
        self.offsets = {1: (0.0, 0), 2: (0.0, 0), 3: (0.0, 0)}
        self.esr = 0
        self.lias = 0
        self.errs = 0

    # ---------------------------------------------------------------- settings
    def set_frequency(self, f_Hz: float) -> None:
        if self.lk.settings.external_reference:  # FREQ needs the internal reference (p. 5-4)
            raise ValueError("FREQ with the external reference")
        self._change(frequency_Hz=f_Hz)

    def set_reference_source(self, internal: int) -> None:
        self._change(external_reference=not internal)

    def reference_frequency_Hz(self) -> float:
        """FREQ? and SNAP? 9: the reference frequency, internal or measured at REF IN."""
        return self.world.reference_frequency_Hz(self.lk)

    def set_amplitude(self, v: float) -> None:
        # ⚠ 2 mV resolution: assumed, not confirmed in the SR830 manual
        self._change(amplitude_V=round(v / 0.002) * 0.002)

    def set_phase(self, p_deg: float) -> None:
        self._change(phase_deg=wrap_deg(p_deg))

    def set_time_constant(self, i: int) -> None:
        self._change(tau_s=SR830.TIME_CONSTANTS[i])

    def set_slope(self, i: int) -> None:
        self._change(slope_dB=SR830.FILTER_SLOPES[i])

    def set_sensitivity(self, i: int) -> None:
        self.lk.settings.sensitivity_V = SR830.SENSITIVITIES[i]

    def set_display(self, channel: int, source: int, ratio: int) -> None:
        self.display[channel] = (source, ratio)

    def set_offset(self, output: int, percent: float, expand: int) -> None:
        self.offsets[output] = (percent, expand)

    def set_aux(self, output: int, volts: float) -> None:
        self.aux_out[output] = volts

    # ---------------------------------------------------------------- readings
    def output(self) -> complex:
        """X + iY now, with overload bits latched and the outputs saturating at 110 %."""
        z = self.world.lockin_output(self.lk)
        sens = self.lk.settings.sensitivity_V
        if max(abs(z.real), abs(z.imag), abs(z)) > sens:
            self.lias |= LIAS_OUTPUT_OVERLOAD
        if abs(self.world.input_phasor(self.lk)) > INPUT_OVERLOAD_V:
            self.lias |= LIAS_INPUT_OVERLOAD
        if not self.world.reference_locked(self.lk):
            self.lias |= LIAS_UNLOCK
        limit = 1.1 * sens
        return complex(max(-limit, min(limit, z.real)), max(-limit, min(limit, z.imag)))

    def values(self, codes: list[int]) -> str:
        """SNAP? parameters by code, taken at one instant (SR830 manual p. 5-16)."""
        z = self.output()
        out = []
        for code in codes:
            if code == 1:
                out.append(z.real)
            elif code == 2:
                out.append(z.imag)
            elif code == 3:
                out.append(abs(z))
            elif code == 4:
                out.append(math.degrees(cmath.phase(z)))
            elif 5 <= code <= 8:
                out.append(0.0)  # aux inputs are not wired
            elif code == 9:
                out.append(self.reference_frequency_Hz())
            else:  # 10, 11: the displays show X and Y in their default setup
                out.append(z.real if code == 10 else z.imag)
        return ",".join(six_digits(v) for v in out)

    def auto_gain(self) -> None:
        r = abs(self.world.lockin_output(self.lk))
        self.lk.settings.sensitivity_V = SR830.sensitivity_for(r, headroom=0.8)

    def auto_phase(self) -> None:
        z = self.world.lockin_output(self.lk)
        p = self.lk.settings.phase_deg + math.degrees(cmath.phase(z))
        self._change(phase_deg=wrap_deg(p))

    # ---------------------------------------------------------------- status
    def clear_status(self) -> None:
        self.esr = self.lias = self.errs = 0

    def read_esr(self, bit: int | None) -> str:
        if bit is not None:
            return str((self.esr >> bit) & 1)
        value, self.esr = self.esr, 0
        return str(value)

    def read_stb(self) -> str:
        stb = 2  # IFC: no command executing
        if self.errs:
            stb |= 4
        if self.lias & self.stored["LIAE"]:
            stb |= 8
        if self.esr & self.stored["*ESE"]:
            stb |= 32
        return str(stb)

    def read_lias(self, bit: int | None) -> str:
        self.output()  # overload is judged on the output as it is now
        if bit is not None:
            value = (self.lias >> bit) & 1
            self.lias &= ~(1 << bit)
            return str(value)
        value, self.lias = self.lias, 0
        return str(value)

    def read_errs(self, bit: int | None) -> str:
        if bit is not None:
            return str((self.errs >> bit) & 1)
        value, self.errs = self.errs, 0
        return str(value)

    # ---------------------------------------------------------------- the command set
    table = Table(grammar=four_letter, rows=[
        # common commands (SR830 manual p. 5-21)
        Row("*IDN", get=lambda d: d.idn),
        Row("*RST", apply=reset),
        Row("*CLS", apply=clear_status),
        Row("*ESR", get=read_esr, get_args=BIT),
        Row("*STB", get=read_stb),
        Register("*ESE"),
        Register("*SRE"),
        Row("*OPC", get=lambda d: "1", apply=lambda d: None),
        Row("*WAI", apply=lambda d: None),
        # reference and phase (p. 5-4)
        Row("PHAS", get=lambda d: six_digits(d.lk.settings.phase_deg),
            set=float_in(-360.0, 729.99), apply=set_phase),
        Row("FREQ", get=lambda d: six_digits(d.reference_frequency_Hz()),
            set=float_in(0.001, 102_000.0), apply=set_frequency),
        Row("SLVL", get=lambda d: six_digits(d.lk.settings.amplitude_V),
            set=float_in(0.004, 5.0), apply=set_amplitude),
        Row("FMOD", get=lambda d: str(int(not d.lk.settings.external_reference)),
            set=int_in(0, 1), apply=set_reference_source),  # 0 external, 1 internal
        Stored("RSLP", 0, set=int_in(0, 2)),
        Stored("HARM", 1, set=int_in(1, 19999)),
        # input and filter (p. 5-5)
        Stored("ISRC", 0, set=int_in(0, 3)),
        Stored("IGND", 0, set=int_in(0, 1)),
        Stored("ICPL", 0, set=int_in(0, 1)),
        Stored("ILIN", 0, set=int_in(0, 3)),
        # gain and time constant (p. 5-6)
        Row("SENS", get=lambda d: str(_index(SR830.SENSITIVITIES, d.lk.settings.sensitivity_V)),
            set=int_in(0, 26), apply=set_sensitivity),
        Stored("RMOD", 1, set=int_in(0, 2)),
        Row("OFLT", get=lambda d: str(_index(SR830.TIME_CONSTANTS, d.lk.settings.tau_s)),
            set=int_in(0, 19), apply=set_time_constant),
        Row("OFSL", get=lambda d: str(SR830.FILTER_SLOPES.index(d.lk.settings.slope_dB)),
            set=int_in(0, 3), apply=set_slope),
        Stored("SYNC", 0, set=int_in(0, 1)),
        # display and output (p. 5-8)
        Row("DDEF", get=lambda d, ch: "{},{}".format(*d.display[ch]), get_args=int_in(1, 2),
            set=(int_in(1, 2), int_in(0, 4), int_in(0, 2)), apply=set_display),
        Row("OEXP", get=lambda d, o: "{},{}".format(six_digits(d.offsets[o][0]), d.offsets[o][1]),
            get_args=int_in(1, 3), set=(int_in(1, 3), float_in(-105.0, 105.0), int_in(0, 2)),
            apply=set_offset),
        Row("AOFF", apply=lambda d: None),
        # aux inputs and outputs (p. 5-9)
        Row("OAUX", get=lambda d: six_digits(0.0)),  # aux inputs are not wired
        Row("AUXV", get=lambda d, o: six_digits(d.aux_out[o]), get_args=int_in(1, 4),
            set=(int_in(1, 4), float_in(-10.5, 10.5)), apply=set_aux),
        # interface (p. 5-10): the twin is the GPIB side (QCoDeS reads OUTX? in its snapshot)
        Stored("OUTX", 1, set=int_in(0, 1)),
        # setup (p. 5-10)
        Stored("SRAT", 4, set=int_in(0, 14)),
        Stored("SEND", 1, set=int_in(0, 1)),
        Stored("TSTR", 0, set=int_in(0, 1)),
        Stored("FAST", 0, set=int_in(0, 2)),
        # auto functions (p. 5-11)
        Row("AGAN", apply=auto_gain),
        Row("ARSV", apply=lambda d: None),
        Row("APHS", apply=auto_phase),
        # data storage (p. 5-13): the buffer is not modelled
        *(Row(name, apply=lambda d: None) for name in ("STRT", "PAUS", "REST", "TRIG", "STRD")),
        Row("SPTS", get=lambda d: "0"),
        # data transfer (p. 5-15)
        Row("OUTP", get=lambda d, code: d.values([code]), get_args=int_in(1, 4)),
        Row("SNAP", get=lambda d, codes: d.values(codes), get_args=rest(int_in(1, 11), 2, 6)),
        # status (p. 5-21)
        Row("LIAS", get=read_lias, get_args=BIT),
        Row("ERRS", get=read_errs, get_args=BIT),
        Register("LIAE"),
        Register("ERRE"),
    ])
