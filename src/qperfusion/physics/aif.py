"""Signal → gadolinium for the arterial input function (dual-echo AIF series), with QC.

The LV blood-pool signal (mean over the mask, per echo and frame, after the magnitude-bias
removal) is T2*-corrected from its two echoes (:mod:`qperfusion.physics.t2star`), divided by
the PD signal and converted with the look-up table of the AIF readout and the native T1 of
blood. Then the pre-bolus baseline is removed and the curve is checked: peak [Gd],
saturation/linearity of the conversion at the peak, baseline drift, and the bolus landmarks
(arrival, peak, valley). Only the SR frames are returned, with their times.

References
----------
Kellman P, Hansen MS, Nielles-Vallespin S, et al. Myocardial perfusion cardiovascular magnetic
resonance: optimized dual sequence and reconstruction for quantification. JCMR 2017;19:43.
doi:10.1186/s12968-017-0355-5
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike
from scipy import ndimage

from qperfusion import constants
from qperfusion.io.model import PerfusionSeries
from qperfusion.physics.bolus import bolus_landmarks, detrend_baseline
from qperfusion.physics.conversion import resolve_t1_0
from qperfusion.physics.lut import LookUpTable, build_lut, native_relaxation_s
from qperfusion.physics.normalise import noise_sigma_from_pd, rician_debias
from qperfusion.physics.t2star import denoise_r2star, r2star_from_echoes, t2star_correct
from qperfusion.qc import QCFlag

__all__ = ["AifCurve", "aif_to_gd"]

#: Fewest pool pixels an eroded AIF mask must keep to be used instead of the full mask.
_MIN_POOL_PX = 6


@dataclass
class AifCurve:
    """Blood [Gd] of the AIF and what was found while converting it (SR frames only).

    Attributes
    ----------
    gd_blood : ndarray of shape (T,)
        Whole-blood [Gd] (mmol/L), T2*-corrected when asked and possible, baseline removed.
    times_s : ndarray of shape (T,)
        Acquisition time (s) of each SR frame.
    r2star : ndarray of shape (T,)
        Denoised blood R2* (1/s) per frame (NaN with a single echo).
    r2star_0 : float
        Pre-contrast blood R2* (1/s) (NaN with a single echo).
    gd_blood_uncorrected : ndarray of shape (T,)
        The same conversion without the T2* correction (mmol/L), to show its effect.
    out_of_range : ndarray of bool, shape (T,)
        Frames whose signal ratio fell outside the look-up table (clamped).
    peak_mM : float
        Peak blood [Gd] (mmol/L).
    arrival_index, peak_index : int
        Foot (last pre-bolus frame) and first-pass peak, as SR-frame indices.
    valley_index : int or None
        Dip between first pass and recirculation (None when not seen).
    linearity_at_peak : float
        Slope of the look-up table at the peak relative to its slope at 0 (1 = linear).
    drift_mM_per_s : float
        Slope of a straight line through the pre-bolus frames (mmol/L/s).
    saturation_warning : bool
        True when the peak is high in a non-linear part of the table, or clamped.
    flags : list of QCFlag
        Findings, ready for results.json.
    t2star_corrected : bool
        Whether the returned curve is T2*-corrected.
    lut : LookUpTable
        The table used.
    """

    gd_blood: np.ndarray
    times_s: np.ndarray
    r2star: np.ndarray
    r2star_0: float
    gd_blood_uncorrected: np.ndarray
    out_of_range: np.ndarray
    peak_mM: float  # noqa: N815 (unit suffix, DESIGN.md)
    arrival_index: int
    peak_index: int
    valley_index: int | None
    linearity_at_peak: float
    drift_mM_per_s: float  # noqa: N815
    saturation_warning: bool
    t2star_corrected: bool
    lut: LookUpTable
    flags: list[QCFlag] = field(default_factory=list)


def _flag(code: str, severity: str, message: str) -> QCFlag:
    return QCFlag(code=code, severity=severity, message=message, stage="physics")  # type: ignore[arg-type]


def _pool_curves(
    series: PerfusionSeries, mask: np.ndarray, sigma: float, slice_index: int
) -> np.ndarray:
    """Mean bias-free magnitude in the pool: (n_echoes, T)."""
    pix = np.asarray(series.echoes[:, slice_index], dtype=float)[:, mask, :]  # (n_echoes, n_pix, T)
    return rician_debias(pix, sigma).mean(axis=1)


#: Slope / standard error above which a baseline drift is reported (info), and above which it
#: is a warning: a handful of noisy pre-bolus frames cannot show a weaker drift reliably.
DRIFT_T_MIN = 3.0
DRIFT_T_WARN = 5.0


def _slope_t_statistic(y: np.ndarray, t: np.ndarray, slope: float) -> float:
    """|slope| over its standard error for a straight-line fit of ``y`` against ``t``.

    The AIF's frames are not independent (R2* smoothing, registration, the PD reference are
    shared between frames), so the standard error is inflated by the residuals' lag-1
    autocorrelation ρ: n_eff = n·(1 − ρ)/(1 + ρ).
    """
    if y.size < 4 or not np.isfinite(slope):
        return 0.0
    tc = t - t.mean()
    resid = y - y.mean() - slope * tc
    ss = float(np.sum(resid**2))
    if ss <= 0:
        return float("inf")
    rho = float(np.clip(np.sum(resid[1:] * resid[:-1]) / ss, 0.0, 0.9))
    inflation = (1 + rho) / (1 - rho)
    se = np.sqrt(ss / (y.size - 2) * inflation / max(float(np.sum(tc**2)), 1e-12))
    return float(abs(slope) / se)


def aif_to_gd(
    aif_series: PerfusionSeries,
    mask: ArrayLike,
    *,
    t1_0_s: float | None = None,
    t2star_correction: bool = True,
    relaxivity: tuple[float, float] | None = None,
    noise_sigma: float | None = None,
    r2star_smoothing_frames: float = 1.0,
    baseline_correction: bool = True,
    detrend_order: int = 0,
    gd_max_mM: float = 20.0,
    erode_px: int = 1,
    slice_index: int = 0,
) -> AifCurve:
    """Convert the AIF series' LV blood pool to a blood [Gd] curve (mmol/L), with QC.

    Parameters
    ----------
    aif_series : PerfusionSeries
        The AIF series (FLASH, one slice, one or two echoes); the first ``pd_frames`` frames
        are PD frames.
    mask : array_like of bool, shape (ny, nx)
        LV blood-pool pixels of the AIF image.
    t1_0_s : float, optional
        Native blood T1 (s); default :data:`qperfusion.constants.T1_NATIVE_S` ``["blood"]``
        at the field (a post-contrast rest scan needs its measured T1 here).
    t2star_correction : bool, optional
        Correct echo 1 for the Gd-induced T2* loss measured from the two echoes.
    relaxivity : tuple of float, optional
        (r1, r2) in L/mmol/s; default the preset of the agent and field.
    noise_sigma : float, optional
        Per-channel noise σ (scanner units); default measured from two PD frames.
    r2star_smoothing_frames : float, optional
        Gaussian width (frames) of the weighted temporal denoising of R2*.
    baseline_correction : bool, optional
        Subtract the pre-bolus baseline (a polynomial of ``detrend_order``).
    detrend_order : int, optional
        0 removes an offset; 1 also a linear drift fitted on the pre-bolus frames.
    gd_max_mM : float, optional
        Upper end of the look-up table (mmol/L).
    erode_px : int, optional
        Pixels peeled off the mask's edge before averaging (kept only when at least
        ``_MIN_POOL_PX`` pixels remain): edge pixels of the pool mix in the myocardium's
        signal through the point-spread function and partial volume, which lowers the peak
        (on the phantom, 7 % with the full mask, 0.5 % after one pixel).
    slice_index : int, optional
        Slice of the series that ``mask`` belongs to. The AIF series has one; the fallback
        of an LV-pool AIF from the myocardial series (no AIF series) picks one of its slices
        and gets the saturation check (TD ~90 ms: non-linear above ~1–2 mmol/L).

    Returns
    -------
    AifCurve
    """
    seq = aif_series.sequence
    npd = int(aif_series.pd_frames)
    m = np.asarray(mask, dtype=bool)
    if m.shape != aif_series.matrix:
        raise ValueError(
            f"AIF mask shape {m.shape} does not match the AIF image {aif_series.matrix}"
        )
    if not 0 <= slice_index < aif_series.n_slices:
        raise ValueError(
            f"slice_index {slice_index} is outside the series' {aif_series.n_slices} slice(s)"
        )
    if not m.any():
        raise ValueError("AIF mask is empty: give the LV blood-pool pixels of the AIF series")
    if erode_px > 0:
        core = ndimage.binary_erosion(m, iterations=int(erode_px))
        if core.sum() >= _MIN_POOL_PX:
            m = core
    if aif_series.n_frames - npd < 3:
        raise ValueError(f"AIF series has {aif_series.n_frames} frames with {npd} PD frames")
    flags: list[QCFlag] = []
    use_pd = npd >= 1 and seq.pd_flip_deg > 0
    pd_block = np.asarray(aif_series.echoes[0][..., :npd], dtype=float)
    sigma = float(noise_sigma) if noise_sigma is not None else noise_sigma_from_pd(pd_block)
    curves = _pool_curves(aif_series, m, sigma, slice_index)  # (n_echoes, T_all)
    s1_all = curves[0]

    can_t2 = aif_series.n_echoes >= 2 and len(seq.te_s) >= 2
    r2s = np.full(s1_all.shape[-1] - npd, np.nan)
    r2s_0 = float("nan")
    s1_corr_all = s1_all
    if can_t2:
        te1, te2 = float(seq.te_s[0]), float(seq.te_s[1])
        raw = r2star_from_echoes(s1_all, curves[1], te1_s=te1, te2_s=te2)
        r2s_all = denoise_r2star(raw, weights=curves[1] ** 2, sigma_frames=r2star_smoothing_frames)
        foot_sig = bolus_landmarks(s1_all[npd:]).arrival_index
        # Native R2* from the PD frames (high SNR), else from the pre-bolus SR frames.
        r2s_0 = float(np.nanmedian(raw[:npd] if npd >= 1 else raw[npd : npd + max(foot_sig, 1)]))
        r2s = r2s_all[npd:]
        s1_corr_all = t2star_correct(s1_all, r2s_all - r2s_0, te1_s=te1)
    if t2star_correction and not can_t2:
        flags.append(
            _flag(
                "AIF_NO_T2STAR",
                "warning",
                "The AIF series has a single echo: no T2* correction; the AIF peak "
                "may be under-estimated and MBF over-estimated (~10 %).",
            )
        )

    t1 = float(resolve_t1_0(t1_0_s, "blood", seq.field_t))
    lut = build_lut(
        seq,
        t1_0_s=t1,
        relaxivity=relaxivity,
        gd_max_mM=gd_max_mM,
        tissue_r2_0=1.0 / native_relaxation_s("blood", seq.field_t, kind="t2"),
        reference="pd" if use_pd else "baseline",
    )
    times = np.asarray(aif_series.times_s, dtype=float)[slice_index, npd:].copy()

    def convert(s1: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        sr = s1[npd:]
        foot = bolus_landmarks(sr).arrival_index
        ref = s1[:npd].mean() if use_pd else sr[: max(foot, 1)].mean()
        gd, oor = lut.gd_from_ratio(sr / ref)
        return gd, oor, foot

    gd_unc, _, _ = convert(s1_all)
    gd, oor, foot = convert(s1_corr_all if (t2star_correction and can_t2) else s1_all)

    _, drift = detrend_baseline(gd, times, n_baseline=foot, order=1)
    drift_rate = float(drift[0]) if foot >= 2 else float("nan")
    drift_t = _slope_t_statistic(gd[:foot], times[:foot], drift_rate)
    if baseline_correction:
        gd, _ = detrend_baseline(gd, times, n_baseline=foot, order=detrend_order)
        gd_unc, _ = detrend_baseline(gd_unc, times, n_baseline=foot, order=detrend_order)
        if foot < detrend_order + 1:
            flags.append(
                _flag(
                    "SHORT_BASELINE",
                    "warning",
                    f"The AIF has {foot} pre-bolus frame(s): baseline not removed.",
                )
            )
    marks = bolus_landmarks(gd)
    peak = float(gd[marks.peak_index])
    duration = float(times[-1] - times[0])
    # a few noisy pre-bolus frames give a slope whose extrapolation over the whole series is
    # large by chance: warn only for a drift that is both large and significant
    if (np.isfinite(drift_rate) and abs(drift_rate) * duration > constants.AIF_DRIFT_WARN_MM
            and drift_t > DRIFT_T_MIN):
        strong = drift_t > DRIFT_T_WARN
        flags.append(
            _flag(
                "AIF_BASELINE_DRIFT",
                "warning" if strong else "info",
                f"AIF baseline {'drifts' if strong else 'may drift'} "
                f"{drift_rate * 60:+.2f} mmol/L/min ({drift_rate * duration:+.2f} mmol/L over "
                f"the series, slope {drift_t:.1f} × its standard error over {foot} pre-bolus "
                "frames); only the baseline offset is removed.",
            )
        )

    linearity = float(lut.sensitivity(min(peak, lut.gd_valid_max_mM)))
    clamped = bool(oor[max(marks.peak_index - 1, 0) : marks.peak_index + 2].any())
    saturated = clamped or (
        peak > constants.AIF_SATURATION_PEAK_MM and linearity < constants.AIF_LINEARITY_MIN
    )
    if clamped:
        flags.append(
            _flag(
                "AIF_SATURATION",
                "error",
                f"The AIF peak is beyond the look-up table (clamped at "
                f"{lut.gd_valid_max_mM:.1f} mmol/L): the AIF is saturated.",
            )
        )
    elif saturated:
        flags.append(
            _flag(
                "AIF_SATURATION",
                "warning",
                f"AIF peak {peak:.1f} mmol/L where the signal is non-linear (slope "
                f"{100 * linearity:.0f} % of its pre-contrast value): the peak "
                "may be under-estimated.",
            )
        )
    if peak <= 0.5:
        flags.append(
            _flag(
                "AIF_NO_BOLUS",
                "error",
                f"AIF peak {peak:.2f} mmol/L: no contrast bolus in the AIF mask.",
            )
        )
    return AifCurve(
        gd_blood=gd,
        times_s=times,
        r2star=r2s,
        r2star_0=r2s_0,
        gd_blood_uncorrected=gd_unc,
        out_of_range=oor,
        peak_mM=peak,
        arrival_index=marks.arrival_index,
        peak_index=marks.peak_index,
        valley_index=marks.valley_index,
        linearity_at_peak=linearity,
        drift_mM_per_s=drift_rate,
        saturation_warning=saturated,
        t2star_corrected=bool(t2star_correction and can_t2),
        lut=lut,
        flags=flags,
    )
