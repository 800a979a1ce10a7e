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
* ``e^{α t_j}`` is a running product (one exponential per curve, not one per node), and the
  divisions of the residue vectorise once numba's zero-division check is off
  (``error_model="numpy"`` on :func:`_residue`: 0.24 → 0.12 µs);
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
  span (~15 coordinates instead of 60 frames) as one matrix-vector product with the lanes
  over the templates (no per-template reductions); the chosen template's model is the
  start's (``start_x`` carries it), which saves the first model evaluation;
* samples a whole number ``s`` of fine steps apart (``_uniform_step``: synthetic or resampled
  curves, e.g. fit_throughput.py's) skip the fine curve: the cubic read of the convolution at
  ``q_i + f`` is ``Σ_k r_k B[q_i + 2 − k]`` (plus two end terms of the trapezoid) with ``B``
  the AIF read through the same cubic once per delay (``_taps``), so each sample is one dot
  product of ~``q_i`` terms: half the multiply-adds of the convolution, and the read is
  free. They run four samples at a time over the longest of the four, the three Jacobian
  columns in one pass, in float32 (16 lanes; model and Jacobian to ~1e-7 of their scale, MBF
  moves by 1e-7 in the median), and the trapezoid's end terms come from one vectorised pass
  over the nodes (:func:`_rho_nodes`). Other sample times (real heartbeats) take the general path:
  the convolution, in float32 the same way (:func:`_conv32`), then the read;
* every dot product runs over whole 16-lane vectors: the AIF and the float32 work rows are
  zero-padded, so the terms past a dot product's end are exact zeros, and the last block of
  four samples is computed whole and its surplus dropped (no tail loops, no scalar
  remainder; the whole Jacobian 1.63 → 1.39 µs);
* curves run in chunks of ``_CHUNK`` per thread with the work arrays allocated per chunk.

With uniform sampling a fit costs ~17 µs per curve and thread (2026-11-24, 60 frames, 1 s;
it was 20.8 before the vectorised divisions, whole-vector dot products and end-term pass):
~5.3 Jacobians (~1.4 µs each), ~7.4 model evaluations (~0.7 µs each; 2.2 of them rejected
trials), the start search (~2.2 µs) and ~2.5 µs of bookkeeping (normal equations,
amplitudes, step logic, SDs); the general path ~22 µs (was 26).
Parameter vectors are ``(Fb, ln α, ln β, delay)``.
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np
from numba import njit, prange

from qperfusion.kinetics._kernels import _cholesky_solve_ws, _sd_from_normal

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
    "low z res bd bdt cw",
)
_PAD = 40  # zeros after the float32 AIF and work rows (+ 3 steps): _span_len, _conv32
_CHUNK = 32  # curves per work unit of the parallel loop (work arrays allocated per chunk)
# longest LM step in each of (Fb, ln α, ln β, delay)
_MAX_STEP = np.array([np.inf, 1.0, 2.0, 1.0])
# reassociation lets the dot products vectorise; no NaN/inf assumptions (bad values stay NaN)
_FAST = {"reassoc", "contract", "nsz"}
_UNIFORM = True
_VEC = 16  # float32 lanes of one AVX-512 register: dot products run in whole vectors


