"""Numba kernels of the BTEX forward model: exact residue, quadrature of the ISF return.

Without axial diffusion the two-region BTEX PDEs have a closed-form outflow response. In the
Laplace domain the capillary outlet is ``H(s) = exp(-s Tc) exp(-γ s / (s + ki))`` with the
capillary transit time ``Tc = vp/Fp``, the extraction number ``γ = PS/Fp`` and the ISF rate
``ki = PS/ve``: a particle leaves the capillary after ``Tc`` plus, for each of its
``N ~ Poisson(γ)`` excursions into the ISF, an ``Exp(ki)`` sojourn. Mass balance gives the
tissue content ``C(t) = Fp ∫ (Cin − Cout) dt``, so with ``A(t) = ∫ Cin`` (exact for the
piecewise-linear AIF)::

    C(t) = Fp [A(t−d) − e^{−γ} A(t−d−Tc) − ∫ f_c(u) A(t−d−Tc−u) du]

where ``f_c`` is the continuous (ISF-return) part of the outflow density, whose cumulative
mass is known in closed form (a Poisson mixture of Gamma CDFs)::

    F_c(u) = (1 − e^{−γ}) − e^{−ki u} Σ_m (ki u)^m / m! · P(N > m)

The first two terms are exact; only the last integral is discretised: exact bin masses of
``f_c`` on a uniform grid of step ``h``, ``A`` at bin mid-points, and linear interpolation of
the result in time — second order in ``h`` (see tests/kinetics/test_btex_solver.py).

References: Sangren & Sheppard, Bull Math Biophys 1953;15:387, doi:10.1007/BF02476412;
Bassingthwaighte et al., Circ Res 1989;65:1105 (doi:10.1161/01.RES.65.4.1105); Kellman et al.,
JCMR 2017;19:43, doi:10.1186/s12968-017-0355-5.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

__all__ = [
    "aif_grid",
    "aif_integral",
    "btex_curve",
    "btex_curves_batch",
]

_MAX_TERMS = 2000  # Poisson terms; γ = PS/Fp stays far below this for any plausible tissue
_SURVIVAL_TOL = 1e-14
_TINY = 1e-12


@njit(cache=True)
def aif_integral(times: np.ndarray, cin: np.ndarray) -> np.ndarray:
    """Cumulative integral of the piecewise-linear input at its samples (mmol·s/L), shape (T,)."""
    n = times.shape[0]
    acum = np.zeros(n)
    for j in range(1, n):
        acum[j] = acum[j - 1] + 0.5 * (cin[j] + cin[j - 1]) * (times[j] - times[j - 1])
    return acum


@njit(cache=True)
def _a_at(tau: float, times: np.ndarray, cin: np.ndarray, acum: np.ndarray) -> float:
    """``A(tau) = ∫_{t0}^{tau} Cin``; Cin is 0 before ``t0``, linear between samples, held after."""
    n = times.shape[0]
    if tau <= times[0]:
        return 0.0
    if tau >= times[n - 1]:
        return acum[n - 1] + cin[n - 1] * (tau - times[n - 1])
    j = np.searchsorted(times, tau, side="right") - 1
    dt = times[j + 1] - times[j]
    s = tau - times[j]
    slope = (cin[j + 1] - cin[j]) / dt
    return acum[j] + s * (cin[j] + 0.5 * slope * s)


@njit(cache=True)
def aif_grid(times: np.ndarray, cin: np.ndarray, acum: np.ndarray, h: float) -> np.ndarray:
    """``A`` at the bin mid-points ``t0 + (m + 1/2) h``, m = 0 … n_bins−1 (n_bins·h ≥ span)."""
    n_bins = math.ceil((times[-1] - times[0]) / h) + 1
    out = np.empty(n_bins)
    for m in range(n_bins):
        out[m] = _a_at(times[0] + (m + 0.5) * h, times, cin, acum)
    return out


@njit(cache=True)
def _return_mass(gamma: float, ki: float, h: float, n_bins: int, w: np.ndarray, surv: np.ndarray):
    """Masses of the ISF-return density over the bins ``[k h, (k+1) h]`` into ``w[:n_bins]``."""
    # survival P(N > m) of N ~ Poisson(gamma), until negligible
    pm = math.exp(-gamma)
    s = 1.0 - pm
    n_terms = 0
    while n_terms < _MAX_TERMS:
        surv[n_terms] = s
        n_terms += 1
        if s < _SURVIVAL_TOL and n_terms > gamma:
            break
        pm *= gamma / n_terms
        s -= pm
        if s < 0.0:
            s = 0.0
    total = 1.0 - math.exp(-gamma)
    prev = 0.0
    for e in range(1, n_bins + 1):
        x = ki * e * h
        term = math.exp(-x)
        acc = 0.0
        for m in range(n_terms):
            acc += term * surv[m]
            term *= x / (m + 1)
            if term == 0.0 and m > x:
                break
        cdf = total - acc
        w[e - 1] = cdf - prev
        prev = cdf


@njit(cache=True)
def btex_curve(
    fp: float,
    ps: float,
    vp: float,
    ve: float,
    delay: float,
    out_t: np.ndarray,
    times: np.ndarray,
    cin: np.ndarray,
    acum: np.ndarray,
    grid: np.ndarray,
    h: float,
    out: np.ndarray,
    w: np.ndarray,
    q: np.ndarray,
    surv: np.ndarray,
) -> None:
    """Tissue concentration (mmol/L) at ``out_t`` into ``out``; ``w, q, surv`` are work arrays.

    ``fp, ps`` in mL/s/mL, ``vp, ve`` fractions, ``delay`` s; ``cin`` the plasma AIF sampled at
    ``times`` (any increasing grid, e.g. the frame times or a fine resampled grid);
    ``acum = aif_integral(times, cin)``, ``grid = aif_grid(times, cin, acum, h)``. Work arrays:
    ``w, q`` of length ``grid.size + 1``, ``surv`` of length ``_MAX_TERMS``.
    """
    n_t = out_t.shape[0]
    n_bins = grid.shape[0]
    fp = max(fp, _TINY)
    ps = max(ps, 0.0)
    tc = max(vp, 0.0) / fp
    gamma = ps / fp
    ki = ps / max(ve, _TINY)
    through = math.exp(-gamma)
    t0 = times[0]
    have_return = gamma > 0.0
    if have_return:
        _return_mass(gamma, ki, h, n_bins, w, surv)
        # q[j] = ∫ f_c(u) A(t0 + j h − u) du, bins at mid-points: A(t0 + (j−k−1/2) h)
        q[0] = 0.0
        for j in range(1, n_bins + 1):
            acc = 0.0
            for k in range(j):
                acc += w[k] * grid[j - k - 1]
            q[j] = acc
    for i in range(n_t):
        tau = out_t[i] - delay
        val = _a_at(tau, times, cin, acum) - through * _a_at(tau - tc, times, cin, acum)
        if have_return:
            s = (tau - tc - t0) / h
            if s > 0.0:
                j = int(s)
                if j >= n_bins:
                    ret = q[n_bins]
                else:
                    f = s - j
                    ret = (1.0 - f) * q[j] + f * q[j + 1]
                val -= ret
        out[i] = fp * val


@njit(cache=True, parallel=True)
def btex_curves_batch(
    params: np.ndarray, out_t: np.ndarray, times: np.ndarray, cin: np.ndarray, h: float
) -> np.ndarray:
    """Curves at ``out_t`` for many parameter sets ``params`` (n, 5) = fp, ps, vp, ve, delay.

    ``cin`` is the plasma AIF at ``times``; returns (n, len(out_t)) mmol/L.
    """
    acum = aif_integral(times, cin)
    grid = aif_grid(times, cin, acum, h)
    n = params.shape[0]
    n_t = out_t.shape[0]
    out = np.empty((n, n_t))
    for i in prange(n):
        w = np.empty(grid.shape[0] + 1)
        q = np.empty(grid.shape[0] + 1)
        surv = np.empty(_MAX_TERMS)
        btex_curve(
            params[i, 0],
            params[i, 1],
            params[i, 2],
            params[i, 3],
            params[i, 4],
            out_t,
            times,
            cin,
            acum,
            grid,
            h,
            out[i],
            w,
            q,
            surv,
        )
    return out
