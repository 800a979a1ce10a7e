"""Phantom anatomy: oblique short-axis geometry, LV/RV/myocardium/body, AHA labels, coil shading.

Everything is analytic in the plane's own millimetre frame, so the same anatomy can be drawn on
the myocardial grid (labels, truth) and on the low-resolution AIF grid.

Geometry (DICOM LPS, patient coordinates in mm). The LV long axis points from base to apex to
the patient's left, anterior and inferior (``LONG_AXIS``). Each short-axis plane has an in-plane
*anatomical* frame: ``lateral`` (towards the LV free wall) and ``posterior`` (the projection of
patient posterior +y onto the plane); a standard short-axis view shows anterior up and the RV on
the viewer's left. The image axes are that frame rotated in-plane by ``INPLANE_ROTATION_DEG``
(an oblique, not perfectly aligned view). With anterior up and the RV on the left, the DICOM
slice normal (row direction × column direction) points from apex to base, so the stack sorted by
ascending position along the normal is apical, mid, basal.

AHA convention (shared with the segmentation stage): θ is measured around the LV centre in the
image plane from the anterior RV insertion, increasing from the anterior insertion through the
septum to the inferior insertion. Here the anterior insertion sits at anatomical angle
``ANTERIOR_INSERTION_DEG`` (angle φ = atan2(anterior, lateral) in the anatomical frame) and the
inferior one at ``INFERIOR_INSERTION_DEG``; θ = φ − φ_ant. Basal [0,60) → 2, [60,120) → 3,
[120,180) → 4, [180,240) → 5, [240,300) → 6, [300,360) → 1; mid = basal + 6; apical
[15,105) → 14, [105,195) → 15, [195,285) → 16, [285,15) → 13. The endocardial half is the inner
half of the wall along each ray from the LV centre.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "ANTERIOR_INSERTION_DEG",
    "INFERIOR_INSERTION_DEG",
    "LABEL_LV",
    "LABEL_RV",
    "LEVELS",
    "TISSUES",
    "Grid",
    "PlaneAnatomy",
    "aha_label",
    "draw_plane",
    "plane_frame",
]

LABEL_LV = 17
LABEL_RV = 18

#: Tissue classes of the drawing (index → name); properties live in ``physiology``.
TISSUES: tuple[str, ...] = (
    "air", "body", "lung", "myocardium", "lv_blood", "rv_blood", "rv_wall", "aorta", "fat",
    "spine",
)
T_AIR, T_BODY, T_LUNG, T_MYO, T_LV, T_RV, T_RVWALL, T_AORTA, T_FAT, T_SPINE = range(len(TISSUES))

#: Patient-frame direction of the LV long axis, base → apex (left, anterior, inferior).
LONG_AXIS = np.array([0.60, -0.50, -0.62])
LONG_AXIS = LONG_AXIS / np.linalg.norm(LONG_AXIS)
#: LV centre of the mid slice (patient mm, LPS).
HEART_CENTRE_MM = np.array([25.0, -20.0, -35.0])
INPLANE_ROTATION_DEG = 14.0
ANTERIOR_INSERTION_DEG = 120.0
INFERIOR_INSERTION_DEG = 240.0


@dataclass(frozen=True)
class Level:
    """Short-axis anatomy at one level (mm): LV cavity radius, wall thickness, RV depth."""

    name: str
    offset_mm: float  # along LONG_AXIS from the mid level (base → apex positive)
    r_endo_mm: float
    wall_mm: float
    rv_depth_mm: float


#: The three imaged levels, in acquisition order (basal, mid, apical). Sizes: normal adult LV
#: end-diastolic short-axis dimensions (cavity ~45–50 mm basal, wall ~9–10 mm).
LEVELS: tuple[Level, ...] = (
    Level("basal", -11.0, 24.0, 10.0, 22.0),
    Level("mid", 0.0, 21.0, 10.0, 18.0),
    Level("apical", 11.0, 14.0, 8.5, 10.0),
)


@dataclass(frozen=True)
class Grid:
    """An image grid on one plane: shape, pixel size and where the image centre sits."""

    rows: int
    cols: int
    pixel_mm: float
    thickness_mm: float


def plane_frame() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Unit vectors of the short-axis planes (patient LPS).

    Returns
    -------
    lateral, posterior : ndarray of shape (3,)
        Anatomical in-plane frame (towards the LV free wall; patient posterior projected).
    row_dir, col_dir : ndarray of shape (3,)
        Image axes (ImageOrientationPatient): increasing column index, increasing row index.
    """
    n = LONG_AXIS
    post = np.array([0.0, 1.0, 0.0])
    post = post - n * (post @ n)
    post /= np.linalg.norm(post)
    # apex→base normal = -n; lateral × posterior must equal it for a right-handed image frame
    lateral = np.cross(post, -n)
    lateral /= np.linalg.norm(lateral)
    a = np.deg2rad(INPLANE_ROTATION_DEG)
    row_dir = np.cos(a) * lateral + np.sin(a) * post
    col_dir = -np.sin(a) * lateral + np.cos(a) * post
    return lateral, post, row_dir, col_dir


