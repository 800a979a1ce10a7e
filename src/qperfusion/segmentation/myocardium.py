"""One slice: LV and RV blood pools, endocardial and epicardial borders.

Method (measured on the GE series and the phantom, see benchmarks/segmentation.py):

1. Blood pools from temporal features (:func:`qperfusion.aif.detect_blood_pool`): the RV
   fills first, the LV next; upslope separates blood from myocardium.
2. Feature images normalised to the LV pool: upslope ``U`` (blood ≈ 1, myocardium ≈ 0.3,
   lung ≈ 0) and peak enhancement ``P``.
3. Endocardium: polar dynamic programming around the LV centre on the falling edge of ``U``
   (blood → myocardium), placed where ``U`` crosses midway between pool and wall, so the
   wall excludes blood-pool partial volume.
4. Epicardium: polar dynamic programming outside the endocardium, 3–14 mm away, on the
   rising radial deviation from the wall's own signature — mainly the distance of the whole
   signal curve from the wall's curve at that angle, plus peak enhancement and pre-contrast
   signal (RV blood, lung, fat and liver all differ from the wall) — then moved inward to
   35 % of the step, so a partial-volume pixel counts as wall only when mostly wall; the
   epicardium never enters the RV pool.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from qperfusion.aif.detect import MASK_HINT, detect_blood_pool, drop_frames
from qperfusion.errors import SegmentationError
from qperfusion.qc import QCFlag
from qperfusion.segmentation.polar import dp_closed_contour, polar_grid, to_polar

__all__ = ["SliceSegmentation", "segment_slice"]

N_ANGLES = 120
#: weights of the peak-enhancement and pre-contrast-signal deviations in the epicardial edge
#: (upslope and relative enhancement were tried and lowered the Dice on GE and phantom)
W_EPI = (0.25, 0.25)
#: weight of the wall-thickness prior (7 mm) in the epicardial cost
EPI_PRIOR = 0.05
#: typical wall thickness (mm) of the prior
WALL_MM = 6.0
#: blood fraction at which the endocardium is placed (chosen on the GE series and the
#: phantom, see benchmarks/segmentation.py; 0.5 would be the half-blood point)
ENDO_LEVEL = 0.35
#: weight of the whole-curve distance from the wall in the epicardial edge
W_CURVE = 1.0
#: fraction of the wall-to-outside step at which the epicardium is placed
EPI_LEVEL = 0.35
#: spatial smoothing (pixels, Gaussian SD) of the feature images before the border search
SMOOTH_PX = 0.7


@dataclass
class SliceSegmentation:
    """Borders and pools of one short-axis slice (image angles, pixels).

    Attributes
    ----------
    lv_pool, myocardium, rv_pool : ndarray of shape (ny, nx), bool
    centre_yx : (float, float)
        LV centre (row, column), pixels.
    angles : ndarray of shape (N_ANGLES,)
        Image angles (rad) of the borders: 0 along +column, π/2 along +row.
    endo_r_px, epi_r_px : ndarray of shape (N_ANGLES,)
        Endocardial and epicardial radius (pixels) per angle.
    confidence : float
        0..1.
    flags : list of QCFlag
    """

    lv_pool: np.ndarray
    myocardium: np.ndarray
    rv_pool: np.ndarray
    centre_yx: tuple[float, float]
    angles: np.ndarray
    endo_r_px: np.ndarray
    epi_r_px: np.ndarray
    confidence: float
    flags: list[QCFlag] = field(default_factory=list)


def _smooth_circular(r: np.ndarray, width: int) -> np.ndarray:
    return ndimage.uniform_filter1d(r.astype(np.float64), size=width, mode="wrap")


def _radial_rising(p: np.ndarray) -> np.ndarray:
    """Radial derivative (per radius step) of a polar image, central differences."""
    return np.gradient(p, axis=1)


def _curve_distance(
    dyn: np.ndarray, yy: np.ndarray, xx: np.ndarray, wall: np.ndarray
) -> np.ndarray:
    """RMS distance (over frames) of each polar sample's signal curve from the wall's own
    curve at that angle, relative to the wall's mean signal: every frame votes."""
    x = np.asarray(dyn, dtype=np.float64)
    x = ndimage.gaussian_filter(x, (SMOOTH_PX, SMOOTH_PX, 0))
    cp = np.stack([to_polar(x[..., k], yy, xx) for k in range(x.shape[-1])], axis=-1)
    w = np.where(wall[..., None], cp, np.nan)
    ref = np.nanmedian(w, axis=1)  # (n_a, T)
    ref = np.where(np.isfinite(ref), ref, np.nanmedian(ref, axis=0))
    ref = ndimage.uniform_filter1d(ref, size=9, axis=0, mode="wrap")
    scale = np.maximum(np.mean(np.abs(ref), axis=1), 1e-6)  # (n_a,)
    return np.sqrt(np.mean((cp - ref[:, None, :]) ** 2, axis=-1)) / scale[:, None]


