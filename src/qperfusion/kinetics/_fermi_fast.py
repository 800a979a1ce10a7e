"""Numba kernels of the Fermi fit: exact trapezoidal model, analytic Jacobian, dense start.

The model is the one of :mod:`qperfusion.kinetics._kernels` (MODEL_FERMI): the residue
``R(t) = Fb (1 + β) / (1 + β e^{α t})`` on a uniform grid ``t_j = j h``, convolved with the
AIF by the trapezoidal rule and read at ``t − delay`` by the Catmull-Rom cubic of
``_kernels._sample`` (equal to 1e-13; tests/kinetics/test_fermi_fast.py checks both against
that kernel). What makes it fast (single thread, 60-frame curves, 124 fine nodes; measured
with process time on the shared machine, benchmarks/fermi_throughput.py for the whole fit):

* the read weights of the cubic are computed branch-free (vectorised: 0.35 → 0.14 µs);
* the convolution is one forward dot product per node over the reversed AIF, taken through
  an array view so that numba drops its negative-index check and the loop vectorises
  (3.6 → 0.78 µs), four nodes at a time (→ 0.71 µs), skipping the AIF before the bolus;
* ``e^{α t_j}`` is a running product (one exponential per curve, not one per node);
* the Jacobian is analytic: ``∂R/∂ln α`` and ``∂R/∂ln β`` are convolved in one pass (1.1 µs
  instead of three forward-difference model evaluations), the delay column is the derivative
  of the read cubic, and the read weights are computed once per delay for the model and all
  Jacobian columns;
* ``Fb`` is eliminated (variable projection: the least-squares amplitude of every trial, the
  shape step from the Schur complement of ``JᵀJ``): 30 % more curves/s than a 4-parameter LM;
* an active set drops a parameter that sits on a bound and is pushed outward (most 2CXM-like
  curves end at ``β = β_max``), and steps are capped in ``ln α``, ``ln β`` and delay;
* LM stops when the RSS decrease the linear model predicts is below ``tol`` × RSS (no trial
  evaluation wasted on confirming convergence), after one last polishing step;
* the start is the best of 64 shapes × the delay grid, scored in float32 in the templates'
  span (15–26 coordinates instead of 60 frames);
* curves run in chunks of ``_CHUNK`` per thread with the work arrays allocated per chunk.

A fit costs ~30 µs per curve and thread: ~5 Jacobians (2.3 µs each), ~7 model evaluations
(1.4 µs each), the start search (~3 µs) and ~10 µs of bookkeeping (reads, normal equations,
amplitudes, SDs). Parameter vectors are ``(Fb, ln α, ln β, delay)``.
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np
from numba import njit, prange

from qperfusion.kinetics._kernels import _cholesky_solve_ws

__all__ = [
    "fermi_fit_batch",
    "fermi_predict_batch",
    "fermi_template_basis",
    "fermi_templates",
]

#: work arrays of one LM fit: residue and its ln α, ln β derivatives, fine curves (current,
#: derivatives, trial), unit-flow model (current, trial), read nodes and weights (current,
#: trial), Jacobian, normal equations, and the LM's small vectors
_Work = namedtuple(
    "_Work",
    "r ra rb y ya yb yt m mt iq iqt wv wvt wd wdt jac jtj sys grad gsys xt delta idx damped "
    "low z res",
)
_CHUNK = 32  # curves per work unit of the parallel loop (work arrays allocated per chunk)
# longest LM step in each of (Fb, ln α, ln β, delay)
_MAX_STEP = np.array([np.inf, 1.0, 2.0, 1.0])
# reassociation lets the dot products vectorise; no NaN/inf assumptions (bad values stay NaN)
_FAST = {"reassoc", "contract", "nsz"}


@njit(cache=True)
def _residue(la, lb, h, r, ra, rb, deriv):
    """Unit-flow Fermi residue ``(1 + β) / (1 + β e^{α t_j})`` on ``t_j = j h`` and, when
    ``deriv``, its derivatives with respect to ``ln α`` and ``ln β``."""
    g = r.size
    alpha = math.exp(la)
    beta = math.exp(lb)
    q = math.exp(alpha * h)
    c1 = 1.0 + beta
    wb = beta / c1
    e = 1.0
    for j in range(g):
        be = beta * e
        if be < 1e300:
            den = 1.0 + be
            rj = c1 / den
            r[j] = rj
            if deriv:
                s = be / den
                ra[j] = -rj * s * alpha * h * j  # α ∂R/∂α
                rb[j] = rj * (wb - s)  # β ∂R/∂β
            e *= q
        else:  # e^{α t} overflowed: the residue is 0 from here on
            r[j] = 0.0
            if deriv:
                ra[j] = 0.0
                rb[j] = 0.0


@njit(cache=True, fastmath=_FAST)
def _dot(x, y):
    """``Σ x_i y_i`` (vectorised: the sum may be reassociated)."""
    acc = 0.0
    for i in range(x.size):
        acc += x[i] * y[i]
    return acc


@njit(cache=True, fastmath=_FAST)
def _dot32(x, y):
    """:func:`_dot` of float32 arrays, summed in float32 (16 lanes)."""
    acc = np.float32(0.0)
    for i in range(x.size):
        acc += x[i] * y[i]
    return acc


@njit(cache=True, fastmath=_FAST)
def _conv(arev, m0, r, h, y):
    """Trapezoidal convolution ``y_j = h [Σ_{k≤j} r_k a_{j−k} − ½ a_0 r_j − ½ a_j r_0]``.

    ``arev`` is the AIF reversed (``arev[G−1−i] = a_i``), so each node is a forward dot
    product the compiler vectorises; four nodes at a time share the loads of ``r`` (18 %
    faster than one). ``a[:m0]`` must be zero (the AIF before the bolus): those terms are
    skipped.
    """
    g = r.size
    a0 = 0.5 * arev[g - 1]
    r0 = 0.5 * r[0]
    y[0] = 0.0
    j = 1
    while j + 3 < g:
        # views: an index k ≥ 0 into them needs no wraparound check, so the loops vectorise
        w0 = arev[g - 1 - j :]
        w1 = arev[g - 2 - j :]
        w2 = arev[g - 3 - j :]
        w3 = arev[g - 4 - j :]
        n0 = j + 1 - m0  # terms of node j; node j + q has q more
        k0 = max(n0, 0)
        s0 = 0.0
        s1 = 0.0
        s2 = 0.0
        s3 = 0.0
        for k in range(k0):
            rk = r[k]
            s0 += rk * w0[k]
            s1 += rk * w1[k]
            s2 += rk * w2[k]
            s3 += rk * w3[k]
        for k in range(k0, n0 + 1):
            s1 += r[k] * w1[k]
        for k in range(k0, n0 + 2):
            s2 += r[k] * w2[k]
        for k in range(k0, n0 + 3):
            s3 += r[k] * w3[k]
        y[j] = h * (s0 - a0 * r[j] - w0[0] * r0)
        y[j + 1] = h * (s1 - a0 * r[j + 1] - w1[0] * r0)
        y[j + 2] = h * (s2 - a0 * r[j + 2] - w2[0] * r0)
        y[j + 3] = h * (s3 - a0 * r[j + 3] - w3[0] * r0)
        j += 4
    while j < g:
        w = arev[g - 1 - j :]
        s = 0.0
        for k in range(j + 1 - m0):
            s += r[k] * w[k]
        y[j] = h * (s - a0 * r[j] - w[0] * r0)
        j += 1


@njit(cache=True, fastmath=_FAST)
def _conv2(arev, m0, r1, r2, h, y1, y2):
    """:func:`_conv` of two residues in one pass over the AIF."""
    g = r1.size
    a0 = 0.5 * arev[g - 1]
    y1[0] = 0.0
    y2[0] = 0.0
    for j in range(1, g):
        w = arev[g - 1 - j :]
        acc1 = 0.0
        acc2 = 0.0
        for k in range(j + 1 - m0):
            acc1 += r1[k] * w[k]
            acc2 += r2[k] * w[k]
        y1[j] = h * (acc1 - a0 * r1[j] - 0.5 * w[0] * r1[0])
        y2[j] = h * (acc2 - a0 * r2[j] - 0.5 * w[0] * r2[0])


@njit(cache=True, fastmath=_FAST)
def _read_weights(t_rel, delay, h, g, iq, wv, wd):
    """Base nodes and weights of reading a fine curve at ``t − delay``.

    The read is the Catmull-Rom cubic of ``_kernels._sample`` (0 before the grid, the last
    node after it), written as weights on the nodes ``q−1, q, q+1, q+2`` (clipped to the
    grid) so that one set serves the model and all Jacobian rows; ``wd`` holds the weights
    of its derivative with respect to ``delay``. The main loop has no branches (it
    vectorises: 0.35 → 0.14 µs for 60 samples); the samples at the grid's ends are fixed
    afterwards. A NaN delay reads 0.

    Parameters
    ----------
    iq : int64 (T,)
        Out: base node ``q`` of each sample.
    wv, wd : float64 (4, T)
        Out: weights of the value and of its ``delay`` derivative (1/s).
    """
    inv_h = 1.0 / h  # multiplications: divisions took most of this function's time
    top = g - 1.0
    n = t_rel.size
    for i in range(n):
        u = (t_rel[i] - delay) * inv_h
        u = u if u > 0.0 else 0.0  # (NaN → 0, so the node index below stays valid)
        u = u if u < top else top
        q = min(int(u), g - 2)
        f = u - q
        f2 = f * f
        f3 = f2 * f
        iq[i] = q
        # y0 + ½f(y1 − ym + f(2ym − 5y0 + 4y1 − yp + f(3(y0 − y1) + yp − ym))) by node
        wv[0, i] = 0.5 * (-f + 2.0 * f2 - f3)
        wv[1, i] = 1.0 + 0.5 * (-5.0 * f2 + 3.0 * f3)
        wv[2, i] = 0.5 * (f + 4.0 * f2 - 3.0 * f3)
        wv[3, i] = 0.5 * (f3 - f2)
        # d/d(delay) = −(1/h) d/df
        wd[0, i] = -0.5 * inv_h * (-1.0 + 4.0 * f - 3.0 * f2)
        wd[1, i] = -0.5 * inv_h * (-10.0 * f + 9.0 * f2)
        wd[2, i] = -0.5 * inv_h * (1.0 + 8.0 * f - 9.0 * f2)
        wd[3, i] = -0.5 * inv_h * (3.0 * f2 - 2.0 * f)
    for i in range(n):
        u = (t_rel[i] - delay) * inv_h
        q = iq[i]
        if not u > 0.0 or u >= top:  # before the grid (or NaN): 0; after it: the last node
            for k in range(4):
                wv[k, i] = 0.0
                wd[k, i] = 0.0
            if u >= top:
                wv[2, i] = 1.0
        else:
            if q == 0:  # the node before the grid is 0
                wv[0, i] = 0.0
                wd[0, i] = 0.0
            if q + 2 >= g:  # past the grid the last node is repeated
                wv[2, i] += wv[3, i]
                wd[2, i] += wd[3, i]
                wv[3, i] = 0.0
                wd[3, i] = 0.0


@njit(cache=True)
def _read(y, iq, w, scale, out):
    """``out = scale ×`` the read of the fine curve ``y`` with nodes ``iq``, weights ``w``."""
    g = y.size
    for i in range(iq.size):
        q = iq[i]
        qm = q - 1 if q >= 1 else 0
        qp = q + 2 if q + 2 < g else g - 1
        out[i] = scale * (w[0, i] * y[qm] + w[1, i] * y[q] + w[2, i] * y[q + 1] + w[3, i] * y[qp])


@njit(cache=True)
def _value(x, t_rel, arev, m0, h, r, y, iq, wv, wd, m):
    """Unit-flow model ``m`` (the curve for Fb = 1) at the samples for ``x``; also leaves the
    fine curve in ``y`` and the read weights at ``x``'s delay in ``iq``, ``wv``, ``wd``."""
    _residue(x[1], x[2], h, r, r, r, False)
    _conv(arev, m0, r, h, y)
    _read_weights(t_rel, x[3], h, y.size, iq, wv, wd)
    _read(y, iq, wv, 1.0, m)