@njit(cache=True, fastmath=_FAST, error_model="numpy")
def _residue(la, lb, h, r, ra, rb, deriv):
    """Unit-flow Fermi residue ``(1 + β) / (1 + β e^{α t_j})`` on ``t_j = j h`` and, when
    ``deriv``, its derivatives with respect to ``ln α`` and ``ln β``.

    ``β e^{α t_j}`` is a running product (one exponential per call) written into ``r`` first;
    the divisions then run in a separate loop without a loop-carried dependency, which
    vectorises (one reciprocal per node serves the residue and both derivatives) once
    numba's Python error model, whose zero-division check keeps every division scalar, is
    off (``error_model="numpy"``: 0.24 → 0.12 µs for 124 nodes; 1 + β e^{αt} is never 0).
    """
    g = r.size
    alpha = math.exp(la)
    beta = math.exp(lb)
    q = math.exp(alpha * h)
    c1 = 1.0 + beta
    e = beta
    for j in range(g):
        r[j] = e
        e *= q
    if deriv:
        wb = beta / c1
        ah = alpha * h
        for j in range(g):
            be = r[j]
            ok = be < 1e300  # past that e^{α t} overflowed: the residue is 0 from here on
            inv = 1.0 / (1.0 + be)
            rj = c1 * inv if ok else 0.0
            s = be * inv
            ra[j] = -rj * s * (ah * j) if ok else 0.0  # α ∂R/∂α
            rb[j] = rj * (wb - s) if ok else 0.0  # β ∂R/∂β
            r[j] = rj
    else:
        for j in range(g):
            be = r[j]
            r[j] = c1 / (1.0 + be) if be < 1e300 else 0.0


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
def _conv32(arev32, m0, r, r32, h, y):
    """:func:`_conv` with the dot products in float32 (the fit's general path; ~1e-7 of the
    curve's scale, as the uniform path).

    Four nodes at a time in one loop over whole ``_VEC`` lanes: the terms past a node's end
    are exact zeros (``arev32``: the reversed AIF, 0 before the bolus and in its padding;
    ``r32``: ``r`` copied here, 0 past the grid), so there are neither tail loops nor scalar
    remainders (0.83 → 0.58 µs for 124 nodes).
    """
    g = r.size
    for k in range(g):
        r32[k] = r[k]
    a0 = 0.5 * arev32[g - 1]
    r0 = 0.5 * r[0]
    y[0] = 0.0
    j = 1
    while j < g:
        w0, w1, w2, w3 = _node_views(arev32, g, j)
        s0 = s1 = s2 = s3 = np.float32(0.0)
        for k in range(_whole(j + 4 - m0)):
            rk = r32[k]
            s0 += rk * w0[k]
            s1 += rk * w1[k]
            s2 += rk * w2[k]
            s3 += rk * w3[k]
        acc = (s0, s1, s2, s3)
        for b in range(min(4, g - j)):
            jb = j + b
            y[jb] = h * (acc[b] - a0 * r[jb] - arev32[g - 1 - jb] * r0)
        j += 4


@njit(cache=True, fastmath=_FAST)
def _conv2_32(arev32, m0, r1, r2, r1_32, r2_32, h, y1, y2):
    """:func:`_conv32` of two residues in one pass over the AIF (:func:`_conv2`)."""
    g = r1.size
    for k in range(g):
        r1_32[k] = r1[k]
        r2_32[k] = r2[k]
    a0 = 0.5 * arev32[g - 1]
    y1[0] = 0.0
    y2[0] = 0.0
    j = 1
    while j < g:
        w0, w1, w2, w3 = _node_views(arev32, g, j)
        p0 = p1 = p2 = p3 = np.float32(0.0)
        q0 = q1 = q2 = q3 = np.float32(0.0)
        for k in range(_whole(j + 4 - m0)):
            u = r1_32[k]
            v = r2_32[k]
            p0 += u * w0[k]
            p1 += u * w1[k]
            p2 += u * w2[k]
            p3 += u * w3[k]
            q0 += v * w0[k]
            q1 += v * w1[k]
            q2 += v * w2[k]
            q3 += v * w3[k]
        acc1 = (p0, p1, p2, p3)
        acc2 = (q0, q1, q2, q3)
        for b in range(min(4, g - j)):
            jb = j + b
            aj = 0.5 * arev32[g - 1 - jb]
            y1[jb] = h * (acc1[b] - a0 * r1[jb] - aj * r1[0])
            y2[jb] = h * (acc2[b] - a0 * r2[jb] - aj * r2[0])
        j += 4


@njit(cache=True)
def _views4(a, o0, o1, o2, o3):
    """``a[o0:], a[o1:], a[o2:], a[o3:]``: the operands of four dot products taken through
    views, whose index ``k ≥ 0`` needs no wraparound check, so the loops vectorise."""
    return a[o0:], a[o1:], a[o2:], a[o3:]