def _refine_level(
    dev: np.ndarray, idx: np.ndarray, wall: np.ndarray, level: float, reach: int
) -> np.ndarray:
    """Move each edge (the steepest point) inward to where ``dev`` has risen by ``level``
    of its step from the wall to just outside: a partial-volume pixel counts as wall only
    when it is mostly wall."""
    n_a, n_r = dev.shape
    out = idx.copy()
    lo = np.array([np.median(dev[a][wall[a]]) if wall[a].any() else dev[a, 0]
                   for a in range(n_a)])
    hi = dev[np.arange(n_a), np.minimum(idx + reach, n_r - 1)]
    thr = lo + level * (hi - lo)
    for a in range(n_a):
        j = idx[a]
        while j > 0 and j > idx[a] - 2 * reach and dev[a, j - 1] > thr[a]:
            j -= 1
        out[a] = j
    return out


def contour_mask(
    shape: tuple[int, int], centre_yx: tuple[float, float], angles: np.ndarray, r_px: np.ndarray
) -> np.ndarray:
    """Pixels whose radius from the centre is below the contour's radius at their angle."""
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    dy, dx = yy - centre_yx[0], xx - centre_yx[1]
    rad = np.hypot(dy, dx)
    th = np.mod(np.arctan2(dy, dx), 2 * np.pi)
    step = 2 * np.pi / len(angles)
    pos = th / step
    i0 = np.floor(pos).astype(int) % len(angles)
    i1 = (i0 + 1) % len(angles)
    w = pos - np.floor(pos)
    rb = (1 - w) * r_px[i0] + w * r_px[i1]
    return rad <= rb


