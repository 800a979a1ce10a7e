"""Numba kernels of the MoCo stage: batched bilinear / nearest sampling of image stacks.

One private module holds every compiled kernel (house style); the rest of the stage is numpy.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["sample_bilinear", "sample_nearest"]


@numba.njit(cache=True, nogil=True)
def _sample_bilinear(stack, cy, cx, out):  # pragma: no cover - compiled
    n, h, w = stack.shape
    _, hh, ww = cy.shape
    for t in range(n):
        for i in range(hh):
            for j in range(ww):
                y = min(max(cy[t, i, j], 0.0), h - 1.0)
                x = min(max(cx[t, i, j], 0.0), w - 1.0)
                y0 = min(int(y), h - 2) if h > 1 else 0
                x0 = min(int(x), w - 2) if w > 1 else 0
                fy = y - y0
                fx = x - x0
                y1 = min(y0 + 1, h - 1)
                x1 = min(x0 + 1, w - 1)
                a = stack[t, y0, x0] * (1.0 - fx) + stack[t, y0, x1] * fx
                b = stack[t, y1, x0] * (1.0 - fx) + stack[t, y1, x1] * fx
                out[t, i, j] = a * (1.0 - fy) + b * fy


@numba.njit(cache=True, nogil=True)
def _sample_nearest(stack, cy, cx, out):  # pragma: no cover - compiled
    n, h, w = stack.shape
    _, hh, ww = cy.shape
    for t in range(n):
        for i in range(hh):
            for j in range(ww):
                y = int(np.floor(min(max(cy[t, i, j], 0.0), h - 1.0) + 0.5))
                x = int(np.floor(min(max(cx[t, i, j], 0.0), w - 1.0) + 0.5))
                out[t, i, j] = stack[t, min(y, h - 1), min(x, w - 1)]


def sample_bilinear(stack: np.ndarray, cy: np.ndarray, cx: np.ndarray) -> np.ndarray:
    """Sample every image of ``stack`` at its own coordinates, bilinear, edges clamped.

    Parameters
    ----------
    stack : ndarray of shape (n, h, w)
    cy, cx : ndarray of shape (n, H, W)
        Row / column coordinates (px) into the matching image of ``stack``.

    Returns
    -------
    ndarray of shape (n, H, W), float32 or float64 as ``stack``.
    """
    dtype = np.float64 if stack.dtype == np.float64 else np.float32
    stack = np.ascontiguousarray(stack, dtype=dtype)
    out = np.empty(cy.shape, dtype=dtype)
    _sample_bilinear(stack, np.ascontiguousarray(cy, dtype=dtype),
                     np.ascontiguousarray(cx, dtype=dtype), out)
    return out


def sample_nearest(stack: np.ndarray, cy: np.ndarray, cx: np.ndarray) -> np.ndarray:
    """As :func:`sample_bilinear` but nearest neighbour (label images keep their values)."""
    stack = np.ascontiguousarray(stack)
    out = np.empty(cy.shape, dtype=stack.dtype)
    _sample_nearest(stack, np.ascontiguousarray(cy, dtype=np.float64),
                    np.ascontiguousarray(cx, dtype=np.float64), out)
    return out
