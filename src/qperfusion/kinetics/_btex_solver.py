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
    "assemble",
    "btex_curve",
    "btex_curves_batch",
    "return_profile",
    "shape_params",
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
def _a_walk(tau: float, j: int, times: np.ndarray, cin: np.ndarray, acum: np.ndarray):
    """``A(tau)`` as :func:`_a_at`, searching forward from interval ``j``; returns (A, j).

    For increasing ``tau`` the interval index only moves forward, so a whole curve costs one
    pass over the input grid instead of a binary search per sample.
    """
    n = times.shape[0]
    if tau <= times[0]:
        return 0.0, 0
    if tau >= times[n - 1]:
        return acum[n - 1] + cin[n - 1] * (tau - times[n - 1]), j
    while times[j + 1] <= tau:
        j += 1
    s = tau - times[j]
    slope = (cin[j + 1] - cin[j]) / (times[j + 1] - times[j])
    return acum[j] + s * (cin[j] + 0.5 * slope * s), j


@njit(cache=True)
def aif_grid(times: np.ndarray, cin: np.ndarray, acum: np.ndarray, h: float) -> np.ndarray:
    """``A`` at the bin mid-points ``t0 + (m + 1/2) h``, m = 0 … n_bins−1 (n_bins·h ≥ span)."""
    n_bins = math.ceil((times[-1] - times[0]) / h) + 1
    out = np.empty(n_bins)
    for m in range(n_bins):
        out[m] = _a_at(times[0] + (m + 0.5) * h, times, cin, acum)
    return out


@njit(cache=True)
def _return_mass(
    gamma: float, ki: float, h: float, n_bins: int, w: np.ndarray, p: np.ndarray, surv: np.ndarray
):
    """Masses of the ISF-return density over the bins ``[k h, (k+1) h]`` into ``w[:n_bins]``.

    ``F_c`` at the edges ``x_e = ki e h`` is summed term by term over m for all edges at once
    (independent lanes, no division in the loop); ``p`` is scratch of length ``n_bins + 1``.
    """
    # survival P(N > m) of N ~ Poisson(gamma), until negligible
    pm = math.exp(-gamma)
    s = 1.0 - pm
    n_terms = 0
    while n_terms < _MAX_TERMS:
        surv[n_terms] = s
        n_terms += 1
        # past the mode the tail is below pm / (1 − γ/(m+1)); the running difference s itself
        # stalls at rounding level (~1e-16), so test the pmf
        if n_terms > 2.0 * gamma + 1.0 and (s < _SURVIVAL_TOL or pm < _SURVIVAL_TOL * 1e-2):
            break
        pm *= gamma / n_terms
        s -= pm
        if s < 0.0:
            s = 0.0
    # p[e] = e^{-x} x^m / m! at x = ki e h, starting from m = 0; w[e] accumulates Σ p S_m
    decay = math.exp(-ki * h)
    pe = 1.0
    for e in range(n_bins + 1):
        p[e] = pe
        w[e] = pe * surv[0]
        pe *= decay
    xh = ki * h
    for m in range(1, n_terms):
        c = xh / m
        sm = surv[m]
        for e in range(n_bins + 1):
            p[e] *= c * e
            w[e] += p[e] * sm
    # F_c(x_e) = (1 − e^{−γ}) − w[e]; bin mass = F_c(x_{k+1}) − F_c(x_k) = w[k] − w[k+1]
    for k in range(n_bins):
        w[k] = w[k] - w[k + 1]


@njit(cache=True)
def return_profile(
    gamma: float,
    ki: float,
    grid: np.ndarray,
    h: float,
    w: np.ndarray,
    q: np.ndarray,
    surv: np.ndarray,
) -> None:
    """ISF-return term on the uniform grid: ``q[j] = ∫ f_c(u) A(t0 + j h − u) du``, j = 0 … n_bins.

    Depends on ``γ = PS/Fp`` and ``ki = PS/ve`` only; bins use their exact masses and ``A`` at
    their mid-points, ``A(t0 + (j−k−1/2) h) = grid[j−k−1]``. ``q`` is all zero when ``γ = 0``.
    ``w`` is scratch of length ``n_bins + 1``.
    """
    n_bins = grid.shape[0]
    q[0] = 0.0
    if gamma <= 0.0:
        for j in range(1, n_bins + 1):
            q[j] = 0.0
        return
    _return_mass(gamma, ki, h, n_bins, w, q, surv)
    for j in range(1, n_bins + 1):
        acc = 0.0
        for k in range(j):
            acc += w[k] * grid[j - k - 1]
        q[j] = acc


@njit(cache=True)
def assemble(
    fp: float,
    gamma: float,
    tc: float,
    delay: float,
    out_t: np.ndarray,
    times: np.ndarray,
    cin: np.ndarray,
    acum: np.ndarray,
    q: np.ndarray,
    h: float,
    out: np.ndarray,
) -> None:
    """``out = Fp [A(τ) − e^{−γ} A(τ − Tc) − Q(τ − Tc)]``, ``τ = out_t − delay``, Q from ``q``."""
    n_bins = q.shape[0] - 1
    through = math.exp(-gamma)
    t0 = times[0]
    j1 = 0
    j2 = 0
    for i in range(out_t.shape[0]):
        tau = out_t[i] - delay
        a1, j1 = _a_walk(tau, j1, times, cin, acum)
        a2, j2 = _a_walk(tau - tc, j2, times, cin, acum)
        val = a1 - through * a2
        s = (tau - tc - t0) / h
        if s > 0.0:
            j = int(s)
            if j >= n_bins:
                val -= q[n_bins]
            else:
                f = s - j
                val -= (1.0 - f) * q[j] + f * q[j + 1]
        out[i] = fp * val


@njit(cache=True)
def shape_params(fp: float, ps: float, vp: float, ve: float) -> tuple[float, float, float, float]:
    """Clamped ``(Fp, γ = PS/Fp, Tc = vp/Fp, ki = PS/ve)`` of the closed-form solution."""
    fp = max(fp, _TINY)
    ps = max(ps, 0.0)
    return fp, ps / fp, max(vp, 0.0) / fp, ps / max(ve, _TINY)


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
    fp, gamma, tc, ki = shape_params(fp, ps, vp, ve)
    return_profile(gamma, ki, grid, h, w, q, surv)
    assemble(fp, gamma, tc, delay, out_t, times, cin, acum, q, h, out)


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