@njit(cache=True)
def _jacobian(x, y, m, arev, m0, h, r, ra, rb, ya, yb, iq, wv, wd, jac):
    """Analytic Jacobian ``(4, T)`` of ``Fb · m`` at ``x`` (``y``, ``m``, read weights
    already at ``x``): columns ``∂/∂Fb, ∂/∂ln α, ∂/∂ln β, ∂/∂delay``."""
    _residue(x[1], x[2], h, r, ra, rb, True)
    _conv2(arev, m0, ra, rb, h, ya, yb)
    jac[0, :] = m
    _read(ya, iq, wv, x[0], jac[1])
    _read(yb, iq, wv, x[0], jac[2])
    _read(y, iq, wd, x[0], jac[3])


@njit(cache=True)
def _amplitude(c, m, lo, hi):
    """Least-squares amplitude of ``m`` in ``c``, clipped to ``[lo, hi]``."""
    mm = _dot(m, m)
    fb = _dot(c, m) / mm if mm > 0.0 else lo
    return min(max(fb, lo), hi)


@njit(cache=True)
def _normal(jac, c, m, fb, res, jtj, grad):
    """``JᵀJ`` and ``Jᵀ(c − Fb m)`` of the 4-column Jacobian."""
    for i in range(c.size):
        res[i] = c[i] - fb * m[i]
    for u in range(4):
        grad[u] = _dot(jac[u], res)
        for v in range(u + 1):
            s = _dot(jac[u], jac[v])
            jtj[u, v] = s
            jtj[v, u] = s