@njit(cache=True)
def _node_views(arev32, g, j):
    """Views of the reversed AIF that give nodes ``j .. j + 3`` of the convolution as forward
    dot products; a node past the grid reads from 0 instead of a negative offset (its result
    is dropped)."""
    return _views4(arev32, g - 1 - j, max(g - 2 - j, 0), max(g - 3 - j, 0), max(g - 4 - j, 0))


@njit(cache=True)
def _whole(n):
    """``n`` rounded up to whole ``_VEC`` lanes."""
    return (n + _VEC - 1) // _VEC * _VEC


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
def _read3(ya, yb, y, iq, wv, wd, scale, jac):
    """Jacobian rows 1–3: ``scale ×`` the reads of ``ya`` and ``yb`` with weights ``wv`` and
    of ``y`` with ``wd`` (one pass: the nodes are clipped once)."""
    g = y.size
    for i in range(iq.size):
        q = iq[i]
        qm = q - 1 if q >= 1 else 0
        qp = q + 2 if q + 2 < g else g - 1
        w0 = wv[0, i]
        w1 = wv[1, i]
        w2 = wv[2, i]
        w3 = wv[3, i]
        jac[1, i] = scale * (w0 * ya[qm] + w1 * ya[q] + w2 * ya[q + 1] + w3 * ya[qp])
        jac[2, i] = scale * (w0 * yb[qm] + w1 * yb[q] + w2 * yb[q + 1] + w3 * yb[qp])
        jac[3, i] = scale * (
            wd[0, i] * y[qm] + wd[1, i] * y[q] + wd[2, i] * y[q + 1] + wd[3, i] * y[qp]
        )


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
    _read3(ya, yb, y, iq, wv, wd, x[0], jac)


@njit(cache=True)
def _uniform_step(t_rel, h):
    """Sample spacing in fine steps when every ``t_rel[i] = t_rel[0] + i s h`` (to 1e-9 s) for
    an integer ``s ≥ 1``, else 0."""
    n = t_rel.size
    if n < 2:
        return 0
    s = round((t_rel[1] - t_rel[0]) / h)
    if s < 1:
        return 0
    for i in range(n):
        if abs(t_rel[i] - t_rel[0] - i * s * h) > 1e-9:
            return 0
    return s


@njit(cache=True)
def _cubic(f, inv_h, c, d):
    """Catmull-Rom weights ``c`` of nodes ``q−1 .. q+2`` at fraction ``f`` and ``d`` those of
    the ``delay`` derivative (``−(1/h) d/df``), as in :func:`_read_weights`."""
    f2 = f * f
    f3 = f2 * f
    c[0] = 0.5 * (-f + 2.0 * f2 - f3)
    c[1] = 1.0 + 0.5 * (-5.0 * f2 + 3.0 * f3)
    c[2] = 0.5 * (f + 4.0 * f2 - 3.0 * f3)
    c[3] = 0.5 * (f3 - f2)
    d[0] = -0.5 * inv_h * (-1.0 + 4.0 * f - 3.0 * f2)
    d[1] = -0.5 * inv_h * (-10.0 * f + 9.0 * f2)
    d[2] = -0.5 * inv_h * (1.0 + 8.0 * f - 9.0 * f2)
    d[3] = -0.5 * inv_h * (3.0 * f2 - 2.0 * f)


@njit(cache=True, fastmath=_FAST)
def _taps(arev32, c, d, g, bv, bd):
    """The AIF read through the cubic, reversed: ``bv[i] = Σ_p c_p arev[i + 3 − p]`` (and
    ``bd`` with ``d``) for ``i < g``; ``arev32`` is the reversed AIF padded with zeros."""
    c0, c1, c2, c3 = c[0], c[1], c[2], c[3]
    d0, d1, d2, d3 = d[0], d[1], d[2], d[3]
    for i in range(g):
        a0 = arev32[i]
        a1 = arev32[i + 1]
        a2 = arev32[i + 2]
        a3 = arev32[i + 3]
        bv[i] = c0 * a3 + c1 * a2 + c2 * a1 + c3 * a0
        bd[i] = d0 * a3 + d1 * a2 + d2 * a1 + d3 * a0


