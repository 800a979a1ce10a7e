"""Exact convolution of a piecewise-linear input with a decaying exponential (NumPy, any shape).

For an input ``a(t)`` that is linear between its samples, the state ``y(t) = ∫ e^{-k(t-s)} a(s) ds``
obeys, over one interval of length ``Δ`` with ``x = kΔ``::

    y_i = e^{-x} y_{i-1} + Δ [φ1(x) − φ2(x)] a_{i-1} + Δ φ2(x) a_i
    φ1(x) = (1 − e^{-x}) / x,   φ2(x) = (x − 1 + e^{-x}) / x²

which is exact for any ``k ≥ 0`` and any (uneven) spacing, so stiff exponentials cost nothing
in accuracy. Small ``x`` uses Taylor series to avoid cancellation.
"""

from __future__ import annotations

import numpy as np

__all__ = ["exp_conv", "phi1", "phi2"]

_SERIES_X = 1e-3


def phi1(x: np.ndarray) -> np.ndarray:
    """``(1 - exp(-x)) / x`` with its limit 1 at ``x = 0`` (``x ≥ 0``)."""
    x = np.asarray(x, dtype=float)
    small = x < _SERIES_X
    xs = np.where(small, 1.0, x)
    exact = -np.expm1(-xs) / xs
    series = 1.0 - x / 2.0 + x * x / 6.0 - x * x * x / 24.0
    return np.where(small, series, exact)


def phi2(x: np.ndarray) -> np.ndarray:
    """``(x - 1 + exp(-x)) / x²`` with its limit 1/2 at ``x = 0`` (``x ≥ 0``)."""
    x = np.asarray(x, dtype=float)
    small = x < _SERIES_X
    xs = np.where(small, 1.0, x)
    exact = (xs + np.expm1(-xs)) / (xs * xs)
    series = 0.5 - x / 6.0 + x * x / 24.0 - x * x * x / 120.0
    return np.where(small, series, exact)


def exp_conv(
    t: np.ndarray, a: np.ndarray, k: np.ndarray, delay: np.ndarray | float = 0.0
) -> np.ndarray:
    """``∫_{t0}^{t} exp(-k (t - s)) a(s - delay) ds`` for piecewise-linear ``a``.

    Parameters
    ----------
    t : ndarray of shape (T,)
        Strictly increasing sample times (s), possibly uneven.
    a : ndarray of shape (T,)
        Input sampled at ``t``; linear between samples, 0 before ``t[0]``, held at ``a[-1]``
        after ``t[-1]``.
    k : ndarray, any shape S
        Rate constants (1/s), ``k ≥ 0``.
    delay : float or ndarray broadcastable with S
        Input delay (s); the input reaching the tissue at ``t`` is ``a(t - delay)``.

    Returns
    -------
    ndarray of shape S + (T,)
        The convolution at the times ``t`` (units of ``a`` × s).
    """
    t = np.asarray(t, dtype=float)
    a = np.asarray(a, dtype=float)
    k, delay = np.broadcast_arrays(np.asarray(k, dtype=float), np.asarray(delay, dtype=float))
    shape = k.shape
    n = t.size
    dt = np.diff(t)
    # state on the input's own grid
    y = np.zeros((*shape, n))
    for i in range(1, n):
        x = k * dt[i - 1]
        w1 = dt[i - 1] * phi2(x)
        w0 = dt[i - 1] * phi1(x) - w1
        y[..., i] = np.exp(-x) * y[..., i - 1] + w0 * a[i - 1] + w1 * a[i]
    if not np.any(delay):
        return y
    # y(tau) for tau = t - delay: step exactly from the last grid point at or before tau
    tau = t - delay[..., None]
    idx = np.clip(np.searchsorted(t, tau, side="right") - 1, 0, n - 1)
    y_k = np.take_along_axis(y, idx, axis=-1)
    t_k = t[idx]
    h = np.maximum(tau - t_k, 0.0)
    seg = np.minimum(idx, n - 2)
    slope = np.where(idx < n - 1, (a[seg + 1] - a[seg]) / dt[seg], 0.0)
    kk = k[..., None]
    x = kk * h
    out = np.exp(-x) * y_k + a[idx] * h * phi1(x) + slope * h * h * phi2(x)
    return np.where(tau < t[0], 0.0, out)
