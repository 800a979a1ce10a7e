"""Signal → gadolinium for the myocardial series (all slices, every pixel).

Per pixel: ``ratio = SR signal / smoothed PD`` → look-up table of the series' own readout →
[Gd] (mmol/L), then the pre-bolus baseline is subtracted. Only the saturation-recovery (SR)
frames are returned, with their times: the PD frames are the reference, not part of the curve.

Contract of the result (:class:`GdSeries`): ``gd[..., k]`` is SR frame ``k``, i.e. frame
``pd_frames + k`` of the input series, acquired at ``times_s[:, k]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

from qperfusion.io.model import PerfusionSeries
from qperfusion.physics.bolus import bolus_landmarks
from qperfusion.physics.lut import LookUpTable, build_lut, native_relaxation_s
from qperfusion.physics.normalise import noise_sigma_from_pd, rician_debias, smoothed_pd
from qperfusion.qc import QCFlag

__all__ = ["TISSUES", "GdSeries", "blood_to_plasma", "series_to_gd"]

TISSUES: tuple[str, ...] = ("myocardium", "blood")

#: A median pre-bolus Gd offset (mmol/L) larger than this says the native T1 or the PD
#: normalisation does not fit the data (the offset is removed, but the gain error is not).
_BASELINE_OFFSET_WARN_MM = 0.15

#: Pixels whose PD reference is below this fraction of the slice's 99th percentile are air
#: (NaN), not tissue.
_AIR_FRACTION = 0.05

#: Smallest PD SNR (PD / noise σ) of a pixel that is converted.
_MIN_PD_SNR = 5.0

#: Fraction of clamped pixel-frames above which GD_OUT_OF_RANGE is a warning (else info).
_OOR_WARN_FRACTION = 0.01

#: Relative width of the native-T1 bins when a T1 map is given (0.5 %: < 0.001 mmol/L error).
_T1_BIN_REL = 0.005


def blood_to_plasma(gd_blood: ArrayLike, hematocrit: float) -> np.ndarray:
    """Plasma concentration from whole-blood concentration: ``C_p = C_b / (1 − Hct)``.

    Gadolinium chelates stay outside the red cells, so the blood concentration is diluted by
    the cell volume.

    Parameters
    ----------
    gd_blood : array_like
        Whole-blood [Gd] (mmol/L), any shape.
    hematocrit : float
        Blood hematocrit (fraction, 0 ≤ Hct < 1).
    """
    if not 0.0 <= float(hematocrit) < 1.0:
        raise ValueError(f"hematocrit must be a fraction in [0, 1), got {hematocrit}")
    return np.asarray(gd_blood, dtype=float) / (1.0 - float(hematocrit))


@dataclass
class GdSeries:
    """Gadolinium concentration of a myocardial series (SR frames only).

    Attributes
    ----------
    gd : ndarray of shape (n_slices, ny, nx, T)
        [Gd] (mmol/L) of every SR frame; NaN outside ``mask`` and where the PD reference is 0.
    times_s : ndarray of shape (n_slices, T)
        Acquisition time (s) of each SR frame (the input's times without the PD frames).
    out_of_range : ndarray of bool, shape (n_slices, ny, nx, T)
        True where the signal ratio was outside the look-up table and was clamped.
    flags : list of QCFlag
        Findings of the conversion.
    pd_frames : int
        PD frames dropped from the front of the input series.
    n_baseline : int
        Pre-bolus SR frames used for the baseline subtraction.
    tissue : str
        The tissue the native T1 was taken for.
    hematocrit : float
        Blood hematocrit (fraction), kept for :attr:`gd_plasma`.
    noise_sigma : float
        Noise σ (scanner units) used to remove the magnitude bias (NaN: not removed).
    lut : LookUpTable or None
        The table used (None when a T1 map gave one table per T1 bin).
    """

    gd: np.ndarray
    times_s: np.ndarray
    out_of_range: np.ndarray
    flags: list[QCFlag] = field(default_factory=list)
    pd_frames: int = 0
    n_baseline: int = 0
    tissue: str = "myocardium"
    hematocrit: float = 0.42
    noise_sigma: float = float("nan")
    lut: LookUpTable | None = None

    @property
    def gd_plasma(self) -> np.ndarray:
        """``gd`` converted blood → plasma (only meaningful for ``tissue="blood"``)."""
        return blood_to_plasma(self.gd, self.hematocrit)


def _flag(code: str, severity: str, message: str) -> QCFlag:
    return QCFlag(code=code, severity=severity, message=message, stage="physics")  # type: ignore[arg-type]


def _pd_power_mean(pd: np.ndarray, sigma: float) -> np.ndarray:
    """Noise-bias-free PD amplitude: √(mean over PD frames of M² − 2σ²), shape (..., 1)."""
    power = np.mean(pd * pd, axis=-1, keepdims=True)
    return np.sqrt(np.maximum(power - 2.0 * sigma * sigma, 0.0)) if sigma > 0 else np.sqrt(power)


def resolve_t1_0(t1_0_s: float | ArrayLike | None, tissue: str, field_t: float) -> np.ndarray:
    """Native T1 (s): the given value or map, else the literature default of the tissue."""
    if tissue not in TISSUES:
        raise ValueError(f"tissue {tissue!r} is not one of {TISSUES}")
    if t1_0_s is None:
        return np.asarray(native_relaxation_s(tissue, field_t, kind="t1"))
    t1 = np.asarray(t1_0_s, dtype=float)
    if np.any(t1[np.isfinite(t1)] <= 0):
        raise ValueError(
            "t1_0_s must be positive (seconds); a T1 map in ms must be divided by 1000"
        )
    if np.nanmax(t1) > 10.0:
        raise ValueError(
            f"t1_0_s has values up to {np.nanmax(t1):.0f}: T1 must be in seconds, not ms"
        )
    return t1


def _convert(
    ratio: np.ndarray,
    t1: np.ndarray,
    build,
) -> tuple[np.ndarray, np.ndarray, LookUpTable | None]:
    """Ratio (n_slices, ny, nx, T) → Gd with one table, or one per native-T1 bin of a map."""
    if t1.ndim == 0:
        lut = build(float(t1))
        gd, oor = lut.gd_from_ratio(ratio)
        return gd, oor, lut
    gd = np.full(ratio.shape, np.nan)
    oor = np.zeros(ratio.shape, dtype=bool)
    step = math.log1p(_T1_BIN_REL)
    keys = np.where(np.isfinite(t1), np.round(np.log(np.where(t1 > 0, t1, 1.0)) / step), np.nan)
    for key in np.unique(keys[np.isfinite(keys)]):
        sel = keys == key
        lut = build(float(math.exp(key * step)))
        gd[sel], oor[sel] = lut.gd_from_ratio(ratio[sel])
    return gd, oor, None


def series_to_gd(
    series: PerfusionSeries,
    *,
    tissue: str = "myocardium",
    t1_0_s: float | ArrayLike | None = None,
    hematocrit: float = 0.42,
    mask: ArrayLike | None = None,
    relaxivity: tuple[float, float] | None = None,
    t2_0_s: float | None = None,
    pd_filter: str = "median",
    pd_filter_px: float = 1.0,
    noise_sigma: float | None = None,
    baseline_correction: bool = True,
    n_baseline: int | None = None,
    gd_max_mM: float = 20.0,
) -> GdSeries:
    """Convert a myocardial perfusion series (all slices) to [Gd] (mmol/L).

    Parameters
    ----------
    series : PerfusionSeries
        The myocardial series; the first ``series.pd_frames`` frames are PD frames.
    tissue : {"myocardium", "blood"}, optional
        Tissue whose literature native T1 (and T2 for bSSFP) is used when none is given.
    t1_0_s : float or array_like of shape (n_slices, ny, nx), optional
        Native T1 (s): one value, or a T1 map (pixels binned to 0.5 % in T1, one table per
        bin). Default :data:`qperfusion.constants.T1_NATIVE_S` of ``tissue`` at the field.
    hematocrit : float, optional
        Blood hematocrit (fraction), kept on the result for ``gd_plasma``.
    mask : array_like of bool, shape (n_slices, ny, nx), optional
        Pixels to convert (the rest are NaN); default all tissue (air and pixels with PD SNR
        below 5 are NaN). The bolus arrival is found from the mean signal of the whole image
        either way. GD_OUT_OF_RANGE is a warning only with a mask (the body outside the heart
        is not the myocardium the table is made for).
    relaxivity : tuple of float, optional
        (r1, r2) in L/mmol/s; default the preset of the series' agent and field.
    t2_0_s : float, optional
        Native T2 (s) for bSSFP; default the literature value of ``tissue``.
    pd_filter : {"median", "gaussian", "none"}, optional
        In-plane filter of the PD reference (:func:`qperfusion.physics.smoothed_pd`).
    pd_filter_px : float, optional
        Its size (median half-width or Gaussian σ, pixels); 0 disables it.
    noise_sigma : float, optional
        Per-channel noise σ (scanner units) for the magnitude-bias removal; default measured
        from two PD frames (not removed when there are fewer).
    baseline_correction : bool, optional
        Subtract each pixel's mean pre-bolus [Gd] (removes the residual noise bias and a
        native-T1 offset).
    n_baseline : int, optional
        Pre-bolus SR frames; default found from the bolus arrival in the whole image.
    gd_max_mM : float, optional
        Upper end of the look-up table (mmol/L); higher values are clamped and flagged.

    Returns
    -------
    GdSeries
        SR frames only (see the module docstring).
    """
    seq = series.sequence
    npd = int(series.pd_frames)
    data = np.asarray(series.data, dtype=float)
    if data.ndim != 4 or data.shape[-1] - npd < 3:
        raise ValueError(
            f"series {series.description!r}: need (n_slices, ny, nx, T) with at least 3 SR "
            f"frames after {npd} PD frames, got shape {data.shape}"
        )
    t1 = resolve_t1_0(t1_0_s, tissue, seq.field_t)
    if t1.ndim and t1.shape != data.shape[:3]:
        raise ValueError(f"T1 map shape {t1.shape} does not match the series {data.shape[:3]}")
    sel = np.ones(data.shape[:3], bool) if mask is None else np.asarray(mask, dtype=bool)
    if sel.shape != data.shape[:3]:
        raise ValueError(f"mask shape {sel.shape} does not match the series {data.shape[:3]}")
    flags: list[QCFlag] = []

    use_pd = npd >= 1 and seq.pd_flip_deg > 0
    sigma = (
        float(noise_sigma)
        if noise_sigma is not None
        else (noise_sigma_from_pd(data[..., :npd]) if use_pd else float("nan"))
    )
    sr = rician_debias(data[..., npd:], sigma)
    foot = bolus_landmarks(np.nanmean(sr, axis=(0, 1, 2))).arrival_index
    nb = int(n_baseline) if n_baseline is not None else foot
    if use_pd:
        ref = smoothed_pd(
            _pd_power_mean(data[..., :npd], sigma), size_px=pd_filter_px, method=pd_filter
        )
    else:
        if nb < 1:
            raise ValueError(
                f"series {series.description!r} has no PD frames and no pre-bolus frames to "
                "normalise to; give n_baseline"
            )
        ref = sr[..., :nb].mean(axis=-1)
        flags.append(
            _flag(
                "NO_PD_FRAMES",
                "warning",
                f"No PD frames: signal normalised to the mean of {nb} pre-bolus "
                "frames, which assumes the native T1 is right.",
            )
        )
    if use_pd and np.isnan(sigma) and noise_sigma is None:
        flags.append(
            _flag(
                "NOISE_UNKNOWN",
                "info",
                "Fewer than two PD frames: the magnitude-noise bias is only "
                "removed by the baseline subtraction.",
            )
        )

    # Air and lung: no PD signal to normalise to; their "Gd" would be noise over noise.
    level = np.percentile(ref.reshape(ref.shape[0], -1), 99, axis=1)[:, None, None]
    is_tissue = (ref > _AIR_FRACTION * level) & sel
    if sigma > 0:  # and a PD reference that is mostly noise is not one either
        is_tissue &= ref > _MIN_PD_SNR * sigma
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(is_tissue[..., None], sr / ref[..., None], np.nan)
    r2_0 = 1.0 / (
        t2_0_s if t2_0_s is not None else native_relaxation_s(tissue, seq.field_t, kind="t2")
    )

    def build(t1_value: float) -> LookUpTable:
        return build_lut(
            seq,
            t1_0_s=t1_value,
            tissue_r2_0=r2_0,
            relaxivity=relaxivity,
            gd_max_mM=gd_max_mM,
            reference="pd" if use_pd else "baseline",
        )

    gd, oor, lut = _convert(ratio, t1, build)
    if lut is not None and not lut.monotonic:
        flags.append(
            _flag(
                "LUT_NOT_MONOTONIC",
                "warning" if lut.gd_valid_max_mM < 8.0 else "info",
                f"The simulated signal stops increasing at {lut.gd_valid_max_mM:.1f} "
                "mmol/L; higher concentrations are clamped.",
            )
        )

    if baseline_correction and nb >= 2:
        base = gd[..., :nb]
        n_ok = np.isfinite(base).sum(axis=-1)
        offset = np.where(n_ok > 0, np.nansum(base, axis=-1) / np.maximum(n_ok, 1), np.nan)
        med = float(np.median(offset[n_ok > 0])) if (n_ok > 0).any() else 0.0
        gd = gd - offset[..., None]
        if abs(med) > _BASELINE_OFFSET_WARN_MM:
            flags.append(
                _flag(
                    "GD_BASELINE_OFFSET",
                    "warning",
                    f"Pre-bolus [Gd] was {med:+.2f} mmol/L before the baseline "
                    "subtraction: the native T1 or the PD normalisation may be off.",
                )
            )
    elif baseline_correction:
        flags.append(
            _flag(
                "SHORT_BASELINE",
                "warning",
                f"Only {nb} pre-bolus frame(s): no baseline subtraction.",
            )
        )

    n_oor = int(oor.sum())
    if n_oor:
        n_vals = int(np.isfinite(ratio).sum())
        flags.append(
            _flag(
                "GD_OUT_OF_RANGE",
                "warning" if mask is not None and n_oor > _OOR_WARN_FRACTION * n_vals else "info",
                f"{n_oor} of {n_vals} pixel-frames ({100 * n_oor / max(n_vals, 1):.2f} %)"
                " fell outside the look-up table and were clamped"
                + (
                    " (whole image: pass a myocardial mask to judge the myocardium)."
                    if mask is None
                    else "."
                ),
            )
        )
    return GdSeries(
        gd=gd,
        times_s=np.asarray(series.times_s, dtype=float)[:, npd:].copy(),
        out_of_range=oor,
        flags=flags,
        pd_frames=npd,
        n_baseline=nb,
        tissue=tissue,
        hematocrit=float(hematocrit),
        noise_sigma=sigma,
        lut=lut,
    )