@njit(cache=True)
def _ynode(arev, m0, r, h, n):
    """Node ``n`` of the trapezoidal convolution of :func:`_conv`."""
    g = r.size
    w = arev[g - 1 - n :]
    acc = 0.0
    for k in range(n + 1 - m0):
        acc += r[k] * w[k]
    return h * (acc - 0.5 * arev[g - 1] * r[n] - 0.5 * w[0] * r[0])


@njit(cache=True)
def _end_read(arev, m0, r, h, q, f, deriv):
    """Read (``deriv``: its ``delay`` derivative) at ``u = q + f`` of the convolution of ``r``
    for the samples that :func:`_read_uniform` leaves out: ``q ≥ g − 2`` or ``u ≥ g − 1``."""
    g = r.size
    u = q + f
    if u >= g - 1.0:
        return 0.0 if deriv else _ynode(arev, m0, r, h, g - 1)
    f2 = f * f
    f3 = f2 * f
    if deriv:
        inv_h = 1.0 / h
        w0 = -0.5 * inv_h * (-1.0 + 4.0 * f - 3.0 * f2)
        w1 = -0.5 * inv_h * (-10.0 * f + 9.0 * f2)
        w2 = -0.5 * inv_h * (1.0 + 8.0 * f - 9.0 * f2)
        w3 = -0.5 * inv_h * (3.0 * f2 - 2.0 * f)
    else:
        w0 = 0.5 * (-f + 2.0 * f2 - f3)
        w1 = 1.0 + 0.5 * (-5.0 * f2 + 3.0 * f3)
        w2 = 0.5 * (f + 4.0 * f2 - 3.0 * f3)
        w3 = 0.5 * (f3 - f2)
    # q = g − 2: node q + 2 is past the grid, the last node is repeated
    out = w0 * _ynode(arev, m0, r, h, q - 1) + w1 * _ynode(arev, m0, r, h, q)
    return out + (w2 + w3) * _ynode(arev, m0, r, h, q + 1)


@njit(cache=True)
def _uniform_span(t0, delay, step, h, g, n_t):
    """For samples ``t_i = t0 + i step h``: base node ``q0`` and fraction ``f`` of sample 0
    (``u_i = q0 + i step + f``), the first sample after the grid start (``u > 0``) and the
    first one the convolution shortcut leaves out (``q ≥ g − 2``)."""
    u0 = (t0 - delay) / h
    if not math.isfinite(u0):
        return 0, 0.0, n_t, n_t  # a NaN delay reads 0 (as _read_weights)
    fq = math.floor(u0)
    f = u0 - fq
    q0 = int(fq)
    i0 = 0
    while i0 < n_t and not q0 + i0 * step + f > 0.0:
        i0 += 1
    i1 = i0
    while i1 < n_t and q0 + i1 * step <= g - 3:
        i1 += 1
    return q0, f, i0, i1


@njit(cache=True)
def _span_len(q, step, m0):
    """Terms of the longest dot product of a block of four samples from node ``q`` (the
    fourth sample's), rounded up to whole ``_VEC`` lanes: the terms past its end are exact
    zeros (``bv`` is 0 before the bolus and in its padding, ``r32`` past the grid) and whole
    vectors skip the scalar remainder loop (with :func:`_offsets`' whole last block, the
    Jacobian of 60 samples 1.63 → 1.39 µs)."""
    return _whole(q + 3 * step + 3 - m0)


@njit(cache=True)
def _offsets(g, q, step, i, i1):
    """View offsets into ``bv`` of the block of four samples from sample ``i`` (node ``q``):
    ``g − 3 − q_b``; a sample at or past ``i1`` (computed with the block, its result dropped)
    reads from 0 instead of a negative offset, which would wrap around."""
    o0 = g - 3 - q
    o1 = o0 - step if i + 1 < i1 else 0
    o2 = o0 - 2 * step if i + 2 < i1 else 0
    o3 = o0 - 3 * step if i + 3 < i1 else 0
    return o0, o1, o2, o3


