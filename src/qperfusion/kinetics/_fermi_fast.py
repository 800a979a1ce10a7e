"""Numba kernels of the Fermi fit: exact trapezoidal model, analytic Jacobian, dense start.

The model is the one of :mod:`qperfusion.kinetics._kernels` (MODEL_FERMI): the residue
``R(t) = Fb (1 + β) / (1 + β e^{α t})`` on a uniform grid ``t_j = j h``, convolved with the
AIF by the trapezoidal rule and read at ``t − delay`` by the same Catmull-Rom interpolation
(``_kernels._sample``). What makes it fast, each measured (benchmarks/fermi_throughput.py):

* the convolution runs as ``y[m:] += a_m R[:G−m]`` (an axpy the compiler vectorises) instead
  of one dot product per node (a serial add chain), and skips the zero AIF before the bolus;
* ``e^{α t_j}`` is a running product (one exponential per curve, not one per node);
* the Jacobian is analytic: ``∂R/∂ln α`` and ``∂R/∂ln β`` are convolved like ``R`` (two
  convolutions, not four forward differences), ``Fb`` is a free scale of the curve, and the
  delay derivative is the derivative of the interpolating cubic;
* LM works in ``(Fb, ln α, ln β, delay)`` and drops a parameter that sits on a bound and is
  pushed outward from the step (an active set), so fits against ``β = β_max`` (most 2CXM-like
  curves) converge in a few steps instead of creeping along the bound;
* the start is the best of a dense table of (α, β, delay) templates (amplitude by linear least
  squares), so LM starts near the optimum;
* curves are processed in chunks per thread with the work arrays allocated once per chunk.

Parameter vectors are ``(Fb, ln α, ln β, delay)``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from qperfusion.kinetics._kernels import _sample

__all__ = ["fermi_fit_batch", "fermi_predict_batch", "fermi_templates"]

_CHUNK = 32  # curves per work unit of the parallel loop (work arrays allocated per chunk)
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
def _conv(arev, m0, r, h, y):
    """Trapezoidal convolution ``y_j = h [Σ_{k≤j} r_k a_{j−k} − ½ a_0 r_j − ½ a_j r_0]``.

    ``arev`` is the AIF reversed (``arev[G−1−i] = a_i``), so each node is a forward dot
    product the compiler vectorises; ``a[:m0]`` must be zero (the AIF before the bolus) and
    those terms are skipped.
    """
    g = r.size
    a0 = 0.5 * arev[g - 1]
    r0 = 0.5 * r[0]
    y[0] = 0.0
    for j in range(1, g):
        off = g - 1 - j
        w = arev[off:]  # a view: its index k ≥ 0 needs no wraparound check, so it vectorises
        acc = 0.0
        for k in range(j + 1 - m0):
            acc += r[k] * w[k]
        y[j] = h * (acc - a0 * r[j] - w[0] * r0)


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


@njit(cache=True)
def _sample_jac(y, ya, yb, t_rel, delay, h, fb, jac):
    """Rows 1–3 of the Jacobian: ``Fb ×`` the reads of ``ya``, ``yb`` at ``t − delay`` (the
    Catmull-Rom cubic of ``_kernels._sample``) and the derivative of the read of ``y`` with
    respect to ``delay``; one pass computes each sample's interpolation weights once."""
    g = y.size
    for i in range(t_rel.size):
        u = (t_rel[i] - delay) / h
        if u <= 0.0:
            jac[1, i] = 0.0
            jac[2, i] = 0.0
            jac[3, i] = 0.0
        elif u >= g - 1:
            jac[1, i] = fb * ya[g - 1]
            jac[2, i] = fb * yb[g - 1]
            jac[3, i] = 0.0
        else:
            q = int(u)
            f = u - q
            # the cubic y0 + ½f(y1 − ym + f(2ym − 5y0 + 4y1 − yp + f(3(y0 − y1) + yp − ym)))
            # as weights on (ym, y0, y1, yp), and its derivative in f
            f2 = f * f
            f3 = f2 * f
            wm = 0.5 * (-f + 2.0 * f2 - f3)
            w0 = 1.0 + 0.5 * (-5.0 * f2 + 3.0 * f3)
            w1 = 0.5 * (f + 4.0 * f2 - 3.0 * f3)
            wp = 0.5 * (f3 - f2)
            dm = 0.5 * (-1.0 + 4.0 * f - 3.0 * f2)
            d0 = 0.5 * (-10.0 * f + 9.0 * f2)
            d1 = 0.5 * (1.0 + 8.0 * f - 9.0 * f2)
            dp = 0.5 * (3.0 * f2 - 2.0 * f)
            has_m = q >= 1
            has_p = q + 2 < g
            am = ya[q - 1] if has_m else 0.0
            bm = yb[q - 1] if has_m else 0.0
            ym = y[q - 1] if has_m else 0.0
            ap = ya[q + 2] if has_p else ya[q + 1]
            bp = yb[q + 2] if has_p else yb[q + 1]
            yp = y[q + 2] if has_p else y[q + 1]
            jac[1, i] = fb * (wm * am + w0 * ya[q] + w1 * ya[q + 1] + wp * ap)
            jac[2, i] = fb * (wm * bm + w0 * yb[q] + w1 * yb[q + 1] + wp * bp)
            jac[3, i] = -fb / h * (dm * ym + d0 * y[q] + d1 * y[q + 1] + dp * yp)