@njit(cache=True)
def _lm(c, x, t_rel, arev, m0, h, lo, hi, free, max_iter, tol, sd_out, w):
    """Levenberg–Marquardt for one curve with ``Fb`` eliminated (variable projection).

    Marquardt scaling, an active set on the bounds, steps capped by ``_MAX_STEP``, and a stop
    when the decrease the linear model predicts is below ``tol`` × RSS. ``x`` (4,) holds the
    start and is updated in place; returns the residual sum of squares. ``sd_out`` gets the
    SDs ``sqrt(s² diag((JᵀJ)⁻¹))`` of all free parameters from the full Jacobian at the
    solution (internal parametrisation). ``w`` holds the work arrays (:class:`_Work`).
    """
    n_t = t_rel.size
    r, ra, rb, y, ya, yb, yt = w.r, w.ra, w.rb, w.y, w.ya, w.yb, w.yt
    m, mt, iq, iqt, wv, wvt, wd, wdt = w.m, w.mt, w.iq, w.iqt, w.wv, w.wvt, w.wd, w.wdt
    jac, jtj, sys, grad, gsys, xt, delta, idx, damped, low, z, res = (
        w.jac,
        w.jtj,
        w.sys,
        w.grad,
        w.gsys,
        w.xt,
        w.delta,
        w.idx,
        w.damped,
        w.low,
        w.z,
        w.res,
    )
    _value(x, t_rel, arev, m0, h, r, y, iq, wv, wd, m)
    # Fb is the least-squares amplitude of every trial shape (variable projection)
    vp = free[0]
    if vp:
        x[0] = _amplitude(c, m, lo[0], hi[0])
    fb = x[0]
    sse = 0.0
    for i in range(n_t):
        sse += (c[i] - fb * m[i]) ** 2
    lam = 1e-3
    fresh = False  # is the Jacobian at x?
    for _ in range(max_iter):
        _jacobian(x, y, m, arev, m0, h, r, ra, rb, ya, yb, iq, wv, wd, jac)
        fresh = True
        _normal(jac, c, m, x[0], res, jtj, grad)
        # the system of the shape parameters: with Fb projected out (Kaufman), the Schur
        # complement of the Fb row; with Fb clipped at a bound or fixed, the plain rows
        for u in range(4):
            gsys[u] = grad[u]
            for v in range(4):
                sys[u, v] = jtj[u, v]
        if vp and lo[0] < x[0] < hi[0] and jtj[0, 0] > 0.0:
            for u in range(1, 4):
                gsys[u] -= jtj[0, u] * grad[0] / jtj[0, 0]
                for v in range(1, 4):
                    sys[u, v] -= jtj[0, u] * jtj[0, v] / jtj[0, 0]
        # active set: a parameter on a bound that the gradient pushes outward stays there
        nf = 0
        for k in range(4):
            if not free[k] or sys[k, k] <= 0.0 or (vp and k == 0):
                continue
            if (x[k] <= lo[k] and gsys[k] <= 0.0) or (x[k] >= hi[k] and gsys[k] >= 0.0):
                continue
            idx[nf] = k
            nf += 1
        if nf == 0:
            break
        improved = False
        converged = False
        for _try in range(12):
            for u in range(4):
                for v in range(4):
                    damped[u, v] = sys[u, v]
                damped[u, u] = sys[u, u] * (1.0 + lam)
            if not _cholesky_solve_ws(damped, gsys, idx, nf, delta, low, z):
                lam *= 10.0
                continue
            # a step longer than _MAX_STEP in any parameter is shortened along its direction
            # (the ln β valley is flat: long steps there are mostly rejected)
            shrink = 1.0
            for q in range(nf):
                lim = _MAX_STEP[idx[q]]
                if abs(delta[q]) * shrink > lim:
                    shrink = lim / abs(delta[q])
            # decrease of the RSS the linear model predicts for this step, 2δᵀg − δᵀJᵀJδ:
            # below tol·RSS the fit has converged; the step is still tried (a last polish
            # at the cost of one evaluation) and the Jacobian at hand serves the SDs
            pred = 0.0
            for q in range(nf):
                delta[q] *= shrink
            for q in range(nf):
                acc = 0.0
                for v in range(nf):
                    acc += sys[idx[q], idx[v]] * delta[v]
                pred += delta[q] * (2.0 * gsys[idx[q]] - acc)
            converged = pred <= tol * sse
            for k in range(4):
                xt[k] = x[k]
            for q in range(nf):
                k = idx[q]
                xt[k] = min(max(x[k] + delta[q], lo[k]), hi[k])
            _value(xt, t_rel, arev, m0, h, r, yt, iqt, wvt, wdt, mt)
            if vp:
                xt[0] = _amplitude(c, mt, lo[0], hi[0])
            fbt = xt[0]
            snew = 0.0
            for i in range(n_t):
                snew += (c[i] - fbt * mt[i]) ** 2
            if snew < sse:
                for k in range(4):
                    x[k] = xt[k]
                y, yt = yt, y
                m, mt = mt, m
                iq, iqt = iqt, iq
                wv, wvt = wvt, wv
                wd, wdt = wdt, wd
                sse = snew
                lam = max(lam * 0.3, 1e-9)
                improved = True
                fresh = converged  # a polishing step: the Jacobian it started from is kept
                break
            if converged:
                break
            lam *= 4.0
        if converged or not improved:
            break
    # SDs from the full Jacobian at the solution over all free parameters: cov = s² (JᵀJ)⁻¹
    if not fresh:
        _jacobian(x, y, m, arev, m0, h, r, ra, rb, ya, yb, iq, wv, wd, jac)
        _normal(jac, c, m, x[0], res, jtj, grad)
    nf = 0
    for k in range(4):
        sd_out[k] = 0.0 if not free[k] else np.nan
        if free[k]:
            idx[nf] = k
            nf += 1
    s2 = sse / max(n_t - nf, 1)
    for q in range(nf):
        for k in range(4):
            grad[k] = 0.0
        grad[idx[q]] = 1.0
        if _cholesky_solve_ws(jtj, grad, idx, nf, delta, low, z):
            sd_out[idx[q]] = math.sqrt(max(delta[q], 0.0) * s2)
    return sse


