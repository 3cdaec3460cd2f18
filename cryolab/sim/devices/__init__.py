"""The simulated instruments' command interpreters, one module per model, and the one map from a
model name to its twin: a new twin is a module here and a line in ``DEVICES``."""

from cryolab.sim.devices.ami430 import AMI430Device
from cryolab.sim.devices.cryomagnetics_4g import Cryomagnetics4GDevice
from cryolab.sim.devices.ls370 import LS370Device
from cryolab.sim.devices.ls372 import LS372Device
from cryolab.sim.devices.mercury_ips import MercuryIPSDevice
from cryolab.sim.devices.sr830 import SR830Device
from cryolab.sim.devices.sr860 import SR860Device
from cryolab.sim.protocol import TableDevice

#: model name (as station files spell it) → the class of its simulated twin
DEVICES: dict[str, type[TableDevice]] = {
    "SR830": SR830Device,
    "SR860": SR860Device,
    "LS372": LS372Device,
    "LS370": LS370Device,
    "AMI430": AMI430Device,
    "MercuryiPS": MercuryIPSDevice,
    "CM4G": Cryomagnetics4GDevice,
}