@njit(cache=True, fastmath=_FAST)
def _read_uniform(r, r32, rho, bv, m0, h, a0, q0, step, f_c, i0, i1, out):
    """``out[i] = h [Σ_k r_k B[q_i + 2 − k] − ½ (a_0 ρ_i + r_0 B[q_i + 2])]`` for ``i0 ≤ i <
    i1``: the cubic read at ``u_i = q_i + f`` of the trapezoidal convolution of ``r``, taken
    as one dot product with the AIF read through the same cubic (``bv``: ``B`` reversed,
    :func:`_taps`; ``ρ_i`` the cubic read of ``r`` itself, ``f_c`` its weights). Half the
    multiply-adds of a full convolution and the read in one, four samples at a time (the
    last block's samples past ``i1`` are computed and dropped). ``rho`` is a work row (the
    ``ρ`` of every node, :func:`_rho_nodes`)."""
    g = r.size
    for k in range(g):  # the dot products run in float32 (16 lanes; ~1e-7 relative)
        r32[k] = r[k]
    _rho_nodes(r, f_c, rho)
    i = i0
    while i < i1:
        q = q0 + i * step
        o0, o1, o2, o3 = _offsets(g, q, step, i, i1)
        w0, w1, w2, w3 = _views4(bv, o0, o1, o2, o3)
        s0 = np.float32(0.0)
        s1 = np.float32(0.0)
        s2 = np.float32(0.0)
        s3 = np.float32(0.0)
        for k in range(_span_len(q, step, m0)):
            rk = r32[k]
            s0 += rk * w0[k]
            s1 += rk * w1[k]
            s2 += rk * w2[k]
            s3 += rk * w3[k]
        acc = (s0, s1, s2, s3)
        for b in range(min(4, i1 - i)):
            qb = q + b * step
            out[i + b] = h * (acc[b] - 0.5 * (a0 * rho[qb] + r[0] * bv[o0 - b * step]))
        i += 4


@njit(cache=True, fastmath=_FAST)
def _read_uniform3(ra, rb, r, bb, m0, h, a0, q0, step, cw, i0, i1, jac):
    """Jacobian rows 1–3 of :func:`_read_uniform` (``ra`` and ``rb`` with ``bv``, ``r`` with
    ``bd``) in one pass, four samples at a time for ``i0 ≤ i < i1``."""
    g = r.size
    bv = bb[0]
    bd = bb[1]
    ra32 = bb[2]
    rb32 = bb[3]
    r32 = bb[4]
    for k in range(g):  # the dot products run in float32 (16 lanes; ~1e-7 relative)
        ra32[k] = ra[k]
        rb32[k] = rb[k]
        r32[k] = r[k]
    rho_a = bb[5]
    rho_b = bb[6]
    rho_d = bb[7]
    _rho_nodes(ra, cw[0], rho_a)
    _rho_nodes(rb, cw[0], rho_b)
    _rho_nodes(r, cw[1], rho_d)
    i = i0
    while i < i1:
        q = q0 + i * step
        o0, o1, o2, o3 = _offsets(g, q, step, i, i1)
        v0, v1, v2, v3 = _views4(bv, o0, o1, o2, o3)
        d0, d1, d2, d3 = _views4(bd, o0, o1, o2, o3)
        a00 = a01 = a02 = a03 = np.float32(0.0)
        b00 = b01 = b02 = b03 = np.float32(0.0)
        c00 = c01 = c02 = c03 = np.float32(0.0)
        for k in range(_span_len(q, step, m0)):
            xa = ra32[k]
            xb = rb32[k]
            xr = r32[k]
            a00 += xa * v0[k]
            a01 += xa * v1[k]
            a02 += xa * v2[k]
            a03 += xa * v3[k]
            b00 += xb * v0[k]
            b01 += xb * v1[k]
            b02 += xb * v2[k]
            b03 += xb * v3[k]
            c00 += xr * d0[k]
            c01 += xr * d1[k]
            c02 += xr * d2[k]
            c03 += xr * d3[k]
        sa = (a00, a01, a02, a03)
        sb = (b00, b01, b02, b03)
        sc = (c00, c01, c02, c03)
        for b in range(min(4, i1 - i)):
            qb = q + b * step
            ob = o0 - b * step
            jac[1, i + b] = h * (sa[b] - 0.5 * (a0 * rho_a[qb] + ra[0] * bv[ob]))
            jac[2, i + b] = h * (sb[b] - 0.5 * (a0 * rho_b[qb] + rb[0] * bv[ob]))
            jac[3, i + b] = h * (sc[b] - 0.5 * (a0 * rho_d[qb] + r[0] * bd[ob]))
        i += 4


