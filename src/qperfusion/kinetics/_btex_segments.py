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

The fit mirrors :func:`qperfusion.kinetics._btex_fit.lm_batch` (bounded Levenberg–Marquardt,
scaled units, active set), with a finite-difference Jacobian: the Fp column comes free from
homogeneity (``Σ p_j ∂C/∂p_j = C`` over Fp, PS, vp, ve).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange
from scipy.linalg import eigh_tridiagonal

from qperfusion.kinetics._btex_fit import _solve_spd
from qperfusion.kinetics._btex_solver import _MAX_TERMS, aif_grid, aif_integral, btex_curve

__all__ = ["DEFAULT_NODES", "lm_batch_segments", "segment_curves_batch", "segment_nodes"]

#: Gauss–Laguerre nodes of the Gamma mixture
DEFAULT_NODES = 8
N_PARAMS = 5
_REL_STEP = 1e-6  # relative difference step of PS, vp, ve (scaled units)
_SHIFT_STEP = 1e-4  # s, difference step of the delay
_LAMBDA0 = 1e-2
_REL_GAIN = 1e-4


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
    p, buf, w, q, surv = work[0], work[3], work[4], work[5], work[6]
    n_t = y.shape[0]
    f = np.empty(n_t)
    fn = np.empty(n_t)
    jac = np.empty((n_t, N_PARAMS))
    jtj = np.empty((N_PARAMS, N_PARAMS))
    g = np.empty(N_PARAMS)
    m = np.empty((N_PARAMS, N_PARAMS))
    rhs = np.empty(N_PARAMS)
    d = np.empty(N_PARAMS)
    xn = np.empty(N_PARAMS)
    _eval(x, scale, p, mix, out_t, times, cin, acum, grid, h, f, buf, w, q, surv)
    cost = 0.0
    for i in range(n_t):
        cost += (f[i] - y[i]) ** 2
    lam = _LAMBDA0
    n_iter = 0
    gain = 0.0
    for _ in range(max_iter):
        n_iter += 1
        _jacobian(x, f, lo, hi, scale, mix, out_t, times, cin, acum, grid, h, jac, work)
        for a in range(N_PARAMS):
            s = 0.0
            for i in range(n_t):
                s += jac[i, a] * (f[i] - y[i])
            g[a] = s
            for b in range(a + 1):
                s = 0.0
                for i in range(n_t):
                    s += jac[i, a] * jac[i, b]
                jtj[a, b] = s
                jtj[b, a] = s
        accepted = False
        for _try in range(8):
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
                lam *= 10.0
                continue
            for a in range(N_PARAMS):
                xn[a] = min(max(x[a] + d[a], lo[a]), hi[a])
            _eval(xn, scale, p, mix, out_t, times, cin, acum, grid, h, fn, buf, w, q, surv)
            cn = 0.0
            for i in range(n_t):
                cn += (fn[i] - y[i]) ** 2
            if cn < cost:
                gain = cost - cn
                for a in range(N_PARAMS):
                    x[a] = xn[a]
                f, fn = fn, f
                cost = cn
                lam = max(lam / 3.0, 1e-7)
                accepted = True
                break
            lam *= 4.0
        if not accepted or gain <= _REL_GAIN * cost + 1e-300:
            break
    _jacobian(x, f, lo, hi, scale, mix, out_t, times, cin, acum, grid, h, jac, work)
    for a in range(N_PARAMS):
        for b in range(a + 1):
            s = 0.0
            for i in range(n_t):
                s += jac[i, a] * jac[i, b]
            jtj[a, b] = s
            jtj[b, a] = s
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
    s2 = cost / max(n_t - n_free, 1)
    for a in range(N_PARAMS):
        if hi[a] <= lo[a]:
            sd[a] = 0.0
            continue
        for b in range(N_PARAMS):
            rhs[b] = 1.0 if a == b else 0.0
        if _solve_spd(jtj, rhs, d):
            sd[a] = math.sqrt(max(d[a], 0.0) * s2)
    return cost, n_iter, sd, math.isfinite(cost)


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
    params = np.full((n, N_PARAMS), np.nan)
    sd = np.full((n, N_PARAMS), np.nan)
    rss = np.full(n, np.nan)
    n_iter = np.zeros(n, dtype=np.int64)
    ok = np.zeros(n, dtype=np.bool_)
    n_chunks = min(n, 64)
    for c in prange(n_chunks):
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
            finite = True
            for i in range(curves.shape[1]):
                if not math.isfinite(curves[r, i]):
                    finite = False
            if not finite:
                continue
            for a in range(N_PARAMS):
                x[a] = min(max(x0[r, a], lo[a]), hi[a])
            cost, it, s, good = _lm_one(
                curves[r], x, lo, hi, scale, mix, out_t, times, cin, acum, grid, h, max_iter,
                work,
            )
            n_iter[r] = it
            if good:
                rss[r] = cost
                ok[r] = True
                for a in range(N_PARAMS):
                    params[r, a] = x[a] * scale[a]
                    sd[r, a] = s[a] * scale[a]
    return params, sd, rss, n_iter, ok
