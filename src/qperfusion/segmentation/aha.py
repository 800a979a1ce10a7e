"""AHA 16-segment geometry: RV insertion points, sectors, endo/epi halves, slice levels.

Convention (shared with :mod:`qperfusion.phantom`, so the truth agrees): angles θ about the
LV centre in the image plane, measured from the anterior RV insertion point, increasing in
the direction that goes from the anterior insertion through the septum to the inferior
insertion. Basal/mid: [0, 60) anteroseptal (2/8), [60, 120) inferoseptal (3/9),
[120, 180) inferior (4/10), [180, 240) inferolateral (5/11), [240, 300) anterolateral
(6/12), [300, 360) anterior (1/7). Apical: [15, 105) septal 14, [105, 195) inferior 15,
[195, 285) lateral 16, [285, 15) anterior 13. Cerqueira et al., Circulation
2002;105:539, doi:10.1161/hc0402.102975.

Image angles (``phi``) are measured about the LV centre from the +column axis towards the
+row axis, in radians unless the name says ``_deg``.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "LEVELS",
    "aha_sector",
    "anteriority",
    "insertion_points",
    "orient_insertions",
    "slice_levels",
]

LEVELS = ("basal", "mid", "apical")

# sector index (θ // 60) -> segment number, basal; mid adds 6
_BASAL = np.array([2, 3, 4, 5, 6, 1], dtype=np.uint8)
# sector index ((θ - 15) // 90) -> apical segment number
_APICAL = np.array([14, 15, 16, 13], dtype=np.uint8)


def aha_sector(theta_deg: np.ndarray, level: str) -> np.ndarray:
    """AHA segment number (1–16) of AHA angles θ at one slice level.

    Parameters
    ----------
    theta_deg : ndarray
        AHA angle (degrees) from the anterior insertion, septum-first direction.
    level : {"basal", "mid", "apical"}

    Returns
    -------
    ndarray of uint8, same shape
    """
    th = np.mod(np.asarray(theta_deg, dtype=np.float64), 360.0)
    if level == "apical":
        return _APICAL[(np.mod(th - 15.0, 360.0) // 90.0).astype(int) % 4]
    if level not in LEVELS:
        raise ValueError(f"unknown slice level {level!r}; valid: {', '.join(LEVELS)}")
    seg = _BASAL[(th // 60.0).astype(int) % 6]
    return seg + (6 if level == "mid" else 0)


def anteriority(phi: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """How much the image direction ``phi`` points to the patient's front (LPS −y), −1..1.

    Parameters
    ----------
    phi : ndarray
        Image angles (rad): 0 along +column, π/2 along +row.
    affine : ndarray of shape (4, 4)
        (column, row, slice, 1) → LPS mm.
    """
    col = affine[:3, 0] / np.linalg.norm(affine[:3, 0])
    row = affine[:3, 1] / np.linalg.norm(affine[:3, 1])
    phi = np.asarray(phi, dtype=np.float64)
    return -(np.cos(phi) * col[1] + np.sin(phi) * row[1])


def insertion_points(
    angles: np.ndarray,
    epi_r_px: np.ndarray,
    centre_yx: tuple[float, float],
    rv_pool: np.ndarray,
    *,
    reach_px: float,
) -> tuple[float, float] | None:
    """Image angles of the two ends of the arc where the RV blood lies against the LV.

    Along each ray from the LV centre, the RV touches the LV when RV blood lies between the
    epicardium and ``reach_px`` beyond it (the septum and the RV wall's thickness). The
    longest run of such angles is the septal arc; its ends are the insertion points.

    Parameters
    ----------
    angles : ndarray of shape (n,)
        Evenly spaced image angles (rad).
    epi_r_px : ndarray of shape (n,)
        Epicardial radius per angle (pixels).
    centre_yx : (float, float)
        LV centre (row, column).
    rv_pool : ndarray of shape (ny, nx), bool
    reach_px : float
        How far outside the epicardium RV blood still counts (pixels).

    Returns
    -------
    (phi_start, phi_end) or None
        The arc runs from ``phi_start`` to ``phi_end`` in increasing image angle; None when
        the RV does not touch the LV.
    """
    if not rv_pool.any():
        return None
    n = len(angles)
    steps = np.arange(0.0, reach_px + 0.5, 0.5)
    r = epi_r_px[:, None] + steps[None, :]
    yy = centre_yx[0] + np.sin(angles)[:, None] * r
    xx = centre_yx[1] + np.cos(angles)[:, None] * r
    iy = np.clip(np.round(yy).astype(int), 0, rv_pool.shape[0] - 1)
    ix = np.clip(np.round(xx).astype(int), 0, rv_pool.shape[1] - 1)
    touch = rv_pool[iy, ix].any(axis=1)
    if not touch.any():
        return None
    if touch.all():
        return None
    # longest circular run of True
    start = int(np.argmin(touch))  # a False index: unroll the circle from there
    t = np.roll(touch, -start)
    best_len, best_i, i = 0, 0, 0
    while i < n:
        if t[i]:
            j = i
            while j < n and t[j]:
                j += 1
            if j - i > best_len:
                best_len, best_i = j - i, i
            i = j
        else:
            i += 1
    step = 2 * np.pi / n
    first = (best_i + start) % n
    last = (best_i + best_len - 1 + start) % n
    # the ends lie half a step outside the last touching rays
    return float(np.mod(angles[first] - 0.5 * step, 2 * np.pi)), float(
        np.mod(angles[last] + 0.5 * step, 2 * np.pi)
    )


def orient_insertions(
    arc: tuple[float, float], affine: np.ndarray
) -> tuple[float, int]:
    """Anterior insertion angle and the direction of increasing AHA angle.

    Parameters
    ----------
    arc : (phi_start, phi_end)
        Septal arc in increasing image angle (from :func:`insertion_points`).
    affine : ndarray of shape (4, 4)

    Returns
    -------
    phi_anterior : float
        Image angle (rad) of the anterior RV insertion point.
    sense : {+1, -1}
        AHA θ = sense · (phi − phi_anterior) (mod 2π): +1 when going from the anterior
        insertion through the septum means increasing image angle.
    """
    a0, a1 = anteriority(np.array(arc), affine)
    if a0 >= a1:
        return arc[0], +1
    return arc[1], -1


def slice_levels(positions_mm: np.ndarray, lv_areas: np.ndarray) -> list[str]:
    """Basal / mid / apical per slice from geometry.

    Slices are ordered along the long axis by their position; the basal end is the end
    whose LV cavity is larger. Ranked from the base, slice ``i`` of ``n`` gets level
    ``LEVELS[min(2, floor(3 i / n))]``: 3 slices → basal, mid, apical; 1 → mid;
    2 → basal, mid.

    Parameters
    ----------
    positions_mm : ndarray of shape (n_slices,)
        Position along the slice normal (mm).
    lv_areas : ndarray of shape (n_slices,)
        LV cavity area (any unit).

    Returns
    -------
    list of str, in the input slice order
    """
    n = len(positions_mm)
    if n == 1:
        return ["mid"]
    order = np.argsort(positions_mm, kind="stable")
    if lv_areas[order[-1]] > lv_areas[order[0]]:
        order = order[::-1]
    levels = [""] * n
    for rank, k in enumerate(order):
        levels[int(k)] = LEVELS[min(2, (3 * rank) // n)]
    return levels
