"""AIF: automatic LV blood-pool detection and the arterial input function curve.

>>> from qperfusion import aif
>>> det = aif.detect_blood_pool(images, times_s, pd_frames=3)   # doctest: +SKIP
>>> curve = aif.aif_curve(images, det.mask)                     # doctest: +SKIP

Saturation, peak and drift checks of the AIF belong to the physics stage.
"""

from __future__ import annotations

from qperfusion.aif.curve import aif_curve
from qperfusion.aif.detect import MASK_HINT, BloodPoolDetection, detect_blood_pool
from qperfusion.aif.features import TemporalFeatures, temporal_features

__all__ = [
    "MASK_HINT",
    "BloodPoolDetection",
    "TemporalFeatures",
    "aif_curve",
    "detect_blood_pool",
    "temporal_features",
]