@njit(cache=True, fastmath=_FAST)
def _rho_nodes(r, c, out):
    """The cubic read ``Σ_p c_p r_{n+p−1}`` of ``r`` itself at every node ``n ≤ G − 3``
    (``r_{−1} = 0``): the trapezoid's end term of each sample, in one pass that vectorises
    instead of four scattered loads per sample."""
    g = r.size
    c0, c1, c2, c3 = c[0], c[1], c[2], c[3]
    out[0] = c1 * r[0] + c2 * r[1] + c3 * r[2]
    for n in range(1, g - 2):
        out[n] = c0 * r[n - 1] + c1 * r[n] + c2 * r[n + 1] + c3 * r[n + 2]


@njit(cache=True)
def _value_u(x, t_rel, step, arev, arev32, m0, h, r, bb, cw, m):
    """:func:`_value` for samples ``step`` fine nodes apart (:func:`_read_uniform`); leaves the
    AIF read through the cubic at ``x``'s delay and its derivative in ``bv``, ``bd``."""
    g = r.size
    n_t = t_rel.size
    _residue(x[1], x[2], h, r, r, r, False)
    q0, f, i0, i1 = _uniform_span(t_rel[0], x[3], step, h, g, n_t)
    _cubic(f, 1.0 / h, cw[0], cw[1])
    bv = bb[0]
    _taps(arev32, cw[0], cw[1], g, bv, bb[1])
    for i in range(i0):
        m[i] = 0.0
    _read_uniform(r, bb[4], bb[5], bv, m0, h, arev[g - 1], q0, step, cw[0], i0, i1, m)
    for i in range(i1, n_t):
        m[i] = _end_read(arev, m0, r, h, q0 + i * step, f, False)


@njit(cache=True)
def _jacobian_u(x, m, t_rel, step, arev, m0, h, r, ra, rb, bb, cw, jac):
    """:func:`_jacobian` for samples ``step`` fine nodes apart (``bv``, ``bd`` at ``x``'s
    delay, from :func:`_value_u`)."""
    g = r.size
    n_t = t_rel.size
    _residue(x[1], x[2], h, r, ra, rb, True)
    q0, f, i0, i1 = _uniform_span(t_rel[0], x[3], step, h, g, n_t)
    _cubic(f, 1.0 / h, cw[0], cw[1])
    fb = x[0]
    jac[0, :] = m
    for i in range(i0):
        jac[1, i] = 0.0
        jac[2, i] = 0.0
        jac[3, i] = 0.0
    # the columns of Fb · m: Fb rides on the step h of the dot products
    _read_uniform3(ra, rb, r, bb, m0, h * fb, arev[g - 1], q0, step, cw, i0, i1, jac)
    for i in range(i1, n_t):
        q = q0 + i * step
        jac[1, i] = fb * _end_read(arev, m0, ra, h, q, f, False)
        jac[2, i] = fb * _end_read(arev, m0, rb, h, q, f, False)
        jac[3, i] = fb * _end_read(arev, m0, r, h, q, f, True)


