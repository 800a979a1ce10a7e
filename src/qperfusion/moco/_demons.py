"""Batched symmetric-force demons: every frame of a series registered to its own target at once.

All frames advance together as one ``(n, h, w)`` stack, so each iteration is a handful of
vectorised numpy / compiled calls instead of a Python loop over frames; this is what makes
the stage fast enough to re-register the whole series at every rank of the model.

Update (Thirion's demons with the symmetric / ESM force of Vercauteren et al.)::

    r   = M(p + u(p)) - F(p)
    g   = (grad F + grad M(p + u)) / 2
    du  = - r g / (|g|^2 + r^2 / sigma_x^2)      (|du| <= sigma_x / 2 per iteration)
    u  <- G_diff * (u + G_fluid * du)

Thirion, Med Image Anal 1998;2:243, doi:10.1016/S1361-8415(98)80022-4.
Vercauteren et al., NeuroImage 2009;45:S61, doi:10.1016/j.neuroimage.2008.10.040.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from qperfusion.moco._kernels import sample_bilinear

__all__ = ["demons", "downsample", "noise_sd", "upsample_field", "warp_stack"]


def warp_stack(stack: np.ndarray, field: np.ndarray) -> np.ndarray:
    """``out[t](p) = stack[t](p + field[t](p))`` for a (n, h, w) stack and (n, h, w, 2) field."""
    h, w = stack.shape[1:]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    return sample_bilinear(stack, yy + field[..., 0], xx + field[..., 1])


def downsample(stack: np.ndarray) -> np.ndarray:
    """2x2 block mean of a (n, h, w[, c]) stack (odd sizes edge-padded)."""
    n, h, w = stack.shape[:3]
    pad = [(0, 0), (0, h % 2), (0, w % 2)] + [(0, 0)] * (stack.ndim - 3)
    s = np.pad(stack, pad, mode="edge") if (h % 2 or w % 2) else stack
    H, W = s.shape[1] // 2, s.shape[2] // 2
    return s.reshape(n, H, 2, W, 2, *s.shape[3:]).mean(axis=(2, 4))


def upsample_field(field: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Coarse (n, H, W, 2) field of a 2x2 block-mean level -> fine (n, h, w, 2), in fine px."""
    n = field.shape[0]
    h, w = shape
    # fine pixel p sits at coarse coordinate (p - 0.5) / 2 (block centres)
    cy = np.broadcast_to(((np.arange(h, dtype=np.float32) - 0.5) / 2)[None, :, None], (n, h, w))
    cx = np.broadcast_to(((np.arange(w, dtype=np.float32) - 0.5) / 2)[None, None, :], (n, h, w))
    out = np.empty((n, h, w, 2), dtype=np.float32)
    for c in range(2):
        out[..., c] = 2.0 * sample_bilinear(np.ascontiguousarray(field[..., c]), cy, cx)
    return out


def _smooth(x: np.ndarray, sigma: float) -> np.ndarray:
    if sigma <= 0:
        return x
    sig = (0, sigma, sigma) + (0,) * (x.ndim - 3)
    return ndi.gaussian_filter(x, sig, mode="nearest", truncate=3.0)


def demons(
    fixed: np.ndarray,
    moving: np.ndarray,
    init: np.ndarray | None = None,
    *,
    iters: tuple[int, ...] = (30, 30, 20),
    sigma_fluid: float = 1.0,
    sigma_diff: float = 1.5,
    sigma_x: float = 1.0,
    noise: np.ndarray | None = None,
    noise_k: float = 3.0,
) -> np.ndarray:
    """Register ``moving[t]`` onto ``fixed[t]`` for every t at once (coarse to fine).

    Parameters
    ----------
    fixed, moving : ndarray of shape (n, h, w)
        Targets and images to move (any intensity unit; the force is scale-free).
    init : ndarray of shape (n, h, w, 2), optional
        Starting field (px, (dy, dx)), e.g. a rigid shift or the previous iteration's field.
    iters : tuple of int
        Iterations per pyramid level, coarsest first; its length is the number of levels
        (each level halves the size).
    sigma_fluid, sigma_diff : float
        Gaussian widths (px of the level) smoothing the update and the field.
    sigma_x : float
        Largest step per iteration is ``sigma_x / 2`` px of the level.

    noise : ndarray of shape (n,), optional
        Image noise SD of each moving frame (intensity units); adds ``(noise_k * noise)^2``
        to the denominator so that gradients at noise level (a featureless pre-contrast
        frame) do not drive the field.
    noise_k : float

    Returns
    -------
    ndarray of shape (n, h, w, 2), float32
        Backward field u (px): ``moving[t](p + u[t](p)) ~ fixed[t](p)``.
    """
    fixed = np.asarray(fixed, dtype=np.float32)
    moving = np.asarray(moving, dtype=np.float32)
    n_levels = len(iters)
    pyr_f, pyr_m = [fixed], [moving]
    for _ in range(n_levels - 1):
        pyr_f.append(downsample(pyr_f[-1]))
        pyr_m.append(downsample(pyr_m[-1]))
    field = None
    if init is not None:
        field = np.asarray(init, dtype=np.float32)
        for _ in range(n_levels - 1):
            field = downsample(field) / 2.0
    inv_sx2 = 1.0 / sigma_x**2
    for level in range(n_levels - 1, -1, -1):
        F, M = pyr_f[level], pyr_m[level]
        if field is None:
            field = np.zeros((*F.shape, 2), dtype=np.float32)
        elif field.shape[1:3] != F.shape[1:3]:
            field = upsample_field(field, F.shape[1:3])
        gFy, gFx = np.gradient(F, axis=(1, 2))
        floor = 0.0
        if noise is not None:  # a 2x2 block mean halves the noise SD at each level
            floor = ((noise_k * np.asarray(noise, np.float32) / 2.0**level) ** 2)[:, None, None]
        for _ in range(iters[n_levels - 1 - level]):
            W = warp_stack(M, field)
            r = W - F
            gWy, gWx = np.gradient(W, axis=(1, 2))
            gy = 0.5 * (gFy + gWy)
            gx = 0.5 * (gFx + gWx)
            den = gy * gy + gx * gx + r * r * inv_sx2 + floor
            scale = np.where(den > 1e-12, -r / np.maximum(den, 1e-12), 0.0).astype(np.float32)
            du = np.stack([scale * gy, scale * gx], axis=-1)
            field = _smooth(field + _smooth(du, sigma_fluid), sigma_diff)
    return field.astype(np.float32, copy=False)


def noise_sd(stack: np.ndarray) -> np.ndarray:
    """Gaussian noise SD of every image of a (n, h, w) stack (Immerkær's Laplacian estimate).

    Immerkær, Comput Vis Image Underst 1996;64:300, doi:10.1006/cviu.1996.0060.
    """
    k = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32)
    conv = ndi.convolve(stack.astype(np.float32), k[None], mode="nearest")[:, 1:-1, 1:-1]
    h, w = conv.shape[1:]
    return np.sqrt(np.pi / 2) / (6.0 * h * w) * np.abs(conv).sum(axis=(1, 2))
