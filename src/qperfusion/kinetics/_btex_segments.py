"""BTEX with the capillary cut into N well-mixed segments: NIH's BTEX20 spatial grid.

The NIH inline maps solve the BTEX PDEs numerically on ``xspan = 0:L/20:L`` (20 segments;
Xue et al., MRM 2020;83:712, doi:10.1002/mrm.27954). With upwind differences each segment is a
well-mixed plasma space (volume vp/N, flow Fp) exchanging (PS/N) with its own ISF (ve/N): a
tanks-in-series capillary, ``H(s) = (1 + s Tc/N + (γ/N) s/(s + ki))^{−N}``, which tends to the
plug-flow solution of :mod:`qperfusion.kinetics._btex_solver` as N → ∞. The grid's numerical
dispersion is not small: on stress curves a 20-segment fit gives a ~5–9 % higher Fp than the
plug-flow one (benchmarks/btex_nih.py).

Exact form used here: a particle's total time in plasma is ``τ ~ Gamma(N, Tc/N)`` (N
exponential segment residences; excursions to the ISF do not change it) and, given τ, its
number of ISF excursions is Poisson(γ τ/Tc), each Exp(ki). So the N-segment curve is a Gamma
mixture over τ of plug-flow curves with ``Tc → τ`` and ``γ → γ τ/Tc``, i.e. of plug-flow BTEX
curves at ``(Fp, r·PS, r·vp, r·ve)`` with ``r = τ/Tc``. The mixture is integrated by
generalised Gauss–Laguerre quadrature (8 nodes: within 3e-4 of the peak of a 20-segment
upwind method-of-lines solution; tests/kinetics/test_btex_solver.py). NIH's axial diffusion
(Dp = 1e-5, Disf = 1e-6 cm²/s over L = 0.1 cm) is left out: it changes stress curves by
≤ 0.5 % of the peak, less than a third of the grid's own dispersion.

The fit runs the Levenberg–Marquardt steps of :mod:`qperfusion.kinetics._btex_fit` (bounded,
scaled units, active set; normal equations, damped step, acceptance and SD are shared from
there) with its own model and a finite-difference Jacobian: the Fp column comes free from
homogeneity (``Σ p_j ∂C/∂p_j = C`` over Fp, PS, vp, ve).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange
from scipy.linalg import eigh_tridiagonal

from qperfusion.kinetics._btex_fit import (
    _LAMBDA0,
    _MAX_TRIES,
    N_PARAMS,
    _accept,
    _batch_outputs,
    _damped_step,
    _lm_arrays,
    _normal_equations,
    _sd_at,
    _sq_dist,
    _start_row,
    _store_row,
)
from qperfusion.kinetics._btex_solver import _MAX_TERMS, aif_grid, aif_integral, btex_curve

__all__ = ["DEFAULT_NODES", "lm_batch_segments", "segment_curves_batch", "segment_nodes"]

#: Gauss–Laguerre nodes of the Gamma mixture
DEFAULT_NODES = 8
_REL_STEP = 1e-6  # relative difference step of PS, vp, ve (scaled units)
_SHIFT_STEP = 1e-4  # s, difference step of the delay


def segment_nodes(n_segments: int, n_nodes: int = DEFAULT_NODES) -> np.ndarray:
    """Quadrature of ``r = τ/Tc ~ Gamma(N, 1/N)``: array (n_nodes, 2) of (r, weight), Σ w = 1.

    Parameters
    ----------
    n_segments : int
        Number of well-mixed capillary segments N (≥ 1; NIH's BTEX20 grid has 20).
    n_nodes : int
        Quadrature nodes.
    """
    # Golub–Welsch on the generalised-Laguerre recurrence (α = N − 1): no Γ(N) overflow
    k = np.arange(int(n_nodes), dtype=np.float64)
    alpha = float(n_segments) - 1.0
    x, vec = eigh_tridiagonal(2.0 * k + alpha + 1.0, np.sqrt(k[1:] * (k[1:] + alpha)))
    w = vec[0] ** 2
    return np.ascontiguousarray(np.stack([x / n_segments, w / w.sum()], axis=-1))


@njit(cache=True)
def segment_curve(p, mix, out_t, times, cin, acum, grid, h, out, buf, w, q, surv):
    """N-segment BTEX curve at ``p = (fp, ps, vp, ve, delay)`` (internal units) into ``out``."""
    for i in range(out.shape[0]):
        out[i] = 0.0
    for k in range(mix.shape[0]):
        r = mix[k, 0]
        btex_curve(
            p[0], p[1] * r, p[2] * r, p[3] * r, p[4], out_t, times, cin, acum, grid, h, buf, w, q,
            surv,
        )
        wk = mix[k, 1]
        for i in range(out.shape[0]):
            out[i] += wk * buf[i]


@njit(cache=True, parallel=True)
def segment_curves_batch(params, out_t, times, cin, h, mix):
    """Curves (n, len(out_t)) mmol/L for ``params`` (n, 5) = fp, ps, vp, ve, delay.

    ``cin`` is the plasma AIF at ``times``; ``mix`` from :func:`segment_nodes`.
    """
    acum = aif_integral(times, cin)
    grid = aif_grid(times, cin, acum, h)
    n = params.shape[0]
    out = np.empty((n, out_t.shape[0]))
    for i in prange(n):
        buf = np.empty(out_t.shape[0])
        w = np.empty(grid.shape[0] + 1)
        q = np.empty(grid.shape[0] + 1)
        surv = np.empty(_MAX_TERMS)
        segment_curve(params[i], mix, out_t, times, cin, acum, grid, h, out[i], buf, w, q, surv)
    return out


@njit(cache=True)
def _eval(x, scale, p, mix, out_t, times, cin, acum, grid, h, out, buf, w, q, surv):
    for a in range(N_PARAMS):
        p[a] = x[a] * scale[a]
    segment_curve(p, mix, out_t, times, cin, acum, grid, h, out, buf, w, q, surv)


@njit(cache=True)
def _jacobian(x, f, lo, hi, scale, mix, out_t, times, cin, acum, grid, h, jac, work):
    """d model / d x (scaled units); Fp column from homogeneity of degree one."""
    p, xs, col, buf, w, q, surv = work
    n_t = f.shape[0]
    for a in range(1, N_PARAMS):
        for b in range(N_PARAMS):
            xs[b] = x[b]
        step = _SHIFT_STEP / scale[a] if a == 4 else _REL_STEP * max(abs(x[a]), 1e-3)
        if x[a] + step > hi[a] and x[a] - step >= lo[a]:
            step = -step  # stay inside the bounds
        xs[a] = x[a] + step
        _eval(xs, scale, p, mix, out_t, times, cin, acum, grid, h, col, buf, w, q, surv)
        for i in range(n_t):
            jac[i, a] = (col[i] - f[i]) / step
    fp = max(x[0], 1e-12)
    for i in range(n_t):
        s = f[i]
        for a in range(1, 4):
            s -= x[a] * jac[i, a]
        jac[i, 0] = s / fp


@njit(cache=True)
def _lm_one(y, x, lo, hi, scale, mix, out_t, times, cin, acum, grid, h, max_iter, work):
    """Refine ``x`` in place; returns (rss, n_iter, sd (scaled), ok)."""
    p, buf, w, q, surv = work[0], work[3], work[4], work[5], work[6]
    f, fn, jac, jtj, g, m, rhs, d, xn = _lm_arrays(y.shape[0])
    _eval(x, scale, p, mix, out_t, times, cin, acum, grid, h, f, buf, w, q, surv)
    cost = _sq_dist(f, y)
    lam = _LAMBDA0
    n_iter = 0
    for _ in range(max_iter):
        n_iter += 1
        _jacobian(x, f, lo, hi, scale, mix, out_t, times, cin, acum, grid, h, jac, work)
        _normal_equations(jac, f, y, g, jtj)
        stop = True
        for _try in range(_MAX_TRIES):
            if not _damped_step(jtj, g, x, lo, hi, lam, m, rhs, d, xn):
                lam *= 10.0
                continue
            _eval(xn, scale, p, mix, out_t, times, cin, acum, grid, h, fn, buf, w, q, surv)
            cn = _sq_dist(fn, y)
            if cn < cost:
                cost, lam, stop = _accept(x, xn, cost, cn, lam)
                f, fn = fn, f
                break
            lam *= 4.0
        if stop:
            break
    _jacobian(x, f, lo, hi, scale, mix, out_t, times, cin, acum, grid, h, jac, work)
    return cost, n_iter, _sd_at(jac, cost, lo, hi, jtj, rhs, d), math.isfinite(cost)


@njit(cache=True, parallel=True)
def lm_batch_segments(curves, x0, lo, hi, scale, out_t, times, cin, h, max_iter, mix):
    """As :func:`qperfusion.kinetics._btex_fit.lm_batch` for the N-segment model ``mix``.

    Returns ``params`` (n, 5, internal units), ``sd`` (n, 5), ``rss`` (n,), ``n_iter`` (n,),
    ``ok`` (n,). A curve with a non-finite sample gives NaN and ``ok = False``.
    """
    acum = aif_integral(times, cin)
    grid = aif_grid(times, cin, acum, h)
    n = curves.shape[0]
    n_t = out_t.shape[0]
    out = _batch_outputs(n)
    n_chunks = min(n, 64)
    for c in prange(n_chunks):
        # p, xs (5,); col, buf (T,); w, q (grid + 1,); surv: shared by _eval and _jacobian
        work = (
            np.empty(N_PARAMS),
            np.empty(N_PARAMS),
            np.empty(n_t),
            np.empty(n_t),
            np.empty(grid.shape[0] + 1),
            np.empty(grid.shape[0] + 1),
            np.empty(_MAX_TERMS),
        )
        x = np.empty(N_PARAMS)
        for r in range(c, n, n_chunks):
            if _start_row(curves[r], x0[r], lo, hi, x):
                result = _lm_one(
                    curves[r], x, lo, hi, scale, mix, out_t, times, cin, acum, grid, h,
                    max_iter, work,
                )
                _store_row(out, r, x, scale, result)
    return out
