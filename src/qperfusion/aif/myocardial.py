"""AIF from the myocardial series when the study has no separate AIF series.

The myocardial images use a longer saturation delay and a higher dose-to-signal gain than the
dual-sequence AIF image, so the LV blood signal saturates at the bolus peak and the AIF peak
is underestimated (flow overestimated). The curve is still the best available; the flag says
so. Kellman et al., JCMR 2017;19:43, doi:10.1186/s12968-017-0355-5.
"""

from __future__ import annotations

import numpy as np

from qperfusion.aif.detect import MASK_HINT, BloodPoolDetection, detect_blood_pool
from qperfusion.errors import SegmentationError
from qperfusion.qc import QCFlag

__all__ = ["detect_in_myocardial_series"]


def detect_in_myocardial_series(
    images: np.ndarray, times_s: np.ndarray, *, pd_frames: int = 0
) -> tuple[int, BloodPoolDetection]:
    """Find the LV blood pool for the AIF in the best slice of a myocardial series.

    Every slice is tried; the one whose AIF mask has the most pixels, weighted by the
    detection confidence, wins (usually the basal slice: largest cavity). The detection
    carries an ``AIF_FROM_MYOCARDIAL_SERIES`` warning about saturation.

    Parameters
    ----------
    images : ndarray of shape (n_slices, ny, nx, T)
        Signal of the myocardial series.
    times_s : ndarray of shape (n_slices, T) or (T,)
        Frame times (s).
    pd_frames : int
        Leading proton-density frames.

    Returns
    -------
    slice_index : int
    detection : BloodPoolDetection

    Raises
    ------
    SegmentationError
        When no slice shows an LV blood pool.
    """
    img = np.asarray(images)
    if img.ndim != 4:
        raise SegmentationError(
            f"expected the myocardial series as (n_slices, ny, nx, T), got shape {img.shape}"
        )
    t = np.asarray(times_s, dtype=np.float64)
    t = np.broadcast_to(t, (img.shape[0], img.shape[-1])) if t.ndim == 1 else t
    best: tuple[float, int, BloodPoolDetection] | None = None
    errors = []
    for k in range(img.shape[0]):
        try:
            det = detect_blood_pool(img[k], t[k], pd_frames=pd_frames)
        except SegmentationError as exc:
            errors.append(f"slice {k}: {exc}")
            continue
        score = float(det.mask.sum()) * det.confidence
        if best is None or score > best[0]:
            best = (score, k, det)
    if best is None:
        raise SegmentationError(
            "no LV blood pool found in any myocardial slice for the AIF ("
            + "; ".join(errors)[:300] + f"); {MASK_HINT}"
        )
    _, k, det = best
    det.flags.append(QCFlag(
        "AIF_FROM_MYOCARDIAL_SERIES", "warning",
        f"no AIF series: the AIF comes from the LV blood pool of myocardial slice {k}, whose "
        "signal saturates at the bolus peak (AIF peak underestimated, flow overestimated)",
        "aif"))
    return k, det
