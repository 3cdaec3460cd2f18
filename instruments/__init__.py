"""Instrument drivers (pymeasure ``Instrument`` subclasses) and their simulated counterparts."""
