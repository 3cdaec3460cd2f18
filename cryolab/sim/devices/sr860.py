"""The simulated SR860: its command set (SR860 manual ch. 4 "Programming") as one table over a
world lock-in, the same analog model as the simulated SR830's.

What differs from the SR830 twin, row by row: ``SCAL`` index 0 is 1 V and 27 is 1 nV; ``OFLT``
starts at 1 µs (1 s is index 12); ``SLVL`` goes to 2 V; ``OUTP?`` and ``SNAP?`` take codes from
0 or the parameter names (``SNAP? X, Y`` as pymeasure sends it); ``SNAP?`` takes two or three
parameters; queries chained with ``;`` are answered in one line joined by ``;`` (manual, "Command
Syntax"). Mnemonics have any length (``CAPTURERATEMAX?``) and any case (pymeasure's ``Harm 2``).
Errors never produce a reply: ``*ESR?`` bit 4 (EXE) for a bad parameter, 5 (CMD) for an unknown
command. ``CUROVLDSTAT?`` reports the overloads present now; ``LIAS?`` latches them until read.
Status layouts as SRS's own Python package (srsinst.sr860) names the bits.
"""

from __future__ import annotations

import cmath
import math

from cryolab.sim.devices.sr830 import Register, SRSLockinDevice, wrap_deg
from cryolab.sim.protocol import (
    Indexed,
    Row,
    Stored,
    Table,
    bit,
    code_or_name,
    float_in,
    int_in,
    letters,
    optional,
    rest,
    six_digits,
)
from instruments.lockin_filter import enbw_Hz
from instruments.srs_sr860 import FILTER_SLOPES, SENSITIVITIES, SR860, TIME_CONSTANTS

# LIAS? / CUROVLDSTAT? bits (srsinst.sr860 Status.LiaStatusBitDict, OverloadStatusBitDict)
CH1_OVERLOAD, CH2_OVERLOAD, UNLOCKED, INPUT_RANGE = 1, 2, 8, 16
# *STB? bits 3 LIA and 5 ESB (srsinst.sr860 Status.SerialPollStatusBitDict); bit 2 (ERR)
# never comes: the twin has no hardware errors (ERRS? 0)
STB_LIA, STB_ESB = 8, 32
#: IRNG: voltage input ranges in V, index 0–4 (manual, IRNG)
INPUT_RANGES_V = (1.0, 0.3, 0.1, 0.03, 0.01)
#: SCAL index → full scale in V: 0 = 1 V … 27 = 1 nV
SCALES_V = tuple(reversed(SENSITIVITIES))
#: what OUTP?, SNAP? and CDSP name by code; upper case is the short form (manual, OUTP?)
PARAMETERS = ("X", "Y", "R", "THeta", "IN1", "IN2", "IN3", "IN4", "XNOise", "YNOise", "OUT1",
              "OUT2", "PHAse", "SAMp", "LEVel", "FInt", "FExt")
PARAMETER = code_or_name(PARAMETERS)
X, Y, R, THETA = 0, 1, 2, 3
DATA_CHANNEL = int_in(0, 3)  # DAT1–DAT4
OUTPUT = int_in(0, 2)  # X, Y, R for offsets, expands and ratios
AUX = int_in(0, 3)
PRESET = int_in(0, 3)
#: the fastest capture rate, Hz (⚠ the real maximum falls with the time constant)
CAPTURE_RATE_MAX_HZ = 1.25e6


