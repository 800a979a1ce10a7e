"""Start values for the BTEX fit: a table of curve *shapes* searched by least squares.

The fit of (Fp, PS, vp, ve, delay) to a 0.5 s first-pass curve is nearly degenerate and has
local minima, so a purely local fit from one fixed start wanders (the NIH inline mapping
searches a precomputed table first; Kellman et al., JCMR 2017;19:43,
doi:10.1186/s12968-017-0355-5).

The BTEX curve is homogeneous of degree one in (Fp, PS, vp, ve): scaling all four by α scales
the curve by α (the shape depends only on Tc = vp/Fp, γ = PS/Fp, ki = PS/ve and the delay).
So the table holds shapes on a grid of (Tc, γ, ki, delay) computed at Fp = 1 mL/min/mL, and
each curve's best amplitude α = ⟨y, s⟩/‖s‖² is solved in closed form — Fp is continuous and
the table is ~8× smaller than a grid over all five parameters. Candidates whose implied
parameters fall well outside the bounds are skipped; the ``k`` best are clipped into the bounds
and refined. Built with the fast solver in ~0.1 s and memoised per AIF (nothing on disk).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import numpy as np
from numba import njit, prange

from qperfusion.kinetics._btex_segments import segment_curves_batch
from qperfusion.kinetics._btex_solver import btex_curves_batch

__all__ = ["TABLE_SHAPE", "table_start"]

#: grid points per shape coordinate: Tc, γ, ki, delay
TABLE_SHAPE: tuple[int, int, int, int] = (10, 8, 7, 6)
_FP_REF = 1.0 / 60.0  # mL/s/mL, the flow the shapes are computed at
_SLACK = 1.3  # a candidate may imply parameters up to this factor outside the bounds
_CHUNK = 512
_CACHE: OrderedDict[bytes, tuple[np.ndarray, np.ndarray, np.ndarray, int]] = OrderedDict()
_CACHE_SIZE = 4


def _geom(lo: float, hi: float, n: int, floor: float, ceil: float) -> np.ndarray:
    lo, hi = max(lo, floor), min(hi, ceil)
    if not hi > lo:
        return np.array([min(max(lo, floor), ceil)])
    return np.geomspace(lo, hi, n)


def _shape_axes(lo: np.ndarray, hi: np.ndarray) -> list[np.ndarray]:
    """Grids of Tc (s), γ, ki (1/s) and delay (s) covering the bounds (plausible part)."""
    fp_lo, ps_lo, vp_lo, ve_lo, d_lo = lo
    fp_hi, ps_hi, vp_hi, ve_hi, d_hi = hi
    n_tc, n_g, n_k, n_d = TABLE_SHAPE
    tc = _geom(vp_lo / fp_hi, vp_hi / max(fp_lo, 1e-9), n_tc, 0.1, 10.0)
    gamma = _geom(ps_lo / fp_hi, ps_hi / max(fp_lo, 1e-9), n_g, 0.02, 5.0)
    ki = _geom(ps_lo / ve_hi, ps_hi / max(ve_lo, 1e-9), n_k, 0.005, 1.0)
    delay = np.linspace(d_lo, d_hi, n_d) if d_hi > d_lo else np.array([d_lo])
    return [tc, gamma, ki, delay]


def _table(
    out_t: np.ndarray,
    times: np.ndarray,
    cin: np.ndarray,
    h: float,
    lo: np.ndarray,
    hi: np.ndarray,
    mix: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    mix_key = np.zeros(0) if mix is None else mix
    key = hashlib.sha1(
        b"".join(
            np.ascontiguousarray(a, dtype=np.float64).tobytes()
            for a in (out_t, times, cin, [h], lo, hi, [-1.0], mix_key)
        )
    ).digest()
    hit = _CACHE.get(key)
    if hit is not None:
        _CACHE.move_to_end(key)
        return hit
    shapes = np.stack(np.meshgrid(*_shape_axes(lo, hi), indexing="ij"), axis=-1).reshape(-1, 4)
    tc, gamma, ki, delay = shapes.T
    params = np.stack(
        [np.full_like(tc, _FP_REF), gamma * _FP_REF, tc * _FP_REF, gamma * _FP_REF / ki, delay],
        axis=-1,
    )
    if mix is None:
        curves = btex_curves_batch(np.ascontiguousarray(params), out_t, times, cin, h)
    else:
        curves = segment_curves_batch(np.ascontiguousarray(params), out_t, times, cin, h, mix)
    norms = np.einsum("kt,kt->k", curves, curves)
    # an all-zero shape (arrival after the last frame) can never be chosen
    norms = np.where(norms > 0, norms, np.inf)
    entry = (
        np.ascontiguousarray(params),
        np.ascontiguousarray(curves, dtype=np.float32),
        norms,
        int(np.unique(delay).size),
    )
    _CACHE[key] = entry
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return entry


@njit(cache=True, parallel=True)
def _best_scaled(scores, norms, params, lo, hi, k, slack, n_delay):
    """Per row, the best scaled table entry of each delay, the ``k`` best of those first.

    Starts at different delays lie in different basins of the Fp–delay–Tc valley, so they are
    more useful to the refinement than near-duplicates from one basin. Parameters are clipped
    into the bounds; entries are ordered with the delay varying fastest.
    """
    n, m = scores.shape
    out = np.empty((n, k, 5))
    for i in prange(n):
        best = np.full(n_delay, np.inf)
        arg = np.full(n_delay, -1, dtype=np.int64)
        amp = np.zeros(n_delay)
        for j in range(m):
            sc = scores[i, j]
            if sc <= 0.0:
                continue
            v = -sc * sc / norms[j]  # ‖y − α s‖² − ‖y‖² at the best α
            d = j % n_delay
            if v >= best[d]:
                continue
            a = sc / norms[j]
            feasible = True
            for c in range(4):
                p = a * params[j, c]
                if p < lo[c] / slack or p > hi[c] * slack:
                    feasible = False
            if feasible:
                best[d] = v
                arg[d] = j
                amp[d] = a
        order = np.argsort(best)
        for r in range(k):
            src = order[min(r, n_delay - 1)]
            if arg[src] < 0:
                src = order[0]
            for c in range(5):
                if arg[src] < 0:  # nothing fits: the middle of the bounds
                    p = 0.5 * (lo[c] + hi[c])
                else:
                    p = params[arg[src], c] * (amp[src] if c < 4 else 1.0)
                out[i, r, c] = min(max(p, lo[c]), hi[c])
    return out


def table_start(
    curves: np.ndarray,
    out_t: np.ndarray,
    times: np.ndarray,
    cin: np.ndarray,
    h: float,
    lo: np.ndarray,
    hi: np.ndarray,
    n_starts: int = 1,
    mix: np.ndarray | None = None,
) -> np.ndarray:
    """Start parameters (n, n_starts, 5), internal units, best first.

    ``curves`` (n, T) at ``out_t``; ``cin`` is the plasma AIF (mmol/L) at ``times``;
    ``lo, hi`` the bounds (5,), internal units. The starts come from different delays of the
    table (at most its number of delays); where fewer fit, the best one is repeated. ``mix``
    (from :func:`qperfusion.kinetics._btex_segments.segment_nodes`) makes the shapes those of
    the N-segment capillary (homogeneity holds there too); None is the plug-flow solution.
    """
    params, table, norms, n_delay = _table(out_t, times, cin, h, lo, hi, mix)
    k = max(1, min(int(n_starts), n_delay))
    out = np.empty((curves.shape[0], k, 5))
    lo = np.ascontiguousarray(lo, dtype=np.float64)
    hi = np.ascontiguousarray(hi, dtype=np.float64)
    for start in range(0, curves.shape[0], _CHUNK):
        block = np.ascontiguousarray(curves[start : start + _CHUNK], dtype=np.float32)
        scores = block @ table.T
        out[start : start + _CHUNK] = _best_scaled(
            scores, norms, params, lo, hi, k, _SLACK, n_delay
        )
    return out
