"""Numba kernels of the engine: fine-grid forward models and a batched Levenberg–Marquardt.

Every parametric model is evaluated on a uniform fine grid (step ``h``) that starts at the
first sample: the AIF there is a smooth (cubic by default) interpolant of the heartbeat
samples; between fine nodes it is a cubic Hermite (Catmull-Rom) curve that each exponential is
integrated against exactly (or a trapezoidal Fermi convolution); the model at the sample times
is read off the fine curve at ``t − delay`` by cubic interpolation. A delay therefore costs no
new convolution, and a delay step in the Jacobian is a re-read of the same fine curve.

Fits: start from the best of a few model shapes × a delay grid (amplitude by linear least
squares), then Levenberg–Marquardt projected on the bounds, optionally with noise-weighted
log-normal priors; SDs from (JᵀJ)⁻¹ at the solution. The 2CXM gets an analytic Jacobian: the
k-derivative of each exact exponential convolution is carried by the same recursion, and the
chain rule through the rates and amplitudes gives the parameter derivatives; the other models
use forward differences (one extra forward model per non-delay parameter).

The AIF enters every exponential convolution through four shared sequences (the two node
values and the two Catmull-Rom slopes of each fine step, ``_aif_basis``), built once per batch,
so the recursion is a branch-free loop.

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


# Taylor coefficients of ψ_m(x) = ∫_0^1 exp(−x(1 − s)) s^m ds = Σ_n (−x)^n m!/(m + n + 1)!
# (m = 0..4); 24 terms reach < 1e-17 for x < 2, where the upward recursion takes over.
_PSI_SERIES_X = 2.0
_PSI_COEF = np.array(
    [
        [(-1.0) ** n * math.factorial(m) / math.factorial(m + n + 1) for n in range(24)]
        for m in range(5)
    ]
)


@njit(cache=True)
def _psi5(x):
    """``(ψ_0, …, ψ_4)(x)`` with ``ψ_m(x) = ∫_0^1 exp(−x(1 − s)) s^m ds`` (x ≥ 0).

    ``dψ_m/dx = ψ_{m+1} − ψ_m``, which is what the k-derivative of a convolution needs.
    """
    if x < _PSI_SERIES_X:
        c = _PSI_COEF
        p0 = c[0, 23]
        p1 = c[1, 23]
        p2 = c[2, 23]
        p3 = c[3, 23]
        p4 = c[4, 23]
        for n in range(22, -1, -1):  # Horner, five independent chains
            p0 = p0 * x + c[0, n]
            p1 = p1 * x + c[1, n]
            p2 = p2 * x + c[2, n]
            p3 = p3 * x + c[3, n]
            p4 = p4 * x + c[4, n]
        return p0, p1, p2, p3, p4
    ix = 1.0 / x
    p0 = -math.expm1(-x) * ix
    p1 = (1.0 - p0) * ix
    p2 = (1.0 - 2.0 * p1) * ix
    p3 = (1.0 - 3.0 * p2) * ix
    p4 = (1.0 - 4.0 * p3) * ix
    return p0, p1, p2, p3, p4


@njit(cache=True)
def _aif_basis(a):
    """The four AIF sequences one fine step ``j`` of every convolution reads (shape (G, 4)).

    Row ``j ≥ 1``: ``a[j−1]``, ``a[j]`` and the Catmull-Rom slopes × h at both ends (central
    differences, one-sided at the ends, 0 before the start); row 0 is unused.
    """
    g = a.size
    b = np.zeros((g, 4))
    for j in range(1, g):
        b[j, 0] = a[j - 1]
        b[j, 1] = a[j]
        b[j, 2] = 0.5 * (a[j] - a[j - 2]) if j >= 2 else 0.5 * a[1]
        b[j, 3] = 0.5 * (a[j + 1] - a[j - 1]) if j + 1 < g else a[j] - a[j - 1]
    return b


@njit(cache=True)
def _conv_weights(x, h):
    """Weights of ``a[j−1], a[j]`` and the two slopes×h in one exact step (``x = k h``)."""
    p0, p1, p2, p3, _ = _psi5(x)
    return (
        h * (2.0 * p3 - 3.0 * p2 + p0),
        h * (-2.0 * p3 + 3.0 * p2),
        h * (p3 - 2.0 * p2 + p1),
        h * (p3 - p2),
    )


@njit(cache=True)
def _conv_weights_dk(x, h):
    """``_conv_weights`` and their derivatives with respect to ``k`` (``x = k h``)."""
    p0, p1, p2, p3, p4 = _psi5(x)
    d0 = p1 - p0
    d1 = p2 - p1
    d2 = p3 - p2
    d3 = p4 - p3
    hh = h * h
    return (
        h * (2.0 * p3 - 3.0 * p2 + p0),
        h * (-2.0 * p3 + 3.0 * p2),
        h * (p3 - 2.0 * p2 + p1),
        h * (p3 - p2),
        hh * (2.0 * d3 - 3.0 * d2 + d0),
        hh * (-2.0 * d3 + 3.0 * d2),
        hh * (d3 - 2.0 * d2 + d1),
        hh * (d3 - d2),
    )


@njit(cache=True)
def _add_exp_conv(basis, h, k, amp, y):
    """``y += amp · ∫ exp(−k(t−s)) a(s) ds`` on the uniform grid.

    ``a`` is taken as the cubic Hermite (Catmull-Rom) curve through the fine samples, and each
    step is integrated exactly against the exponential, so the fine step adds an O(h⁴) error
    only (a piecewise-linear input costs O(h²), which biases flow by per cents at h = 0.25 s).
    ``basis`` is ``_aif_basis(a)``.
    """
    if amp == 0.0:
        return
    g = basis.shape[0]
    x = k * h
    e = math.exp(-x)
    w0, w1, w2, w3 = _conv_weights(x, h)
    s = 0.0
    for j in range(1, g):
        # the input term first: the chain through s is then one multiply-add per step
        s = e * s + (w0 * basis[j, 0] + w1 * basis[j, 1] + w2 * basis[j, 2] + w3 * basis[j, 3])
        y[j] += amp * s


@njit(cache=True)
def _set_exp_conv2(basis, h, k1, amp1, k2, amp2, y):
    """``y = amp1 · (a ⊛ e^{−k1 t}) + amp2 · (a ⊛ e^{−k2 t})`` in one pass (two chains)."""
    x1 = k1 * h
    x2 = k2 * h
    e1 = math.exp(-x1)
    e2 = math.exp(-x2)
    u0, u1, u2, u3 = _conv_weights(x1, h)
    v0, v1, v2, v3 = _conv_weights(x2, h)
    s1 = 0.0
    s2 = 0.0
    y[0] = 0.0
    for j in range(1, basis.shape[0]):
        b0 = basis[j, 0]
        b1 = basis[j, 1]
        b2 = basis[j, 2]
        b3 = basis[j, 3]
        s1 = e1 * s1 + (u0 * b0 + u1 * b1 + u2 * b2 + u3 * b3)
        s2 = e2 * s2 + (v0 * b0 + v1 * b1 + v2 * b2 + v3 * b3)
        y[j] = amp1 * s1 + amp2 * s2


@njit(cache=True)
def _exp_conv2_dk(basis, h, k1, k2, out):
    """Unit convolutions with ``e^{−k1 t}``, ``e^{−k2 t}`` and their k-derivatives.

    ``out[j] = (C1, ∂C1/∂k1, C2, ∂C2/∂k2)`` at fine node ``j``: differentiating the exact step
    ``C_j = e C_{j−1} + w(k)·b_j`` gives ``C'_j = e C'_{j−1} − h e C_{j−1} + w'(k)·b_j``, so the
    derivative is as exact as the convolution itself.
    """
    x1 = k1 * h
    x2 = k2 * h
    e1 = math.exp(-x1)
    e2 = math.exp(-x2)
    he1 = h * e1
    he2 = h * e2
    u0, u1, u2, u3, du0, du1, du2, du3 = _conv_weights_dk(x1, h)
    v0, v1, v2, v3, dv0, dv1, dv2, dv3 = _conv_weights_dk(x2, h)
    c1 = 0.0
    d1 = 0.0
    c2 = 0.0
    d2 = 0.0
    out[0, 0] = 0.0
    out[0, 1] = 0.0
    out[0, 2] = 0.0
    out[0, 3] = 0.0
    for j in range(1, basis.shape[0]):
        b0 = basis[j, 0]
        b1 = basis[j, 1]
        b2 = basis[j, 2]
        b3 = basis[j, 3]
        # input terms first, so each chain is one multiply-add per step
        d1 = e1 * d1 + ((du0 * b0 + du1 * b1 + du2 * b2 + du3 * b3) - he1 * c1)
        d2 = e2 * d2 + ((dv0 * b0 + dv1 * b1 + dv2 * b2 + dv3 * b3) - he2 * c2)
        c1 = e1 * c1 + (u0 * b0 + u1 * b1 + u2 * b2 + u3 * b3)
        c2 = e2 * c2 + (v0 * b0 + v1 * b1 + v2 * b2 + v3 * b3)
        out[j, 0] = c1
        out[j, 1] = d1
        out[j, 2] = c2
        out[j, 3] = d2


@njit(cache=True)
def _tcxm_rates(fp, ps, vp, ve):
    """``(K+, K−, A+)`` of the 2CXM (``A− = Fp − A+``); see ``tcxm.tcxm_rates``."""
    s = (fp + ps) / vp + ps / ve
    q = fp * ps / (vp * ve)
    root = math.sqrt(max(s * s - 4.0 * q, 0.0))
    kp = 0.5 * (s + root)
    km = q / kp if kp > 0.0 else 0.0
    ap = fp * (fp / vp - km) / (kp - km) if kp - km > 0.0 else fp
    return kp, km, ap


@njit(cache=True)
def _fine_response(model, p, a, basis, h, y, work):
    """Tissue concentration on the fine grid for parameters ``p`` at zero delay."""
    g = a.size
    if model == MODEL_2CXM:
        fp, ps, vp, ve = p[0], max(p[1], 0.0), max(p[2], _TINY), max(p[3], _TINY)
        kp, km, ap = _tcxm_rates(fp, ps, vp, ve)
        _set_exp_conv2(basis, h, kp, ap, km, fp - ap, y)
        return
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
    elif model == MODEL_2CUM:
        fp, ps, vp = p[0], max(p[1], 0.0), max(p[2], _TINY)
        tot = fp + ps
        e = ps / tot if tot > 0.0 else 0.0
        _set_exp_conv2(basis, h, tot / vp, fp * (1.0 - e), 0.0, fp * e, y)
    elif model == MODEL_TOFTS:
        ktrans, ve = p[0], max(p[1], _TINY)
        _add_exp_conv(basis, h, ktrans / ve, ktrans, y)
    elif model == MODEL_ETOFTS:
        ktrans, ve, vp = p[0], max(p[1], _TINY), p[2]
        _add_exp_conv(basis, h, ktrans / ve, ktrans, y)
        for j in range(g):
            y[j] += vp * a[j]
    elif model == MODEL_PATLAK:
        ktrans, vp = p[0], p[1]
        _add_exp_conv(basis, h, 0.0, ktrans, y)
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
def _evaluate(model, p, t_rel, a, basis, h, y, work, out):
    _fine_response(model, p, a, basis, h, y, work)
    _sample(y, t_rel, p[p.size - 1], h, out)


@njit(cache=True)
def _tcxm_coef(ds, dq, dr, dfp, s, root, kp, km, gap, num, fp, ap, am):
    """Weights of ``(C+, C−, C'+, C'−)`` in ``∂y/∂θ`` from ``∂s/∂θ, ∂q/∂θ, ∂(Fp/vp)/∂θ,
    ∂Fp/∂θ``: ``(∂A+/∂θ, ∂A−/∂θ, A+ ∂K+/∂θ, A− ∂K−/∂θ)``."""
    dkp = 0.5 * (ds + (s * ds - 2.0 * dq) / root)
    dkm = (dq - km * dkp) / kp
    dap = (dfp * num + fp * (dr - dkm) - ap * (dkp - dkm)) / gap
    return dap, dfp - dap, ap * dkp, am * dkm


@njit(cache=True)
def _tcxm_model_jac(p, t_rel, basis, h, free, fine4, m, jac):
    """2CXM model ``m`` at the samples and its analytic Jacobian ``jac (5, T)``.

    ``R = A+ e^{−K+ t} + A− e^{−K− t}``: ``∂y/∂θ = ∂A+/∂θ (C+ − C−) + ∂Fp/∂θ C− + A+ ∂K+/∂θ C'+
    + A− ∂K−/∂θ C'−`` with ``C±`` the unit convolutions and ``C'±`` their k-derivatives
    (``_exp_conv2_dk``); the rate derivatives follow from ``K+ + K− = s``, ``K+ K− = q``. The
    delay row is the derivative of the cubic read. Returns False (nothing written) where the
    rates are degenerate (``K+ = K−``, only at Fp = PS = 0); the caller then differences.
    ``jac`` has one row per parameter; ``fine4 (G, 4)`` is a work array.
    """
    fp = p[0]
    ps = max(p[1], 0.0)
    vp = max(p[2], _TINY)
    ve = max(p[3], _TINY)
    ivp = 1.0 / vp
    ive = 1.0 / ve
    s = (fp + ps) * ivp + ps * ive
    q = fp * ps * ivp * ive
    disc = s * s - 4.0 * q
    if not (disc > 0.0) or not (s > 0.0):
        return False
    root = math.sqrt(disc)
    kp = 0.5 * (s + root)
    km = q / kp
    gap = kp - km
    if not (gap > 1e-9 * s):
        return False
    num = fp * ivp - km
    ap = fp * num / gap
    am = fp - ap
    # ∂s/∂θ, ∂q/∂θ, ∂(Fp/vp)/∂θ, ∂Fp/∂θ for θ = fp, ps, vp, ve (0 where a clamp holds the
    # value); the weights stay in registers through the sample loop
    on_ps = 1.0 if p[1] >= 0.0 else 0.0
    on_vp = 1.0 if p[2] >= _TINY else 0.0
    on_ve = 1.0 if p[3] >= _TINY else 0.0
    r = (s, root, kp, km, gap, num, fp, ap, am)
    a0, b0, c0, d0 = _tcxm_coef(ivp, ps * ivp * ive, ivp, 1.0, *r)
    a1, b1, c1, d1 = _tcxm_coef(on_ps * (ivp + ive), on_ps * fp * ivp * ive, 0.0, 0.0, *r)
    a2, b2, c2, d2 = _tcxm_coef(
        -on_vp * (fp + ps) * ivp * ivp, -on_vp * q * ivp, -on_vp * fp * ivp * ivp, 0.0, *r
    )
    a3, b3, c3, d3 = _tcxm_coef(-on_ve * ps * ive * ive, -on_ve * q * ive, 0.0, 0.0, *r)
    _exp_conv2_dk(basis, h, kp, km, fine4)
    g = basis.shape[0]
    delay = p[4]
    ih = 1.0 / h
    for i in range(t_rel.size):
        u = (t_rel[i] - delay) / h  # as in _sample, to the last bit
        if u <= 0.0:
            m[i] = 0.0
            for k in range(5):
                jac[k, i] = 0.0
            continue
        if u >= g - 1:
            v0 = fine4[g - 1, 0]
            v1 = fine4[g - 1, 1]
            v2 = fine4[g - 1, 2]
            v3 = fine4[g - 1, 3]
            du = 0.0
        else:
            qn = int(u)
            f = u - qn
            f2 = f * f
            f3 = f2 * f
            # Catmull-Rom weights of nodes q−1, q, q+1, q+2 and their f-derivatives
            wm = -0.5 * f + f2 - 0.5 * f3
            w0 = 1.0 - 2.5 * f2 + 1.5 * f3
            w1 = 0.5 * f + 2.0 * f2 - 1.5 * f3
            wp = -0.5 * f2 + 0.5 * f3
            gm = -0.5 + 2.0 * f - 1.5 * f2
            g0 = -5.0 * f + 4.5 * f2
            g1 = 0.5 + 4.0 * f - 4.5 * f2
            gp = -f + 1.5 * f2
            im = qn - 1
            if qn < 1:  # the curve is 0 before the grid start
                im = 0
                wm = 0.0
                gm = 0.0
            ip = qn + 2
            if ip >= g:  # held flat past the end, as in _sample
                ip = qn + 1
            fm = fine4[im]
            f0 = fine4[qn]
            f1 = fine4[qn + 1]
            fq = fine4[ip]
            v0 = wm * fm[0] + w0 * f0[0] + w1 * f1[0] + wp * fq[0]
            v1 = wm * fm[1] + w0 * f0[1] + w1 * f1[1] + wp * fq[1]
            v2 = wm * fm[2] + w0 * f0[2] + w1 * f1[2] + wp * fq[2]
            v3 = wm * fm[3] + w0 * f0[3] + w1 * f1[3] + wp * fq[3]
            du = ap * (gm * fm[0] + g0 * f0[0] + g1 * f1[0] + gp * fq[0]) + am * (
                gm * fm[2] + g0 * f0[2] + g1 * f1[2] + gp * fq[2]
            )
        m[i] = ap * v0 + am * v2
        jac[0, i] = a0 * v0 + b0 * v2 + c0 * v1 + d0 * v3
        jac[1, i] = a1 * v0 + b1 * v2 + c1 * v1 + d1 * v3
        jac[2, i] = a2 * v0 + b2 * v2 + c2 * v1 + d2 * v3
        jac[3, i] = a3 * v0 + b3 * v2 + c3 * v1 + d3 * v3
        jac[4, i] = -du * ih
    for k in range(5):
        if not free[k]:
            for i in range(t_rel.size):
                jac[k, i] = 0.0
    return True


@njit(cache=True)
def _cholesky_solve_ws(mat, rhs, idx, nf, x, low, z):
    """Solve ``mat[idx][:, idx] x = rhs[idx]`` (SPD) with work arrays ``low (P, P)``, ``z (P,)``;
    False when not positive definite."""
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
def _sd_from_normal(jtj, idx, nf, free, s2, sd_out, unit, col, low, z):
    """SDs ``√(s² · diag((JᵀJ)⁻¹))`` of the ``nf`` free parameters ``idx`` into ``sd_out``
    (0 for fixed parameters, NaN where JᵀJ is not positive definite); ``unit``, ``col`` (P,),
    ``low`` (P, P) and ``z`` (P,) are work arrays."""
    n_p = sd_out.size
    for k in range(n_p):
        sd_out[k] = 0.0 if not free[k] else np.nan
    for q in range(nf):
        for k in range(n_p):
            unit[k] = 0.0
        unit[idx[q]] = 1.0
        if _cholesky_solve_ws(jtj, unit, idx, nf, col, low, z):
            sd_out[idx[q]] = math.sqrt(max(col[q], 0.0) * s2)


@njit(cache=True)
def _jacobian(model, p, m, y, t_rel, a, basis, h, lo, hi, free, jac, ptmp, ytmp, work, mtmp):
    """Forward-difference Jacobian (the delay column by re-reading the fine curve ``y``)."""
    n_p = p.size
    for k in range(n_p):
        if not free[k]:
            for i in range(t_rel.size):
                jac[k, i] = 0.0
            continue
        if k == n_p - 1:
            # delay: re-read the same fine curve half a fine step either side
            dd = 0.5 * h
            _sample(y, t_rel, p[k] + dd, h, mtmp)
            for i in range(t_rel.size):
                jac[k, i] = mtmp[i]
            _sample(y, t_rel, p[k] - dd, h, mtmp)
            for i in range(t_rel.size):
                jac[k, i] = (jac[k, i] - mtmp[i]) / (2.0 * dd)
            continue
        eps = 1e-6 * max(abs(p[k]), 1e-2 * (hi[k] - lo[k]), 1e-6)
        if p[k] + eps > hi[k]:
            eps = -eps
        for q in range(n_p):
            ptmp[q] = p[q]
        ptmp[k] += eps
        _evaluate(model, ptmp, t_rel, a, basis, h, ytmp, work, mtmp)
        for i in range(t_rel.size):
            jac[k, i] = (mtmp[i] - m[i]) / eps


@njit(cache=True)
def _model_and_jac(
    model, p, t_rel, a, basis, h, lo, hi, free, y, m, jac, ptmp, ytmp, work, mtmp, fine4
):
    """Model at the samples and its Jacobian: analytic for the 2CXM, else forward differences
    (then ``y`` holds the fine curve)."""
    if model == MODEL_2CXM and _tcxm_model_jac(p, t_rel, basis, h, free, fine4, m, jac):
        return
    _evaluate(model, p, t_rel, a, basis, h, y, work, m)
    _jacobian(model, p, m, y, t_rel, a, basis, h, lo, hi, free, jac, ptmp, ytmp, work, mtmp)


@njit(cache=True, fastmath={"reassoc", "contract"})
def _dot(x, y):
    """``Σ x_i y_i``; reassociation lets the sum vectorise (no NaN/Inf assumptions)."""
    acc = 0.0
    for i in range(x.size):
        acc += x[i] * y[i]
    return acc


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
    model, c, p, t_rel, a, basis, h, lo, hi, free, max_iter, prior_mu, prior_w, sd_out, sig_in
):  # fmt: skip
    """Levenberg–Marquardt (Marquardt scaling, projected on the bounds) for one curve.

    The objective is the residual sum of squares plus, for parameters with ``prior_w > 0``, the
    log-normal penalty ``(σ w ln(p/μ))²`` with ``σ`` the curve's own noise SD (so the prior acts
    like a measurement of ln p with SD ``1/w`` and fades at high SNR); ``sig_in > 0`` gives that
    SD instead (e.g. the raw curve's when ``c`` was denoised). Returns the residual sum
    of squares; ``p`` is updated in place, ``sd_out`` gets the SDs (posterior, from the
    Jacobian at the solution). ``basis`` is ``_aif_basis(a)``.

    With an analytic Jacobian (2CXM) every trial point gets its Jacobian with the model (one
    pass), so an accepted step needs no further model runs; the others difference after it.
    """
    joint = model == MODEL_2CXM
    n_t = t_rel.size
    n_p = p.size
    g = a.size
    y = np.empty(g)
    ynew = np.empty(g)
    ytmp = np.empty(g)
    work = np.empty(g)
    fine4 = np.empty((g, 4))
    m = np.empty(n_t)
    mnew = np.empty(n_t)
    mtmp = np.empty(n_t)
    jac = np.empty((n_p, n_t))  # one row per parameter: the sums below run along rows
    jacnew = np.empty((n_p, n_t))
    res = np.empty(n_t)
    jtj = np.empty((n_p, n_p))
    grad = np.empty(n_p)
    ptmp = np.empty(n_p)
    pnew = np.empty(n_p)
    delta = np.empty(n_p)
    low = np.zeros((n_p, n_p))
    z = np.zeros(n_p)
    idx = np.empty(n_p, dtype=np.int64)
    nf = 0
    for k in range(n_p):
        if free[k]:
            idx[nf] = k
            nf += 1
    damped = np.empty((n_p, n_p))

    sig = sig_in if sig_in > 0.0 else noise_sd(c)
    if joint:
        _model_and_jac(
            model, p, t_rel, a, basis, h, lo, hi, free, y, m, jac, ptmp, ytmp, work, mtmp,
            fine4,
        )  # fmt: skip
    else:
        _evaluate(model, p, t_rel, a, basis, h, y, work, m)
    sse = 0.0
    for i in range(n_t):
        sse += (c[i] - m[i]) ** 2
    cost = sse + _prior_cost(p, prior_mu, prior_w, sig)
    lam = 1e-3
    for _ in range(max_iter):
        if not joint:
            _jacobian(model, p, m, y, t_rel, a, basis, h, lo, hi, free, jac, ptmp, ytmp, work, mtmp)
        for i in range(n_t):
            res[i] = c[i] - m[i]
        for u in range(n_p):
            grad[u] = _dot(jac[u], res)
            for v in range(u + 1):
                s = _dot(jac[u], jac[v])
                jtj[u, v] = s
                jtj[v, u] = s
        _add_prior(p, prior_mu, prior_w, sig, free, jtj, grad)
        improved = False
        converged = False
        cost_old = cost
        for _try in range(12):
            for u in range(n_p):
                for v in range(n_p):
                    damped[u, v] = jtj[u, v]
                damped[u, u] = jtj[u, u] * (1.0 + lam) + 1e-30
            ok = _cholesky_solve_ws(damped, grad, idx, nf, delta, low, z)
            if not ok:
                lam *= 10.0
                continue
            for k in range(n_p):
                pnew[k] = p[k]
            clamped = False
            for q in range(nf):
                k = idx[q]
                pnew[k] = min(max(p[k] + delta[q], lo[k]), hi[k])
                clamped = clamped or pnew[k] != p[k] + delta[q]
            # the decrease the linearised model predicts, 2δᵀJᵀr − δᵀJᵀJδ: when even that is
            # below the stopping tolerance, stop without running the model (saves the last,
            # merely confirming, trial of most curves)
            pred = 0.0
            for q in range(nf):
                acc = 2.0 * grad[idx[q]]
                for w in range(nf):
                    acc -= jtj[idx[q], idx[w]] * delta[w]
                pred += delta[q] * acc
            if not clamped and pred <= 1e-6 * cost:
                converged = True
                break
            if joint:
                _model_and_jac(
                    model, pnew, t_rel, a, basis, h, lo, hi, free, ynew, mnew, jacnew, ptmp,
                    ytmp, work, mtmp, fine4,
                )  # fmt: skip
            else:
                _evaluate(model, pnew, t_rel, a, basis, h, ynew, work, mnew)
            snew = 0.0
            for i in range(n_t):
                snew += (c[i] - mnew[i]) ** 2
            cnew = snew + _prior_cost(pnew, prior_mu, prior_w, sig)
            if cnew < cost:
                for k in range(n_p):
                    p[k] = pnew[k]
                y, ynew = ynew, y
                m, mnew = mnew, m
                jac, jacnew = jacnew, jac
                sse = snew
                cost = cnew
                lam = max(lam * 0.3, 1e-9)
                improved = True
                break
            lam *= 4.0
        if converged or not improved or cost_old - cost <= 1e-5 * cost_old + 1e-30:
            break
    # SD from the Jacobian at the solution: cov = s² (JᵀJ)⁻¹
    if not joint:
        _jacobian(model, p, m, y, t_rel, a, basis, h, lo, hi, free, jac, ptmp, ytmp, work, mtmp)
    for u in range(n_p):
        for v in range(n_p):
            jtj[u, v] = _dot(jac[u], jac[v])
    for u in range(n_p):
        grad[u] = 0.0
    _add_prior(p, prior_mu, prior_w, sig, free, jtj, grad)
    _sd_from_normal(jtj, idx, nf, free, sse / max(n_t - nf, 1), sd_out, np.empty(n_p),
                    np.empty(n_p), low, z)
    return sse


@njit(cache=True)
def _fit_curve(
    j, model, curves, t_rel, a, basis, h, starts, scale_mask, lo, hi, free, delay_grid,
    max_iter, prior_mu, prior_w, templ, norm2, any_scale, sigmas, out_p, out_sd, out_rss,
):  # fmt: skip
    """Start search (best template × amplitude) and LM for curve ``j`` (kept out of the
    parallel loop so that the parfor lowering, the slow part of compiling, stays small)."""
    n_t = curves.shape[1]
    n_s, n_p = starts.shape
    n_d = delay_grid.size
    n_r = n_s * n_d
    c = curves[j]
    cc = 0.0
    for i in range(n_t):
        cc += c[i] * c[i]
    # all template dot products at once, templates inner: an axpy per sample that vectorises
    # (a dot product per template is a serial chain of adds)
    cm = np.zeros(n_r)
    for i in range(n_t):
        ci = c[i]
        for r in range(n_r):
            cm[r] += ci * templ[i, r]
    best = np.inf
    br = 0
    bscale = 1.0
    for r in range(n_r):
        if any_scale:
            if norm2[r] > 0.0 and cm[r] > 0.0:
                sc = cm[r] / norm2[r]
                sse = cc - cm[r] * sc
            else:
                sc = 0.0
                sse = cc
        else:
            sc = 1.0
            sse = cc - 2.0 * cm[r] + norm2[r]
        if sse < best:
            best = sse
            br = r
            bscale = sc
    bs = br // n_d
    bd = br - bs * n_d
    p = np.empty(n_p)
    for k in range(n_p):
        p[k] = starts[bs, k] * bscale if scale_mask[k] else starts[bs, k]
    if free[n_p - 1]:
        p[n_p - 1] = delay_grid[bd]
    for k in range(n_p):
        p[k] = min(max(p[k], lo[k]), hi[k])
    sd = np.empty(n_p)
    rss = _lm_single(
        model, c, p, t_rel, a, basis, h, lo, hi, free, max_iter, prior_mu[j], prior_w, sd,
        sigmas[j],
    )  # fmt: skip
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
    basis = _aif_basis(a)
    # start templates, one column per (shape, delay): (T, S·D)
    templ = np.empty((n_t, n_s * n_d))
    norm2 = np.empty(n_s * n_d)
    col = np.empty(n_t)
    for s in range(n_s):
        y = np.empty(g)
        work = np.empty(g)
        _fine_response(model, starts[s], a, basis, h, y, work)
        for d in range(n_d):
            _sample(y, t_rel, delay_grid[d], h, col)
            acc = 0.0
            for i in range(n_t):
                templ[i, s * n_d + d] = col[i]
                acc += col[i] ** 2
            norm2[s * n_d + d] = acc
    any_scale = False
    for k in range(n_p):
        if scale_mask[k]:
            any_scale = True
    for j in prange(n):
        _fit_curve(
            j, model, curves, t_rel, a, basis, h, starts, scale_mask, lo, hi, free, delay_grid,
            max_iter, prior_mu, prior_w, templ, norm2, any_scale, sigmas, out_p, out_sd, out_rss,
        )  # fmt: skip


@njit(cache=True, parallel=True)
def predict_batch(model, params, t_rel, a, h, out):
    """Model curves ``out (n, T)`` for parameter rows ``params (n, P)`` (delay last)."""
    n = params.shape[0]
    g = a.size
    basis = _aif_basis(a)
    for j in prange(n):
        y = np.empty(g)
        work = np.empty(g)
        _evaluate(model, params[j], t_rel, a, basis, h, y, work, out[j])
