"""Closed-contour dynamic programming recovers a known border."""

from __future__ import annotations

import numpy as np

from qperfusion.segmentation.polar import dp_closed_contour, polar_grid, to_polar


def test_dp_follows_the_cheapest_smooth_closed_path():
    n_a, n_r = 90, 40
    a = np.arange(n_a)
    truth = np.round(20 + 5 * np.sin(2 * np.pi * a / n_a)).astype(int)
    rng = np.random.default_rng(1)
    cost = rng.uniform(0, 0.5, (n_a, n_r))
    cost[a, truth] = -1.0
    cost[10, 5] = -10.0  # one outlier: the smoothness bound must not follow it
    path = dp_closed_contour(cost, max_jump=1)
    assert np.mean(path == truth) > 0.95
    assert np.all(np.abs(np.diff(np.r_[path, path[0]])) <= 1)


def test_dp_respects_forbidden_points():
    cost = np.zeros((12, 10))
    cost[:, :4] = np.inf
    assert dp_closed_contour(cost, max_jump=2).min() >= 4


def test_polar_sampling_of_a_disc():
    yy, xx = np.mgrid[0:64, 0:64]
    disc = (np.hypot(yy - 30.0, xx - 34.0) < 10).astype(float)
    radii = np.arange(0, 20, 0.5)
    _, py, px = polar_grid((30.0, 34.0), 36, radii)
    p = to_polar(disc, py, px, order=0)
    edge = (p > 0.5).sum(axis=1) * 0.5
    assert np.all(np.abs(edge - 10.0) <= 1.0)
