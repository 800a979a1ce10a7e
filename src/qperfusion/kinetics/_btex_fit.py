"""Numba kernels of the BTEX fit: table search start, bounded Levenberg–Marquardt refinement.

Parameters are fitted in scaled units ``x = p / scale`` (so every coordinate is O(1)); the
order everywhere is ``fp, ps, vp, ve, delay``. Bounds are enforced by projection with an active
set (a coordinate sitting on a bound whose gradient points outwards is frozen for the step).
The Jacobian is by forward differences in the solution's own coordinates (two new ISF-return
profiles per iteration instead of five) and the chain rule; the per-curve SD comes from
``s² (JᵀJ)⁻¹`` at the solution with ``s² = RSS / (T − n_free)``.

The model-free parts of the fit (normal equations, damped step, acceptance, SD, the batch
driver's rows) are shared with the N-segment fit of :mod:`qperfusion.kinetics._btex_segments`,
which brings only its own model and Jacobian.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from qperfusion.kinetics._btex_solver import (
    _MAX_TERMS,
    _TINY,
    aif_grid,
    aif_integral,
    assemble,
    return_profile,
    shape_params,
)

__all__ = ["lm_batch"]

N_PARAMS = 5
_REL_STEP = 1e-6  # relative difference step of γ and ki (the profile is exact to ~1e-13)
_SHIFT_STEP = 1e-4  # s, difference step of Tc and delay
_LAMBDA0 = 1e-2
_REL_GAIN = 1e-4  # stop when an iteration lowers the RSS by less than this fraction
_MAX_TRIES = 8  # damped steps tried per iteration before giving up


@njit(cache=True)
def _eval(x, scale, out_t, times, cin, acum, grid, h, out, w, q, surv):
    """Model at scaled parameters ``x`` into ``out``; leaves the ISF-return profile in ``q``."""
    fp, gamma, tc, ki = shape_params(
        x[0] * scale[0], x[1] * scale[1], x[2] * scale[2], x[3] * scale[3]
    )
    return_profile(gamma, ki, grid, h, w, q, surv)
    assemble(fp, gamma, tc, x[4] * scale[4], out_t, times, cin, acum, q, h, out)


@njit(cache=True)
def _solve_spd(a, b, out):
    """Solve the small SPD system ``a out = b`` by Cholesky; False if ``a`` is not SPD."""
    n = b.shape[0]
    lo = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1):
            s = a[i, j]
            for k in range(j):
                s -= lo[i, k] * lo[j, k]
            if i == j:
                if s <= 0.0:
                    return False
                lo[i, i] = math.sqrt(s)
            else:
                lo[i, j] = s / lo[j, j]
    y = np.empty(n)
    for i in range(n):
        s = b[i]
        for k in range(i):
            s -= lo[i, k] * y[k]
        y[i] = s / lo[i, i]
    for i in range(n - 1, -1, -1):
        s = y[i]
        for k in range(i + 1, n):
            s -= lo[k, i] * out[k]
        out[i] = s / lo[i, i]
    return True


@njit(cache=True)
def _jacobian(x, f, qc, scale, out_t, times, cin, acum, grid, h, jac, buf, w, qs, surv):
    """d model / d x (scaled units) at ``x``; ``f`` and ``qc`` are the model and profile at x.

    Differentiates in the solution's own coordinates (Fp, γ, Tc, ki, delay), where only γ and
    ki need a new ISF-return profile (Fp scales the curve; Tc and delay only shift it), then
    applies the chain rule to (Fp, PS, vp, ve, delay).
    """
    n_t = f.shape[0]
    ps = x[1] * scale[1]
    ve = max(x[3] * scale[3], _TINY)
    fp, gamma, tc, ki = shape_params(x[0] * scale[0], ps, x[2] * scale[2], ve)
    delay = x[4] * scale[4]
    # γ column
    dg = _REL_STEP * max(gamma, 1e-3)
    return_profile(gamma + dg, ki, grid, h, w, qs, surv)
    assemble(fp, gamma + dg, tc, delay, out_t, times, cin, acum, qs, h, buf)
    for i in range(n_t):
        jac[i, 1] = (buf[i] - f[i]) / dg
    # ki column (kept in column 3 until the chain rule)
    dk = _REL_STEP * max(ki, 1e-6)
    return_profile(gamma, ki + dk, grid, h, w, qs, surv)
    assemble(fp, gamma, tc, delay, out_t, times, cin, acum, qs, h, buf)
    for i in range(n_t):
        jac[i, 3] = (buf[i] - f[i]) / dk
    # Tc and delay: shifts only, the current profile serves
    assemble(fp, gamma, tc + _SHIFT_STEP, delay, out_t, times, cin, acum, qc, h, buf)
    for i in range(n_t):
        jac[i, 2] = (buf[i] - f[i]) / _SHIFT_STEP
    assemble(fp, gamma, tc, delay + _SHIFT_STEP, out_t, times, cin, acum, qc, h, buf)
    for i in range(n_t):
        jac[i, 4] = (buf[i] - f[i]) / _SHIFT_STEP
    for i in range(n_t):
        jg, jt, jk = jac[i, 1], jac[i, 2], jac[i, 3]
        jac[i, 0] = (f[i] - gamma * jg - tc * jt) / fp * scale[0]
        jac[i, 1] = (jg / fp + jk / ve) * scale[1]
        jac[i, 2] = jt / fp * scale[2]
        jac[i, 3] = -jk * ki / ve * scale[3]
        jac[i, 4] = jac[i, 4] * scale[4]


# --- Levenberg–Marquardt steps shared with the N-segment fit (_btex_segments.py) -------------
# Each fitter keeps only its model evaluation and Jacobian; everything below is model-free.


@njit(cache=True)
def _lm_arrays(n_t):
    """Work arrays of one LM fit: f, fn (n_t,), jac (n_t, 5), jtj, m (5, 5), g, rhs, d, xn (5,)."""
    return (
        np.empty(n_t),
        np.empty(n_t),
        np.empty((n_t, N_PARAMS)),
        np.empty((N_PARAMS, N_PARAMS)),
        np.empty(N_PARAMS),
        np.empty((N_PARAMS, N_PARAMS)),
        np.empty(N_PARAMS),
        np.empty(N_PARAMS),
        np.empty(N_PARAMS),
    )


@njit(cache=True)
def _sq_dist(f, y):
    """Residual sum of squares ``Σ (f − y)²``."""
    s = 0.0
    for i in range(y.shape[0]):
        s += (f[i] - y[i]) ** 2
    return s


@njit(cache=True)
def _gram(jac, jtj):
    """``jtj = Jᵀ J`` (symmetric, filled both halves)."""
    n_t = jac.shape[0]
    for a in range(N_PARAMS):
        for b in range(a + 1):
            s = 0.0
            for i in range(n_t):
                s += jac[i, a] * jac[i, b]
            jtj[a, b] = s
            jtj[b, a] = s


@njit(cache=True)
def _normal_equations(jac, f, y, g, jtj):
    """Gradient ``g = Jᵀ (f − y)`` and ``jtj = Jᵀ J`` of the half RSS."""
    for a in range(N_PARAMS):
        s = 0.0
        for i in range(y.shape[0]):
            s += jac[i, a] * (f[i] - y[i])
        g[a] = s
    _gram(jac, jtj)


@njit(cache=True)
def _damped_step(jtj, g, x, lo, hi, lam, m, rhs, d, xn):
    """Marquardt step ``(JᵀJ + λ diag JᵀJ) d = −g`` into the trial point ``xn`` (clipped).

    A coordinate on a bound whose gradient points outwards is frozen (active set). Returns
    False, with ``xn`` untouched, when the damped matrix is not SPD (the caller raises λ).
    """
    for a in range(N_PARAMS):
        free = not ((x[a] <= lo[a] and g[a] > 0.0) or (x[a] >= hi[a] and g[a] < 0.0))
        for b in range(N_PARAMS):
            m[a, b] = jtj[a, b]
        m[a, a] = jtj[a, a] * (1.0 + lam) + 1e-12
        rhs[a] = -g[a]
        if not free:
            for b in range(N_PARAMS):
                m[a, b] = 0.0
                m[b, a] = 0.0
            m[a, a] = 1.0
            rhs[a] = 0.0
    if not _solve_spd(m, rhs, d):
        return False
    for a in range(N_PARAMS):
        xn[a] = min(max(x[a] + d[a], lo[a]), hi[a])
    return True


@njit(cache=True)
def _accept(x, xn, cost, cn, lam):
    """Take the trial point ``xn`` into ``x``; returns (rss, λ, whether to stop).

    The fit stops when the step lowered the RSS by less than ``_REL_GAIN`` of the new RSS.
    """
    for a in range(N_PARAMS):
        x[a] = xn[a]
    return cn, max(lam / 3.0, 1e-7), cost - cn <= _REL_GAIN * cn + 1e-300


@njit(cache=True)
def _sd_at(jac, cost, lo, hi, jtj, rhs, d):
    """Per-parameter SD (scaled units) ``√(s² diag (JᵀJ)⁻¹)``, ``s² = RSS / (T − n_free)``.

    ``jac`` is the Jacobian at the solution; ``jtj``, ``rhs``, ``d`` are scratch. Parameters
    held fixed by their bounds (low == high) are conditioned on, not estimated: SD 0.
    NaN where JᵀJ is singular.
    """
    _gram(jac, jtj)
    n_free = 0
    for a in range(N_PARAMS):
        if hi[a] > lo[a]:
            n_free += 1
        else:
            for b in range(N_PARAMS):
                jtj[a, b] = 0.0
                jtj[b, a] = 0.0
            jtj[a, a] = 1.0
    sd = np.full(N_PARAMS, np.nan)
    s2 = cost / max(jac.shape[0] - n_free, 1)
    for a in range(N_PARAMS):
        if hi[a] <= lo[a]:
            sd[a] = 0.0
            continue
        for b in range(N_PARAMS):
            rhs[b] = 1.0 if a == b else 0.0
        if _solve_spd(jtj, rhs, d):
            sd[a] = math.sqrt(max(d[a], 0.0) * s2)
    return sd


@njit(cache=True)
def _lm_one(y, x, lo, hi, scale, out_t, times, cin, acum, grid, h, max_iter, w, surv):
    """Refine ``x`` in place; returns (rss, n_iter, sd (scaled), ok)."""
    q = np.empty(grid.shape[0] + 1)  # ISF-return profile at x
    qt = np.empty(grid.shape[0] + 1)  # … at the trial point
    qs = np.empty(grid.shape[0] + 1)  # … scratch for the Jacobian
    buf = np.empty(y.shape[0])
    f, fn, jac, jtj, g, m, rhs, d, xn = _lm_arrays(y.shape[0])
    _eval(x, scale, out_t, times, cin, acum, grid, h, f, w, q, surv)
    cost = _sq_dist(f, y)
    lam = _LAMBDA0
    n_iter = 0
    for _ in range(max_iter):
        n_iter += 1
        _jacobian(x, f, q, scale, out_t, times, cin, acum, grid, h, jac, buf, w, qs, surv)
        _normal_equations(jac, f, y, g, jtj)
        stop = True
        for _try in range(_MAX_TRIES):
            if not _damped_step(jtj, g, x, lo, hi, lam, m, rhs, d, xn):
                lam *= 10.0
                continue
            _eval(xn, scale, out_t, times, cin, acum, grid, h, fn, w, qt, surv)
            cn = _sq_dist(fn, y)
            if cn < cost:
                cost, lam, stop = _accept(x, xn, cost, cn, lam)
                f, fn = fn, f
                q, qt = qt, q  # the profile goes with the accepted point
                break
            lam *= 4.0
        if stop:
            break
    # uncertainty from the Jacobian at the solution
    _jacobian(x, f, q, scale, out_t, times, cin, acum, grid, h, jac, buf, w, qs, surv)
    return cost, n_iter, _sd_at(jac, cost, lo, hi, jtj, rhs, d), math.isfinite(cost)


@njit(cache=True)
def _batch_outputs(n):
    """NaN-filled ``params`` (n, 5), ``sd`` (n, 5), ``rss`` (n,), zero ``n_iter``, false ``ok``."""
    return (
        np.full((n, N_PARAMS), np.nan),
        np.full((n, N_PARAMS), np.nan),
        np.full(n, np.nan),
        np.zeros(n, dtype=np.int64),
        np.zeros(n, dtype=np.bool_),
    )


@njit(cache=True)
def _start_row(y, x0, lo, hi, x):
    """Start ``x0`` clipped into the bounds, into ``x``; False if ``y`` has a non-finite sample."""
    for i in range(y.shape[0]):
        if not math.isfinite(y[i]):
            return False
    for a in range(N_PARAMS):
        x[a] = min(max(x0[a], lo[a]), hi[a])
    return True


@njit(cache=True)
def _store_row(out, r, x, scale, result):
    """Row ``r`` of the :func:`_batch_outputs` arrays from an ``_lm_one`` ``result``."""
    params, sd, rss, n_iter, ok = out
    cost, it, s, good = result
    n_iter[r] = it
    if good:
        rss[r] = cost
        ok[r] = True
        for a in range(N_PARAMS):
            params[r, a] = x[a] * scale[a]
            sd[r, a] = s[a] * scale[a]


@njit(cache=True, parallel=True)
def lm_batch(curves, x0, lo, hi, scale, out_t, times, cin, h, max_iter):
    """Fit every row of ``curves`` (n, T) at ``out_t`` from ``x0`` (n, 5, scaled units).

    ``cin`` is the plasma AIF sampled at ``times`` (the input grid; may differ from ``out_t``).

    Returns ``params`` (n, 5, internal units), ``sd`` (n, 5), ``rss`` (n,), ``n_iter`` (n,),
    ``ok`` (n,). A curve with a non-finite sample gives NaN and ``ok = False``.
    """
    acum = aif_integral(times, cin)
    grid = aif_grid(times, cin, acum, h)
    n = curves.shape[0]
    out = _batch_outputs(n)
    n_chunks = min(n, 64)
    for c in prange(n_chunks):
        w = np.empty(grid.shape[0] + 1)
        surv = np.empty(_MAX_TERMS)
        x = np.empty(N_PARAMS)
        for r in range(c, n, n_chunks):
            if _start_row(curves[r], x0[r], lo, hi, x):
                result = _lm_one(
                    curves[r], x, lo, hi, scale, out_t, times, cin, acum, grid, h, max_iter, w,
                    surv,
                )
                _store_row(out, r, x, scale, result)
    return out
