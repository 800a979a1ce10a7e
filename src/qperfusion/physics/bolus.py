"""Landmarks of a first-pass bolus curve and baseline-drift detrending.

Arrival (foot), peak and valley (the dip between the first pass and the recirculation) of a
concentration or signal curve, found on a lightly smoothed copy so single noisy frames do not
move them; and a polynomial fit of the pre-bolus baseline that measures and removes drift.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import ndimage

__all__ = ["BolusLandmarks", "bolus_landmarks", "detrend_baseline"]


@dataclass(frozen=True)
class BolusLandmarks:
    """Frame indices of a first-pass curve.

    Attributes
    ----------
    arrival_index : int
        The foot: the last pre-bolus frame (frames ``[0, arrival_index)`` are the baseline).
    peak_index : int
        Frame of the first-pass maximum.
    valley_index : int or None
        Frame of the minimum between the first pass and the recirculation; None when the
        curve shows no recirculation (it falls to the end).
    baseline_level : float
        Median of the baseline frames (curve units).
    """

    arrival_index: int
    peak_index: int
    valley_index: int | None
    baseline_level: float


def bolus_landmarks(
    curve: ArrayLike, *, foot_fraction: float = 0.1, smooth_frames: float = 1.0
) -> BolusLandmarks:
    """Arrival, peak and valley of one bolus curve.

    Parameters
    ----------
    curve : array_like of shape (T,)
        Signal or concentration against frame (any unit).
    foot_fraction : float, optional
        The foot is the last frame before the peak below
        ``baseline + foot_fraction·(peak − baseline)``.
    smooth_frames : float, optional
        Gaussian width (frames) of the smoothing applied before searching.

    Returns
    -------
    BolusLandmarks
    """
    y = np.asarray(curve, dtype=float)
    if y.ndim != 1 or y.size < 3:
        raise ValueError(f"bolus curve must be 1-D with at least 3 frames, got shape {y.shape}")
    y = np.where(np.isfinite(y), y, np.nanmedian(y))
    ys = ndimage.gaussian_filter1d(y, smooth_frames, mode="nearest") if smooth_frames > 0 else y
    peak = int(np.argmax(ys))
    # Baseline guess from the first half of the pre-peak frames, then refined once.
    base = float(np.median(ys[: max(1, peak // 2)]))
    foot = 0
    for _ in range(2):
        below = np.nonzero(ys[: peak + 1] <= base + foot_fraction * (ys[peak] - base))[0]
        foot = int(below[-1]) if below.size else 0
        if foot >= 1:
            base = float(np.median(y[:foot]))
    valley = _valley(ys, peak)
    return BolusLandmarks(
        arrival_index=foot, peak_index=peak, valley_index=valley, baseline_level=base
    )


def _valley(ys: np.ndarray, peak: int) -> int | None:
    """First local minimum after the peak that is followed by a rise (recirculation)."""
    for i in range(peak + 1, ys.size - 1):
        if ys[i] <= ys[i - 1] and ys[i] < ys[i + 1]:
            rise = ys[i + 1 :].max() - ys[i]
            if rise > 0.02 * (ys[peak] - ys[: peak + 1].min()):
                return i
    return None


def detrend_baseline(
    curve: ArrayLike,
    times_s: ArrayLike,
    *,
    n_baseline: int,
    order: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Fit a polynomial to the pre-bolus frames and subtract it from the whole curve.

    Order 0 removes the baseline offset; order 1 also removes a linear drift (extrapolated
    over the bolus, so use it only when the baseline is long and the drift is real).

    Parameters
    ----------
    curve : array_like of shape (..., T)
        Concentration (mmol/L) or signal; time on the last axis.
    times_s : array_like of shape (T,)
        Frame times (s).
    n_baseline : int
        Number of leading baseline frames; fewer than ``order + 1`` leaves the curve as is.
    order : int, optional
        Polynomial order (0 or 1 recommended).

    Returns
    -------
    detrended : ndarray of shape (..., T)
        ``curve`` minus the fitted polynomial.
    coefficients : ndarray of shape (..., order + 1)
        Polynomial coefficients, highest power first (time in s, relative to the first frame);
        zeros when the baseline is too short.
    """
    y = np.asarray(curve, dtype=float)
    t = np.asarray(times_s, dtype=float) - float(np.asarray(times_s, dtype=float)[0])
    coef = np.zeros((*y.shape[:-1], order + 1))
    if n_baseline < order + 1:
        return y.copy(), coef
    tb = t[:n_baseline]
    vander = np.vander(tb, order + 1)
    yb = y[..., :n_baseline].reshape(-1, n_baseline)
    finite = np.isfinite(yb).all(axis=1)
    sol = np.zeros((yb.shape[0], order + 1))
    if finite.any():
        sol[finite] = np.linalg.lstsq(vander, yb[finite].T, rcond=None)[0].T
    coef = sol.reshape(*y.shape[:-1], order + 1)
    trend = np.einsum("...k,tk->...t", coef, np.vander(t, order + 1))
    return y - trend, coef
