"""A small truth-known moving perfusion series for testing and benchmarking the MoCo stage alone.

Not the product phantom (that is :mod:`qperfusion.phantom`): a ring/disc heart (LV blood pool,
myocardium, RV crescent) in a body ellipse whose regions follow their own first-pass curves,
leading proton-density frames with a different contrast, smooth non-rigid respiratory motion,
one large abrupt in-plane jump (a gasp: correctable) and one through-plane frame (a cough that
moves other anatomy into the slice: not correctable, must be flagged), and Gaussian noise.

Motion convention (as :func:`qperfusion.moco.register_series`)::

    observed_t(p) = static_t(p + u_t(p)),  u in px, (dy, dx)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

__all__ = ["SyntheticSeries", "synthetic_series"]


@dataclass(frozen=True)
class SyntheticSeries:
    """Images plus truth.

    Attributes
    ----------
    images : ndarray of shape (ny, nx, T), float32
        Observed (moving, noisy) frames.
    static : ndarray of shape (ny, nx, T), float32
        Noise-free frames without motion.
    displacement : ndarray of shape (ny, nx, 2, T), float32
        Truth u (px, (dy, dx)): ``observed_t(p) = static_t(p + u_t(p))``.
    myocardium, lv, rv : ndarray of shape (ny, nx), bool
        Region masks in the static geometry.
    curves : dict of str to ndarray of shape (T,)
        Noise-free intensity of each region per frame.
    pd_frames : int
    jump_frames : list of int
        Frames with a large in-plane jump (correctable).
    through_plane_frames : list of int
        Frames whose anatomy changed (not correctable: must be flagged).
    """

    images: np.ndarray
    static: np.ndarray
    displacement: np.ndarray
    myocardium: np.ndarray
    lv: np.ndarray
    rv: np.ndarray
    curves: dict[str, np.ndarray]
    pd_frames: int
    jump_frames: list[int]
    through_plane_frames: list[int]


def _gamma(t: np.ndarray, t0: float, tmax: float, amp: float) -> np.ndarray:
    s = np.clip(t - t0, 0.0, None) / (tmax - t0)
    return amp * s**3 * np.exp(3.0 * (1.0 - s))


def synthetic_series(
    *,
    shape: tuple[int, int] = (144, 192),
    n_frames: int = 60,
    pd_frames: int = 3,
    resp_amplitude_px: tuple[float, float] = (6.0, 2.5),
    jump_frames: tuple[int, ...] = (30,),
    jump_px: tuple[float, float] = (9.0, -5.0),
    through_plane_frames: tuple[int, ...] = (42,),
    noise: float = 0.02,
    rr_s: float = 0.55,
    seed: int = 0,
) -> SyntheticSeries:
    """Build the series (all sizes in px, intensities in arbitrary signal units, blood peak ~1).

    Parameters
    ----------
    shape : (ny, nx)
    n_frames : int
        Frames, PD frames included.
    pd_frames : int
        Leading proton-density frames.
    resp_amplitude_px : (dy, dx)
        Peak respiratory displacement of the heart (px).
    jump_frames, jump_px
        Frames displaced by an extra abrupt shift (px) on top of breathing.
    through_plane_frames
        Frames where the heart is replaced by an off-plane section (smaller, shifted, blurred).
    noise : float
        Gaussian noise SD (same units as the blood peak ~1).
    rr_s : float
        Frame spacing (s); a stress heart rate of ~110/min.
    seed : int
    """
    rng = np.random.default_rng(seed)
    ny, nx = shape
    T = n_frames
    t = np.arange(T) * rr_s
    yy, xx = np.mgrid[0:ny, 0:nx].astype(np.float64)
    cy, cx = ny * 0.48, nx * 0.52
    r = np.hypot(yy - cy, xx - cx)

    def soft(mask: np.ndarray) -> np.ndarray:
        return ndi.gaussian_filter(mask.astype(np.float64), 0.8)

    ell = ((yy - ny / 2) / (0.46 * ny)) ** 2 + ((xx - nx / 2) / (0.47 * nx)) ** 2
    body = soft(ell < 1)
    wall = soft(ell > 0.72) * body
    lv_m = r < 11
    myo_m = (r >= 11) & (r < 17)
    rv_r = np.hypot(yy - cy + 3, xx - cx + 19)
    rv_m = (rv_r < 15) & (r >= 18.5)
    lung = soft(np.hypot((yy - cy) / 1.1, xx - cx) < 34) * (1 - soft(r < 19)) * (1 - soft(rv_m))
    lv, myo, rv = soft(lv_m), soft(myo_m), soft(rv_m)

    curves = {
        "rv": 0.12 + _gamma(t, 3.0, 7.0, 1.0) + _gamma(t, 14.0, 20.0, 0.12),
        "lv": 0.12 + _gamma(t, 5.0, 10.0, 0.9) + _gamma(t, 16.0, 22.0, 0.15),
        "myo": 0.10 + _gamma(t, 6.0, 13.0, 0.22) + 0.06 * (t > 16) * (1 - np.exp(-(t - 16) / 8)),
        "wall": np.full(T, 0.30),
        "tissue": np.full(T, 0.16),
        "lung": np.full(T, 0.03),
    }
    pd = {"rv": 1.0, "lv": 1.0, "myo": 0.8, "wall": 0.9, "tissue": 0.7, "lung": 0.08}
    for k in curves:
        curves[k][:pd_frames] = pd[k]

    def render(frame: int, lv_, myo_, rv_) -> np.ndarray:
        heart = np.clip(lv_ + myo_ + rv_, 0, 1)
        rest = body * (1 - heart)
        img = (curves["lv"][frame] * lv_ + curves["myo"][frame] * myo_ + curves["rv"][frame] * rv_
               + rest * (1 - wall - lung).clip(0) * curves["tissue"][frame]
               + rest * wall * curves["wall"][frame] + rest * lung * curves["lung"][frame])
        return img

    static = np.stack([render(k, lv, myo, rv) for k in range(T)], axis=-1)

    # respiration: ~4 s period with a varying depth and a dwell at end-expiration (the static
    # geometry, u = 0); the heart translates, the chest wall moves less (non-rigid, smooth
    # falloff away from the heart)
    phase = 2 * np.pi * t / 4.3 + rng.uniform(0, 2 * np.pi)
    depth = 1.0 + 0.2 * np.sin(2 * np.pi * t / 13.0)
    level = depth * np.sin(phase / 2) ** 4
    a = np.stack([resp_amplitude_px[0] * level, resp_amplitude_px[1] * level], axis=0)
    for j in jump_frames:
        a[:, j] += jump_px
    w = np.exp(-(((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * 45.0**2)))
    # small non-rigid part: a mild radial squeeze of the heart in phase with breathing
    sq = 0.04 * level
    u = np.empty((ny, nx, 2, T), dtype=np.float32)
    for k in range(T):
        u[..., 0, k] = a[0, k] * w + sq[k] * (yy - cy) * w
        u[..., 1, k] = a[1, k] * w + sq[k] * (xx - cx) * w

    images = np.empty((ny, nx, T), dtype=np.float32)
    for k in range(T):
        src = static[..., k]
        if k in through_plane_frames:
            # off-plane section: a smaller, displaced, blurred heart
            # each cough shows a different off-plane section
            oy, ox = 6.0 * np.cos(1.7 * k), 6.0 * np.sin(1.7 * k)
            r2 = np.hypot(yy - cy - oy, xx - cx - ox)
            src = render(k, soft(r2 < 7), soft((r2 >= 7) & (r2 < 12)), 0 * rv)
            src = ndi.gaussian_filter(src, 1.5)
        images[..., k] = ndi.map_coordinates(src, [yy + u[..., 0, k], xx + u[..., 1, k]],
                                             order=3, mode="nearest")
    images += rng.normal(0, noise, images.shape).astype(np.float32)
    return SyntheticSeries(
        images=images, static=static.astype(np.float32), displacement=u,
        myocardium=myo_m, lv=lv_m, rv=rv_m, curves=curves, pd_frames=pd_frames,
        jump_frames=list(jump_frames), through_plane_frames=list(through_plane_frames),
    )
