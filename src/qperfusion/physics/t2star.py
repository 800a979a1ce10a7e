"""Dual-echo T2* correction of the arterial input function.

At the bolus peak the LV blood pool holds several mmol/L of gadolinium, whose R2* shortens the
echo-1 signal of the AIF FLASH by ``exp(−TE₁·ΔR2*)``; converted as is, the AIF peak is
under-estimated and MBF over-estimated (by about 10 % per Kellman 2017). With two echoes,

``R2*(t) = ln(S₁(t)/S₂(t)) / (TE₂ − TE₁)``, and ``S₁,corr(t) = S₁(t)·exp(TE₁·(R2*(t) − R2*₀))``,

where ``R2*₀`` is the pre-contrast value (from the PD frames, which carry the same native T2*
weighting as the reference of the ratio). The per-frame R2* is noisy where the signal is low,
so it is smoothed over time with weights proportional to the squared echo-2 signal (the inverse
variance of the log-ratio).

References
----------
Kellman P, Hansen MS, Nielles-Vallespin S, et al. Myocardial perfusion cardiovascular magnetic
resonance: optimized dual sequence and reconstruction for quantification. JCMR 2017;19:43.
doi:10.1186/s12968-017-0355-5
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy import ndimage

__all__ = ["denoise_r2star", "r2star_from_echoes", "t2star_correct"]


def r2star_from_echoes(s1: ArrayLike, s2: ArrayLike, *, te1_s: float, te2_s: float) -> np.ndarray:
    """R2* (1/s) from two gradient echoes of the same excitation.

    Parameters
    ----------
    s1, s2 : array_like
        Magnitude signals at ``te1_s`` and ``te2_s`` (same units, broadcastable).
    te1_s, te2_s : float
        Echo times (s), ``te2_s > te1_s``.

    Returns
    -------
    ndarray
        ``ln(s1/s2)/(te2 − te1)``; NaN where either signal is not positive.
    """
    if not te2_s > te1_s:
        raise ValueError(f"need te2_s > te1_s for R2*, got TE {te1_s} s and {te2_s} s")
    a, b = np.asarray(s1, dtype=float), np.asarray(s2, dtype=float)
    ok = (a > 0) & (b > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log(np.where(ok, a, 1.0) / np.where(ok, b, 1.0)) / (te2_s - te1_s)
    return np.where(ok, out, np.nan)


def denoise_r2star(
    r2star: ArrayLike, *, weights: ArrayLike | None = None, sigma_frames: float = 1.0
) -> np.ndarray:
    """Weighted Gaussian smoothing of an R2* curve over time (last axis).

    Parameters
    ----------
    r2star : array_like of shape (..., T)
        R2* (1/s) per frame; NaN frames get weight 0 and are filled from their neighbours.
    weights : array_like of shape (..., T), optional
        Per-frame weights (e.g. the squared echo-2 signal); default uniform.
    sigma_frames : float, optional
        Gaussian width in frames; 0 returns the input (NaN kept).

    Returns
    -------
    ndarray of shape (..., T)
        Smoothed R2* (1/s).
    """
    x = np.asarray(r2star, dtype=float)
    if sigma_frames <= 0:
        return x.copy()
    w = np.ones_like(x) if weights is None else np.broadcast_to(np.asarray(weights, float), x.shape)
    w = np.where(np.isfinite(x) & np.isfinite(w), np.maximum(w, 0.0), 0.0)
    num = ndimage.gaussian_filter1d(
        np.where(w > 0, x, 0.0) * w, sigma_frames, axis=-1, mode="nearest"
    )
    den = ndimage.gaussian_filter1d(w, sigma_frames, axis=-1, mode="nearest")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / den, np.nan)


def t2star_correct(s1: ArrayLike, delta_r2star: ArrayLike, *, te1_s: float) -> np.ndarray:
    """Echo-1 signal with the Gd-induced T2* loss undone: ``s1·exp(TE₁·ΔR2*)``.

    Parameters
    ----------
    s1 : array_like
        Echo-1 magnitude signal.
    delta_r2star : array_like
        R2* minus its pre-contrast value (1/s), broadcast with ``s1``.
    te1_s : float
        First echo time (s).
    """
    return np.asarray(s1, dtype=float) * np.exp(float(te1_s) * np.asarray(delta_r2star, float))
