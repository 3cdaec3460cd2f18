"""cryolab: measurement and acquisition for low-temperature transport on a dilution refrigerator."""

__version__ = "0.1.0"
