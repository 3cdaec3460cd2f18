"""Everything simulated: physics (fridge, sample, magnet, lock-in filter), protocol devices, TCP
servers, fault injection and the lab that wires them on one clock."""
