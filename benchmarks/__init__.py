"""cryolab's benchmarks: `python benchmarks/run.py` prints the figures (and --json writes them)."""
