"""The cooldown GUI: a thin Qt (through qtpy; PyQt5 by default) and pyqtgraph view over the
same runner the command line uses."""