@njit(cache=True)
def fermi_templates(shapes, delay_grid, t_rel, a, h):
    """Unit-flow model curves of start shapes × delays.

    Parameters
    ----------
    shapes : float64 (S, 2)
        ``(ln α, ln β)`` of each start shape.
    delay_grid : float64 (D,)
        Start delays (s).
    t_rel : float64 (T,)
        Sample times minus the fine-grid start (s).
    a : float64 (G,)
        AIF on the fine grid (mmol/L).
    h : float
        Fine step (s).

    Returns
    -------
    templ : float64 (S·D, T)
        Row ``s·D + d``: the model for ``Fb = 1`` (mmol/L per mL/s/mL).
    """
    n_s = shapes.shape[0]
    n_d = delay_grid.size
    g = a.size
    n_t = t_rel.size
    templ = np.empty((n_s * n_d, n_t))
    arev = a[::-1].copy()
    m0 = _first_nonzero(a)
    for s in range(n_s):
        r = np.empty(g)
        y = np.empty(g)
        iq = np.empty(n_t, dtype=np.int64)
        wv = np.empty((4, n_t))
        wd = np.empty((4, n_t))
        _residue(shapes[s, 0], shapes[s, 1], h, r, r, r, False)
        _conv(arev, m0, r, h, y)
        for d in range(n_d):
            _read_weights(t_rel, delay_grid[d], h, g, iq, wv, wd)
            _read(y, iq, wv, 1.0, templ[s * n_d + d])
    return templ