@njit(cache=True)
def _solve(mat, rhs, idx, nf, low, z, x):
    """Solve ``mat[idx][:, idx] x = rhs[idx]`` by Cholesky into preallocated ``low``, ``z``;
    False when not positive definite."""
    for i in range(nf):
        for j in range(i + 1):
            s = mat[idx[i], idx[j]]
            for k in range(j):
                s -= low[i, k] * low[j, k]
            if i == j:
                if not s > 0.0 or not math.isfinite(s):
                    return False
                low[i, i] = math.sqrt(s)
            else:
                low[i, j] = s / low[j, j]
    for i in range(nf):
        s = rhs[idx[i]]
        for k in range(i):
            s -= low[i, k] * z[k]
        z[i] = s / low[i, i]
    for i in range(nf - 1, -1, -1):
        s = z[i]
        for k in range(i + 1, nf):
            s -= low[k, i] * x[k]
        x[i] = s / low[i, i]
    return True


@njit(cache=True)
def _value(x, t_rel, arev, m0, h, r, ra, rb, y, m):
    """Unit-flow model ``m`` (the curve for Fb = 1) at the samples; fine curve in ``y``."""
    _residue(x[1], x[2], h, r, ra, rb, False)
    _conv(arev, m0, r, h, y)
    _sample(y, t_rel, x[3], h, m)


@njit(cache=True)
def _jacobian(x, y, m, t_rel, arev, m0, h, r, ra, rb, ya, yb, jac):
    """Analytic Jacobian ``(4, T)`` of ``Fb · m`` at ``x`` (``y``, ``m`` already at ``x``)."""
    n_t = t_rel.size
    _residue(x[1], x[2], h, r, ra, rb, True)
    _conv2(arev, m0, ra, rb, h, ya, yb)
    _sample_jac(y, ya, yb, t_rel, x[3], h, x[0], jac)
    for i in range(n_t):
        jac[0, i] = m[i]


@njit(cache=True)
def _amplitude(c, m, lo, hi):
    """Least-squares amplitude of ``m`` in ``c``, clipped to ``[lo, hi]``."""
    mm = _dot(m, m)
    fb = _dot(c, m) / mm if mm > 0.0 else lo
    return min(max(fb, lo), hi)