def plane_affine(level: Level, grid: Grid, shift_mm: float = 0.0) -> np.ndarray:
    """(column, row, 0, 1) → patient LPS (mm) for the image of ``level`` on ``grid``.

    The third column is the apex→base normal times the slice thickness.
    """
    _, _, row_dir, col_dir = plane_frame()
    centre = HEART_CENTRE_MM + LONG_AXIS * (level.offset_mm + shift_mm)
    # the LV sits right of and slightly above the image centre (RV on the viewer's left)
    lateral, post, _, _ = plane_frame()
    image_centre = centre - 14.0 * lateral - 4.0 * post
    origin = image_centre - (grid.cols - 1) / 2 * grid.pixel_mm * row_dir
    origin = origin - (grid.rows - 1) / 2 * grid.pixel_mm * col_dir
    aff = np.eye(4)
    aff[:3, 0] = row_dir * grid.pixel_mm
    aff[:3, 1] = col_dir * grid.pixel_mm
    aff[:3, 2] = -LONG_AXIS * grid.thickness_mm
    aff[:3, 3] = origin
    return aff


@dataclass
class PlaneAnatomy:
    """The drawing of one plane on one grid.

    Attributes
    ----------
    tissue : ndarray of shape (ny, nx), int
        Index into :data:`TISSUES`.
    labels : ndarray of shape (ny, nx), uint8
        1–16 AHA segment (myocardium), 17 LV pool, 18 RV pool, 0 else.
    layers : ndarray of shape (ny, nx), uint8
        1 endocardial half, 2 epicardial half, 0 outside the myocardium.
    depth : ndarray of shape (ny, nx)
        Fractional wall depth (0 endocardium → 1 epicardium) in the myocardium, NaN else.
    lateral_mm, anterior_mm : ndarray of shape (ny, nx)
        Pixel centres in the anatomical frame, relative to the LV centre (mm).
    coil : ndarray of shape (ny, nx)
        Receive-coil sensitivity (max 1 in the body).
    lv_core : ndarray of shape (ny, nx), bool
        LV pool pixels lying wholly inside the cavity (half a pixel from the endocardium).
    affine : ndarray of shape (4, 4)
    """

    tissue: np.ndarray
    labels: np.ndarray
    layers: np.ndarray
    depth: np.ndarray
    lateral_mm: np.ndarray
    anterior_mm: np.ndarray
    coil: np.ndarray
    lv_core: np.ndarray
    affine: np.ndarray


def _r_endo(level: Level, phi: np.ndarray) -> np.ndarray:
    # mildly elliptical cavity (longer antero-inferior axis, as in diastole)
    return level.r_endo_mm * (1.0 + 0.05 * np.cos(2 * (phi - np.pi / 2)))


def _wall(level: Level, phi: np.ndarray) -> np.ndarray:
    # the septum a little thicker than the lateral wall
    return level.wall_mm * (1.0 + 0.08 * np.cos(phi - np.pi))


def aha_label(theta_deg: np.ndarray, level_name: str) -> np.ndarray:
    """AHA segment (1–16) from θ (deg, from the anterior insertion towards the septum)."""
    th = np.mod(theta_deg, 360.0)
    if level_name == "apical":
        idx = np.floor(np.mod(th - 15.0, 360.0) / 90.0).astype(int)  # 0: [15,105) ...
        return np.array([14, 15, 16, 13], dtype=np.uint8)[idx]
    idx = np.floor(th / 60.0).astype(int)
    base = np.array([2, 3, 4, 5, 6, 1], dtype=np.uint8)[np.clip(idx, 0, 5)]
    return base + (6 if level_name == "mid" else 0)


