"""The one place the GUI gets Qt from: qtpy chooses the binding, pyqtgraph is told the same.

qtpy takes ``QT_API`` (pyqt5, pyside6, pyqt6) and otherwise the first binding installed, PyQt5
first; pyqtgraph, imported after it, is pinned to the binding qtpy loaded
(``PYQTGRAPH_QT_LIB``), so a machine with PySide6 and PyQt5 both installed never mixes two
bindings in one window. Every GUI module imports Qt and pyqtgraph from here.
"""

from __future__ import annotations

import os

from qtpy import API_NAME, QtCore, QtGui, QtWidgets

if os.environ.setdefault("PYQTGRAPH_QT_LIB", API_NAME) != API_NAME:
    raise ImportError(f"PYQTGRAPH_QT_LIB={os.environ['PYQTGRAPH_QT_LIB']} but qtpy loaded "
                      f"{API_NAME} (QT_API); set both to the same binding")

import pyqtgraph as pg  # after the binding is chosen: that is the point

__all__ = ["API_NAME", "QtCore", "QtGui", "QtWidgets", "pg"]