@njit(cache=True)
def _val(x, t_rel, step, arev, arev32, m0, h, r, y, iq, wv, wd, bd, cw, m):
    """The unit-flow model at ``x``: :func:`_value_u` when ``step`` > 0, else :func:`_value`
    with its convolution in float32 (:func:`_conv32`; ``bd[4]`` holds ``r`` in float32)."""
    if step > 0:
        _value_u(x, t_rel, step, arev, arev32, m0, h, r, bd, cw, m)
    else:
        _residue(x[1], x[2], h, r, r, r, False)
        _conv32(arev32, m0, r, bd[4], h, y)
        _read_weights(t_rel, x[3], h, y.size, iq, wv, wd)
        _read(y, iq, wv, 1.0, m)


@njit(cache=True)
def _jac(x, y, m, t_rel, step, arev, arev32, m0, h, r, ra, rb, ya, yb, iq, wv, wd, bd, cw, jac):
    """The Jacobian at ``x``: :func:`_jacobian_u` when ``step`` > 0, else :func:`_jacobian`."""
    if step > 0:
        _jacobian_u(x, m, t_rel, step, arev, m0, h, r, ra, rb, bd, cw, jac)
    else:  # :func:`_jacobian` with the convolutions in float32
        _residue(x[1], x[2], h, r, ra, rb, True)
        _conv2_32(arev32, m0, ra, rb, bd[2], bd[3], h, ya, yb)
        jac[0, :] = m
        _read3(ya, yb, y, iq, wv, wd, x[0], jac)


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
def _lm(c, x, m_start, t_rel, step, arev, arev32, m0, h, lo, hi, free, max_iter, tol, sd_out, w):
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
    bd, bdt, cw = w.bd, w.bdt, w.cw
    if step > 0 and m_start.size == n_t:
        # the start's model is its template: only the AIF taps at its delay are needed
        f = _uniform_span(t_rel[0], x[3], step, h, r.size, n_t)[1]
        _cubic(f, 1.0 / h, cw[0], cw[1])
        _taps(arev32, cw[0], cw[1], r.size, bd[0], bd[1])
        for i in range(n_t):
            m[i] = m_start[i]
    else:
        _val(x, t_rel, step, arev, arev32, m0, h, r, y, iq, wv, wd, bd, cw, m)
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
        _jac(x, y, m, t_rel, step, arev, arev32, m0, h, r, ra, rb, ya, yb, iq, wv, wd, bd, cw, jac)
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
            _val(xt, t_rel, step, arev, arev32, m0, h, r, yt, iqt, wvt, wdt, bdt, cw, mt)
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
                bd, bdt = bdt, bd
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
        _jac(x, y, m, t_rel, step, arev, arev32, m0, h, r, ra, rb, ya, yb, iq, wv, wd, bd, cw, jac)
        _normal(jac, c, m, x[0], res, jtj, grad)
    nf = 0
    for k in range(4):
        if free[k]:
            idx[nf] = k
            nf += 1
    _sd_from_normal(jtj, idx, nf, free, sse / max(n_t - nf, 1), sd_out, grad, delta, low, z)
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
def _work(g, n_t, step=0):
    """Work arrays of one LM fit (fine grid ``g`` nodes, ``n_t`` samples ``step`` fine nodes
    apart, 0 if uneven); the float32 rows carry the zero padding that :func:`_span_len` and
    :func:`_conv32` read."""
    pad = _PAD + 3 * step
    return _Work(
        np.empty(g), np.empty(g), np.empty(g), np.empty(g), np.empty(g), np.empty(g),
        np.empty(g), np.empty(n_t), np.empty(n_t), np.empty(n_t, dtype=np.int64),
        np.empty(n_t, dtype=np.int64), np.empty((4, n_t)), np.empty((4, n_t)),
        np.empty((4, n_t)), np.empty((4, n_t)), np.empty((4, n_t)), np.empty((4, 4)),
        np.empty((4, 4)), np.empty(4), np.empty(4), np.empty(4), np.empty(4),
        np.empty(4, dtype=np.int64), np.empty((4, 4)), np.zeros((4, 4)), np.empty(4),
        np.empty(n_t), np.zeros((8, g + pad), dtype=np.float32),
        np.zeros((8, g + pad), dtype=np.float32), np.empty((2, 4)),
    )  # fmt: skip


