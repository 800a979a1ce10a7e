"""The box around the heart that the registration works on."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

__all__ = ["heart_box"]


def heart_box(
    frames: np.ndarray,
    *,
    threshold: float = 0.25,
    margin_px: int = 14,
    min_size_px: int = 48,
    max_area_fraction: float = 0.6,
) -> tuple[int, int, int, int]:
    """Find a box around what enhances most: the ventricles and the myocardium between them.

    The first pass makes the blood pools the pixels with the largest temporal standard
    deviation; the box holds the connected region above ``threshold`` x the largest value
    (smoothed), grown by ``margin_px`` to cover the myocardium and the breathing excursion.
    Small images (the AIF series) or a heart that fills most of the field of view give the
    whole image.

    Parameters
    ----------
    frames : ndarray of shape (ny, nx, T)
        Saturation-recovery frames of one slice (proton-density frames left out: their
        contrast change would dominate the standard deviation everywhere).
    threshold : float
        Fraction of the largest smoothed temporal SD that belongs to the heart.
    margin_px : int
        Grown on every side (px).
    min_size_px : int
        Smallest box side (px); images smaller than twice this are used whole.
    max_area_fraction : float
        A box covering more than this fraction of the image becomes the whole image.

    Returns
    -------
    (y0, y1, x0, x1) : tuple of int
        Half-open box in pixel indices.
    """
    ny, nx = frames.shape[:2]
    whole = (0, ny, 0, nx)
    if min(ny, nx) < 2 * min_size_px or frames.shape[-1] < 3:
        return whole
    sd = ndi.gaussian_filter(np.std(frames, axis=-1), 2.0)
    if not np.isfinite(sd).all() or sd.max() <= 0:
        return whole
    labels, n = ndi.label(sd > threshold * sd.max())
    # the ventricles together carry the most enhancement; a small bright vessel (aorta) can
    # hold the single largest value, so rank the regions by their summed SD, not their peak
    mass = ndi.sum(sd, labels, index=np.arange(1, n + 1))
    region = labels == 1 + int(np.argmax(mass))
    ys, xs = np.nonzero(region)
    y0, y1 = ys.min() - margin_px, ys.max() + 1 + margin_px
    x0, x1 = xs.min() - margin_px, xs.max() + 1 + margin_px
    # grow to the minimum size around the centre, then keep inside the image
    box = [y0, y1, x0, x1]
    for i, n in ((0, ny), (2, nx)):
        lo, hi = box[i], box[i + 1]
        if hi - lo < min_size_px:
            c = (lo + hi) // 2
            lo, hi = c - min_size_px // 2, c - min_size_px // 2 + min_size_px
        lo, hi = max(lo, 0), min(hi, n)
        if hi - lo < min_size_px:  # pushed against an edge
            lo, hi = (0, min_size_px) if lo == 0 else (n - min_size_px, n)
        box[i], box[i + 1] = int(lo), int(hi)
    if (box[1] - box[0]) * (box[3] - box[2]) > max_area_fraction * ny * nx:
        return whole
    return tuple(box)  # type: ignore[return-value]
