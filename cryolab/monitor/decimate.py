"""Thinning a night's curves on the server, so a 48-hour night reaches the page as a few
thousand numbers: the minimum and maximum of each pixel column, the newest point always kept."""

from __future__ import annotations

import numpy as np


def minmax(x: np.ndarray, ys: list[np.ndarray], columns: int
           ) -> tuple[np.ndarray, list[np.ndarray]]:
    """(x, ys) with at most ~2 × ``columns`` + 1 points per curve.

    ``x`` must be sorted (time). It is cut into ``columns`` equal spans; each span that holds
    points gives two: its first x with the minimum (or the maximum, whichever its first value
    is nearer to) and its last x with the other, so every excursion stays visible, and the
    very last point is appended as it is, so the curve ends at the newest reading. A span
    that holds only NaN gives NaN, which breaks the line.
    """
    n = len(x)
    if n <= 2 * columns + 1:
        return x, ys
    lo, hi = float(x[0]), float(x[-1])
    if not hi > lo:
        return x[-1:], [y[-1:] for y in ys]
    edges = np.searchsorted(x, np.linspace(lo, hi, columns + 1)[1:-1], side="left")
    starts = np.unique(np.concatenate(([0], edges)))
    starts = starts[starts < n]
    ends = np.append(starts[1:], n) - 1
    out_x = np.empty(2 * len(starts) + 1)
    out_x[0:-1:2], out_x[1:-1:2], out_x[-1] = x[starts], x[ends], x[-1]
    out_ys = []
    for y in ys:
        with np.errstate(invalid="ignore"):
            y_min = np.fmin.reduceat(y, starts)
            y_max = np.fmax.reduceat(y, starts)
        first = y[starts]
        min_first = np.abs(first - y_min) <= np.abs(first - y_max)
        out = np.empty(2 * len(starts) + 1)
        out[0:-1:2] = np.where(min_first, y_min, y_max)
        out[1:-1:2] = np.where(min_first, y_max, y_min)
        out[-1] = y[-1]
        out_ys.append(out)
    return out_x, out_ys


def stride(n: int, most: int) -> np.ndarray:
    """Indices of every k-th of n points (at most ``most``), the last one always included."""
    if n <= most:
        return np.arange(n)
    k = -(-n // (most - 1))
    idx = np.arange(0, n, k)
    return idx if idx[-1] == n - 1 else np.append(idx, n - 1)