@njit(cache=True)
def fermi_template_basis(templ, rtol):
    """Orthonormal rows spanning the templates (to ``rtol``), and the templates in them.

    Pivoted Gram–Schmidt (re-orthogonalised): the template with the largest residual joins the
    basis until every residual norm is below ``rtol`` × the largest template norm. Plain loops
    on purpose: LAPACK's SVD here runs on OpenBLAS threads that, right after a numba parallel
    region, spin against its workers (measured 0.6–1.4 s for a 396 × 60 SVD).

    Parameters
    ----------
    templ : float64 (M, T)
    rtol : float

    Returns
    -------
    basis : float64 (B, T)
    coeffs : float64 (M, B)
        ``templ ≈ coeffs @ basis``.
    """
    n_m, n_t = templ.shape
    res = templ.copy()
    norm2 = np.empty(n_m)
    for t in range(n_m):
        norm2[t] = _dot(res[t], res[t])
    stop = rtol * rtol * norm2.max()
    basis = np.zeros((n_t, n_t))
    n_b = 0
    while n_b < n_t:
        best = np.argmax(norm2)
        if norm2[best] <= stop:
            break
        v = res[best].copy()
        for _ in range(2):  # twice is enough (Kahan–Parlett)
            for b in range(n_b):
                v -= _dot(v, basis[b]) * basis[b]
        nv = math.sqrt(_dot(v, v))
        if nv == 0.0:
            break
        basis[n_b] = v / nv
        for t in range(n_m):
            p = _dot(res[t], basis[n_b])
            res[t] -= p * basis[n_b]
            norm2[t] = _dot(res[t], res[t])
        n_b += 1
    out = basis[:n_b].copy()
    coeffs = np.empty((n_m, n_b))
    for t in range(n_m):
        for b in range(n_b):
            coeffs[t, b] = _dot(templ[t], out[b])
    return out, coeffs


