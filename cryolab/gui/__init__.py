"""The cooldown GUI: a thin PyQt5/pyqtgraph view over the same runner the command line uses."""