@njit(cache=True, fastmath=_FAST)
def _scores(cp, templ_t, out):
    """``out = cp @ templ_t`` (float32): the templates' projections on a curve, a row of
    ``templ_t`` (B, M) at a time, so that the lanes run over templates (no reductions)."""
    n_b, n_m = templ_t.shape
    for t in range(n_m):
        out[t] = 0.0
    for k in range(n_b):
        ck = cp[k]
        row = templ_t[k]
        for t in range(n_m):
            out[t] += ck * row[t]


@njit(cache=True)
def _fit_chunk(k0, k1, curves, t_rel, step, arev, arev32, m0, h, start_x, basis, templ,
               inv_norm2, lo, hi, free, max_iter, tol, out_p, out_sd, out_rss):  # fmt: skip
    """Start search and LM for curves ``k0 .. k1 − 1`` (one work unit of the parallel loop)."""
    w = _work(arev.size, t_rel.size, step)
    n_b, n_templ = templ.shape
    cp = np.empty(n_b, dtype=np.float32)
    score = np.empty(n_templ, dtype=np.float32)
    x = np.empty(4)
    sd = np.empty(4)
    for j in range(k0, k1):
        c = curves[j]
        # start: the template (shape × delay) that explains most of the curve with an
        # amplitude ≥ 0, scored in the templates' span (``basis``: orthonormal rows) in
        # float32 (it only picks the start: 40 % faster)
        for k in range(n_b):
            cp[k] = _dot(basis[k], c)
        _scores(cp, templ, score)
        best = np.float32(0.0)
        bt = 0
        bscale = 0.0
        for t in range(n_templ):
            cm = score[t]
            if cm > 0.0:
                gain = cm * cm * inv_norm2[t]
                if gain > best:
                    best = gain
                    bt = t
                    bscale = cm * inv_norm2[t]
        for k in range(4):
            x[k] = start_x[bt, k]
        x[0] = bscale
        inside = True
        for k in range(4):
            x[k] = min(max(x[k], lo[k]), hi[k])
            inside &= k == 0 or x[k] == start_x[bt, k]
        # the template's model serves as the start's when start_x carries it (and the start
        # lies within the bounds)
        m_start = start_x[bt, 4:] if inside else start_x[bt, :0]
        out_rss[j] = _lm(
            c, x, m_start, t_rel, step, arev, arev32, m0, h, lo, hi, free, max_iter, tol, sd, w
        )
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
    start_x : float64 (M, 4) or (M, 4 + T)
        Parameters ``(·, ln α, ln β, delay)`` of each start template (column 0 unused) and,
        optionally, its unit-flow model (the row of :func:`fermi_templates`), which then saves
        the first model evaluation of every fit.
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
    # in float32 with zeros after it: the AIF taps and the general path's convolutions
    arev32 = np.zeros(arev.size + _PAD, dtype=np.float32)
    arev32[: arev.size] = arev
    # samples a whole number of fine steps apart: the convolution and the read in one
    step = _uniform_step(t_rel, h) if _UNIFORM else 0
    templ32 = np.ascontiguousarray(templ.T).astype(np.float32)  # (B, M): see _scores
    inv_norm2 = np.zeros(templ.shape[0], dtype=np.float32)
    for t in range(templ.shape[0]):
        nt = _dot(templ[t], templ[t])
        if nt > 0.0:
            inv_norm2[t] = 1.0 / nt
    n_chunks = (n + _CHUNK - 1) // _CHUNK
    for q in prange(n_chunks):
        _fit_chunk(
            q * _CHUNK, min(n, (q + 1) * _CHUNK), curves, t_rel, step, arev, arev32, m0, h,
            start_x, basis, templ32, inv_norm2, lo, hi, free, max_iter, tol, out_p, out_sd,
            out_rss,
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
