"""Instrument drivers only (pymeasure ``Instrument`` subclasses); never imports cryolab.

The simulated twins of these instruments live in ``cryolab.sim``.
"""