def draw_plane(level: Level, grid: Grid, shift_mm: float = 0.0) -> PlaneAnatomy:
    """Draw the anatomy of one short-axis level on ``grid`` (pixel centres, no partial volume).

    Parameters
    ----------
    level : Level
        One of :data:`LEVELS`.
    grid : Grid
        Image grid (rows, cols, pixel size).
    shift_mm : float
        Extra shift of the plane along the long axis (mm), e.g. for the AIF image.
    """
    aff = plane_affine(level, grid, shift_mm)
    lateral, post, _, _ = plane_frame()
    rr, cc = np.meshgrid(np.arange(grid.rows), np.arange(grid.cols), indexing="ij")
    pts = aff[:3, 0, None, None] * cc + aff[:3, 1, None, None] * rr + aff[:3, 3, None, None]
    centre = HEART_CENTRE_MM + LONG_AXIS * (level.offset_mm + shift_mm)
    rel = pts - centre[:, None, None]
    lat = np.tensordot(lateral, rel, axes=1)
    ant = -np.tensordot(post, rel, axes=1)
    r = np.hypot(lat, ant)
    phi = np.arctan2(ant, lat)  # anatomical angle, anterior = +90°

    tissue = np.full((grid.rows, grid.cols), T_AIR, dtype=np.int8)

    def ellipse(c_lat: float, c_ant: float, a: float, b: float) -> np.ndarray:
        return ((lat - c_lat) / a) ** 2 + ((ant - c_ant) / b) ** 2 <= 1.0

    # body: chest cross-section (fat rim), lungs, spine, descending aorta
    tissue[ellipse(-22.0, -28.0, 165.0, 112.0)] = T_FAT
    tissue[ellipse(-22.0, -28.0, 152.0, 100.0)] = T_BODY
    tissue[ellipse(88.0, -30.0, 42.0, 62.0)] = T_LUNG
    tissue[ellipse(-112.0, -25.0, 42.0, 65.0)] = T_LUNG
    tissue[ellipse(-18.0, -95.0, 17.0, 17.0)] = T_SPINE
    tissue[ellipse(10.0, -68.0, 11.0, 11.0)] = T_AORTA

    r_endo = _r_endo(level, phi)
    r_epi = r_endo + _wall(level, phi)
    phi_deg = np.rad2deg(np.mod(phi, 2 * np.pi))
    a0, a1 = ANTERIOR_INSERTION_DEG, INFERIOR_INSERTION_DEG
    t = np.clip((phi_deg - a0) / (a1 - a0), 0.0, 1.0)
    rv_depth = np.where((phi_deg > a0) & (phi_deg < a1),
                        level.rv_depth_mm * np.sin(np.pi * t) ** 0.6, 0.0)
    rv_wall_mm = 3.0
    in_rv = (r >= r_epi) & (r < r_epi + rv_depth)
    # the RV free wall wraps the cavity and reaches the LV epicardium at the insertions
    in_rv_wall = (
        (r >= r_epi)
        & (r < r_epi + rv_depth + rv_wall_mm)
        & (phi_deg > a0 - 6.0)
        & (phi_deg < a1 + 6.0)
        & ~in_rv
    )
    tissue[in_rv_wall] = T_RVWALL
    tissue[in_rv] = T_RV
    in_myo = (r >= r_endo) & (r < r_epi)
    tissue[in_myo] = T_MYO
    in_lv = r < r_endo
    tissue[in_lv] = T_LV

    labels = np.zeros(tissue.shape, dtype=np.uint8)
    theta = phi_deg - a0
    labels[in_myo] = aha_label(theta[in_myo], level.name)
    labels[in_lv] = LABEL_LV
    labels[in_rv] = LABEL_RV
    depth = np.where(in_myo, (r - r_endo) / (r_epi - r_endo), np.nan)
    layers = np.zeros(tissue.shape, dtype=np.uint8)
    layers[in_myo & (depth < 0.5)] = 1
    layers[in_myo & (depth >= 0.5)] = 2

    # surface-coil shading: anterior and posterior arrays of 3 elements each
    coil = np.zeros(tissue.shape)
    for c_lat, c_ant in [(-90, 80), (-20, 90), (50, 80), (-90, -135), (-20, -140), (50, -135)]:
        d2 = (lat - c_lat) ** 2 + (ant - c_ant) ** 2
        coil += 1.0 / (1.0 + d2 / 110.0**2)
    body = tissue != T_AIR
    coil /= coil[body].max() if body.any() else coil.max()

    lv_core = r < r_endo - 0.5 * grid.pixel_mm
    return PlaneAnatomy(tissue, labels, layers, depth, lat, ant, coil, lv_core, aff)