@njit(cache=True)
def _lm(c, x, t_rel, arev, m0, h, lo, hi, free, max_iter, tol, sd_out,
        r, ra, rb, y, ya, yb, yt, m, mt, jac, jtj, grad, xt, delta, idx, damped, low, z, res, vp):  # fmt: skip
    """Levenberg–Marquardt (Marquardt scaling, active set on the bounds) for one curve.

    ``x`` (4,) is updated in place; returns the residual sum of squares; ``sd_out`` gets the
    SDs ``sqrt(s² diag((JᵀJ)⁻¹))`` over the free parameters (internal parametrisation).
    """
    n_t = t_rel.size
    _value(x, t_rel, arev, m0, h, r, ra, rb, y, m)
    vp = vp and free[0]
    if vp:
        x[0] = _amplitude(c, m, lo[0], hi[0])
    fb = x[0]
    sse = 0.0
    for i in range(n_t):
        sse += (c[i] - fb * m[i]) ** 2
    lam = 1e-3
    fresh = False  # is jac at x?
    for _ in range(max_iter):
        _jacobian(x, y, m, t_rel, arev, m0, h, r, ra, rb, ya, yb, jac)
        fresh = True
        fb = x[0]
        if vp and lo[0] < fb < hi[0]:
            # variable projection (Kaufman): Fb is the LS amplitude of every trial, so the
            # shape columns are projected off the model direction
            mm = _dot(m, m)
            if mm > 0.0:
                for u in range(1, 4):
                    pr = _dot(m, jac[u]) / mm
                    for i in range(n_t):
                        jac[u, i] -= pr * m[i]
        for i in range(n_t):
            res[i] = c[i] - fb * m[i]
        for u in range(4):
            grad[u] = _dot(jac[u], res)
            for v in range(u + 1):
                s = _dot(jac[u], jac[v])
                jtj[u, v] = s
                jtj[v, u] = s
        # active set: a parameter on a bound that the gradient pushes outward stays there
        nf = 0
        for k in range(4):
            if not free[k] or jtj[k, k] <= 0.0 or (vp and k == 0):
                continue
            if (x[k] <= lo[k] and grad[k] <= 0.0) or (x[k] >= hi[k] and grad[k] >= 0.0):
                continue
            idx[nf] = k
            nf += 1
        if nf == 0:
            break
        improved = False
        sse_old = sse
        for _try in range(12):
            for u in range(4):
                for v in range(4):
                    damped[u, v] = jtj[u, v]
                damped[u, u] = jtj[u, u] * (1.0 + lam)
            if not _solve(damped, grad, idx, nf, low, z, delta):
                lam *= 10.0
                continue
            for k in range(4):
                xt[k] = x[k]
            for q in range(nf):
                k = idx[q]
                xt[k] = min(max(x[k] + delta[q], lo[k]), hi[k])
            _value(xt, t_rel, arev, m0, h, r, ra, rb, yt, mt)
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
                sse = snew
                lam = max(lam * 0.3, 1e-9)
                improved = True
                fresh = False
                break
            lam *= 4.0
        if not improved or sse_old - sse <= tol * sse_old + 1e-30:
            break
    # SDs from the Jacobian at the solution over all free parameters: cov = s² (JᵀJ)⁻¹
    if not fresh:
        _jacobian(x, y, m, t_rel, arev, m0, h, r, ra, rb, ya, yb, jac)
    nf = 0
    for k in range(4):
        sd_out[k] = 0.0 if not free[k] else np.nan
        if free[k]:
            idx[nf] = k
            nf += 1
    for u in range(4):
        for v in range(u + 1):
            s = _dot(jac[u], jac[v])
            jtj[u, v] = s
            jtj[v, u] = s
    s2 = sse / max(n_t - nf, 1)
    for q in range(nf):
        for k in range(4):
            grad[k] = 0.0
        grad[idx[q]] = 1.0
        if _solve(jtj, grad, idx, nf, low, z, delta):
            sd_out[idx[q]] = math.sqrt(max(delta[q], 0.0) * s2)
    return sse


@njit(cache=True, parallel=True)
def fermi_templates(shapes, delay_grid, t_rel, a, h):
    """Unit-flow model curves of start shapes × delays, and their squared norms.

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
    norm2 : float64 (S·D,)
    """
    n_s = shapes.shape[0]
    n_d = delay_grid.size
    g = a.size
    n_t = t_rel.size
    templ = np.empty((n_s * n_d, n_t))
    norm2 = np.empty(n_s * n_d)
    arev = a[::-1].copy()
    m0 = _first_nonzero(a)
    for s in prange(n_s):
        r = np.empty(g)
        y = np.empty(g)
        _residue(shapes[s, 0], shapes[s, 1], h, r, r, r, False)
        _conv(arev, m0, r, h, y)
        for d in range(n_d):
            row = templ[s * n_d + d]
            _sample(y, t_rel, delay_grid[d], h, row)
            acc = 0.0
            for i in range(n_t):
                acc += row[i] * row[i]
            norm2[s * n_d + d] = acc
    return templ, norm2


