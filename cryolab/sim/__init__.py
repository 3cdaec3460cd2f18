"""The physics behind the simulated instruments: fridge, sample, magnet and lock-in filter."""
