"""Numba kernels of the engine: fine-grid forward models and a batched Levenberg–Marquardt.

Every parametric model is evaluated on a uniform fine grid (step ``h``) that starts at the
first sample: the AIF there is a smooth (cubic by default) interpolant of the heartbeat
samples; between fine nodes it is a cubic Hermite (Catmull-Rom) curve that each exponential is
integrated against exactly (or a trapezoidal Fermi convolution); the model at the sample times
is read off the fine curve at ``t − delay`` by cubic interpolation. A delay therefore costs no
new convolution, and a delay step in the Jacobian is a re-read of the same fine curve.

Fits: start from the best of a few model shapes × a delay grid (amplitude by linear least
squares), then Levenberg–Marquardt with forward-difference Jacobians, projected on the bounds,
optionally with noise-weighted log-normal priors; SDs from (JᵀJ)⁻¹ at the solution.

One kernel serves all built-in models through an integer model id (one compiled signature,
``cache=True``), parallel over curves. Parameter vectors hold the delay LAST.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from qperfusion.kinetics._kernels_ids import (
    MODEL_2CUM,
    MODEL_2CXM,
    MODEL_ETOFTS,
    MODEL_FERMI,
    MODEL_PATLAK,
    MODEL_TOFTS,
)

__all__ = [
    "MODEL_2CUM",
    "MODEL_2CXM",
    "MODEL_ETOFTS",
    "MODEL_FERMI",
    "MODEL_PATLAK",
    "MODEL_TOFTS",
    "lm_fit_batch",
    "predict_batch",
]


_TINY = 1e-8  # smallest volume fraction used inside rates (keeps them finite)


@njit(cache=True)
def _psi(x, out):
    """``out[m] = ∫_0^1 exp(−x(1 − s)) s^m ds`` for m = 0..3 (x ≥ 0)."""
    if x < 2.0:
        # series Σ_n (−x)^n m! / (m + n + 1)!, 30 terms: < 1e-16 for x < 2
        for m in range(4):
            mfact = 1.0
            for q in range(2, m + 1):
                mfact *= q
            term = mfact
            for q in range(2, m + 2):
                term /= q
            acc = term
            for n in range(1, 30):
                term *= -x / (m + n + 1)
                acc += term
            out[m] = acc
    else:
        out[0] = -math.expm1(-x) / x
        for m in range(1, 4):
            out[m] = (1.0 - m * out[m - 1]) / x


@njit(cache=True)
def _add_exp_conv(a, h, k, amp, y):
    """``y += amp · ∫ exp(−k(t−s)) a(s) ds`` on the uniform grid.

    ``a`` is taken as the cubic Hermite (Catmull-Rom) curve through the fine samples, and each
    step is integrated exactly against the exponential, so the fine step adds an O(h⁴) error
    only (a piecewise-linear input costs O(h²), which biases flow by per cents at h = 0.25 s).
    """
    if amp == 0.0:
        return
    g = a.size
    x = k * h
    e = math.exp(-x)
    psi = np.empty(4)
    _psi(x, psi)
    w_a0 = h * (2.0 * psi[3] - 3.0 * psi[2] + psi[0])
    w_a1 = h * (-2.0 * psi[3] + 3.0 * psi[2])
    w_d0 = h * (psi[3] - 2.0 * psi[2] + psi[1])  # times the slope·h
    w_d1 = h * (psi[3] - psi[2])
    s = 0.0
    for j in range(1, g):
        # slopes × h by central differences (one-sided at the ends; 0 before the start)
        d0 = 0.5 * (a[j] - a[j - 2]) if j >= 2 else 0.5 * a[1]
        d1 = 0.5 * (a[j + 1] - a[j - 1]) if j + 1 < g else a[j] - a[j - 1]
        s = e * s + w_a0 * a[j - 1] + w_a1 * a[j] + w_d0 * d0 + w_d1 * d1
        y[j] += amp * s


@njit(cache=True)
def _fine_response(model, p, a, h, y, work):
    """Tissue concentration on the fine grid for parameters ``p`` at zero delay."""
    g = a.size
    for j in range(g):
        y[j] = 0.0
    if model == MODEL_FERMI:
        fb, alpha, beta = p[0], p[1], math.exp(p[2])  # beta is fitted as ln(beta)
        for j in range(g):
            ex = alpha * h * j
            work[j] = fb * (1.0 + beta) / (1.0 + beta * math.exp(ex)) if ex < 700.0 else 0.0
        # trapezoidal convolution
        for j in range(1, g):
            acc = 0.5 * (work[j] * a[0] + work[0] * a[j])
            for m in range(1, j):
                acc += work[j - m] * a[m]
            y[j] = h * acc
    elif model == MODEL_2CXM:
        fp, ps, vp, ve = p[0], max(p[1], 0.0), max(p[2], _TINY), max(p[3], _TINY)
        s = (fp + ps) / vp + ps / ve
        q = fp * ps / (vp * ve)
        root = math.sqrt(max(s * s - 4.0 * q, 0.0))
        kp = 0.5 * (s + root)
        km = q / kp if kp > 0.0 else 0.0
        ap = fp * (fp / vp - km) / (kp - km) if kp - km > 0.0 else fp
        _add_exp_conv(a, h, kp, ap, y)
        _add_exp_conv(a, h, km, fp - ap, y)
    elif model == MODEL_2CUM:
        fp, ps, vp = p[0], max(p[1], 0.0), max(p[2], _TINY)
        tot = fp + ps
        e = ps / tot if tot > 0.0 else 0.0
        _add_exp_conv(a, h, tot / vp, fp * (1.0 - e), y)
        _add_exp_conv(a, h, 0.0, fp * e, y)
    elif model == MODEL_TOFTS:
        ktrans, ve = p[0], max(p[1], _TINY)
        _add_exp_conv(a, h, ktrans / ve, ktrans, y)
    elif model == MODEL_ETOFTS:
        ktrans, ve, vp = p[0], max(p[1], _TINY), p[2]
        _add_exp_conv(a, h, ktrans / ve, ktrans, y)
        for j in range(g):
            y[j] += vp * a[j]
    elif model == MODEL_PATLAK:
        ktrans, vp = p[0], p[1]
        _add_exp_conv(a, h, 0.0, ktrans, y)
        for j in range(g):
            y[j] += vp * a[j]


@njit(cache=True)
def _sample(y, t_rel, delay, h, out):
    """Read the fine curve ``y`` at ``t_rel − delay`` (0 before the grid start).

    Cubic (Catmull-Rom) between nodes: its O(h⁴) error keeps the fine step from biasing the
    flow, which the linear read (O(h²)) does by several per cent at h = 0.25 s.
    """
    g = y.size
    for i in range(t_rel.size):
        u = (t_rel[i] - delay) / h
        if u <= 0.0:
            out[i] = 0.0
        elif u >= g - 1:
            out[i] = y[g - 1]
        else:
            q = int(u)
            f = u - q
            y0 = y[q]
            y1 = y[q + 1]
            ym = y[q - 1] if q >= 1 else 0.0
            yp = y[q + 2] if q + 2 < g else y1
            out[i] = y0 + 0.5 * f * (
                y1
                - ym
                + f * (2.0 * ym - 5.0 * y0 + 4.0 * y1 - yp + f * (3.0 * (y0 - y1) + yp - ym))
            )


@njit(cache=True)
def _evaluate(model, p, t_rel, a, h, y, work, out):
    _fine_response(model, p, a, h, y, work)
    _sample(y, t_rel, p[p.size - 1], h, out)


@njit(cache=True)
def _cholesky_solve(mat, rhs, idx, nf, x):
    """Solve ``mat[idx][:, idx] x = rhs[idx]`` (SPD); False when not positive definite."""
    low = np.zeros((nf, nf))
    for i in range(nf):
        for j in range(i + 1):
            s = mat[idx[i], idx[j]]
            for k in range(j):
                s -= low[i, k] * low[j, k]
            if i == j:
                if s <= 0.0 or not np.isfinite(s):
                    return False
                low[i, i] = math.sqrt(s)
            else:
                low[i, j] = s / low[j, j]
    z = np.zeros(nf)
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
def _jacobian(model, p, m, y, t_rel, a, h, lo, hi, free, jac, ptmp, ytmp, work, mtmp):
    n_p = p.size
    for k in range(n_p):
        if not free[k]:
            for i in range(t_rel.size):
                jac[i, k] = 0.0
            continue
        if k == n_p - 1:
            # delay: re-read the same fine curve half a fine step either side
            dd = 0.5 * h
            _sample(y, t_rel, p[k] + dd, h, mtmp)
            for i in range(t_rel.size):
                jac[i, k] = mtmp[i]
            _sample(y, t_rel, p[k] - dd, h, mtmp)
            for i in range(t_rel.size):
                jac[i, k] = (jac[i, k] - mtmp[i]) / (2.0 * dd)
            continue
        eps = 1e-6 * max(abs(p[k]), 1e-2 * (hi[k] - lo[k]), 1e-6)
        if p[k] + eps > hi[k]:
            eps = -eps
        for q in range(n_p):
            ptmp[q] = p[q]
        ptmp[k] += eps
        _evaluate(model, ptmp, t_rel, a, h, ytmp, work, mtmp)
        for i in range(t_rel.size):
            jac[i, k] = (mtmp[i] - m[i]) / eps


@njit(cache=True)
def _add_prior(p, prior_mu, prior_w, sig, free, jtj, grad):
    """Add the prior rows ``σ w / p`` (Jacobian) and ``−σ w ln(p/μ)`` (residual) to JᵀJ, Jᵀr."""
    for k in range(p.size):
        if prior_w[k] > 0.0 and free[k]:
            pk = max(p[k], 1e-12)
            jk = sig * prior_w[k] / pk
            rk = -sig * prior_w[k] * math.log(pk / prior_mu[k])
            jtj[k, k] += jk * jk
            grad[k] += jk * rk


@njit(cache=True)
def _prior_cost(p, prior_mu, prior_w, sig):
    """``Σ (σ w_k ln(p_k / μ_k))²`` over parameters with a prior (``w_k > 0``)."""
    acc = 0.0
    for k in range(p.size):
        if prior_w[k] > 0.0:
            acc += (sig * prior_w[k] * math.log(max(p[k], 1e-12) / prior_mu[k])) ** 2
    return acc


@njit(cache=True)
def noise_sd(c):
    """Robust noise SD of a curve from its second differences (MAD; var of Δ² is 6σ²)."""
    n = c.size
    if n < 3:
        return 0.0
    d2 = np.empty(n - 2)
    for i in range(n - 2):
        d2[i] = abs(c[i + 2] - 2.0 * c[i + 1] + c[i])
    return 1.4826 * np.median(d2) / math.sqrt(6.0)


@njit(cache=True)
def _lm_single(
    model, c, p, t_rel, a, h, lo, hi, free, max_iter, prior_mu, prior_w, sd_out, sig_in=-1.0
):
    """Levenberg–Marquardt (Marquardt scaling, projected on the bounds) for one curve.

    The objective is the residual sum of squares plus, for parameters with ``prior_w > 0``, the
    log-normal penalty ``(σ w ln(p/μ))²`` with ``σ`` the curve's own noise SD (so the prior acts
    like a measurement of ln p with SD ``1/w`` and fades at high SNR); ``sig_in > 0`` gives that
    SD instead (e.g. the raw curve's when ``c`` was denoised). Returns the residual sum
    of squares; ``p`` is updated in place, ``sd_out`` gets the SDs (posterior, from the
    Jacobian at the solution).
    """
    n_t = t_rel.size
    n_p = p.size
    g = a.size
    y = np.empty(g)
    ynew = np.empty(g)
    ytmp = np.empty(g)
    work = np.empty(g)
    m = np.empty(n_t)
    mnew = np.empty(n_t)
    mtmp = np.empty(n_t)
    jac = np.empty((n_t, n_p))
    jtj = np.empty((n_p, n_p))
    grad = np.empty(n_p)
    ptmp = np.empty(n_p)
    pnew = np.empty(n_p)
    delta = np.empty(n_p)
    idx = np.empty(n_p, dtype=np.int64)
    nf = 0
    for k in range(n_p):
        if free[k]:
            idx[nf] = k
            nf += 1
    damped = np.empty((n_p, n_p))

    sig = sig_in if sig_in > 0.0 else noise_sd(c)
    _evaluate(model, p, t_rel, a, h, y, work, m)
    sse = 0.0
    for i in range(n_t):
        sse += (c[i] - m[i]) ** 2
    cost = sse + _prior_cost(p, prior_mu, prior_w, sig)
    lam = 1e-3
    for _ in range(max_iter):
        _jacobian(model, p, m, y, t_rel, a, h, lo, hi, free, jac, ptmp, ytmp, work, mtmp)
        for u in range(n_p):
            s = 0.0
            for i in range(n_t):
                s += jac[i, u] * (c[i] - m[i])
            grad[u] = s
            for v in range(u + 1):
                s = 0.0
                for i in range(n_t):
                    s += jac[i, u] * jac[i, v]
                jtj[u, v] = s
                jtj[v, u] = s
        _add_prior(p, prior_mu, prior_w, sig, free, jtj, grad)
        improved = False
        cost_old = cost
        for _try in range(12):
            for u in range(n_p):
                for v in range(n_p):
                    damped[u, v] = jtj[u, v]
                damped[u, u] = jtj[u, u] * (1.0 + lam) + 1e-30
            ok = _cholesky_solve(damped, grad, idx, nf, delta)
            if not ok:
                lam *= 10.0
                continue
            for k in range(n_p):
                pnew[k] = p[k]
            for q in range(nf):
                k = idx[q]
                pnew[k] = min(max(p[k] + delta[q], lo[k]), hi[k])
            _evaluate(model, pnew, t_rel, a, h, ynew, work, mnew)
            snew = 0.0
            for i in range(n_t):
                snew += (c[i] - mnew[i]) ** 2
            cnew = snew + _prior_cost(pnew, prior_mu, prior_w, sig)
            if cnew < cost:
                for k in range(n_p):
                    p[k] = pnew[k]
                y, ynew = ynew, y
                m, mnew = mnew, m
                sse = snew
                cost = cnew
                lam = max(lam * 0.3, 1e-9)
                improved = True
                break
            lam *= 4.0
        if not improved or cost_old - cost <= 1e-5 * cost_old + 1e-30:
            break
    # SD from the Jacobian at the solution: cov = s² (JᵀJ)⁻¹
    _jacobian(model, p, m, y, t_rel, a, h, lo, hi, free, jac, ptmp, ytmp, work, mtmp)
    for u in range(n_p):
        for v in range(n_p):
            s = 0.0
            for i in range(n_t):
                s += jac[i, u] * jac[i, v]
            jtj[u, v] = s
    for u in range(n_p):
        grad[u] = 0.0
    _add_prior(p, prior_mu, prior_w, sig, free, jtj, grad)
    s2 = sse / max(n_t - nf, 1)
    unit = np.zeros(n_p)
    col = np.empty(n_p)
    for k in range(n_p):
        sd_out[k] = 0.0 if not free[k] else np.nan
    for q in range(nf):
        for k in range(n_p):
            unit[k] = 0.0
        unit[idx[q]] = 1.0
        if _cholesky_solve(jtj, unit, idx, nf, col):
            sd_out[idx[q]] = math.sqrt(max(col[q], 0.0) * s2)
    return sse


@njit(cache=True)
def _fit_curve(
    j, model, curves, t_rel, a, h, starts, scale_mask, lo, hi, free, delay_grid,
    max_iter, prior_mu, prior_w, templ, norm2, any_scale, sigmas, out_p, out_sd, out_rss,
):  # fmt: skip
    """Start search (best template × amplitude) and LM for curve ``j`` (kept out of the
    parallel loop so that the parfor lowering, the slow part of compiling, stays small)."""
    n_t = curves.shape[1]
    n_s, n_p = starts.shape
    n_d = delay_grid.size
    c = curves[j]
    cc = 0.0
    for i in range(n_t):
        cc += c[i] * c[i]
    best = np.inf
    bs = 0
    bd = 0
    bscale = 1.0
    for s in range(n_s):
        for d in range(n_d):
            if any_scale:
                cm = 0.0
                for i in range(n_t):
                    cm += c[i] * templ[s, d, i]
                if norm2[s, d] > 0.0 and cm > 0.0:
                    sc = cm / norm2[s, d]
                    sse = cc - cm * sc
                else:
                    sc = 0.0
                    sse = cc
            else:
                sc = 1.0
                sse = 0.0
                for i in range(n_t):
                    sse += (c[i] - templ[s, d, i]) ** 2
            if sse < best:
                best = sse
                bs = s
                bd = d
                bscale = sc
    p = np.empty(n_p)
    for k in range(n_p):
        p[k] = starts[bs, k] * bscale if scale_mask[k] else starts[bs, k]
    if free[n_p - 1]:
        p[n_p - 1] = delay_grid[bd]
    for k in range(n_p):
        p[k] = min(max(p[k], lo[k]), hi[k])
    sd = np.empty(n_p)
    rss = _lm_single(
        model, c, p, t_rel, a, h, lo, hi, free, max_iter, prior_mu[j], prior_w, sd, sigmas[j]
    )
    for k in range(n_p):
        out_p[j, k] = p[k]
        out_sd[j, k] = sd[k]
    out_rss[j] = rss


@njit(cache=True, parallel=True)
def lm_fit_batch(
    model, curves, t_rel, a, h, starts, scale_mask, lo, hi, free, delay_grid, max_iter,
    prior_mu, prior_w, sigmas, out_p, out_sd, out_rss,
):  # fmt: skip
    """Fit every curve: best start (with a linear amplitude scale) × delay grid, then LM.

    Parameters
    ----------
    model : int
        Model id (``MODEL_*``).
    curves : float64 (n, T)
    t_rel : float64 (T,)
        Sample times minus the fine-grid start (s).
    a : float64 (G,)
        AIF on the fine grid (mmol/L).
    h : float
        Fine step (s).
    starts : float64 (S, P)
        Start vectors (the delay column is replaced by the delay grid).
    scale_mask : bool (P,)
        Parameters the model is homogeneous of degree one in (scaled together at the start).
    lo, hi : float64 (P,)
        Bounds.
    free : bool (P,)
        Which parameters are fitted (others stay at their start value).
    delay_grid : float64 (D,)
        Candidate delays for the start (s).
    max_iter : int
    prior_mu : float64 (n, P)
        Log-normal prior medians of each curve (any positive value where ``w = 0``).
    prior_w : float64 (P,)
        Inverse log-SDs of the priors (``w = 0``: no prior).
    sigmas : float64 (n,)
        Noise SD (mmol/L) of each curve that weights its prior; ≤ 0 or NaN: estimated from the
        curve itself (second differences).
    out_p, out_sd : float64 (n, P)
    out_rss : float64 (n,)
    """
    n, n_t = curves.shape
    n_s, n_p = starts.shape
    n_d = delay_grid.size
    g = a.size
    templ = np.empty((n_s, n_d, n_t))
    norm2 = np.empty((n_s, n_d))
    for s in range(n_s):
        y = np.empty(g)
        work = np.empty(g)
        _fine_response(model, starts[s], a, h, y, work)
        for d in range(n_d):
            _sample(y, t_rel, delay_grid[d], h, templ[s, d])
            acc = 0.0
            for i in range(n_t):
                acc += templ[s, d, i] ** 2
            norm2[s, d] = acc
    any_scale = False
    for k in range(n_p):
        if scale_mask[k]:
            any_scale = True
    for j in prange(n):
        _fit_curve(
            j, model, curves, t_rel, a, h, starts, scale_mask, lo, hi, free, delay_grid,
            max_iter, prior_mu, prior_w, templ, norm2, any_scale, sigmas, out_p, out_sd, out_rss,
        )  # fmt: skip


@njit(cache=True, parallel=True)
def predict_batch(model, params, t_rel, a, h, out):
    """Model curves ``out (n, T)`` for parameter rows ``params (n, P)`` (delay last)."""
    n = params.shape[0]
    g = a.size
    for j in prange(n):
        y = np.empty(g)
        work = np.empty(g)
        _evaluate(model, params[j], t_rel, a, h, y, work, out[j])
