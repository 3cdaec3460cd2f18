"""Warnings about a valid sequence that is probably not what its author meant.

A warning never refuses the file (the values are within every limit); it is printed by
``cryolab check`` and ``cryolab run`` and shown in the GUI beside the plan.
"""

from __future__ import annotations

from cryolab.sequence import Sequence
from cryolab.steps import FieldSweep, SetField
from cryolab.units import OE_PER_TESLA

#: below this every field of a list looks like tesla (a magnet's fields in Oe are tens to
#: thousands; 1 Oe = 0.1 mT is about the remanent field of a superconducting magnet)
TESLA_LOOKING_OE = 1.0


def _tesla_typed_as_oe(path: str, fields_Oe: list[float]) -> str | None:
    """All |H| < 1 Oe with a nonzero one: ``[0.01, 0.045]`` means 100 and 450 Oe, in tesla."""
    if not fields_Oe or not any(fields_Oe):
        return None
    if any(abs(h) >= TESLA_LOOKING_OE for h in fields_Oe):
        return None
    largest = max(fields_Oe, key=abs)
    listed = ", ".join(f"{h:g}" for h in fields_Oe)
    return (f"{path}: every field is below {TESLA_LOOKING_OE:g} Oe ({listed} Oe): tesla typed "
            f"as Oe? {largest:g} T would be {largest * OE_PER_TESLA:g} Oe (1 T = 10 000 Oe)")


def sequence_warnings(sequence: Sequence) -> list[str]:
    """What looks like a slip in a sequence that passed validation, each naming its key."""
    warnings = []
    set_fields: list[tuple[str, float]] = []
    for i, step in enumerate(sequence.steps):
        if isinstance(step, FieldSweep):
            found = _tesla_typed_as_oe(f"steps[{i}].field_sweep.fields_Oe", step.fields_Oe)
            if found:
                warnings.append(found)
        elif isinstance(step, SetField):
            set_fields.append((f"steps[{i}].set_field.field_Oe", step.field_Oe))
    if set_fields:  # the set_field steps of a sequence read as one list of fields
        paths = ", ".join(path for path, _ in set_fields) if len(set_fields) <= 3 else \
            f"{set_fields[0][0]} and {len(set_fields) - 1} more set_field steps"
        found = _tesla_typed_as_oe(paths, [h for _, h in set_fields])
        if found:
            warnings.append(found)
    return warnings
