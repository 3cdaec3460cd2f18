"""The screenshot script's paint check: a blank window, or plots without their curves, is
refused; a window with a curve in each plot passes. (The script itself needs a real X server;
CI runs it under Xvfb, see .ci/run.)"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from cryolab.gui.plots import COLORS
from cryolab.gui.qt import QtCore, QtGui

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "gui_screenshots.py"


@pytest.fixture(scope="module")
def problems_painting():
    spec = importlib.util.spec_from_file_location("gui_screenshots", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.problems_painting


def window_image(curves: int) -> QtGui.QImage:
    """A 1200×800 'window': grey panels and text-like noise, and ``curves`` plots each with a
    line drawn in the valid points' colour."""
    image = QtGui.QImage(1200, 800, QtGui.QImage.Format_RGB32)
    image.fill(QtGui.QColor("white"))
    painter = QtGui.QPainter(image)
    for i in range(40):  # panels, labels: many colours, as a painted window has
        painter.fillRect(10 + 25 * i, 10, 20, 15, QtGui.QColor(60 + 4 * i, 200 - 3 * i, 90 + i))
    painter.setPen(QtGui.QPen(QtGui.QColor(*COLORS["valid"]), 2))
    for k in range(curves):
        left = 100 + 550 * k
        painter.drawLine(QtCore.QPoint(left, 700), QtCore.QPoint(left + 400, 200))
    painter.end()
    return image


def test_a_blank_window_is_refused(qapp, problems_painting):
    image = QtGui.QImage(1200, 800, QtGui.QImage.Format_RGB32)
    image.fill(QtGui.QColor("white"))
    problems = problems_painting(image, COLORS["valid"], plots=2, min_columns=100)
    assert any("blank" in p for p in problems)


def test_plots_without_their_curves_are_refused(qapp, problems_painting):
    problems = problems_painting(window_image(curves=1), COLORS["valid"], plots=2,
                                 min_columns=100)
    assert problems and "missing" in problems[0]


def test_a_painted_window_passes(qapp, problems_painting):
    assert problems_painting(window_image(curves=2), COLORS["valid"], plots=2,
                             min_columns=100) == []
