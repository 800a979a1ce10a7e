"""Per-pixel temporal features of a first-pass series: baseline, enhancement, arrival, peak.

The blood pools are found from *when* and *how much* pixels enhance, not from image edges:
the RV enhances first, then the LV (and aorta), then the myocardium, slowly and weakly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

__all__ = ["TemporalFeatures", "temporal_features"]


@dataclass(frozen=True)
class TemporalFeatures:
    """Temporal features of every pixel of one image series.

    Attributes
    ----------
    enhancement : ndarray of shape (ny, nx, T)
        Signal minus the pre-contrast baseline, lightly smoothed in time (scanner units);
        PD frames are set to 0.
    baseline : ndarray of shape (ny, nx)
        Median pre-contrast signal (scanner units).
    peak : ndarray of shape (ny, nx)
        Maximum enhancement (scanner units).
    t_peak_s : ndarray of shape (ny, nx)
        Time of the maximum enhancement (s).
    t_arrival_s : ndarray of shape (ny, nx)
        Time the enhancement first reaches 30 % of its peak (s, linear interpolation).
    upslope : ndarray of shape (ny, nx)
        Largest enhancement increase per second (scanner units / s).
    pre_sd : ndarray of shape (ny, nx)
        Temporal SD of the pre-contrast frames (scanner units): noise in still tissue,
        much more at edges that breathing moves, whose "enhancement" is motion.
    noise : float
        Robust noise level of the enhancement (scanner units).
    foot_frame : int
        First frame of the global contrast arrival (index into the full series).
    """

    enhancement: np.ndarray
    baseline: np.ndarray
    peak: np.ndarray
    t_peak_s: np.ndarray
    t_arrival_s: np.ndarray
    upslope: np.ndarray
    pre_sd: np.ndarray
    noise: float
    foot_frame: int


#: 3-frame temporal median before smoothing (robust to single-frame motion jumps)
MEDIAN3 = True


def _median3(x: np.ndarray) -> np.ndarray:
    """Running median of 3 along the last axis (ends kept), without sorting."""
    a, b, c = x[..., :-2], x[..., 1:-1], x[..., 2:]
    out = x.copy()
    out[..., 1:-1] = np.maximum(np.minimum(a, b), np.minimum(np.maximum(a, b), c))
    return out


def temporal_features(
    images: np.ndarray, times_s: np.ndarray, *, pd_frames: int = 0
) -> TemporalFeatures:
    """Compute the temporal features of a series.

    Parameters
    ----------
    images : ndarray of shape (ny, nx, T)
        Signal (scanner units), time on the last axis.
    times_s : ndarray of shape (T,)
        Frame times (s), may be uneven.
    pd_frames : int
        Leading proton-density frames, ignored.

    Returns
    -------
    TemporalFeatures
    """
    s = np.asarray(images, dtype=np.float64)
    t = np.asarray(times_s, dtype=np.float64)
    dyn = s[..., pd_frames:]
    td = t[pd_frames:]
    n = dyn.shape[-1]
    # global arrival: the brightest-enhancing pixels' curve leaves its early level
    lo = np.median(dyn[..., : max(2, min(4, n // 10))], axis=-1)
    rise = dyn.max(axis=-1) - lo
    strong = rise >= np.percentile(rise, 99.0)
    g = dyn[strong].mean(axis=0)
    g0 = np.median(g[: max(2, min(4, n // 10))])
    above = np.flatnonzero(g - g0 > 0.15 * (g.max() - g0))
    foot = int(above[0]) if above.size else 1
    nb = int(np.clip(foot - 1, 1, max(1, n // 3)))
    baseline = np.median(dyn[..., :nb], axis=-1)
    pre_sd = np.std(dyn[..., : max(nb, 2)], axis=-1)
    e = dyn - baseline[..., None]
    # a 3-frame median drops single-frame jumps (abrupt motion, mistriggers) before smoothing
    e = _median3(e) if MEDIAN3 else e
    e = ndimage.uniform_filter1d(e, size=3, axis=-1, mode="nearest")
    # noise from frame-to-frame differences of raw signal (robust MAD of second differences)
    d2 = np.diff(dyn, n=2, axis=-1)
    noise = float(1.4826 * np.median(np.abs(d2 - np.median(d2))) / np.sqrt(6.0)) + 1e-12
    ipk = np.argmax(e, axis=-1)
    peak = np.take_along_axis(e, ipk[..., None], axis=-1)[..., 0]
    t_peak = td[ipk]
    # arrival: first frame at or above 30 % of the peak, interpolated
    frac = e / np.maximum(peak, 1e-12)[..., None]
    over = frac >= 0.3
    k = np.argmax(over, axis=-1)
    km1 = np.maximum(k - 1, 0)
    f1 = np.take_along_axis(frac, k[..., None], -1)[..., 0]
    f0 = np.take_along_axis(frac, km1[..., None], -1)[..., 0]
    w = np.where(k > 0, np.clip((0.3 - f0) / np.maximum(f1 - f0, 1e-12), 0, 1), 0.0)
    t_arr = td[km1] + w * (td[k] - td[km1])
    dt = np.diff(td)
    dt = np.where(dt > 0, dt, np.nan)
    slope = np.nanmax(np.diff(e, axis=-1) / dt, axis=-1)
    full = np.zeros(s.shape, dtype=np.float64)
    full[..., pd_frames:] = e
    return TemporalFeatures(
        enhancement=full,
        baseline=baseline,
        peak=peak,
        t_peak_s=t_peak,
        t_arrival_s=t_arr,
        upslope=slope,
        pre_sd=pre_sd,
        noise=noise,
        foot_frame=foot + pd_frames,
    )
