"""Polar resampling around the LV centre and closed-contour dynamic programming.

A border of the LV is a radius per angle, r(θ). Dynamic programming finds the r(θ) that
minimises the sum of a cost image in polar coordinates, with |r(θ+1) − r(θ)| bounded, and
closes the contour by solving on three turns and keeping the middle one.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["dp_closed_contour", "polar_grid", "to_polar"]


def polar_grid(
    centre_yx: tuple[float, float], n_angles: int, radii_px: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Image coordinates of a polar grid.

    Parameters
    ----------
    centre_yx : (float, float)
        Centre (row, column) in pixels.
    n_angles : int
        Number of angles, evenly spaced over 2π; angle 0 points along +column, angle π/2
        along +row (image angle, not the AHA angle).
    radii_px : ndarray of shape (n_r,)
        Radii (pixels).

    Returns
    -------
    angles : ndarray of shape (n_angles,)
        Radians.
    yy, xx : ndarray of shape (n_angles, n_r)
        Row and column of every grid point.
    """
    ang = np.arange(n_angles) * (2 * np.pi / n_angles)
    yy = centre_yx[0] + np.sin(ang)[:, None] * radii_px[None, :]
    xx = centre_yx[1] + np.cos(ang)[:, None] * radii_px[None, :]
    return ang, yy, xx


def to_polar(image: np.ndarray, yy: np.ndarray, xx: np.ndarray, order: int = 1) -> np.ndarray:
    """Sample ``image`` (ny, nx) at the polar grid points; outside the image: edge value."""
    return ndimage.map_coordinates(image, [yy, xx], order=order, mode="nearest")


def dp_closed_contour(cost: np.ndarray, max_jump: int = 1) -> np.ndarray:
    """Radius index per angle minimising the total cost of a closed, smooth contour.

    Parameters
    ----------
    cost : ndarray of shape (n_angles, n_r)
        Cost of the contour passing through (angle, radius); ``inf`` forbids a point.
    max_jump : int
        Largest change of radius index between neighbouring angles.

    Returns
    -------
    ndarray of shape (n_angles,), int
    """
    n_a, n_r = cost.shape
    c = np.concatenate([cost, cost, cost], axis=0)
    big = np.where(np.isfinite(c), c, 1e12)
    acc = big[0].copy()
    back = np.zeros((3 * n_a, n_r), dtype=np.int64)
    idx = np.arange(n_r)
    for a in range(1, 3 * n_a):
        best = np.full(n_r, np.inf)
        arg = np.zeros(n_r, dtype=np.int64)
        for j in range(-max_jump, max_jump + 1):
            src = idx + j
            ok = (src >= 0) & (src < n_r)
            val = np.full(n_r, np.inf)
            # small penalty on jumps keeps the contour smooth where the cost is flat
            val[ok] = acc[src[ok]] + 1e-3 * abs(j)
            better = val < best
            best[better] = val[better]
            arg[better] = src[better]
        acc = best + big[a]
        back[a] = arg
    path = np.zeros(3 * n_a, dtype=np.int64)
    path[-1] = int(np.argmin(acc))
    for a in range(3 * n_a - 1, 0, -1):
        path[a - 1] = back[a, path[a]]
    return path[n_a : 2 * n_a]
