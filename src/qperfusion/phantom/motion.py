"""Respiratory motion and abrupt (cough / deep breath) frames as displacement fields.

Convention (``skimage.transform.warp`` backward mapping): the observed image at frame ``t`` is
``observed_t(p) = static_t(p + u_t(p))`` with ``u`` in pixels, components (dy, dx) = (row,
column). The heart moves with the diaphragm: during inspiration it moves inferiorly (and a
little anteriorly), ~10–15 mm in free breathing (Wang Y et al., MRM 1995;33:713,
doi:10.1002/mrm.1910330517: heart ≈ 0.6 × diaphragm motion). Only the in-plane projection is
simulated (no through-plane motion); the chest wall moves less than the heart, so the field is
non-rigid (a Gaussian weight around the heart).
"""

from __future__ import annotations

import numpy as np

__all__ = ["MOTIONS", "breathing_waveform", "displacement_fields", "warp_series"]

#: Valid ``motion`` options.
MOTIONS: tuple[str, ...] = ("none", "resp")

#: state -> (inspiration excursion of the heart (mm, patient), breathing period (s)).
_BREATHING: dict[str, tuple[float, float]] = {"stress": (13.0, 3.6), "rest": (9.0, 4.8)}


def breathing_waveform(t: np.ndarray, *, period_s: float, rng: np.random.Generator) -> np.ndarray:
    """Inspiration level in [0, 1] at times ``t`` (s): cos² cycles with ±15 % period jitter,
    longer dwell at end-expiration (exponent 2)."""
    t = np.asarray(t, dtype=float)
    grid = np.arange(0.0, float(t.max()) + 2 * period_s, 0.05)
    # random slowly varying breathing rate (cycles/s)
    knots = rng.uniform(0.85, 1.15, size=int(grid[-1] / period_s) + 3)
    rate = np.interp(grid, np.linspace(0, grid[-1], knots.size), knots) / period_s
    phase = np.concatenate([[0.0], np.cumsum(rate[1:] * np.diff(grid))]) + rng.uniform(0, 1)
    level = np.sin(np.pi * phase) ** 4
    return np.interp(t, grid, level)


def displacement_fields(
    times_s: np.ndarray,
    lateral_mm: np.ndarray,
    anterior_mm: np.ndarray,
    *,
    state: str,
    motion: str,
    abrupt: dict[int, np.ndarray],
    pixel_mm: float,
    inplane_dir: np.ndarray,
    rng_seed: int,
) -> np.ndarray:
    """Displacement ``u`` (px) of one plane at its frame times.

    Parameters
    ----------
    times_s : ndarray of shape (T,)
        Frame times (s).
    lateral_mm, anterior_mm : ndarray of shape (ny, nx)
        Pixel centres in the anatomical frame relative to the LV centre (mm).
    state : {"stress", "rest"}
    motion : {"none", "resp"}
    abrupt : dict of int to ndarray of shape (2,)
        Frame index → extra rigid displacement (dy, dx) px (a cough or a deep breath).
    pixel_mm : float
    inplane_dir : ndarray of shape (2, 2)
        Image (row, column) components (mm per mm) of the patient's inferior and anterior
        directions projected on the plane: rows ``[inferior, anterior]``, columns (dy, dx).
    rng_seed : int
        Seed of the breathing pattern (the same for every plane of a state, so that all
        slices breathe together).

    Returns
    -------
    ndarray of shape (ny, nx, 2, T), float32
    """
    ny, nx = lateral_mm.shape
    n_t = len(times_s)
    u = np.zeros((ny, nx, 2, n_t), dtype=np.float32)
    if motion == "none":
        return u
    amp, period = _BREATHING[state]
    level = breathing_waveform(times_s, period_s=period, rng=np.random.default_rng(rng_seed))
    # heart shift (mm, image dy/dx): inferior by amp, anterior by 0.25·amp at full inspiration
    shift_mm = amp * (inplane_dir[0] + 0.25 * inplane_dir[1])
    w = 0.35 + 0.65 * np.exp(-(lateral_mm**2 + anterior_mm**2) / (2 * 70.0**2))
    # observed(p) = static(p − d) for tissue moved by d
    for k in range(n_t):
        d = -level[k] * shift_mm / pixel_mm
        u[:, :, 0, k] = w * d[0]
        u[:, :, 1, k] = w * d[1]
        if k in abrupt:
            u[:, :, :, k] += np.asarray(abrupt[k], dtype=np.float32)
    return u


def warp_series(images: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Apply ``observed_t(p) = static_t(p + u_t(p))`` (bilinear, edge values beyond the image).

    Same result as ``scipy.ndimage.map_coordinates(order=1, mode="nearest")`` frame by frame,
    vectorised over frames.

    Parameters
    ----------
    images : ndarray of shape (ny, nx, T)
    u : ndarray of shape (ny, nx, 2, T)
        Displacement (dy, dx) in pixels.
    """
    ny, nx, n_t = images.shape
    if not np.any(u):
        return images.copy()
    y = np.clip(np.arange(ny, dtype=float)[:, None, None] + u[:, :, 0, :], 0, ny - 1)
    x = np.clip(np.arange(nx, dtype=float)[None, :, None] + u[:, :, 1, :], 0, nx - 1)
    y0 = np.minimum(np.floor(y).astype(np.intp), ny - 2)
    x0 = np.minimum(np.floor(x).astype(np.intp), nx - 2)
    wy = y - y0
    wx = x - x0
    t = np.arange(n_t)[None, None, :]
    flat = images.reshape(-1)
    base = (y0 * nx + x0) * n_t + t

    def at(off: int) -> np.ndarray:
        return flat[base + off]

    top = at(0) * (1 - wx) + at(n_t) * wx
    bottom = at(nx * n_t) * (1 - wx) + at((nx + 1) * n_t) * wx
    return (top * (1 - wy) + bottom * wy).astype(images.dtype, copy=False)