@njit(cache=True)
def _first_nonzero(a):
    for m in range(a.size):
        if a[m] != 0.0:
            return m
    return a.size


@njit(cache=True)
def _work(g, n_t):
    """Work arrays of one LM fit (fine grid ``g`` nodes, ``n_t`` samples)."""
    return _Work(
        np.empty(g), np.empty(g), np.empty(g), np.empty(g), np.empty(g), np.empty(g),
        np.empty(g), np.empty(n_t), np.empty(n_t), np.empty(n_t, dtype=np.int64),
        np.empty(n_t, dtype=np.int64), np.empty((4, n_t)), np.empty((4, n_t)),
        np.empty((4, n_t)), np.empty((4, n_t)), np.empty((4, n_t)), np.empty((4, 4)),
        np.empty((4, 4)), np.empty(4), np.empty(4), np.empty(4), np.empty(4),
        np.empty(4, dtype=np.int64), np.empty((4, 4)), np.zeros((4, 4)), np.empty(4),
        np.empty(n_t),
    )  # fmt: skip


@njit(cache=True)
def _fit_chunk(k0, k1, curves, t_rel, arev, m0, h, start_x, basis, templ, inv_norm2, lo, hi,
               free, max_iter, tol, out_p, out_sd, out_rss):  # fmt: skip
    """Start search and LM for curves ``k0 .. k1 − 1`` (one work unit of the parallel loop)."""
    w = _work(arev.size, t_rel.size)
    n_templ, n_b = templ.shape
    cp = np.empty(n_b, dtype=np.float32)
    x = np.empty(4)
    sd = np.empty(4)
    for j in range(k0, k1):
        c = curves[j]
        # start: the template (shape × delay) that explains most of the curve with an
        # amplitude ≥ 0, scored in the templates' span (``basis``: orthonormal rows) in
        # float32 (it only picks the start: 40 % faster)
        for k in range(n_b):
            cp[k] = _dot(basis[k], c)
        best = np.float32(0.0)
        bt = 0
        bscale = 0.0
        for t in range(n_templ):
            cm = _dot32(cp, templ[t])
            if cm > 0.0:
                gain = cm * cm * inv_norm2[t]
                if gain > best:
                    best = gain
                    bt = t
                    bscale = cm * inv_norm2[t]
        for k in range(4):
            x[k] = start_x[bt, k]
        x[0] = bscale
        for k in range(4):
            x[k] = min(max(x[k], lo[k]), hi[k])
        out_rss[j] = _lm(c, x, t_rel, arev, m0, h, lo, hi, free, max_iter, tol, sd, w)
        for k in range(4):
            out_p[j, k] = x[k]
            out_sd[j, k] = sd[k]


