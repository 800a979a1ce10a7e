"""The AIF curve: a robust mean of the blood-pool pixels, frame by frame."""

from __future__ import annotations

import numpy as np

from qperfusion.errors import SegmentationError

__all__ = ["aif_curve"]


def aif_curve(series: np.ndarray, mask: np.ndarray, *, trim: float = 0.2) -> np.ndarray:
    """Robust (trimmed) mean of ``series`` over ``mask``, per frame.

    Parameters
    ----------
    series : ndarray of shape (ny, nx, T)
        Signal or concentration (any unit; the result has the same unit).
    mask : ndarray of shape (ny, nx), bool
        Blood-pool (AIF) mask.
    trim : float
        Fraction cut from each end of the sorted pixel values of each frame (0.2: the mean
        of the middle 60 %), so a few pixels of wall or of a moving border do not bias it.

    Returns
    -------
    ndarray of shape (T,)

    Raises
    ------
    SegmentationError
        When the mask is empty or its shape does not match the series.
    """
    x = np.asarray(series, dtype=np.float64)
    m = np.asarray(mask, dtype=bool)
    if x.ndim != 3 or m.shape != x.shape[:2]:
        raise SegmentationError(
            f"aif_curve: mask shape {m.shape} does not match series shape {x.shape} "
            "(expected series (ny, nx, T) and mask (ny, nx))"
        )
    if not m.any():
        raise SegmentationError("aif_curve: the AIF mask is empty; give a blood-pool mask")
    v = np.sort(x[m], axis=0)  # (n_px, T)
    n = v.shape[0]
    k = int(np.floor(trim * n))
    if n - 2 * k < 1:
        k = 0
    return np.nanmean(v[k : n - k], axis=0)
