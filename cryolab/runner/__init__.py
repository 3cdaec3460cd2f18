"""The runner in parts: the engine (state, clock, pause / resume / abort, emit, faults, safe
state), the controls that move field, temperature and excitation, and the interlocks checked on
every point. Each step kind executes itself (``cryolab.steps``) through the engine's narrow
context."""

from cryolab.runner.controls import QuenchError
from cryolab.runner.engine import Engine, OverTemperatureError, RunAbortedError

Runner = Engine  # the name the session, the GUI and older notebooks use

__all__ = ["Engine", "OverTemperatureError", "QuenchError", "RunAbortedError", "Runner"]
