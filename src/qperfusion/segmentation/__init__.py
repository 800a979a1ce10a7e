"""Segmentation: LV/RV blood pools, myocardium, RV insertion points, AHA segments, layers.

>>> from qperfusion import segmentation
>>> seg = segmentation.segment_series(images, times_s, affines, pd_frames=3)  # doctest: +SKIP
>>> seg.labels   # (n_slices, ny, nx) uint8: 1-16 AHA, 17 LV pool, 18 RV pool   # doctest: +SKIP

No operator contours and no trained network: per slice, the blood pools come from temporal
features (RV fills first, then LV; upslope separates blood from the slowly filling wall), the
endocardium and epicardium from closed-contour dynamic programming in polar coordinates
around the LV (see :mod:`.myocardium`), the anterior RV insertion from the end of the arc
where the RV touches the LV that lies nearer the patient's front (the affine says which),
the AHA sectors and endo/epi halves from :mod:`.aha`, the slice levels from the geometry.
A user's own masks override the automatic result: :func:`labels_from_masks`.

Measured (``benchmarks/segmentation.py``): phantom, static, 3 seeds × stress/rest × 3 slices:
myocardium Dice 0.91–0.94, LV 0.91–0.93, RV ≥ 0.99, AHA agreement ≥ 0.97, anterior insertion
within 1°; with respiratory motion after :mod:`qperfusion.moco`: myocardium Dice 0.87–0.91,
insertion within 3° (without motion correction: 0.69–0.86, flagged by a lower confidence).
Real GE 1.5 T series against manual masks: myocardium Dice 0.82, LV 0.91, RV 0.91, AHA
agreement 0.93, insertion 4° from the one the same geometry gives on the manual masks.
About 0.3–0.7 s per 144×192×64 slice, 1–2 s per 256×256×79 slice (2 shared cores).
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
