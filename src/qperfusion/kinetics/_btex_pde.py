"""Reference BTEX solver straight from the PDEs: Lagrangian plasma sliding (characteristics).

Independent of the closed-form solver in :mod:`qperfusion.kinetics._btex_solver`, used to check
it. The capillary is cut into ``n_cells``; the time step is the cell transit time
``Tc / n_cells``, so the plasma advances exactly one cell per step (method of characteristics,
no numerical dispersion). Plasma–ISF exchange in each cell is integrated exactly over the step
(the 2×2 linear system has a closed form), Strang-split around the shift. Each entering
parcel carries the exact mean of the (piecewise-linear) input over its entry interval. First
order in ``1/n_cells``; slow (NumPy, one step per cell transit) — for tests and benchmarks.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["btex_conc_pde"]


def _a_of(tau: np.ndarray, t: np.ndarray, cin: np.ndarray) -> np.ndarray:
    """Integral of the piecewise-linear input from t[0] (0 before, held after the last sample)."""
    acum = np.concatenate([[0.0], np.cumsum(0.5 * (cin[1:] + cin[:-1]) * np.diff(t))])
    tau = np.asarray(tau, dtype=float)
    j = np.clip(np.searchsorted(t, tau, side="right") - 1, 0, t.size - 2)
    s = np.clip(tau - t[j], 0.0, None)
    slope = (cin[j + 1] - cin[j]) / (t[j + 1] - t[j])
    inside = acum[j] + s * (cin[j] + 0.5 * slope * s)
    after = acum[-1] + cin[-1] * (tau - t[-1])
    return np.where(tau <= t[0], 0.0, np.where(tau >= t[-1], after, inside))


def btex_conc_pde(
    t: np.ndarray,
    aif: np.ndarray,
    *,
    fp: float,
    ps: float,
    vp: float,
    ve: float,
    delay: float = 0.0,
    n_cells: int = 200,
) -> np.ndarray:
    """BTEX tissue concentration (mmol/L) at ``t`` by Lagrangian sliding of the plasma.

    Parameters
    ----------
    t : ndarray of shape (T,)
        Sample times (s), increasing.
    aif : ndarray of shape (T,)
        Plasma AIF (mmol/L) at ``t``.
    fp, ps : float
        Plasma flow and permeability-surface product (mL/s/mL).
    vp, ve : float
        Plasma and interstitial volume fractions (> 0).
    delay : float
        Bolus delay (s).
    n_cells : int
        Axial cells along the capillary.

    Returns
    -------
    ndarray of shape (T,)
    """
    t = np.asarray(t, dtype=float)
    aif = np.asarray(aif, dtype=float)
    tc = vp / fp
    dt = tc / n_cells
    kp, ki = ps / vp, ps / ve
    decay_half = math.exp(-(kp + ki) * dt / 2)
    wp, wi = ve / (vp + ve), vp / (vp + ve)
    n_steps = math.ceil((t[-1] - t[0]) / dt) + 1
    step_t = t[0] + dt * np.arange(n_steps + 1)
    inflow = np.diff(_a_of(step_t - delay, t, aif)) / dt  # exact mean of Cin per entry interval
    cp = np.zeros(n_cells)
    ci = np.zeros(n_cells)
    tissue = np.zeros(n_steps + 1)

    def exchange(cp: np.ndarray, ci: np.ndarray) -> None:
        mean = (vp * cp + ve * ci) / (vp + ve)
        diff = (cp - ci) * decay_half
        cp[:] = mean + wp * diff
        ci[:] = mean - wi * diff

    for n in range(n_steps):
        exchange(cp, ci)
        cp[1:] = cp[:-1]
        cp[0] = inflow[n]
        exchange(cp, ci)
        tissue[n + 1] = vp * cp.mean() + ve * ci.mean()
    return np.interp(t, step_t, tissue)