class SR860Device(SRSLockinDevice):
    """Command interpreter of one simulated SR860."""

    idn = "Stanford_Research_Systems,SR860,004025,V1.51"
    join_replies = ";"
    max_frequency_Hz = 500e3  # 2 MHz on the SR865

    def reset(self) -> None:
        """*RST defaults (⚠ assumed, as the SR830 twin's: 1 kHz, 1 V, 100 ms, 12 dB/oct, 1 V)."""
        with self.world.lock:
            self._change(frequency_Hz=1000.0, amplitude_V=1.0, phase_deg=0.0, tau_s=0.1,
                         slope_dB=12, sensitivity_V=1.0, external_reference=False)
        self.stored = self.table.defaults()
        self.data_channels = [X, Y, R, THETA]  # DAT1–DAT4 as after power-on (⚠)
        self.aux_out = [0.0] * 4
        self.esr = 0
        self.lias = 0

    # ---------------------------------------------------------------- settings

    def set_frequency(self, f_Hz: float) -> None:
        # FREQ sets the internal oscillator; with an external reference it waits there (manual)
        if f_Hz > self.max_frequency_Hz:
            raise ValueError(f"{f_Hz} Hz above {self.max_frequency_Hz} Hz")
        self._change(frequency_Hz=f_Hz)

    def set_reference_source(self, source: int) -> None:
        # 1 EXT follows REF IN; DUAL and CHOP (2, 3) detect at the internal reference here (⚠)
        self.stored["RSRC"] = source
        self._change(external_reference=source == 1)

    def reference_frequency_Hz(self) -> float:
        return self.world.reference_frequency_Hz(self.lk)

    def external_frequency_Hz(self) -> float:
        """What arrives at REF IN: the driving lock-in's reference, or nothing (0)."""
        driver = self.lk.driven_by
        return 0.0 if driver is None else \
            self.world.reference_frequency_Hz(self.world.lockins[driver])

    def set_scale(self, i: int) -> None:
        self.lk.settings.sensitivity_V = SCALES_V[i]

    def get_scale(self) -> str:
        return str(SCALES_V.index(self.lk.settings.sensitivity_V))

    # ---------------------------------------------------------------- readings
    def output(self) -> complex:
        """X + iY now, with the overloads of this instant latched into LIAS?."""
        z = self.world.lockin_output(self.lk)
        self.lias |= self._overloads(z)
        return z

    def _overloads(self, z: complex) -> int:
        """CUROVLDSTAT? bits for the output ``z``: the channels beyond full scale (CH1 is X or R,
        CH2 is Y or θ, as COUT sets them), an unlocked reference, the input beyond IRNG."""
        sens = self.lk.settings.sensitivity_V
        status = 0
        ch1_polar, ch2_polar = self.stored["COUT"]
        if (abs(z) if ch1_polar else abs(z.real)) > sens:
            status |= CH1_OVERLOAD
        if not ch2_polar and abs(z.imag) > sens:
            status |= CH2_OVERLOAD
        if not self.world.reference_locked(self.lk):
            status |= UNLOCKED
        if abs(self.world.input_phasor(self.lk)) > INPUT_RANGES_V[self.stored["IRNG"]]:
            status |= INPUT_RANGE
        return status

    def values(self, codes: list[int]) -> str:
        """OUTP?, SNAP?, SNAPD? parameters by code, taken at one instant."""
        z = self.output()
        s = self.lk.settings
        noise_V = self.lk.noise_rms_V()
        table = {
            X: z.real, Y: z.imag, R: abs(z), THETA: math.degrees(cmath.phase(z)),
            8: noise_V, 9: noise_V,  # X, Y noise: the output noise's rms
            10: self.aux_out[0], 11: self.aux_out[1], 12: s.phase_deg, 13: s.amplitude_V,
            14: self.stored["SOFF"], 15: s.frequency_Hz, 16: self.external_frequency_Hz(),
        }
        # codes 4–7 are the aux inputs, which are not wired: 0 V
        return ",".join(six_digits(table.get(code, 0.0)) for code in codes)

    def signal_strength(self) -> str:
        """ILVL?: 0–4 bars of the input against its range, 4 meaning overload (⚠ thresholds)."""
        ratio = abs(self.world.input_phasor(self.lk)) / INPUT_RANGES_V[self.stored["IRNG"]]
        return str(sum(ratio > level for level in (0.01, 0.1, 0.5, 1.0)))

    def auto_range(self) -> None:
        """ARNG: the smallest input range that holds the input."""
        u = abs(self.world.input_phasor(self.lk))
        fits = [i for i, top in enumerate(INPUT_RANGES_V) if u <= 0.9 * top]
        self.stored["IRNG"] = fits[-1] if fits else 0

    def auto_scale(self) -> None:
        """ASCL: the sensitivity that holds R at about 80 % of full scale, at once."""
        r = abs(self.world.lockin_output(self.lk))
        self.lk.settings.sensitivity_V = SR860.sensitivity_for(r, headroom=0.8)

    def auto_phase(self) -> None:
        z = self.world.lockin_output(self.lk)
        self._change(phase_deg=wrap_deg(self.lk.settings.phase_deg
                                         + math.degrees(cmath.phase(z))))

    # ---------------------------------------------------------------- status
    def clear_status(self) -> None:
        self.esr = self.lias = 0

    def read_esr(self, bit: int | None) -> str:
        if bit is not None:
            return str((self.esr >> bit) & 1)
        value, self.esr = self.esr, 0
        return str(value)

    def read_stb(self, bit: int | None) -> str:
        stb = 0
        if self.lias & self.stored["LIAE"]:
            stb |= STB_LIA
        if self.esr & self.stored["*ESE"]:
            stb |= STB_ESB
        return str(stb if bit is None else (stb >> bit) & 1)

    def read_lias(self, bit: int | None) -> str:
        self.output()  # the overloads are judged on the output as it is now
        if bit is not None:
            value = (self.lias >> bit) & 1
            self.lias &= ~(1 << bit)
            return str(value)
        value, self.lias = self.lias, 0
        return str(value)

    def read_overloads(self) -> str:
        return str(self._overloads(self.world.lockin_output(self.lk)))

    # ---------------------------------------------------------------- the command set
    table = Table(grammar=letters, rows=[
        # common and status commands (manual, "Status Reporting Commands")
        Row("*IDN", get=lambda d: d.idn),
        Row("*RST", apply=reset),
        Row("*CLS", apply=clear_status),
        Row("*ESR", get=read_esr, get_args=optional(int_in(0, 7))),
        Row("*STB", get=read_stb, get_args=optional(int_in(0, 7))),
        Register("*ESE"),
        Register("*SRE"),
        Row("*OPC", get=lambda d: "1", apply=lambda d: None),
        Row("*WAI", apply=lambda d: None),
        Row("LIAS", get=read_lias, get_args=optional(int_in(0, 14))),
        Register("LIAE", bits=15),
        Row("ERRS", get=lambda d, i: "0", get_args=optional(int_in(0, 7))),  # no hardware errors
        Register("ERRE"),
        Row("CUROVLDSTAT", get=read_overloads),
        # reference (manual, "Reference Commands")
        Row("FREQ", get=lambda d: six_digits(d.reference_frequency_Hz()),
            set=float_in(0.001, 4e6), apply=set_frequency),
        Row("FREQINT", get=lambda d: six_digits(d.lk.settings.frequency_Hz),
            set=float_in(0.001, 4e6), apply=set_frequency),
        Row("FREQEXT", get=lambda d: six_digits(d.external_frequency_Hz())),
        Row("FREQDET", get=lambda d: six_digits(d.stored["HARM"] * d.reference_frequency_Hz())),
        Row("PHAS", get=lambda d: six_digits(d.lk.settings.phase_deg),
            set=float_in(-360e3, 360e3),
            apply=lambda d, p: d._change(phase_deg=wrap_deg(p))),
        Stored("HARM", 1, set=int_in(1, 99)),  # detection stays at the first harmonic
        Stored("HARMDUAL", 1, set=int_in(1, 99)),
        Row("SLVL", get=lambda d: six_digits(d.lk.settings.amplitude_V), set=float_in(0.0, 2.0),
            apply=lambda d, v: d._change(amplitude_V=v)),
        Stored("SOFF", 0.0, set=float_in(-5.0, 5.0), get=lambda d: six_digits(d.stored["SOFF"])),
        Stored("REFM", 0, set=bit),
        Stored("RSRC", 0, set=int_in(0, 3), apply=set_reference_source),
        Stored("RTRG", 0, set=int_in(0, 2)),
        Stored("REFZ", 0, set=bit),
        # front-panel presets F1–F4, A1–A4, L1–L4
        Indexed("PSTF", (1e3,) * 4, index=PRESET, set=float_in(0.001, 4e6), fmt=six_digits),
        Indexed("PSTA", (1.0,) * 4, index=PRESET, set=float_in(0.0, 2.0), fmt=six_digits),
        Indexed("PSTL", (0.0,) * 4, index=PRESET, set=float_in(-5.0, 5.0), fmt=six_digits),
        Row("APHS", apply=auto_phase),
        # signal (manual, "Signal Commands"); the sample is wired to the voltage input A
        Stored("IVMD", 0, set=bit),
        Stored("ISRC", 0, set=bit),
        Stored("ICPL", 0, set=bit),
        Stored("IGND", 0, set=bit),
        Stored("IRNG", 0, set=int_in(0, 4)),
        Stored("ICUR", 0, set=bit),
        Row("ILVL", get=signal_strength),
        Row("SCAL", get=get_scale, set=int_in(0, 27), apply=set_scale),
        Row("OFLT", get=lambda d: str(TIME_CONSTANTS.index(d.lk.settings.tau_s)),
            set=int_in(0, 21), apply=lambda d, i: d._change(tau_s=TIME_CONSTANTS[i])),
        Row("OFSL", get=lambda d: str(FILTER_SLOPES.index(d.lk.settings.slope_dB)),
            set=int_in(0, 3), apply=lambda d, i: d._change(slope_dB=FILTER_SLOPES[i])),
        Stored("SYNC", 0, set=bit),
        Stored("ADVFILT", 0, set=bit),
        Row("ENBW", get=lambda d: six_digits(enbw_Hz(d.lk.settings.tau_s,
                                                     d.lk.settings.slope_dB))),
        Row("ARNG", apply=auto_range),
        Row("ASCL", apply=auto_scale),
        # channel outputs, offsets, expands and ratios (manual, "Signal Commands"): stored and
        # read back; only COUT (CH1 X or R, CH2 Y or θ) changes what CUROVLDSTAT? judges
        Indexed("COUT", (0, 0), index=int_in(0, 1), set=bit),
        Indexed("COFP", (0.0,) * 3, index=OUTPUT, set=float_in(-999.99, 999.99), fmt=six_digits),
        Indexed("COFA", (0,) * 3, index=OUTPUT, set=bit),
        Indexed("CEXP", (0,) * 3, index=OUTPUT, set=int_in(0, 2)),
        Indexed("CRAT", (0,) * 3, index=OUTPUT, set=bit),
        # aux inputs and outputs (manual, "Aux Input and Output Commands")
        Row("OAUX", get=lambda d, i: six_digits(0.0), get_args=AUX),  # aux inputs not wired
        Row("AUXV", get=lambda d, i: six_digits(d.aux_out[i]), get_args=AUX,
            set=(AUX, float_in(-10.5, 10.5)), apply=lambda d, i, v: d.aux_out.__setitem__(i, v)),
        # data transfer (manual, "Data Transfer Commands")
        Row("OUTP", get=lambda d, code: d.values([code]), get_args=PARAMETER),
        Row("SNAP", get=lambda d, codes: d.values(codes), get_args=rest(PARAMETER, 2, 3)),
        Row("CDSP", get=lambda d, ch: str(d.data_channels[ch]), get_args=DATA_CHANNEL,
            set=(DATA_CHANNEL, PARAMETER),
            apply=lambda d, ch, code: d.data_channels.__setitem__(ch, code)),
        Row("OUTR", get=lambda d, ch: d.values([d.data_channels[ch]]), get_args=DATA_CHANNEL),
        Row("SNAPD", get=lambda d: d.values(d.data_channels)),
        # data capture (manual, "Data Capture Commands"): configuration only, nothing captured
        Stored("CAPTURELEN", 256, set=int_in(1, 4096)),
        Stored("CAPTURECFG", 0, set=int_in(0, 3)),
        Row("CAPTURERATEMAX", get=lambda d: six_digits(CAPTURE_RATE_MAX_HZ)),
        Stored("CAPTURERATE", 0, set=int_in(0, 20),
               get=lambda d: six_digits(CAPTURE_RATE_MAX_HZ / 2 ** d.stored["CAPTURERATE"])),
        Row("CAPTURESTAT", get=lambda d: "0"),
        Row("CAPTUREBYTES", get=lambda d: "0"),
        Row("CAPTUREPROG", get=lambda d: "0"),
    ])
