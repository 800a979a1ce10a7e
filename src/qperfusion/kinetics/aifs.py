"""Arterial input functions: population models and interpolation between samples.

``population_aif`` is the Parker et al. model (MRM 2006;56:993, doi:10.1002/mrm.21066), a
whole-blood curve with two Gaussians and a sigmoid-modulated exponential; ``gamma_variate_aif``
a single gamma-variate bolus. ``interpolate_aif`` carries sampled AIFs to another grid.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "AIF_INTERPOLATIONS",
    "PARKER_2006",
    "gamma_variate_aif",
    "interpolate_aif",
    "population_aif",
]

#: Parker 2006 population AIF parameters (time in minutes, whole-blood mmol/L); Table 1 of
#: Parker et al. MRM 2006;56:993, as in the OSIPI DCE-DSC-MRI code collection.
PARKER_2006: dict[str, float] = {
    "A1": 0.809,
    "sigma1": 0.0563,
    "T1": 0.17046,
    "A2": 0.330,
    "sigma2": 0.132,
    "T2": 0.365,
    "alpha": 1.050,
    "beta": 0.1685,
    "s": 38.078,
    "tau": 0.483,
}

#: Valid ``method`` names of :func:`interpolate_aif`.
AIF_INTERPOLATIONS: tuple[str, ...] = ("cubic", "pchip", "linear")


def population_aif(
    t: np.ndarray, *, onset: float = 0.0, hematocrit: float = 0.0, scale: float = 1.0
) -> np.ndarray:
    """Parker 2006 population AIF.

    Parameters
    ----------
    t : ndarray of shape (T,)
        Times (s).
    onset : float
        Bolus arrival time (s); the curve is 0 before it.
    hematocrit : float
        0 returns whole blood; otherwise plasma = blood / (1 − hematocrit).
    scale : float
        Multiplier of the whole curve (dose scaling; 1 = Parker's 0.1 mmol/kg).

    Returns
    -------
    ndarray of shape (T,)
        Concentration (mmol/L).
    """
    p = PARKER_2006
    tm = (np.asarray(t, dtype=float) - onset) / 60.0
    g1 = (
        p["A1"]
        / (p["sigma1"] * np.sqrt(2 * np.pi))
        * np.exp(-((tm - p["T1"]) ** 2) / (2 * p["sigma1"] ** 2))
    )
    g2 = (
        p["A2"]
        / (p["sigma2"] * np.sqrt(2 * np.pi))
        * np.exp(-((tm - p["T2"]) ** 2) / (2 * p["sigma2"] ** 2))
    )
    tail = p["alpha"] * np.exp(-p["beta"] * tm) / (1.0 + np.exp(-p["s"] * (tm - p["tau"])))
    cb = np.where(tm >= 0, g1 + g2 + tail, 0.0) * scale
    return cb / (1.0 - hematocrit)


def gamma_variate_aif(
    t: np.ndarray,
    *,
    onset: float = 5.0,
    peak_mM: float = 6.0,
    time_to_peak: float = 6.0,
    alpha: float = 3.0,
    recirculation: float = 0.08,
) -> np.ndarray:
    """Gamma-variate first pass plus a slow plateau (a simple cardiac-like AIF).

    ``c(t) = peak·(τ/tp)^α·exp(α(1 − τ/tp)) + r·peak·(1 − exp(−τ/tp))`` with ``τ = t − onset``.

    Parameters
    ----------
    t : ndarray of shape (T,)
        Times (s).
    onset, time_to_peak : float
        Arrival time and time from arrival to peak (s).
    peak_mM : float
        First-pass peak (mmol/L).
    alpha : float
        Shape exponent.
    recirculation : float
        Plateau level as a fraction of the peak.

    Returns
    -------
    ndarray of shape (T,)
        Concentration (mmol/L).
    """
    tau = np.maximum(np.asarray(t, dtype=float) - onset, 0.0)
    x = tau / time_to_peak
    first = peak_mM * x**alpha * np.exp(alpha * (1.0 - x))
    plateau = recirculation * peak_mM * (1.0 - np.exp(-x))
    return first + plateau


def interpolate_aif(
    t: np.ndarray, aif: np.ndarray, t_new: np.ndarray, *, method: str = "cubic"
) -> np.ndarray:
    """Interpolate a sampled AIF at new times.

    Parameters
    ----------
    t : ndarray of shape (T,)
        Sample times (s), strictly increasing.
    aif : ndarray of shape (T,)
        Concentration (mmol/L).
    t_new : ndarray of shape (M,)
        Times (s) to evaluate at. Before ``t[0]`` the first value is held, after ``t[-1]`` the
        last value.
    method : {"cubic", "pchip", "linear"}
        Not-a-knot cubic spline, shape-preserving PCHIP, or straight lines.

    Returns
    -------
    ndarray of shape (M,)
    """
    t = np.asarray(t, dtype=float)
    aif = np.asarray(aif, dtype=float)
    t_new = np.asarray(t_new, dtype=float)
    if method == "linear":
        return np.interp(t_new, t, aif)
    from scipy.interpolate import CubicSpline, PchipInterpolator

    if method == "cubic":
        f = CubicSpline(t, aif, bc_type="not-a-knot", extrapolate=False)
    elif method == "pchip":
        f = PchipInterpolator(t, aif, extrapolate=False)
    else:
        raise ValueError(
            f"unknown AIF interpolation {method!r}; choose one of {AIF_INTERPOLATIONS}"
        )
    inside = np.clip(t_new, t[0], t[-1])
    return f(inside)
