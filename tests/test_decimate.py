"""The GUI's live-curve envelope: what is drawn at 10⁶ points still shows every extreme and
ends at the newest point."""

import numpy as np

from cryolab.gui.decimate import LiveEnvelope, envelope


def test_envelope_keeps_each_blocks_min_and_max_and_ignores_gaps():
    x = np.arange(8.0)
    y = np.array([3.0, 1.0, np.nan, 7.0, np.nan, np.nan, 2.0, 2.0])
    ex, ey = envelope(x, y, 2)
    assert ex.tolist() == [0, 0, 2, 2, 4, 4, 6, 6]
    assert ey[:4].tolist() == [1.0, 3.0, 7.0, 7.0]
    assert np.isnan(ey[4:6]).all()  # a block of only gaps stays a gap: the line breaks
    assert ey[6:].tolist() == [2.0, 2.0]


def test_few_points_are_drawn_as_they_are():
    env = LiveEnvelope(max_blocks=100)
    env.extend(np.arange(50.0), np.arange(50.0) ** 2)
    x, y = env.curve()
    assert env.block == 1 and x.tolist() == list(range(50)) and y[-1] == 49.0**2


def test_a_million_points_fed_in_bursts_stay_bounded_exact_in_extremes_and_end_at_newest():
    rng = np.random.default_rng(1)
    n = 1_000_003
    x = np.arange(n, dtype=float)
    y = rng.standard_normal(n)
    spike = 654_321
    y[spike] = 50.0  # a single glitch must stay visible however far the curve is decimated
    env = LiveEnvelope(max_blocks=2048)
    start = 0
    while start < n:
        stop = min(n, start + int(rng.integers(1, 40_000)))
        env.extend(x[start:stop], y[start:stop])
        start = stop
        cx, cy = env.curve()
        assert (cx[-1], cy[-1]) == (x[stop - 1], y[stop - 1])  # the line ends at the newest
    assert len(cx) <= 2 * 2048 + 2 * env.block  # bounded, whatever the number of points
    assert env.n == n
    assert cy.max() == 50.0 and cy.min() == y.min()  # every extreme survives
    assert np.all(np.diff(cx) >= 0)  # in arrival order


def test_clear_starts_over():
    env = LiveEnvelope(max_blocks=4)
    env.extend(np.arange(100.0), np.ones(100))
    env.clear()
    env.extend(np.array([5.0]), np.array([2.0]))
    assert env.curve()[1].tolist() == [2.0] and env.block == 1


def test_an_empty_batch_changes_nothing_and_unknown_x_does_not_hide_a_block():
    env = LiveEnvelope(max_blocks=4)
    env.extend(np.arange(10.0), np.arange(10.0))
    before = env.curve()
    env.extend(np.empty(0), np.empty(0))
    after = env.curve()
    assert after[0][-1] == 9.0 and np.array_equal(before[0], after[0])
    x = np.arange(8.0)
    x[4] = np.nan  # the first point of the third block has no temperature
    ex, _ = envelope(x, np.ones(8), 2)
    assert np.isfinite(ex).all() and ex[4] == 5.0