def segment_slice(
    images: np.ndarray,
    times_s: np.ndarray,
    *,
    spacing_mm: float,
    pd_frames: int = 0,
    outliers: np.ndarray | None = None,
) -> SliceSegmentation:
    """Segment one myocardial slice.

    Parameters
    ----------
    images : ndarray of shape (ny, nx, T)
        Signal of the slice (scanner units).
    times_s : ndarray of shape (T,)
        Frame times (s).
    spacing_mm : float
        In-plane pixel size (mm).
    pd_frames : int
        Leading proton-density frames.
    outliers : ndarray of shape (T,), bool, optional
        Frames to leave out (motion-correction outliers).

    Returns
    -------
    SliceSegmentation

    Raises
    ------
    SegmentationError
        When the pools or the wall cannot be found; the message says how to give masks.
    """
    images, times_s, pd_frames = drop_frames(
        np.asarray(images), np.asarray(times_s, dtype=np.float64), pd_frames, outliers
    )
    det = detect_blood_pool(images, times_s, pd_frames=pd_frames, min_pool_px=20)
    f = det.features
    flags = list(det.flags)
    lv0 = det.lv_pool
    cy, cx = ndimage.center_of_mass(lv0)
    u_lv = float(np.median(f.upslope[det.mask if det.mask.any() else lv0]))
    p_lv = float(np.median(f.peak[det.mask if det.mask.any() else lv0]))
    if u_lv <= 0 or p_lv <= 0:
        raise SegmentationError(f"the LV blood pool does not enhance; {MASK_HINT}")
    U = f.upslope / u_lv
    P = f.peak / p_lv
    r_pool = float(np.sqrt(lv0.sum() / np.pi))
    step = 0.5
    r_max = r_pool + 22.0 / spacing_mm
    radii = np.arange(0.0, r_max, step)
    ang, yy, xx = polar_grid((cy, cx), N_ANGLES, radii)
    Pp = to_polar(ndimage.gaussian_filter(P, SMOOTH_PX), yy, xx)
    rvp = to_polar(det.rv_pool.astype(float), yy, xx) > 0.5
    # --- endocardium: where a "blood fraction" made of upslope and arrival time (the wall
    # fills slowly and late) falls to ENDO_LEVEL between pool and wall: pixels with more
    # blood than that go to the pool, so the wall excludes the blood-pool partial volume
    ring = ndimage.binary_dilation(lv0, iterations=max(2, round(4.0 / spacing_mm))) & ~lv0
    ta = ndimage.median_filter(f.t_arrival_s, size=3)
    u_wall = float(np.median(U[ring]))
    ta_lv = float(np.median(ta[det.mask if det.mask.any() else lv0]))
    ta_wall = float(np.median(ta[ring]))
    zu = np.clip((U - u_wall) / max(1.0 - u_wall, 0.2), 0, 1)
    if ta_wall - ta_lv > 0.3:
        zt = np.clip((ta_wall - ta) / (ta_wall - ta_lv), 0, 1)
        z = 0.5 * (zu + zt)
    else:
        z = zu
    Zp = to_polar(ndimage.gaussian_filter(z, 0.5), yy, xx)
    c_endo = np.abs(Zp - ENDO_LEVEL) - 0.5 * np.clip(-_radial_rising(Zp) / step, 0, None)
    ir = radii / r_pool
    c_endo[:, (ir < 0.4) | (ir > 1.8)] = np.inf
    i_endo = dp_closed_contour(c_endo, max_jump=2)
    endo = _smooth_circular(radii[i_endo], 5)
    # endocardial contrast: blood fraction just inside minus just outside the border; motion
    # and noise blur it (static phantom ~0.9)
    k_in = np.clip(np.round((endo - 2.0) / step).astype(int), 0, len(radii) - 1)
    k_out = np.clip(np.round((endo + 2.0) / step).astype(int), 0, len(radii) - 1)
    rows = np.arange(len(ang))
    sharp = float(np.clip(np.median(Zp[rows, k_in] - Zp[rows, k_out]), 0, 1))
    # --- epicardium: the first strong change, going outward, away from the wall's own
    # signature (whole signal curve, peak enhancement, pre-contrast signal)
    Bp = to_polar(ndimage.gaussian_filter(f.baseline, SMOOTH_PX), yy, xx)
    wall_band = (radii[None, :] > endo[:, None] + 1.0) & (
        radii[None, :] < endo[:, None] + 3.0 / spacing_mm + 1.0
    )
    dev = np.zeros_like(Pp)
    for X, wgt in ((Pp, W_EPI[0]), (Bp, W_EPI[1])):
        lvl = float(np.median(X[wall_band]))
        dev += wgt * np.abs(X - lvl) / max(abs(lvl), 1e-6 + 0.05 * float(np.median(np.abs(X))))
    if W_CURVE > 0:
        dev += W_CURVE * _curve_distance(images[..., pd_frames:], yy, xx, wall_band)
    c_epi = -_radial_rising(ndimage.uniform_filter1d(dev, 3, axis=1))
    t_min, t_max = 3.0 / spacing_mm, 14.0 / spacing_mm
    d = radii[None, :] - endo[:, None]
    c_epi = c_epi + EPI_PRIOR * np.abs(d * spacing_mm - WALL_MM) / WALL_MM
    c_epi[(d < t_min) | (d > t_max)] = np.inf
    # the epicardium stays outside the RV blood: radii beyond the first RV sample are barred
    first_rv = np.where(rvp.any(axis=1), np.argmax(rvp, axis=1), len(radii))
    c_epi[np.arange(len(radii))[None, :] > first_rv[:, None]] = np.inf
    bad = ~np.isfinite(c_epi).any(axis=1)
    if bad.any():
        c_epi[bad, :] = np.where(d[bad] >= t_min, 0.0, np.inf)
    i_epi = dp_closed_contour(c_epi, max_jump=2)
    i_epi = _refine_level(dev, i_epi, wall_band, EPI_LEVEL, reach=round(2.0 / step))
    epi = _smooth_circular(radii[i_epi], 5)
    epi = np.maximum(epi, endo + t_min * 0.8)
    shape = images.shape[:2]
    lv_pool = contour_mask(shape, (cy, cx), ang, endo)
    inside_epi = contour_mask(shape, (cy, cx), ang, epi)
    myo = inside_epi & ~lv_pool
    rv_pool = det.rv_pool & ~inside_epi
    thick = (epi - endo).mean() * spacing_mm
    # regular wall thickness around the ring: confidence in the borders
    reg = 1.0 - np.std(epi - endo) / max(float(np.mean(epi - endo)), 1e-6)
    conf = det.confidence * float(np.clip(reg, 0, 1)) * sharp
    if not myo.any():
        raise SegmentationError(f"no myocardium found around the LV blood pool; {MASK_HINT}")
    if not (3.0 <= thick <= 20.0):
        flags.append(QCFlag("SEG_WALL_THICKNESS", "warning",
                            f"mean wall thickness {thick:.1f} mm is implausible", "segmentation"))
    return SliceSegmentation(
        lv_pool=lv_pool, myocardium=myo, rv_pool=rv_pool, centre_yx=(float(cy), float(cx)),
        angles=ang, endo_r_px=endo, epi_r_px=epi, confidence=conf, flags=flags,
    )
