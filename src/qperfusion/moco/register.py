"""``register_series``: model-based motion correction of a dynamic perfusion series."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage as ndi
from skimage.registration import optical_flow_ilk, optical_flow_tvl1, phase_cross_correlation

from qperfusion.moco._crop import heart_box
from qperfusion.moco._demons import demons, noise_sd, warp_stack
from qperfusion.moco._fields import MocoInputError, compose_before, invert_stack, taper_weights
from qperfusion.moco._model import lowrank_model
from qperfusion.moco._outliers import find_outliers, interpolate_frames
from qperfusion.qc import QCFlag

__all__ = ["METHODS", "REFERENCES", "MocoResult", "register_series"]

# A registration method moves every frame of `moving` (T, h, w) onto the matching synthetic
# frame of `fixed`, starting from `init` (T, h, w, 2); `warm` is False on the first pass.
Method = Callable[[np.ndarray, np.ndarray, np.ndarray, bool], np.ndarray]


def _demons(fixed: np.ndarray, moving: np.ndarray, init: np.ndarray, warm: bool) -> np.ndarray:
    iters = (10, 10) if warm else (20, 20, 15)
    return demons(fixed, moving, init, iters=iters, sigma_fluid=1.0, sigma_diff=3.5,
                  noise=noise_sd(moving))


def _compose_after(init: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Field of ``W(p + f)`` with ``W(p) = M(p + init(p))``: ``f + init(p + f)``."""
    out = np.empty_like(init)
    for c in range(2):
        out[..., c] = flow[..., c] + warp_stack(np.ascontiguousarray(init[..., c]), flow)
    return out


def _per_frame(flow_fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Method:
    def method(fixed: np.ndarray, moving: np.ndarray, init: np.ndarray, warm: bool) -> np.ndarray:
        pre = warp_stack(moving, init)
        pairs = zip(fixed, pre, strict=True)
        flow = np.stack([np.moveaxis(flow_fn(f, m), 0, -1) for f, m in pairs])
        return _compose_after(init, flow.astype(np.float32))
    return method


#: Non-rigid registration methods, by name (chosen by benchmarks/moco.py; see the package
#: docstring). ``"demons"`` is the default.
METHODS: dict[str, Method] = {
    "demons": _demons,
    "ilk": _per_frame(lambda f, m: optical_flow_ilk(f, m, radius=5, num_warp=5)),
    "tvl1": _per_frame(lambda f, m: optical_flow_tvl1(f, m, num_warp=3, num_iter=10)),
}


@dataclass
class MocoResult:
    """What :func:`register_series` returns.

    Attributes
    ----------
    registered : ndarray, same shape as the input images, float32
        Motion-corrected frames; outlier frames replaced by linear interpolation in time
        between good frames (display only: they are excluded from fitting).
    displacement : ndarray of shape (n_slices, ny, nx, 2, T), float32
        Backward field (px, (dy, dx)): ``registered_t(p) = images_t(p + displacement_t(p))``
        (before the outlier interpolation), the :func:`skimage.transform.warp` convention.
    outliers : ndarray of shape (n_slices, T), bool
        Frames to exclude from fitting.
    reasons : dict of (int, int) to str
        ``(slice, frame) -> why`` for every outlier.
    flags : list of QCFlag
        ``MOCO_OUTLIERS`` (warning) when more than the allowed fraction of a slice's frames
        is flagged.
    boxes : list of (y0, y1, x0, x1)
        The heart box registered in each slice (px, half-open).
    residual_ratio : ndarray of shape (n_slices, T)
        Each frame's residual to the model over the median frame's (1 = typical).
    """

    registered: np.ndarray
    displacement: np.ndarray
    outliers: np.ndarray
    reasons: dict[tuple[int, int], str]
    flags: list[QCFlag] = field(default_factory=list)
    boxes: list[tuple[int, int, int, int]] = field(default_factory=list)
    residual_ratio: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))


_RIGID_GAIN = 0.9


def _rigid(model: np.ndarray, moving: np.ndarray) -> np.ndarray:
    """Per-frame translation (phase correlation) as a constant backward field (T, h, w, 2)."""
    T, h, w = moving.shape
    out = np.zeros((T, h, w, 2), dtype=np.float32)
    win = np.outer(np.hanning(h), np.hanning(w)).astype(np.float32)
    for t in range(T):
        if np.ptp(model[t]) == 0 or np.ptp(moving[t]) == 0:
            continue  # a blank frame: nothing to align
        shift, _, _ = phase_cross_correlation(model[t] * win, moving[t] * win,
                                              upsample_factor=4, normalization=None)
        out[t] = -shift  # ndi.shift convention -> backward displacement
    # keep a shift only where it clearly improves the match: in a dark pre-contrast frame
    # the correlation peak is set by noise, and a wrong start is hard for demons to undo
    before = np.mean((moving - model) ** 2, axis=(1, 2))
    after = np.mean((warp_stack(moving, out) - model) ** 2, axis=(1, 2))
    out[after > _RIGID_GAIN * before] = 0.0
    return out


