"""Simulated instruments: TCP servers that speak the real command sets over 127.0.0.1."""
