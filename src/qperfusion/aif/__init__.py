"""AIF: automatic LV blood-pool detection and the arterial input function curve.

>>> from qperfusion import aif
>>> det = aif.detect_blood_pool(images, times_s, pd_frames=3)   # doctest: +SKIP
>>> curve = aif.aif_curve(images, det.mask)                     # doctest: +SKIP

Without an AIF series, :func:`detect_in_myocardial_series` takes the LV pool of the best
myocardial slice and flags the saturation. Saturation, peak and drift checks of the AIF
curve itself belong to the physics stage.
"""

from __future__ import annotations

from qperfusion.aif.curve import aif_curve
from qperfusion.aif.detect import MASK_HINT, BloodPoolDetection, detect_blood_pool
from qperfusion.aif.features import TemporalFeatures, temporal_features
from qperfusion.aif.masks import read_aif_mask
from qperfusion.aif.myocardial import detect_in_myocardial_series

__all__ = [
    "MASK_HINT",
    "BloodPoolDetection",
    "TemporalFeatures",
    "aif_curve",
    "detect_blood_pool",
    "detect_in_myocardial_series",
    "read_aif_mask",
    "temporal_features",
]
