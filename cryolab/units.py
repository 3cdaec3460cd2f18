"""Physical constants and unit conversions used across cryolab (SI inside, Oe where users look)."""

from __future__ import annotations

# exact by definition since the 2019 SI (BIPM SI brochure, 9th ed., Table 1): the same values
# scipy.constants has, without loading scipy for a unit conversion
PLANCK_J_S = 6.62607015e-34
ELEMENTARY_CHARGE_C = 1.602176634e-19
#: Boltzmann constant, J/K
K_B = 1.380649e-23
#: Cooper-pair resistance quantum R_Q = h / 4e² ≈ 6.45 kΩ (paper, Fig. 4b separatrix)
R_Q_OHM = PLANCK_J_S / (4 * ELEMENTARY_CHARGE_C**2)

#: 1 T = 10 kG = 10 000 Oe in vacuum (B in G ≡ H in Oe; protocols.md §3.2)
OE_PER_TESLA = 1.0e4
OE_PER_KILOGAUSS = 1.0e3

NA = 1.0e-9  # A per nA


def oe_to_tesla(field_Oe: float) -> float:
    return field_Oe / OE_PER_TESLA


def tesla_to_oe(field_T: float) -> float:
    return field_T * OE_PER_TESLA


def sheet_resistance(R_ohm, width_m: float, length_m: float):
    """ρ = R · W / L: four-point resistance of a Hall bar to sheet resistance in Ω/□."""
    return R_ohm * width_m / length_m
