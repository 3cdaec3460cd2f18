"""A live curve's min/max envelope, kept up to date incrementally, so a repaint with 10⁶ points
costs what one with a few thousand does.

pyqtgraph's own peak downsampling re-reads every point on every repaint (≈ 50–200 ms at 10⁶
points here) and drops the last partial block, so the newest points are not drawn. Here each
point is folded into a (min, max) block once, when it arrives; a repaint draws at most
``2 × max_blocks`` envelope vertices plus the raw points of the unfinished block, so the curve
always ends exactly at the newest point. Blocks are in arrival order and keep the x of their
first point, which works for any x (time, or a temperature that goes up and down).
"""

from __future__ import annotations

import math

import numpy as np


def envelope(x: np.ndarray, y: np.ndarray, block: int) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of complete blocks of ``block`` points as vertical min–max strokes, in order.

    NaN in y (a gap, e.g. a point shown in the other curve) is ignored inside a block; a block
    of only NaN stays NaN, which breaks the line as the raw points would.
    """
    n = len(y) // block * block
    if n == 0:
        return np.empty(0), np.empty(0)
    ys = y[:n].reshape(-1, block)
    lo, hi = np.fmin.reduce(ys, axis=1), np.fmax.reduce(ys, axis=1)
    bx = x[:n:block]
    if np.isnan(bx).any():  # a block whose first x is unknown (T out of calibration)
        bx = np.where(np.isnan(bx), np.fmin.reduce(x[:n].reshape(-1, block), axis=1), bx)
    return np.repeat(bx, 2), np.column_stack((lo, hi)).ravel()


def reduce_to(x: np.ndarray, y: np.ndarray, max_blocks: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_blocks`` envelope strokes of (x, y) at once, then the raw points of the last
    unfinished block (at least the last point): what ``LiveEnvelope`` draws, for a fixed set."""
    block = math.ceil(len(x) / max_blocks)
    if block <= 1:
        return x, y
    ex, ey = envelope(x, y, block)
    done = len(x) // block * block
    tail = slice(done, None) if done < len(x) else slice(-1, None)
    return np.concatenate((ex, x[tail])), np.concatenate((ey, y[tail]))


class LiveEnvelope:
    """The envelope of a growing (x, y) curve: feed new points with ``extend``, draw ``curve``."""

    def __init__(self, max_blocks: int = 2048) -> None:
        self.max_blocks = max_blocks
        self.clear()

    def clear(self) -> None:
        self.block = 1
        self.n = 0  # points fed so far
        self._x = np.empty(0)  # two vertices per finished block
        self._y = np.empty(0)
        self._tail_x = np.empty(0)  # points not yet in a finished block
        self._tail_y = np.empty(0)
        self._last = (np.empty(0), np.empty(0))  # the newest point, as 1-element arrays

    def extend(self, x: np.ndarray, y: np.ndarray) -> None:
        if not len(x):
            return
        self.n += len(x)
        tail_x = np.concatenate((self._tail_x, np.asarray(x, dtype=float)))
        tail_y = np.concatenate((self._tail_y, np.asarray(y, dtype=float)))
        if self.block == 1 and len(tail_x) + len(self._x) // 2 <= self.max_blocks:
            self._tail_x, self._tail_y = tail_x, tail_y  # few points: drawn as they are
            return
        if self.block == 1:  # first time over the cap: the raw points become blocks
            self.block = 2
        ex, ey = envelope(tail_x, tail_y, self.block)
        done = len(ex) // 2 * self.block
        self._x = np.concatenate((self._x, ex))
        self._y = np.concatenate((self._y, ey))
        self._tail_x, self._tail_y = tail_x[done:], tail_y[done:]
        self._last = (tail_x[-1:], tail_y[-1:])
        while len(self._x) // 2 > self.max_blocks:
            self._merge_pairs()

    def _merge_pairs(self) -> None:
        """Double the block size: neighbouring blocks merge (an odd last block stays as is)."""
        x, y = self._x.reshape(-1, 2)[:, 0], self._y.reshape(-1, 2)
        pairs = len(x) // 2 * 2
        lo = np.fmin(y[:pairs:2, 0], y[1:pairs:2, 0])
        hi = np.fmax(y[:pairs:2, 1], y[1:pairs:2, 1])
        merged_x = np.repeat(x[:pairs:2], 2)
        merged_y = np.column_stack((lo, hi)).ravel()
        self._x = np.concatenate((merged_x, np.repeat(x[pairs:], 2)))
        self._y = np.concatenate((merged_y, y[pairs:].ravel()))
        self.block *= 2

    def curve(self) -> tuple[np.ndarray, np.ndarray]:
        """What to draw: the envelope, then the raw newest points (at least the newest one)."""
        if not len(self._x):
            return self._tail_x, self._tail_y
        tail_x, tail_y = self._tail_x, self._tail_y
        if not len(tail_x):  # the newest point just closed a block: draw it on its own too
            tail_x, tail_y = self._last
        return np.concatenate((self._x, tail_x)), np.concatenate((self._y, tail_y))