@njit(cache=True)
def _first_nonzero(a):
    for m in range(a.size):
        if a[m] != 0.0:
            return m
    return a.size


@njit(cache=True)
def _fit_chunk(k0, k1, curves, t_rel, arev, m0, h, start_x, templ, norm2, lo, hi, free, max_iter,
               tol, out_p, out_sd, out_rss, vp):  # fmt: skip
    """Start search and LM for curves ``k0 .. k1 − 1`` (one work unit of the parallel loop)."""
    n_t = t_rel.size
    g = arev.size
    n_templ = templ.shape[0]
    r = np.empty(g)
    ra = np.empty(g)
    rb = np.empty(g)
    y = np.empty(g)
    ya = np.empty(g)
    yb = np.empty(g)
    yt = np.empty(g)
    m = np.empty(n_t)
    mt = np.empty(n_t)
    jac = np.empty((4, n_t))
    jtj = np.empty((4, 4))
    grad = np.empty(4)
    xt = np.empty(4)
    delta = np.empty(4)
    idx = np.empty(4, dtype=np.int64)
    damped = np.empty((4, 4))
    low = np.zeros((4, 4))
    z = np.empty(4)
    res = np.empty(n_t)
    x = np.empty(4)
    sd = np.empty(4)
    for j in range(k0, k1):
        c = curves[j]
        # start: the template (shape × delay) that explains most of the curve, amplitude ≥ 0
        best = -1.0
        bt = 0
        bscale = 0.0
        for t in range(n_templ):
            cm = _dot(c, templ[t])
            if cm > 0.0 and norm2[t] > 0.0:
                gain = cm * cm / norm2[t]
                if gain > best:
                    best = gain
                    bt = t
                    bscale = cm / norm2[t]
        for k in range(4):
            x[k] = start_x[bt, k]
        x[0] = bscale
        for k in range(4):
            x[k] = min(max(x[k], lo[k]), hi[k])
        rss = _lm(c, x, t_rel, arev, m0, h, lo, hi, free, max_iter, tol, sd,
                  r, ra, rb, y, ya, yb, yt, m, mt, jac, jtj, grad, xt, delta, idx, damped, low,
                  z, res, vp)  # fmt: skip
        for k in range(4):
            out_p[j, k] = x[k]
            out_sd[j, k] = sd[k]
        out_rss[j] = rss


@njit(cache=True, parallel=True)
def fermi_fit_batch(curves, t_rel, a, h, start_x, templ, norm2, lo, hi, free, max_iter, tol,
                    out_p, out_sd, out_rss, vp):  # fmt: skip
    """Fit every curve: best template, then LM with the analytic Jacobian.

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
        Parameters ``(·, ln α, ln β, delay)`` of each template (column 0 unused).
    templ, norm2 : float64 (M, T), (M,)
        Unit-flow template curves and their squared norms (:func:`fermi_templates`).
    lo, hi : float64 (4,)
        Bounds of ``(Fb, ln α, ln β, delay)``.
    free : bool (4,)
        Fitted parameters (the others stay at their start value).
    max_iter : int
        LM iterations at most.
    tol : float
        Stop when an iteration lowers the RSS by less than this fraction.
    out_p, out_sd : float64 (n, 4)
        Estimates and SDs of ``(Fb, ln α, ln β, delay)``.
    out_rss : float64 (n,)
        Residual sum of squares ((mmol/L)²).
    """
    n = curves.shape[0]
    m0 = _first_nonzero(a)
    arev = a[::-1].copy()
    n_chunks = (n + _CHUNK - 1) // _CHUNK
    for q in prange(n_chunks):
        _fit_chunk(
            q * _CHUNK, min(n, (q + 1) * _CHUNK), curves, t_rel, arev, m0, h, start_x, templ,
            norm2, lo, hi, free, max_iter, tol, out_p, out_sd, out_rss, vp,
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
        for j in range(q * _CHUNK, min(n, (q + 1) * _CHUNK)):
            x = params[j]
            _value(x, t_rel, arev, m0, h, r, r, r, y, out[j])
            for i in range(n_t):
                out[j, i] *= x[0]
