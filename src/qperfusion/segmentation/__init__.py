"""Segmentation: LV/RV blood pools, myocardium, RV insertion points, AHA segments, layers.

>>> from qperfusion import segmentation
>>> seg = segmentation.segment_series(images, times_s, affines, pd_frames=3)  # doctest: +SKIP
>>> seg.labels   # (n_slices, ny, nx) uint8: 1-16 AHA, 17 LV pool, 18 RV pool   # doctest: +SKIP

A user's own masks override the automatic result: :func:`labels_from_masks`.
"""

from __future__ import annotations

from qperfusion.segmentation.aha import LEVELS, aha_sector, slice_levels
from qperfusion.segmentation.labels import (
    LV_LABEL,
    RV_LABEL,
    Segmentation,
    labels_from_pools,
)
from qperfusion.segmentation.masks import labels_from_masks
from qperfusion.segmentation.myocardium import SliceSegmentation, segment_slice
from qperfusion.segmentation.series import segment_series

__all__ = [
    "LEVELS",
    "LV_LABEL",
    "RV_LABEL",
    "Segmentation",
    "SliceSegmentation",
    "aha_sector",
    "labels_from_masks",
    "labels_from_pools",
    "segment_series",
    "segment_slice",
    "slice_levels",
]
