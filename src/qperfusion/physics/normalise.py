"""Proton-density normalisation and magnitude-noise handling.

The PD frames (no saturation, low flip angle) carry the same M0 × receive-coil sensitivity as
the saturation-recovery frames, so SR/PD cancels both. The PD image is averaged over the PD
frames and filtered in-plane to keep PD noise out of every Gd value: by default a 3 × 3
median, which follows the smooth coil sensitivity but, unlike a Gaussian, does not mix the
~10 % different proton densities of blood and myocardium across their boundary.

Magnitude images are biased upwards by noise (Rician: ``E[M²] = A² + 2σ²``), which matters in
the dark pre-contrast SR frames. The noise σ is measured from the difference of two PD frames
(Gaussian at their high SNR), and ``√max(M² − 2σ², 0)`` removes the bias of the signal power.

References
----------
Gudbjartsson H, Patz S. The Rician distribution of noisy MRI data. MRM 1995;34:910-914.
doi:10.1002/mrm.1910340618
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy import ndimage

__all__ = ["PD_FILTERS", "noise_sigma_from_pd", "rician_debias", "smoothed_pd"]


#: In-plane filters of the PD image. A median keeps tissue boundaries (PD differs between
#: blood and myocardium by ~10 %) while removing noise; a normalised Gaussian is smoother but
#: mixes tissues across a boundary.
PD_FILTERS: tuple[str, ...] = ("median", "gaussian", "none")


def smoothed_pd(
    pd_images: ArrayLike,
    *,
    size_px: float = 1.0,
    method: str = "median",
    rel_threshold: float = 0.1,
) -> np.ndarray:
    """Time-averaged, in-plane filtered PD image (surface-coil and M0 reference).

    Parameters
    ----------
    pd_images : array_like of shape (n_slices, ny, nx, n_pd)
        The PD frames (scanner units).
    size_px : float, optional
        Filter size: the median window's half-width (``1`` → 3 × 3) or the Gaussian σ
        (pixels); 0 means no filtering.
    method : {"median", "gaussian", "none"}, optional
        The in-plane filter (see :data:`PD_FILTERS`).
    rel_threshold : float, optional
        Gaussian only: pixels darker than this fraction of the slice's 99th percentile (air)
        are left out of the smoothing and keep their own average.

    Returns
    -------
    ndarray of shape (n_slices, ny, nx)
        Filtered PD signal (scanner units).
    """
    if method not in PD_FILTERS:
        raise ValueError(f"PD filter {method!r} is not one of {PD_FILTERS}")
    pd = np.asarray(pd_images, dtype=float)
    if pd.ndim != 4 or pd.shape[-1] < 1:
        raise ValueError(
            f"pd_images must be (n_slices, ny, nx, n_pd) with n_pd >= 1, got {pd.shape}"
        )
    mean = pd.mean(axis=-1)
    if size_px <= 0 or method == "none":
        return mean
    if method == "median":
        width = 2 * round(size_px) + 1
        return ndimage.median_filter(mean, size=(1, width, width), mode="nearest")
    out = mean.copy()
    for k in range(mean.shape[0]):  # a handful of slices, each a whole-image filter
        img = mean[k]
        w = (img > rel_threshold * np.nanpercentile(img, 99)).astype(float)
        num = ndimage.gaussian_filter(img * w, size_px, mode="nearest")
        den = ndimage.gaussian_filter(w, size_px, mode="nearest")
        smooth = np.divide(num, den, out=np.zeros_like(num), where=den > 1e-6)
        out[k] = np.where(w > 0, smooth, img)
    return out


def noise_sigma_from_pd(pd_images: ArrayLike) -> float:
    """Per-channel noise σ (scanner units) from the difference of the first two PD frames.

    The difference of two bright magnitude frames is Gaussian with SD ``σ·√2``; the MAD over
    the brightest half of the pixels makes it robust to a little motion.

    Parameters
    ----------
    pd_images : array_like of shape (n_slices, ny, nx, n_pd)

    Returns
    -------
    float
        σ (scanner units); NaN when there are fewer than two PD frames.
    """
    pd = np.asarray(pd_images, dtype=float)
    if pd.ndim != 4 or pd.shape[-1] < 2:
        return float("nan")
    mean = 0.5 * (pd[..., 0] + pd[..., 1])
    bright = mean > np.nanmedian(mean)
    d = (pd[..., 0] - pd[..., 1])[bright]
    d = d[np.isfinite(d)]
    if d.size < 8:
        return float("nan")
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / np.sqrt(2.0))


def rician_debias(magnitude: ArrayLike, sigma: float) -> np.ndarray:
    """Remove the noise bias of a magnitude signal: ``√max(M² − 2σ², 0)``.

    Parameters
    ----------
    magnitude : array_like
        Magnitude signal (scanner units), any shape.
    sigma : float
        Per-channel noise SD (scanner units); 0 or NaN returns the input unchanged.
    """
    m = np.asarray(magnitude, dtype=float)
    if not (sigma > 0):
        return m.copy()
    return np.sqrt(np.maximum(m * m - 2.0 * sigma * sigma, 0.0))