@njit(cache=True, parallel=True)
def fermi_fit_batch(curves, t_rel, a, h, start_x, basis, templ, lo, hi, free, max_iter, tol,
                    out_p, out_sd, out_rss):  # fmt: skip
    """Fit every curve: best start template, then LM with the analytic Jacobian.

    Parameters
    ----------
    curves : float64 (n, T)
        Tissue concentration (mmol/L).
    t_rel : float64 (T,)
        Sample times minus the fine-grid start (s).
    a : float64 (G,)
        AIF on the fine grid (mmol/L).
    h : float
        Fine step (s).
    start_x : float64 (M, 4)
        Parameters ``(·, ln α, ln β, delay)`` of each start template (column 0 unused).
    basis : float64 (B, T)
        Orthonormal rows spanning the templates.
    templ : float64 (M, B)
        Unit-flow start templates (:func:`fermi_templates`) in that basis.
    lo, hi : float64 (4,)
        Bounds of ``(Fb, ln α, ln β, delay)``.
    free : bool (4,)
        Fitted parameters (the others stay at their start value).
    max_iter : int
        LM iterations at most.
    tol : float
        Stop when the RSS decrease the linear model predicts is below this fraction of it.
    out_p, out_sd : float64 (n, 4)
        Estimates and SDs of ``(Fb, ln α, ln β, delay)``.
    out_rss : float64 (n,)
        Residual sum of squares ((mmol/L)²).
    """
    n = curves.shape[0]
    m0 = _first_nonzero(a)
    arev = a[::-1].copy()
    templ32 = templ.astype(np.float32)
    inv_norm2 = np.zeros(templ.shape[0], dtype=np.float32)
    for t in range(templ.shape[0]):
        nt = _dot(templ[t], templ[t])
        if nt > 0.0:
            inv_norm2[t] = 1.0 / nt
    n_chunks = (n + _CHUNK - 1) // _CHUNK
    for q in prange(n_chunks):
        _fit_chunk(
            q * _CHUNK, min(n, (q + 1) * _CHUNK), curves, t_rel, arev, m0, h, start_x, basis,
            templ32, inv_norm2, lo, hi, free, max_iter, tol, out_p, out_sd, out_rss,
        )  # fmt: skip


@njit(cache=True, parallel=True)
def fermi_predict_batch(params, t_rel, a, h, out):
    """Model curves ``out (n, T)`` (mmol/L) for rows ``(Fb, ln α, ln β, delay)`` of ``params``."""
    n = params.shape[0]
    g = a.size
    n_t = t_rel.size
    m0 = _first_nonzero(a)
    arev = a[::-1].copy()
    n_chunks = (n + _CHUNK - 1) // _CHUNK
    for q in prange(n_chunks):
        r = np.empty(g)
        y = np.empty(g)
        iq = np.empty(n_t, dtype=np.int64)
        wv = np.empty((4, n_t))
        wd = np.empty((4, n_t))
        for j in range(q * _CHUNK, min(n, (q + 1) * _CHUNK)):
            x = params[j]
            _value(x, t_rel, arev, m0, h, r, y, iq, wv, wd, out[j])
            for i in range(n_t):
                out[j, i] *= x[0]
