"""Start values for the BTEX fit: a table of model curves searched by least squares.

The fit of (Fp, PS, vp, ve, delay) to a 0.5 s first-pass curve is nearly degenerate and has
local minima, so a purely local fit from one fixed start wanders (the NIH inline mapping
searches a precomputed table first; Kellman et al., JCMR 2017;19:43,
doi:10.1186/s12968-017-0355-5). The table here holds the curves for the given AIF on a grid
inside the bounds (geometric in Fp and PS, linear in vp, ve and delay); each curve takes its
nearest table entry (one float32 matrix product per chunk) as the start of the refinement.
Built with the fast solver in a fraction of a second and memoised per AIF, so nothing is
stored on disk.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import numpy as np

from qperfusion.kinetics._btex_fit import nearest_rows
from qperfusion.kinetics._btex_solver import btex_curves_batch

__all__ = ["TABLE_SHAPE", "table_start"]

#: grid points per parameter: fp, ps, vp, ve, delay
TABLE_SHAPE: tuple[int, int, int, int, int] = (16, 7, 5, 5, 6)
_CHUNK = 512
_CACHE: OrderedDict[bytes, tuple[np.ndarray, np.ndarray, np.ndarray]] = OrderedDict()
_CACHE_SIZE = 4


def _axes(lo: np.ndarray, hi: np.ndarray) -> list[np.ndarray]:
    axes = []
    for k, n in enumerate(TABLE_SHAPE):
        if hi[k] <= lo[k]:
            axes.append(np.array([lo[k]]))
        elif k < 2 and lo[k] > 0:  # flows: geometric spacing
            axes.append(np.geomspace(lo[k], hi[k], n))
        else:
            axes.append(np.linspace(lo[k], hi[k], n))
    return axes


def _table(
    out_t: np.ndarray, times: np.ndarray, cin: np.ndarray, h: float, lo: np.ndarray, hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    key = hashlib.sha1(
        b"".join(
            np.ascontiguousarray(a, dtype=np.float64).tobytes()
            for a in (out_t, times, cin, [h], lo, hi)
        )
    ).digest()
    hit = _CACHE.get(key)
    if hit is not None:
        _CACHE.move_to_end(key)
        return hit
    grid = np.stack(np.meshgrid(*_axes(lo, hi), indexing="ij"), axis=-1).reshape(-1, 5)
    curves = btex_curves_batch(np.ascontiguousarray(grid), out_t, times, cin, h)
    curves32 = np.ascontiguousarray(curves, dtype=np.float32)
    norms = np.einsum("kt,kt->k", curves, curves).astype(np.float32)
    entry = (grid, curves32, norms)
    _CACHE[key] = entry
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return entry


def table_start(
    curves: np.ndarray,
    out_t: np.ndarray,
    times: np.ndarray,
    cin: np.ndarray,
    h: float,
    lo: np.ndarray,
    hi: np.ndarray,
    n_starts: int = 1,
) -> np.ndarray:
    """Nearest table parameters (n, n_starts, 5), internal units, best first.

    ``curves`` (n, T) at ``out_t``; ``cin`` is the plasma AIF (mmol/L) at ``times``;
    ``lo, hi`` the bounds (5,), internal units.
    """
    grid, table, norms = _table(out_t, times, cin, h, lo, hi)
    k = min(n_starts, grid.shape[0])
    out = np.empty((curves.shape[0], k, 5))
    for start in range(0, curves.shape[0], _CHUNK):
        block = np.ascontiguousarray(curves[start : start + _CHUNK], dtype=np.float32)
        scores = block @ table.T
        out[start : start + _CHUNK] = grid[nearest_rows(scores, norms, k)]
    return out
