"""From LV / myocardium / RV masks to the AHA label image and the endo/epi layers.

The automatic segmentation and the user's own masks share this path, so both give the
label image of DESIGN.md: 1–16 AHA segment (myocardium), 17 LV blood pool, 18 RV blood
pool, 0 elsewhere; and layers 1 endo half, 2 epi half, 0 elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from qperfusion.aif.detect import MASK_HINT
from qperfusion.errors import SegmentationError
from qperfusion.qc import QCFlag
from qperfusion.segmentation.aha import (
    aha_sector,
    insertion_points,
    orient_insertions,
    slice_levels,
)
from qperfusion.segmentation.polar import polar_grid, to_polar

__all__ = ["LV_LABEL", "RV_LABEL", "Segmentation", "labels_from_pools", "slice_positions_mm"]

LV_LABEL = 17
RV_LABEL = 18
N_RAYS = 180
#: RV blood this far (mm) outside the epicardium still counts as touching the LV (septum)
RV_REACH_MM = 12.0


@dataclass
class Segmentation:
    """Segmentation of a myocardial series.

    Attributes
    ----------
    labels : ndarray of shape (n_slices, ny, nx), uint8
        1–16 AHA segment (myocardium), 17 LV blood pool, 18 RV blood pool, 0 elsewhere.
    layers : ndarray of shape (n_slices, ny, nx), uint8
        1 endocardial half, 2 epicardial half of the myocardium, 0 elsewhere.
    levels : list of str
        "basal" | "mid" | "apical" per slice.
    insertion_deg : ndarray of shape (n_slices,)
        Image angle (degrees, from the +column axis towards the +row axis, about the LV
        centre) of the anterior RV insertion point of each slice.
    sense : ndarray of shape (n_slices,), int
        +1 when the AHA angle increases with the image angle, else −1.
    centres_yx : ndarray of shape (n_slices, 2)
        LV centre (row, column) per slice (pixels).
    confidence : float
        0..1, the weakest slice's.
    slice_confidence : ndarray of shape (n_slices,)
    flags : list of QCFlag
    source : str
        "auto", "nifti", "json" or "array".
    """

    labels: np.ndarray
    layers: np.ndarray
    levels: list[str]
    insertion_deg: np.ndarray
    sense: np.ndarray
    centres_yx: np.ndarray
    confidence: float
    slice_confidence: np.ndarray
    flags: list[QCFlag] = field(default_factory=list)
    source: str = "auto"

    @property
    def myocardium(self) -> np.ndarray:
        """(n_slices, ny, nx) bool."""
        return (self.labels >= 1) & (self.labels <= 16)

    @property
    def lv_pool(self) -> np.ndarray:
        return self.labels == LV_LABEL

    @property
    def rv_pool(self) -> np.ndarray:
        return self.labels == RV_LABEL


def slice_positions_mm(affines: np.ndarray) -> np.ndarray:
    """Position (mm) of each slice's origin along the first slice's normal."""
    a = np.asarray(affines, dtype=np.float64)
    n = np.cross(a[0, :3, 0], a[0, :3, 1])
    n /= np.linalg.norm(n)
    return a[:, :3, 3] @ n


def _ray_radii(mask: np.ndarray, centre: tuple[float, float], angles: np.ndarray) -> np.ndarray:
    """Farthest radius (pixels) along each ray that is still inside ``mask``; 0 if none."""
    r_max = float(np.hypot(*mask.shape))
    radii = np.arange(0.0, r_max, 0.25)
    _, yy, xx = polar_grid(centre, len(angles), radii)
    inside = to_polar(mask.astype(np.float64), yy, xx, order=0) > 0.5
    last = np.where(inside.any(axis=1), len(radii) - 1 - np.argmax(inside[:, ::-1], axis=1), -1)
    return np.where(last >= 0, radii[np.maximum(last, 0)] + 0.5, 0.0)


def _pixel_polar(shape, centre):
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    dy, dx = yy - centre[0], xx - centre[1]
    return np.hypot(dy, dx), np.mod(np.arctan2(dy, dx), 2 * np.pi)


def _interp_circ(values: np.ndarray, phi: np.ndarray) -> np.ndarray:
    n = len(values)
    pos = phi / (2 * np.pi / n)
    i0 = np.floor(pos).astype(int) % n
    w = pos - np.floor(pos)
    return (1 - w) * values[i0] + w * values[(i0 + 1) % n]


def labels_from_pools(
    lv_pool: np.ndarray,
    myocardium: np.ndarray,
    rv_pool: np.ndarray,
    affines: np.ndarray,
    *,
    levels: list[str] | None = None,
    insertion_deg: np.ndarray | None = None,
    slice_confidence: np.ndarray | None = None,
    flags: list[QCFlag] | None = None,
    source: str = "auto",
    aha_labels: np.ndarray | None = None,
) -> Segmentation:
    """AHA labels and layers from per-slice LV pool, myocardium and RV pool masks.

    Parameters
    ----------
    lv_pool, myocardium, rv_pool : ndarray of shape (n_slices, ny, nx), bool
    affines : ndarray of shape (n_slices, 4, 4)
        (column, row, slice, 1) → LPS mm; tells anterior from inferior and the slice order.
    levels : list of str, optional
        Slice levels; default from geometry (:func:`slice_levels`).
    insertion_deg : ndarray of shape (n_slices,), optional
        Anterior insertion image angles (degrees) to use instead of finding them; NaN
        entries are found.
    slice_confidence : ndarray of shape (n_slices,), optional
    flags : list of QCFlag, optional
    source : str
    aha_labels : ndarray of shape (n_slices, ny, nx), optional
        AHA segment numbers to keep as given (a user's AHA label image); then only the
        layers are computed and a missing insertion point is not an error.

    Returns
    -------
    Segmentation

    Raises
    ------
    SegmentationError
        When a slice has no myocardium or no slice shows the RV against the LV.
    """
    lv = np.asarray(lv_pool, dtype=bool)
    my = np.asarray(myocardium, dtype=bool) & ~lv
    rv = np.asarray(rv_pool, dtype=bool) & ~lv & ~my
    n_sl, ny, nx = lv.shape
    affines = np.asarray(affines, dtype=np.float64)
    if affines.shape != (n_sl, 4, 4):
        raise SegmentationError(
            f"affines have shape {affines.shape}; expected ({n_sl}, 4, 4) for {n_sl} slices"
        )
    flags = list(flags or [])
    for k in range(n_sl):
        if not my[k].any():
            raise SegmentationError(f"slice {k} has no myocardium; {MASK_HINT}")
    spacing = float(np.linalg.norm(affines[0, :3, 0]))
    if levels is None:
        # LV cavity area decides which end is basal; the epicardial area breaks ties
        # (an apical slice drawn without a cavity)
        area = lv.sum(axis=(1, 2)) + 1e-3 * (lv | my).sum(axis=(1, 2))
        levels = slice_levels(slice_positions_mm(affines), area)
    angles = np.arange(N_RAYS) * (2 * np.pi / N_RAYS)
    centres = np.zeros((n_sl, 2))
    endo_r = np.zeros((n_sl, N_RAYS))
    epi_r = np.zeros((n_sl, N_RAYS))
    phi_ant = np.full(n_sl, np.nan)
    sense = np.zeros(n_sl, dtype=int)
    given = (
        np.full(n_sl, np.nan) if insertion_deg is None else np.asarray(insertion_deg, float)
    )
    for k in range(n_sl):
        filled = ndimage.binary_fill_holes(lv[k] | my[k])
        centres[k] = ndimage.center_of_mass(filled)
        c = (float(centres[k, 0]), float(centres[k, 1]))
        endo_r[k] = _ray_radii(lv[k], c, angles) if lv[k].any() else 0.0
        epi_r[k] = _ray_radii(filled, c, angles)
        arc = insertion_points(angles, epi_r[k], c, rv[k], reach_px=RV_REACH_MM / spacing)
        if arc is not None:
            phi_ant[k], sense[k] = orient_insertions(arc, affines[k])
        if np.isfinite(given[k]):
            phi_ant[k] = np.deg2rad(given[k])
            if sense[k] == 0:
                sense[k] = _sense_from_geometry(affines[k], phi_ant[k])
    found = np.isfinite(phi_ant)
    if aha_labels is not None and not found.all():
        phi_ant[~found], sense[~found] = np.nan, 0
    elif not found.any():
        raise SegmentationError(
            f"the RV blood pool does not touch the LV in any slice, so the RV insertion "
            f"points (and the AHA sectors) cannot be placed; {MASK_HINT}"
        )
    for k in np.flatnonzero(~found) if aha_labels is None else []:
        # same image orientation in a stack: borrow the nearest slice's insertion
        j = int(np.flatnonzero(found)[np.argmin(np.abs(np.flatnonzero(found) - k))])
        phi_ant[k], sense[k] = phi_ant[j], sense[j]
        flags.append(QCFlag(
            "SEG_INSERTION_BORROWED", "warning",
            f"slice {k}: RV insertion point not found; used slice {j}'s", "segmentation"))
    labels = np.zeros((n_sl, ny, nx), dtype=np.uint8)
    layers = np.zeros((n_sl, ny, nx), dtype=np.uint8)
    for k in range(n_sl):
        r, phi = _pixel_polar((ny, nx), centres[k])
        if aha_labels is None:
            theta = np.rad2deg(np.mod(sense[k] * (phi - phi_ant[k]), 2 * np.pi))
            seg = aha_sector(theta, levels[k])
        else:
            seg = np.asarray(aha_labels[k], dtype=np.uint8)
        labels[k][my[k]] = seg[my[k]]
        labels[k][lv[k]] = LV_LABEL
        labels[k][rv[k]] = RV_LABEL
        half = 0.5 * (_interp_circ(endo_r[k], phi) + _interp_circ(epi_r[k], phi))
        layers[k][my[k]] = np.where(r[my[k]] < half[my[k]], 1, 2).astype(np.uint8)
    sc = (
        np.ones(n_sl) if slice_confidence is None else np.asarray(slice_confidence, float)
    )
    return Segmentation(
        labels=labels, layers=layers, levels=list(levels),
        insertion_deg=np.mod(np.rad2deg(phi_ant), 360.0), sense=sense, centres_yx=centres,
        confidence=float(sc.min()), slice_confidence=sc, flags=flags, source=source,
    )


def _sense_from_geometry(affine: np.ndarray, phi_ant: float) -> int:
    """Without an RV arc: the septum lies on the patient's right of the anterior point."""
    # patient right is LPS −x; take the sense whose +90° direction points more to the right
    col = affine[:3, 0] / np.linalg.norm(affine[:3, 0])
    row = affine[:3, 1] / np.linalg.norm(affine[:3, 1])
    def right(phi: float) -> float:
        return -(np.cos(phi) * col[0] + np.sin(phi) * row[0])
    return 1 if right(phi_ant + np.pi / 2) >= right(phi_ant - np.pi / 2) else -1
