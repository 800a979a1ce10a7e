"""Synthetic perfusion series made with the shared forward model (known [Gd] truth)."""

from __future__ import annotations

import numpy as np

from qperfusion import constants
from qperfusion.io.model import PerfusionSeries, SequenceParams
from qperfusion.physics import readout_signal, relaxivity, t2star_decay

MYO_FLASH = SequenceParams(
    readout="flash",
    td_s=0.1,
    tr_s=0.0025,
    te_s=(0.0011,),
    flip_deg=14.0,
    pd_flip_deg=5.0,
    n_pe_lines=72,
    lines_to_center=36,
)
MYO_SSFP = SequenceParams(
    readout="ssfp",
    td_s=0.1,
    tr_s=0.0026,
    te_s=(0.0013,),
    flip_deg=50.0,
    pd_flip_deg=5.0,
    n_pe_lines=72,
    lines_to_center=36,
    n_rampup=5,
)
AIF_FLASH = SequenceParams(
    readout="flash",
    td_s=0.0045,
    tr_s=0.0025,
    te_s=(0.0008, 0.0018),
    flip_deg=5.0,
    pd_flip_deg=5.0,
    n_pe_lines=24,
    lines_to_center=12,
)


def gamma_bolus(t: np.ndarray, *, t0: float, peak: float, tmax: float = 4.0) -> np.ndarray:
    """Gamma-variate first pass (peak value ``peak`` at ``t0 + tmax``) + a small plateau."""
    a = 3.0
    x = np.clip(t - t0, 0, None) / tmax
    first = peak * x**a * np.exp(a * (1 - x))
    plateau = 0.15 * peak * (1 - np.exp(-np.clip(t - t0 - tmax, 0, None) / 6.0))
    return first + plateau


def frame_times(n_frames: int, n_slices: int = 1, rr: float = 0.8) -> np.ndarray:
    """Uneven heartbeat times (s), one row per slice (slices offset within the RR)."""
    rng = np.random.default_rng(1)
    beats = np.concatenate([[0.0], np.cumsum(rr + 0.03 * rng.standard_normal(n_frames - 1))])
    return beats[None, :] + 0.12 * np.arange(n_slices)[:, None]


def _signal(seq: SequenceParams, gd: np.ndarray, *, tissue: str, pd: bool, m0) -> np.ndarray:
    r1_rel, r2_rel = relaxivity(seq.agent, seq.field_t)
    t1 = constants.T1_NATIVE_S[tissue][seq.field_t]
    t2 = constants.T2_NATIVE_S[tissue][seq.field_t]
    return readout_signal(
        1 / t1 + r1_rel * gd,
        readout=seq.readout,
        td_s=None if pd else seq.td_s,
        tr_s=seq.tr_s,
        flip_deg=seq.pd_flip_deg if pd else seq.flip_deg,
        lines_to_center=seq.lines_to_center,
        n_rampup=seq.n_rampup,
        r2=1 / t2 + r2_rel * gd,
        m0=m0,
    )


def myo_series(
    seq: SequenceParams, gd: np.ndarray, *, pd_frames: int = 3, m0: np.ndarray | float = 1000.0
) -> PerfusionSeries:
    """Series whose SR frames carry ``gd`` (n_slices, ny, nx, T) mmol/L of myocardium."""
    m0 = np.broadcast_to(np.asarray(m0, float), gd.shape[:3])[..., None]
    pd_img = _signal(seq, np.zeros((*gd.shape[:3], pd_frames)), tissue="myocardium", pd=True, m0=m0)
    sr = _signal(seq, gd, tissue="myocardium", pd=False, m0=m0)
    data = np.concatenate([pd_img, sr], axis=-1)[None]
    n_slices, n_t = gd.shape[0], data.shape[-1]
    return PerfusionSeries(
        echoes=data.astype(np.float64),
        times_s=frame_times(n_t, n_slices),
        pd_frames=pd_frames,
        sequence=seq,
        affines=np.repeat(np.eye(4)[None], n_slices, axis=0),
        description="synthetic myocardium",
    )


def aif_series(
    gd_blood: np.ndarray,
    *,
    seq: SequenceParams = AIF_FLASH,
    pd_frames: int = 3,
    shape: tuple[int, int] = (16, 16),
    r2star_relaxivity: float | None = None,
    m0: float = 1000.0,
) -> tuple[PerfusionSeries, np.ndarray]:
    """Dual-echo AIF series: a square LV pool carrying ``gd_blood`` (T,), background tissue.

    Returns the series and the pool mask (ny, nx).
    """
    if r2star_relaxivity is None:
        r2star_relaxivity = constants.R2STAR_RELAXIVITY_BLOOD[seq.field_t]
    r2s0 = 1.0 / constants.T2STAR_BLOOD_NATIVE_S[seq.field_t]
    gd_all = np.concatenate([np.zeros(pd_frames), gd_blood])
    pd_mask = np.arange(gd_all.size) < pd_frames
    s = np.where(
        pd_mask,
        _signal(seq, gd_all, tissue="blood", pd=True, m0=m0),
        _signal(seq, gd_all, tissue="blood", pd=False, m0=m0),
    )
    r2s = r2s0 + r2star_relaxivity * gd_all
    echoes = np.stack([s * t2star_decay(te, r2s) for te in seq.te_s])  # (n_echoes, T)
    mask = np.zeros(shape, bool)
    mask[5:11, 5:11] = True
    img = np.full((len(seq.te_s), 1, *shape, gd_all.size), 0.0)
    img[:, 0, mask, :] = echoes[:, None, :]
    # Myocardium-like background with a weak enhancement, so the image is not empty.
    bg = _signal(seq, 0.1 * gd_all, tissue="myocardium", pd=False, m0=m0)
    bg = np.where(pd_mask, _signal(seq, 0 * gd_all, tissue="myocardium", pd=True, m0=m0), bg)
    img[:, 0, ~mask, :] = bg[None, None, :]
    series = PerfusionSeries(
        echoes=img,
        times_s=frame_times(gd_all.size),
        pd_frames=pd_frames,
        sequence=seq,
        affines=np.eye(4)[None],
        description="synthetic AIF",
    )
    return series, mask
