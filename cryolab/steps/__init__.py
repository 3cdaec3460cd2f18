"""The step kinds a sequence can hold, one module each; this map is the only list of them."""

from cryolab.steps.base import Step
from cryolab.steps.cooldown import Cooldown
from cryolab.steps.field_sweep import FieldSweep, RampSpec
from cryolab.steps.hold import Hold
from cryolab.steps.linearity_check import LinearityCheck
from cryolab.steps.measure import Measure
from cryolab.steps.ramp_temperature import RampTemperature
from cryolab.steps.set_excitation import SetExcitation
from cryolab.steps.set_field import SetField

#: kind (as sequence files spell it) → step class
STEP_KINDS: dict[str, type[Step]] = {cls.kind: cls for cls in (
    SetField, RampTemperature, Hold, Measure, SetExcitation, LinearityCheck, Cooldown,
    FieldSweep)}

__all__ = ["STEP_KINDS", "Cooldown", "FieldSweep", "Hold", "LinearityCheck", "Measure",
           "RampSpec", "RampTemperature", "SetExcitation", "SetField", "Step"]
