"""Pixel-wise kinetic fit of one state's myocardium, slice by slice, scattered back to maps.

Each slice is fitted on its own acquisition times (slices sit at different points of the
RR interval), with the frames that motion correction flagged as outliers left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from qperfusion import kinetics

__all__ = ["StateFit", "fit_myocardium"]


@dataclass
class StateFit:
    """Maps of one model's pixel-wise fit of a state.

    Attributes
    ----------
    maps : dict of str to ndarray of shape (n_slices, ny, nx)
        ``mbf_ml_min_g``, ``mbf_sd_ml_min_g``, ``fp_ml_min_g``, each model parameter
        (internal units) and its ``<name>_sd``, ``residual_mM``, ``success`` (1/0); NaN
        outside the myocardium.
    fitted : ndarray of shape (n_slices, ny, nx, T)
        Model curves (mmol/L) on the frames that were fitted, NaN elsewhere.
    aic : ndarray of shape (n_slices, ny, nx)
    frame_used : ndarray of shape (n_slices, T), bool
    """

    maps: dict[str, np.ndarray]
    fitted: np.ndarray
    aic: np.ndarray
    frame_used: np.ndarray


def fit_myocardium(
    gd: np.ndarray,
    gd_times_s: np.ndarray,
    myo_mask: np.ndarray,
    aif: Any,
    *,
    model: str,
    hematocrit: float,
    outliers: np.ndarray | None = None,
) -> StateFit:
    """Fit every myocardial pixel of every slice.

    Parameters
    ----------
    gd : ndarray of shape (n_slices, ny, nx, T)
        Tissue [Gd] (mmol/L) of the saturation-recovery frames.
    gd_times_s : ndarray of shape (n_slices, T)
        Acquisition time of each frame of each slice (s).
    myo_mask : ndarray of shape (n_slices, ny, nx), bool
    aif : AifCurve-like
        ``gd_blood`` (T_a,) blood [Gd] (mmol/L) and ``times_s`` (T_a,) (s).
    model : str
        A key of ``kinetics.MODELS``.
    hematocrit : float
    outliers : ndarray of shape (n_slices, T), bool, optional
        Frames to leave out of the fit (same frames as ``gd``).

    Returns
    -------
    StateFit
    """
    n_sl, ny, nx, n_t = gd.shape
    maps: dict[str, np.ndarray] = {}
    fitted = np.full(gd.shape, np.nan, dtype=np.float32)
    aic = np.full((n_sl, ny, nx), np.nan)
    used = np.ones((n_sl, n_t), dtype=bool)
    if outliers is not None:
        used &= ~np.asarray(outliers, dtype=bool)

    def put(name: str, s: int, where: np.ndarray, values: np.ndarray) -> None:
        if name not in maps:
            maps[name] = np.full((n_sl, ny, nx), np.nan)
        maps[name][s][where] = values

    for s in range(n_sl):
        where = myo_mask[s]
        if not where.any():
            continue
        keep = used[s]
        curves = gd[s][where][:, keep]
        result = kinetics.fit(
            model, curves, aif=aif.gd_blood, aif_times=aif.times_s,
            times=gd_times_s[s][keep], hematocrit=hematocrit,
        )
        put("mbf_ml_min_g", s, where, result.mbf_ml_min_g)
        put("mbf_sd_ml_min_g", s, where, result.mbf_sd_ml_min_g)
        put("fp_ml_min_g", s, where, result.fp_ml_min_g)
        for name, values in result.params.items():
            put(name, s, where, values)
            put(f"{name}_sd", s, where, result.sd[name])
        put("residual_mM", s, where, result.residual)
        put("success", s, where, result.success.astype(float))
        aic[s][where] = result.aic
        pred = np.full((curves.shape[0], n_t), np.nan, dtype=np.float32)
        pred[:, keep] = result.predict()
        fitted[s][where] = pred
    return StateFit(maps, fitted, aic, used)
