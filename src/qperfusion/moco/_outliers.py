"""Frames that stay misregistered: found, explained, and bridged for display."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi
from scipy import stats

from qperfusion.moco._fields import jacobian_determinant

__all__ = ["find_outliers", "interpolate_frames"]


def _robust_z(x: np.ndarray) -> np.ndarray:
    med = np.median(x)
    mad = 1.4826 * np.median(np.abs(x - med))
    return (x - med) / max(mad, 1e-6 * max(abs(med), 1e-30))


def find_outliers(
    registered: np.ndarray,
    model: np.ndarray,
    field: np.ndarray,
    *,
    pd_frames: int,
    z_max: float = 5.0,
    ratio_max: float = 3.5,
    fold_fraction_max: float = 0.002,
    smooth_px: float = 2.0,
    border_px: int = 8,
) -> tuple[np.ndarray, dict[int, str], np.ndarray]:
    """Flag frames still misregistered after MoCo.

    Two tests, each with its reason:

    * residual to the model: the RMS of ``registered - model`` over the crop (Gaussian
      smoothed by ``smooth_px`` so that noise does not count; ``border_px`` at the box edge
      left out, divided by what a registered frame of that contrast leaves: a robust line
      through residual vs the SD of the model frame) is compared
      with the other frames of the same kind (saturation-recovery vs proton-density);
      flagged when it is both a robust outlier (z > ``z_max``, median/MAD) and
      ``ratio_max`` times the median (a noise-only spread never flags);
    * Jacobian folding: more than ``fold_fraction_max`` of the crop with
      det(I + grad u) <= 0, i.e. the field tore the image to force a match.

    Parameters
    ----------
    registered, model : ndarray of shape (T, h, w)
    field : ndarray of shape (T, h, w, 2)
    pd_frames : int

    Returns
    -------
    outliers : ndarray of shape (T,), bool
    reasons : dict of int to str
    ratio : ndarray of shape (T,)
        Each frame's residual divided by the median residual of its kind.
    """
    T = registered.shape[0]
    # smoothed first: noise averages out, a misregistered edge or a changed anatomy does not
    diff = ndi.gaussian_filter(registered - model, (0, smooth_px, smooth_px), mode="nearest")
    # the box edge samples clamped pixels after a large shift: judge the inside only
    b = min(border_px, diff.shape[1] // 6, diff.shape[2] // 6)
    inner = diff[:, b:diff.shape[1] - b, b:diff.shape[2] - b]
    raw = np.sqrt(np.mean(inner**2, axis=(1, 2)))
    # what a well-registered frame leaves: a noise floor plus model error growing with the
    # frame's contrast (the model is least exact at bolus arrival, which is not motion);
    # a robust (Theil–Sen) line through (contrast, residual) over the frames
    contrast = np.std(model[:, b:model.shape[1] - b, b:model.shape[2] - b], axis=(1, 2))
    sr = np.arange(pd_frames, T)
    if np.ptp(contrast[sr]) > 0:
        slope, icpt, _, _ = stats.theilslopes(raw[sr], contrast[sr])
    else:
        slope, icpt = 0.0, float(np.median(raw[sr]))
    floor = max(0.25 * float(np.median(raw[sr])), 1e-30)
    expected = np.maximum(icpt + max(slope, 0.0) * contrast, floor)
    res = raw / expected
    ratio = np.ones(T)
    outliers = np.zeros(T, dtype=bool)
    reasons: dict[int, str] = {}
    groups = [np.arange(pd_frames, T)]
    if pd_frames >= 3:  # too few PD frames for any statistic otherwise
        groups.append(np.arange(pd_frames))
    for idx in groups:
        r = res[idx]
        med = np.median(r)
        ratio[idx] = r / max(med, 1e-30)
        z = _robust_z(r)
        for k, i in enumerate(idx):
            if z[k] > z_max and ratio[i] > ratio_max:
                outliers[i] = True
                reasons[int(i)] = (f"residual to the motion-free model {ratio[i]:.1f}x the "
                                   f"median frame (robust z {z[k]:.1f})")
    folds = np.mean(jacobian_determinant(field) <= 0, axis=(1, 2))
    for i in np.nonzero(folds > fold_fraction_max)[0]:
        outliers[i] = True
        msg = f"deformation folds ({100 * folds[i]:.1f}% of the heart box has Jacobian <= 0)"
        reasons[int(i)] = f"{reasons[int(i)]}; {msg}" if int(i) in reasons else msg
    return outliers, reasons, ratio


def interpolate_frames(frames: np.ndarray, outliers: np.ndarray, pd_frames: int) -> np.ndarray:
    """Replace outlier frames by linear interpolation between good frames of the same kind.

    Parameters
    ----------
    frames : ndarray of shape (..., T)
    outliers : ndarray of shape (T,), bool
    pd_frames : int
        Proton-density frames are bridged only from proton-density frames and vice versa.

    Returns
    -------
    ndarray, a copy of ``frames`` with the outlier frames replaced (unchanged where a kind
    has no good frame).
    """
    out = np.array(frames, copy=True)
    T = frames.shape[-1]
    for lo, hi in ((0, pd_frames), (pd_frames, T)):
        idx = np.arange(lo, hi)
        bad = outliers[lo:hi]
        good = idx[~bad]
        if good.size == 0 or not bad.any():
            continue
        for i in idx[bad]:
            after = good[good > i]
            before = good[good < i]
            if before.size and after.size:
                a, b = before[-1], after[0]
                w = (i - a) / (b - a)
                out[..., i] = (1 - w) * frames[..., a] + w * frames[..., b]
            else:
                out[..., i] = frames[..., (before[-1] if before.size else after[0])]
    return out