#: Geometry the registered series is put in. ``"expiration"``: the position the heart keeps
#: longest (end-expiration in free breathing: the densest cluster of per-frame positions),
#: so registered frames look like the acquired ones there; ``"model"``: the mean geometry of
#: the low-rank model (no anchoring).
REFERENCES: tuple[str, ...] = ("expiration", "model")


# the judging model gets two more components: the bolus arrival, modelled less exactly, then
# stops looking like misregistration (measured on phantom seeds 0-2; coughs stay flagged)
_JUDGE_EXTRA_RANK = 2


def _anchor(f: np.ndarray, usable: np.ndarray, bandwidth_px: float = 0.3) -> np.ndarray:
    """Re-express the fields (T, h, w, 2) in the geometry of the most frequent position.

    Each frame's position is the median field over the middle of the box; the densest
    position (Gaussian kernel density, refined by mean shift) is end-expiration in free
    breathing, where the heart dwells. A narrow kernel matters: the density peaks at the
    edge of the excursion, and frames sampled at a similar mid-breath phase can form a
    second, looser cluster.
    """
    h, w = f.shape[1:3]
    b = (slice(h // 4, h - h // 4), slice(w // 4, w - w // 4))  # the heart, not the box edge
    m = np.median(f[:, b[0], b[1]].reshape(f.shape[0], -1, 2), axis=1)  # (T, 2)
    idx = np.nonzero(usable)[0]
    if idx.size == 0:
        return f
    m = m[idx]
    d2 = np.sum((m[:, None, :] - m[None, :, :]) ** 2, axis=-1)
    mode = m[np.argmax(np.exp(-d2 / (2 * bandwidth_px**2)).sum(axis=1))]
    for _ in range(20):
        wts = np.exp(-np.sum((m - mode) ** 2, axis=-1) / (2 * bandwidth_px**2))
        mode = (wts[:, None] * m).sum(axis=0) / wts.sum()
    wts = np.exp(-np.sum((m - mode) ** 2, axis=-1) / (2 * bandwidth_px**2))
    A = np.tensordot(wts / wts.sum(), f[idx], axes=1)  # the registered geometry there
    v = invert_stack(A[None])[0]
    return compose_before(f, v)


def _model(R: np.ndarray, rank: int, basis: np.ndarray, pd_frames: int) -> np.ndarray:
    """Synthetic frames: low-rank saturation-recovery model; PD frames: their own mean.

    The proton-density contrast is not in the span of the saturation-recovery components, so
    the PD frames are first aligned among themselves (to their mean) and then moved as a group
    by :func:`_align_pd_group`.
    """
    M = lowrank_model(R, rank, basis)
    if pd_frames >= 2:
        M[:pd_frames] = R[:pd_frames].mean(axis=0)
    return M


def _smooth_model(R: np.ndarray, pd_frames: int, sigma_frames: float = 2.0) -> np.ndarray:
    """Temporally smoothed frames (Gaussian, ``sigma_frames``); PD frames: their mean."""
    M = np.empty_like(R)
    M[pd_frames:] = ndi.gaussian_filter1d(R[pd_frames:], sigma_frames, axis=0, mode="nearest")
    if pd_frames:
        M[:pd_frames] = R[:pd_frames].mean(axis=0)
    return M


def _edges(img: np.ndarray) -> np.ndarray:
    """Gradient magnitude (smoothed), normalised: a contrast-polarity-free picture of edges."""
    g = ndi.gaussian_gradient_magnitude(img.astype(np.float64), 1.0)
    return (g / (np.percentile(g, 99) + 1e-12)).astype(np.float32)


def _align_pd_group(C: np.ndarray, f: np.ndarray, pd_frames: int,
                    basis: np.ndarray) -> np.ndarray:
    """Translate the PD frames as a group onto the saturation-recovery geometry.

    PD and saturation-recovery images share their edges (heart, lungs, chest wall), not
    their intensities: the edge maps of the mean registered PD frame and of the mean
    registered saturation-recovery frame are aligned by phase correlation.
    """
    if pd_frames == 0 or not basis.any():
        return f
    R = warp_stack(C, f)
    e_pd, e_sr = _edges(R[:pd_frames].mean(axis=0)), _edges(R[basis].mean(axis=0))
    if np.ptp(e_pd) == 0 or np.ptp(e_sr) == 0:
        return f
    h, w = e_pd.shape
    win = np.outer(np.hanning(h), np.hanning(w)).astype(np.float32)
    shift, _, _ = phase_cross_correlation(e_sr * win, e_pd * win, upsample_factor=10,
                                          normalization=None)
    c = np.broadcast_to(-shift.astype(np.float32), (h, w, 2))
    out = f.copy()
    out[:pd_frames] = compose_before(f[:pd_frames], np.ascontiguousarray(c))
    return out


def _check(images: np.ndarray, pd_frames: int) -> np.ndarray:
    a = np.asarray(images)
    if a.ndim not in (3, 4):
        raise MocoInputError(
            f"images of shape {a.shape}: expected (n_slices, ny, nx, T) or (ny, nx, T)")
    if not np.isfinite(a).all():
        raise MocoInputError("images contain NaN/inf; replace them (e.g. by 0) before MoCo")
    T = a.shape[-1]
    if not 0 <= pd_frames < T - 2:
        raise MocoInputError(
            f"pd_frames={pd_frames} with {T} frames: need at least 3 saturation-recovery frames")
    return a.reshape((-1, *a.shape[-3:])) if a.ndim == 4 else a[None]


def _crop_arg(crop, S: int, ny: int, nx: int, frames: np.ndarray, pd: int):
    if crop is None:
        return [heart_box(frames[s][..., pd:]) for s in range(S)]
    if crop is False:
        return [(0, ny, 0, nx)] * S
    boxes = [tuple(int(v) for v in crop)] * S if np.ndim(crop) == 1 else [
        tuple(int(v) for v in c) for c in crop]
    for b in boxes:
        if len(b) != 4 or not (0 <= b[0] < b[1] <= ny and 0 <= b[2] < b[3] <= nx):
            raise MocoInputError(
                f"crop {b} is not (y0, y1, x0, x1) inside a {ny}x{nx} image; pass None (auto) "
                "or False (whole image)")
    if len(boxes) != S:
        raise MocoInputError(f"{len(boxes)} crop boxes for {S} slices")
    return boxes


def register_series(
    images: np.ndarray,
    *,
    pd_frames: int,
    crop: Sequence[int] | Sequence[Sequence[int]] | bool | None = None,
    method: str = "demons",
    ranks: Sequence[int] = (3, 4, 6),
    rigid: bool = True,
    outlier_z: float = 5.0,
    max_outlier_fraction: float = 0.2,
    taper_px: float = 12.0,
    reference: str = "expiration",
) -> MocoResult:
    """Register every frame to a low-rank motion-free model of its series (non-rigid).

    Per slice, on a box around the heart: translate every frame onto a temporally smoothed
    copy of the series (phase correlation; large shifts, gasps); then for each rank in
    ``ranks`` build the low-rank model of the current registered frames and register every
    frame non-rigidly (``method``) to its synthetic frame, starting from the current field.
    Proton-density frames are registered to their own mean, then moved as a group onto the
    saturation-recovery geometry by aligning edge maps. Frames still misregistered are
    flagged (residual to the model, Jacobian folding), left out of the model and bridged for
    display. Finally the fields are re-expressed in the ``reference`` geometry.

    The time per 192 x 144 frame is ~0.02 s of CPU (model included; ``benchmarks/moco.py``).

    Parameters
    ----------
    images : ndarray of shape (n_slices, ny, nx, T) or (ny, nx, T)
        The series (any intensity unit: signal or Gd); not modified.
    pd_frames : int
        Leading proton-density frames.
    crop : None, False, (y0, y1, x0, x1), or one box per slice
        ``None`` finds the heart box from the temporal SD (whole image for small images such
        as the AIF series); ``False`` registers the whole image.
    method : str
        Non-rigid method, a key of :data:`METHODS`.
    ranks : sequence of int
        Model rank at each pass (one registration pass per entry).
    rigid : bool
        Translation pre-alignment before the non-rigid passes.
    outlier_z : float
        Robust z of the residual above which a frame is an outlier (it must also be 3.5x the
        residual expected at its contrast).
    max_outlier_fraction : float
        More flagged frames than this fraction in a slice raises ``MOCO_OUTLIERS``.
    taper_px : float
        Outside the box the field fades to zero with this Gaussian length (px).
    reference : str
        Geometry of the registered series, one of :data:`REFERENCES`: ``"expiration"`` (the
        position the heart keeps longest; default) or ``"model"`` (the model's mean position).

    Returns
    -------
    MocoResult
    """
    if method not in METHODS:
        raise MocoInputError(f"unknown MoCo method {method!r}; valid: {sorted(METHODS)}")
    if reference not in REFERENCES:
        raise MocoInputError(f"unknown reference {reference!r}; valid: {list(REFERENCES)}")
    if len(ranks) == 0 or min(ranks) < 1:
        raise MocoInputError(f"ranks={tuple(ranks)} must be one or more ranks >= 1")
    stack = _check(images, pd_frames)
    S, ny, nx, T = stack.shape
    boxes = _crop_arg(crop, S, ny, nx, stack, pd_frames)
    reg_fn = METHODS[method]

    displacement = np.zeros((S, ny, nx, 2, T), dtype=np.float32)
    registered = np.empty((S, ny, nx, T), dtype=np.float32)
    outliers = np.zeros((S, T), dtype=bool)
    ratios = np.ones((S, T))
    reasons: dict[tuple[int, int], str] = {}
    flags: list[QCFlag] = []
    for s in range(S):
        y0, y1, x0, x1 = boxes[s]
        frames = np.moveaxis(stack[s], -1, 0).astype(np.float32)  # (T, ny, nx)
        C = frames[:, y0:y1, x0:x1]
        scale = float(np.percentile(C[pd_frames:], 99)) or 1.0
        C = C / scale
        basis = np.arange(T) >= pd_frames
        f = np.zeros((T, *C.shape[1:], 2), dtype=np.float32)
        out_s = np.zeros(T, dtype=bool)
        if rigid:
            # translation first, to a temporally smoothed series: breathing averages out
            # over a cycle while the contrast stays matched, so the target sits at the mean
            # position for every frame (a low-rank model of unaligned frames would follow
            # the motion of a small heart instead)
            for _ in range(2):
                f = _rigid(_smooth_model(warp_stack(C, f), pd_frames), C)
        for k, rank in enumerate(ranks):
            R = warp_stack(C, f)
            M = _model(R, rank, basis & ~out_s if (basis & ~out_s).sum() >= 3 else basis,
                       pd_frames)
            f = reg_fn(M, C, f, k > 0)
            if k < len(ranks) - 1:
                out_s, _, _ = find_outliers(warp_stack(C, f), M, f, pd_frames=pd_frames,
                                            z_max=outlier_z)
        f = _align_pd_group(C, f, pd_frames, basis & ~out_s)
        R = warp_stack(C, f)
        M = _model(R, ranks[-1], basis & ~out_s if (basis & ~out_s).sum() >= 3 else basis,
                   pd_frames)
        _, _, ratio = find_outliers(R, M, f, pd_frames=pd_frames, z_max=outlier_z)
        # judge every frame against a model learned without the suspicious ones (residual
        # well above the usual), so that several bad frames cannot teach the model their
        # own (wrong) anatomy
        trusted = basis & (ratio <= 1.8)
        trusted = trusted if trusted.sum() >= 3 else basis
        M = _model(R, ranks[-1] + _JUDGE_EXTRA_RANK, trusted, pd_frames)
        out_s, why, ratios[s] = find_outliers(R, M, f, pd_frames=pd_frames, z_max=outlier_z)
        if reference == "expiration":
            f = _anchor(f, ~out_s)
        outliers[s] = out_s
        reasons.update({(s, t): msg for t, msg in why.items()})

        # continue the box's field over the whole image, fading away from the heart
        iy, ix, w = taper_weights((ny, nx), boxes[s], taper_px)
        full = f[:, iy][:, :, ix] * w[None, :, :, None]  # (T, ny, nx, 2)
        displacement[s] = np.moveaxis(full, 0, -1)
        reg = warp_stack(frames, full)  # (T, ny, nx)
        registered[s] = np.moveaxis(reg, 0, -1)

        n_bad = int(out_s.sum())
        if n_bad > max_outlier_fraction * T:
            flags.append(QCFlag(
                code="MOCO_OUTLIERS", severity="warning", stage="moco",
                message=(f"slice {s}: {n_bad} of {T} frames ({100 * n_bad / T:.0f}%) still "
                         f"misregistered after motion correction (limit "
                         f"{100 * max_outlier_fraction:.0f}%); they are excluded from the fit, "
                         "check the registered series")))
    registered = np.stack([interpolate_frames(registered[s], outliers[s], pd_frames)
                           for s in range(S)])
    return MocoResult(
        registered=registered.reshape(np.shape(images)).astype(np.float32, copy=False),
        displacement=displacement, outliers=outliers, reasons=reasons, flags=flags,
        boxes=[tuple(b) for b in boxes], residual_ratio=ratios)
