"""Automatic segmentation of a myocardial series: every slice, then AHA labels."""

from __future__ import annotations

import numpy as np

from qperfusion.errors import SegmentationError
from qperfusion.qc import QCFlag
from qperfusion.segmentation.labels import Segmentation, labels_from_pools
from qperfusion.segmentation.myocardium import segment_slice

__all__ = ["segment_series"]

#: below this confidence a slice's segmentation is flagged for review
LOW_CONFIDENCE = 0.4


def segment_series(
    images: np.ndarray,
    times_s: np.ndarray,
    affines: np.ndarray,
    *,
    pd_frames: int = 0,
    outliers: np.ndarray | None = None,
) -> Segmentation:
    """Segment every slice of a myocardial series and label the AHA segments.

    Parameters
    ----------
    images : ndarray of shape (n_slices, ny, nx, T)
        Signal (scanner units), time on the last axis; motion-corrected if possible.
    times_s : ndarray of shape (n_slices, T) or (T,)
        Frame times (s) per slice.
    affines : ndarray of shape (n_slices, 4, 4)
        (column, row, slice, 1) → LPS mm.
    pd_frames : int
        Leading proton-density frames.
    outliers : ndarray of shape (n_slices, T), bool, optional
        Frames to leave out per slice (:attr:`qperfusion.moco.MocoResult.outliers`).

    Returns
    -------
    Segmentation
        ``labels`` 1–16 AHA / 17 LV / 18 RV, ``layers`` 1 endo / 2 epi, ``levels``,
        ``insertion_deg``, ``confidence``, ``flags``.

    Raises
    ------
    SegmentationError
        When a slice cannot be segmented; the message says how to give masks instead.
    """
    img = np.asarray(images)
    if img.ndim != 4:
        raise SegmentationError(
            f"segment_series expects images (n_slices, ny, nx, T), got shape {img.shape}"
        )
    n_sl = img.shape[0]
    t = np.asarray(times_s, dtype=np.float64)
    if t.ndim == 1:
        t = np.broadcast_to(t, (n_sl, t.shape[0]))
    if t.shape != (n_sl, img.shape[-1]):
        raise SegmentationError(
            f"times_s has shape {t.shape}; expected ({n_sl}, {img.shape[-1]}) or "
            f"({img.shape[-1]},)"
        )
    aff = np.asarray(affines, dtype=np.float64)
    if aff.shape != (n_sl, 4, 4):
        raise SegmentationError(f"affines have shape {aff.shape}; expected ({n_sl}, 4, 4)")
    spacing = float(np.linalg.norm(aff[0, :3, 0]))
    if outliers is not None and np.shape(outliers) != (n_sl, img.shape[-1]):
        raise SegmentationError(
            f"outliers has shape {np.shape(outliers)}; expected ({n_sl}, {img.shape[-1]})"
        )
    lv = np.zeros(img.shape[:3], dtype=bool)
    my = np.zeros_like(lv)
    rv = np.zeros_like(lv)
    conf = np.zeros(n_sl)
    flags: list[QCFlag] = []
    for k in range(n_sl):
        try:
            s = segment_slice(
                img[k], t[k], spacing_mm=spacing, pd_frames=pd_frames,
                outliers=None if outliers is None else outliers[k],
            )
        except SegmentationError as exc:
            raise SegmentationError(f"slice {k}: {exc}") from exc
        lv[k], my[k], rv[k] = s.lv_pool, s.myocardium, s.rv_pool
        conf[k] = s.confidence
        flags.extend(
            QCFlag(f.code, f.severity, f"slice {k}: {f.message}", f.stage or "segmentation")
            for f in s.flags
        )
        if s.confidence < LOW_CONFIDENCE:
            flags.append(QCFlag(
                "SEG_LOW_CONFIDENCE", "warning",
                f"slice {k}: segmentation confidence {s.confidence:.2f} (< {LOW_CONFIDENCE}); "
                "check the contours or give your own masks", "segmentation"))
    return labels_from_pools(
        lv, my, rv, aff, slice_confidence=conf, flags=flags, source="auto"
    )
