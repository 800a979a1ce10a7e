"""Automatic LV blood-pool detection from temporal features (no contours, no trained weights).

Method: pixels that enhance strongly are split by their contrast arrival time (Otsu threshold
on arrival): the right ventricle fills first, the left ventricle (and aorta, pulmonary veins)
later. The LV pool is the large, compact late-arriving connected region lying next to the
early (RV) region; its core (eroded, enhancement near the pool median) is the AIF mask, so the
mask stays inside the pool despite residual motion and partial volume at the endocardium.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage
from skimage.filters import threshold_otsu

from qperfusion.aif.features import TemporalFeatures, temporal_features
from qperfusion.errors import SegmentationError
from qperfusion.qc import QCFlag

__all__ = ["BloodPoolDetection", "detect_blood_pool"]

#: How to override the automatic detection; quoted by every detection/segmentation error.
#: enhancement over pre-contrast SD below which a pixel is taken as moving, not enhancing
STILL_RATIO = 2.0
#: re-grow the RV pool into weaker pixels with the RV's timing
RV_REGROW = True
#: AIF-mask pixels must stay within this many noise SDs (or robust pool spreads) of the
#: pool signal in every frame
AIF_NOISE_K = 4.0
#: ... plus this fraction of the frame's pool-to-surroundings contrast
AIF_CONTRAST_FRAC = 0.25

MASK_HINT = (
    "give your own masks: a NIfTI label image (1 LV blood pool, 2 myocardium, 3 RV, or AHA "
    "labels 1-16 / 17 LV / 18 RV) or a JSON contour file, via --masks or "
    "qperfusion.segmentation.labels_from_masks"
)


@dataclass
class BloodPoolDetection:
    """Result of :func:`detect_blood_pool`.

    Attributes
    ----------
    mask : ndarray of shape (ny, nx), bool
        AIF mask: the core of the LV blood pool.
    lv_pool : ndarray of shape (ny, nx), bool
        The whole LV blood pool (holes such as papillary muscles filled).
    rv_pool : ndarray of shape (ny, nx), bool
        The RV blood pool (empty when none was found, e.g. in a low-resolution AIF image
        that cuts the RV).
    confidence : float
        0..1; below 0.5 the detection should be checked (a flag says so).
    flags : list of QCFlag
    features : TemporalFeatures
        The per-pixel features the detection used.
    lv_arrival_s, rv_arrival_s : float
        Median contrast arrival time (s) in the LV and RV pools (NaN when no RV).
    """

    mask: np.ndarray
    lv_pool: np.ndarray
    rv_pool: np.ndarray
    confidence: float
    features: TemporalFeatures
    lv_arrival_s: float = float("nan")
    rv_arrival_s: float = float("nan")
    flags: list[QCFlag] = field(default_factory=list)


def _components(mask: np.ndarray, min_px: int) -> list[np.ndarray]:
    lab, n = ndimage.label(mask)
    if n == 0:
        return []
    sizes = ndimage.sum_labels(np.ones_like(lab), lab, np.arange(1, n + 1))
    return [lab == i + 1 for i in np.argsort(sizes)[::-1] if sizes[i] >= min_px]


def _compactness(m: np.ndarray) -> float:
    """Area over the area of the circle through its farthest pixel from the centroid (0..1)."""
    yx = np.argwhere(m)
    c = yx.mean(axis=0)
    r = np.sqrt(((yx - c) ** 2).sum(axis=1)).max() + 0.5
    return float(min(1.0, m.sum() / (np.pi * r * r)))


def detect_blood_pool(
    images: np.ndarray,
    times_s: np.ndarray,
    *,
    pd_frames: int = 0,
    min_pool_px: int = 6,
    outliers: np.ndarray | None = None,
) -> BloodPoolDetection:
    """Find the LV blood pool (and the RV pool) of one image series from temporal features.

    Parameters
    ----------
    images : ndarray of shape (ny, nx, T)
        Signal (echo 1, scanner units) of the AIF series or of one myocardial slice.
    times_s : ndarray of shape (T,)
        Frame times (s), may be uneven.
    pd_frames : int
        Leading proton-density frames (ignored by the detection).
    min_pool_px : int
        Smallest LV pool accepted (pixels).
    outliers : ndarray of shape (T,), bool, optional
        Frames to leave out (e.g. :attr:`qperfusion.moco.MocoResult.outliers` of this
        slice); ``features`` then describe the remaining frames only.

    Returns
    -------
    BloodPoolDetection

    Raises
    ------
    SegmentationError
        When no enhancing blood pool is found; the message says how to give masks.
    """
    img = np.asarray(images)
    if img.ndim != 3:
        raise SegmentationError(
            f"detect_blood_pool expects images of shape (ny, nx, T), got {img.shape}"
        )
    t = np.asarray(times_s, dtype=np.float64)
    if t.shape != (img.shape[-1],):
        raise SegmentationError(
            f"times_s has shape {t.shape}; it must have one time per frame ({img.shape[-1]})"
        )
    img, t, pd_frames = drop_frames(img, t, pd_frames, outliers)
    if img.shape[-1] - pd_frames < 6:
        raise SegmentationError(
            f"only {img.shape[-1] - pd_frames} dynamic frames: too few to find the blood "
            f"pool; {MASK_HINT}"
        )
    f = temporal_features(img, t, pd_frames=pd_frames)
    flags: list[QCFlag] = []
    if float(np.percentile(f.peak, 99.5)) < 8.0 * f.noise:
        raise SegmentationError(
            f"no contrast enhancement found (peak {np.percentile(f.peak, 99.5):.3g} vs noise "
            f"{f.noise:.3g}); {MASK_HINT}"
        )
    # upslope, not peak, separates blood from myocardium: myocardium can reach a similar
    # plateau (high dose, recirculation) but fills several times more slowly
    # edges that breathing moves "enhance" before the contrast arrives: keep pixels whose
    # enhancement stands well above their own pre-contrast variation
    still = f.peak > STILL_RATIO * np.maximum(f.pre_sd, f.noise)
    if still.sum() < 4 * min_pool_px:
        still = np.ones_like(still)
    ref = float(np.percentile(f.upslope[still], 99.5))
    strong = still & (f.upslope > 0.35 * ref)
    strong = ndimage.binary_opening(strong, iterations=1) if strong.sum() > 50 else strong
    ta = f.t_arrival_s[strong]
    split = float(threshold_otsu(ta)) if np.ptp(ta) > 0 else float(ta.max())
    early = strong & (f.t_arrival_s <= split)
    late = strong & (f.t_arrival_s > split)
    dt = float(np.median(np.diff(t[pd_frames:])))
    if early.any() and late.any() and (
        np.median(f.t_arrival_s[late]) - np.median(f.t_arrival_s[early]) < 1.5 * dt
    ):
        # no distinct early (RV) group: one pool, split only by noise in the arrival times
        early, late = np.zeros_like(strong), strong
    late = ndimage.binary_opening(late, iterations=1) if late.sum() > 4 * min_pool_px else late
    early = ndimage.binary_opening(early, iterations=1) if early.sum() > 4 * min_pool_px else early
    cand_late = _components(late, min_pool_px)
    cand_early = _components(early, min_pool_px)
    if not cand_late and not cand_early:
        raise SegmentationError(f"no blood pool found among the enhancing pixels; {MASK_HINT}")
    rv = cand_early[0] if cand_early else np.zeros(img.shape[:2], dtype=bool)
    single = False
    if not cand_late:
        # one pool only (e.g. AIF image that cuts the RV): take the largest enhancing region
        cand_late, rv, single = cand_early, np.zeros(img.shape[:2], dtype=bool), True
    single = single or not rv.any()
    # LV: large, compact, and close to the RV when there is one
    dist_rv = ndimage.distance_transform_edt(~rv) if rv.any() else None
    best, best_score = cand_late[0], -np.inf
    for c in cand_late[:6]:
        score = np.log(c.sum()) + 2.0 * _compactness(c)
        if dist_rv is not None:
            score -= 0.1 * float(dist_rv[c].min())
        if score > best_score:
            best, best_score = c, score
    lv = ndimage.binary_fill_holes(best)
    # re-grow into weakly-thresholded pool pixels with the same timing (blood at the border)
    grow = (f.upslope > 0.5 * np.median(f.upslope[lv])) & (
        np.abs(f.t_arrival_s - np.median(f.t_arrival_s[lv])) < max(1.0, _spread(f, lv))
    )
    lv = ndimage.binary_fill_holes(_reconstruct(lv, grow | lv))
    if rv.any() and RV_REGROW:
        # the same for the RV: its thin tips near the insertion points fall below the
        # strong-pixel threshold but carry the RV's timing
        grow_rv = (f.upslope > 0.5 * np.median(f.upslope[rv])) & (
            np.abs(f.t_arrival_s - np.median(f.t_arrival_s[rv])) < max(1.0, _spread(f, rv))
        )
        rv = _reconstruct(rv, (grow_rv | rv) & ~lv)
    # AIF core: inside the pool, away from the wall, enhancement near the pool's typical value
    # two pixels in from the wall when the pool is large enough: motion and partial volume
    core = ndimage.binary_erosion(lv, iterations=2 if lv.sum() >= 60 else 1)
    if core.sum() < 4:
        core = lv.copy()
    core &= f.upslope >= 0.75 * np.median(f.upslope[lv])
    core &= _always_blood(img[..., pd_frames:], f.baseline, lv, f.noise)
    if core.sum() < 4:
        core = lv & (f.upslope >= np.median(f.upslope[lv]))
        flags.append(QCFlag(
            "AIF_MASK_INCONSISTENT", "warning",
            "no pool pixel follows the pool's signal in every frame (motion?): the AIF mask "
            "falls back to the pool's fastest-filling half; motion-correct first or "
            f"{MASK_HINT}", "aif"))
    lv_arr = float(np.median(f.t_arrival_s[lv]))
    rv_arr = float(np.median(f.t_arrival_s[rv])) if rv.any() else float("nan")
    conf = _confidence(lv, rv, lv_arr, rv_arr, t, single)
    if single:
        flags.append(QCFlag("AIF_NO_RV", "info",
                            "only one enhancing pool found; taken as the LV blood pool", "aif"))
    if conf < 0.5:
        flags.append(QCFlag(
            "AIF_DETECTION_UNCERTAIN", "warning",
            f"blood-pool detection confidence {conf:.2f} (< 0.5): check the AIF mask or "
            f"{MASK_HINT}", "aif"))
    return BloodPoolDetection(
        mask=core, lv_pool=lv, rv_pool=rv, confidence=conf, features=f,
        lv_arrival_s=lv_arr, rv_arrival_s=rv_arr, flags=flags,
    )


def drop_frames(
    images: np.ndarray, times_s: np.ndarray, pd_frames: int, outliers: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, int]:
    """Leave out the ``outliers`` frames (last axis); the PD count follows."""
    if outliers is None:
        return images, times_s, pd_frames
    out = np.asarray(outliers, dtype=bool)
    if out.shape != (images.shape[-1],):
        raise SegmentationError(
            f"outliers has shape {out.shape}; expected ({images.shape[-1]},), one per frame"
        )
    keep = ~out
    return images[..., keep], times_s[keep], int(np.sum(keep[:pd_frames]))


def _always_blood(
    dyn: np.ndarray, baseline: np.ndarray, pool: np.ndarray, noise: float
) -> np.ndarray:
    """Pixels whose signal equals the pool's in every frame, within noise and a fraction of
    the pool-to-surroundings contrast of that frame.

    A pixel that breathing (or one abrupt jump) moves out of the pool in some frame takes
    the surroundings' value in that frame and fails; unsmoothed frames, so a one-frame
    excursion is not averaged away. ``baseline`` is unused by the test itself but kept
    for symmetry with the features.
    """
    del baseline
    x = np.asarray(dyn, dtype=np.float64)
    ref = np.median(x[pool], axis=0)  # (T,)
    ring = ndimage.binary_dilation(pool, iterations=2) & ~pool
    if not ring.any():
        return np.ones(pool.shape, dtype=bool)
    sur = np.median(x[ring], axis=0)
    # the pool's own heterogeneity (inflow), relative to its signal: the median over frames
    # of the per-frame robust spread, so frames where motion widens the spread do not count
    spread = 1.4826 * np.median(np.abs(x[pool] - ref), axis=0)
    rel = float(np.median(spread / np.maximum(np.abs(ref), 1e-12)))
    tol = AIF_NOISE_K * np.maximum(noise, rel * np.abs(ref)) + AIF_CONTRAST_FRAC * np.abs(
        ref - sur
    )
    return np.all(np.abs(x - ref) <= tol, axis=-1)


def _spread(f: TemporalFeatures, m: np.ndarray) -> float:
    q = np.percentile(f.t_arrival_s[m], [10, 90])
    return float(q[1] - q[0])


def _reconstruct(seed: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Connected part of ``allowed`` that touches ``seed``."""
    lab, _ = ndimage.label(allowed)
    keep = np.unique(lab[seed & allowed])
    return np.isin(lab, keep[keep > 0])


def _confidence(lv, rv, lv_arr, rv_arr, t, single) -> float:
    """Heuristic 0..1: compact LV, enough pixels, RV clearly earlier than LV."""
    dt = float(np.median(np.diff(t)))
    comp = _compactness(lv)
    size = min(1.0, lv.sum() / 30.0)
    if single or not np.isfinite(rv_arr):
        order = 0.5
    else:
        order = float(np.clip((lv_arr - rv_arr) / (2.0 * dt), 0.0, 1.0))
    return float(np.clip((0.4 + 0.6 * comp) * size * (0.5 + 0.5 * order), 0.0, 1.0))
