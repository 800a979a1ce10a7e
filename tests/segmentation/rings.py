"""Synthetic short-axis first-pass series with known LV, myocardium, RV and AHA truth.

Independent of the code under test: the truth sectors are written out here from the AHA
convention, not computed with qperfusion.segmentation.aha.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

SPACING_MM = 2.0
#: image angles (deg) of the RV's contact arc; with the affine below the anterior end is 240
RV_ARC_DEG = (120.0, 240.0)
ANTERIOR_INSERTION_DEG = 240.0


@dataclass
class Rings:
    images: np.ndarray  # (n_slices, ny, nx, T)
    times_s: np.ndarray  # (n_slices, T)
    affines: np.ndarray  # (n_slices, 4, 4)
    lv: np.ndarray  # (n_slices, ny, nx) bool
    myo: np.ndarray
    rv: np.ndarray
    aha: np.ndarray  # (n_slices, ny, nx) uint8, 0 outside the myocardium
    levels: list[str]


def gamma_variate(t: np.ndarray, t0: float, peak: float, tmax: float = 3.0) -> np.ndarray:
    x = np.clip(t - t0, 0, None) / tmax
    return peak * x**2 * np.exp(2 * (1 - x))


def _truth_sector(theta: np.ndarray, level: str) -> np.ndarray:
    out = np.zeros(theta.shape, dtype=np.uint8)
    if level == "apical":
        for lo, seg in ((15, 14), (105, 15), (195, 16), (285, 13)):
            out[np.mod(theta - lo, 360) < 90] = seg
        return out
    base = {"basal": 0, "mid": 6}[level]
    for k, seg in enumerate((2, 3, 4, 5, 6, 1)):
        out[(theta >= 60 * k) & (theta < 60 * (k + 1))] = seg + base
    return out


def make_rings(
    n_slices: int = 3,
    *,
    shape: tuple[int, int] = (64, 64),
    n_frames: int = 50,
    noise: float = 2.0,
    seed: int = 0,
    centre: tuple[float, float] = (31.3, 33.6),
) -> Rings:
    rng = np.random.default_rng(seed)
    ny, nx = shape
    r_endo = [11.0, 9.0, 6.5][:n_slices] if n_slices <= 3 else [9.0] * n_slices
    if n_slices == 1:
        r_endo = [9.0]
    wall = 4.5
    rr = 0.8 + 0.05 * rng.standard_normal(n_frames)
    t = np.concatenate([[0.0], np.cumsum(rr[1:])])
    yy, xx = np.mgrid[0:ny, 0:nx]
    r = np.hypot(yy - centre[0], xx - centre[1])
    phi = np.mod(np.degrees(np.arctan2(yy - centre[0], xx - centre[1])), 360)
    theta = np.mod(ANTERIOR_INSERTION_DEG - phi, 360)  # sense -1
    lv_c = gamma_variate(t, 6.0, 300.0)
    rv_c = gamma_variate(t, 3.0, 350.0)
    # myocardium: delayed, dispersed, small fraction of the LV curve
    dt = np.gradient(t)
    kern = np.exp(-t / 4.0)
    myo_c = 0.06 * np.convolve(lv_c * dt, kern)[:n_frames]
    imgs, lvs, myos, rvs, ahas, affs, levels = [], [], [], [], [], [], []
    names = ["basal", "mid", "apical"] if n_slices == 3 else ["mid"] * n_slices
    for k in range(n_slices):
        lv = r < r_endo[k]
        myo = (r >= r_endo[k]) & (r < r_endo[k] + wall)
        in_arc = (phi >= RV_ARC_DEG[0]) & (phi <= RV_ARC_DEG[1])
        rv = in_arc & (r >= r_endo[k] + wall) & (r < r_endo[k] + wall + 8.0)
        frac = {}
        for name, m in (("lv", lv), ("myo", myo), ("rv", rv)):
            frac[name] = ndimage.gaussian_filter(m.astype(float), 0.6)
        bg = 1.0 - np.clip(frac["lv"] + frac["myo"] + frac["rv"], 0, 1)
        s = (
            frac["lv"][..., None] * (100 + lv_c)
            + frac["myo"][..., None] * (70 + myo_c)
            + frac["rv"][..., None] * (100 + rv_c)
            + bg[..., None] * 40.0
        )
        s = s + noise * rng.standard_normal(s.shape)
        imgs.append(s)
        lvs.append(lv)
        myos.append(myo)
        rvs.append(rv)
        ahas.append(np.where(myo, _truth_sector(theta, names[k]), 0).astype(np.uint8))
        a = np.eye(4)
        a[:3, 0] = (SPACING_MM, 0, 0)
        a[:3, 1] = (0, SPACING_MM, 0)
        a[:3, 2] = (0, 0, 10.0)
        a[:3, 3] = (0, 0, -10.0 * k)
        affs.append(a)
        levels.append(names[k])
    return Rings(
        images=np.stack(imgs).astype(np.float32),
        times_s=np.broadcast_to(t, (n_slices, n_frames)).copy(),
        affines=np.stack(affs),
        lv=np.stack(lvs), myo=np.stack(myos), rv=np.stack(rvs), aha=np.stack(ahas),
        levels=levels,
    )


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return float(2 * np.sum(a & b) / max(np.sum(a) + np.sum(b), 1))
