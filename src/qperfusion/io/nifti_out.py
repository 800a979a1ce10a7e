"""Write parameter maps and label images as NIfTI in the myocardial image grid.

Array axes on disk are (column, row, slice), i.e. the transpose of the in-memory
``(n_slices, ny, nx)``, so that NIfTI voxel (i, j, k) is DICOM column i, row j of slice k.
NIfTI world coordinates are RAS+; DICOM patient coordinates are LPS+, so the first two rows
of the affine change sign.

Perfusion slices are often not evenly spaced (basal/mid/apical planned by hand) and a NIfTI
file holds one affine. The affine uses the first slice's geometry and the mean step from the
first to the last slice; :func:`nifti_affine` reports how far the real slice positions lie
from it, and the exact per-slice DICOM affines are stored in a JSON header extension
(``{"qperfusion": {"slice_affines_lps": ...}}``, NIfTI extension code 6 "comment").
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import nibabel as nib
import numpy as np

from qperfusion.errors import QPerfusionError
from qperfusion.qc import QCFlag

__all__ = [
    "LPS_TO_RAS",
    "nifti_affine",
    "read_map_nifti",
    "slice_spacing_flag",
    "write_labels_nifti",
    "write_map_nifti",
    "write_state_maps",
]

#: DICOM LPS patient coordinates -> NIfTI RAS world coordinates.
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])

#: Largest distance (mm) between a real slice position and the NIfTI affine's before a flag.
SLICE_POSITION_TOLERANCE_MM = 0.5

_NIFTI_INTENT_LABEL = 1002  # NIFTI_INTENT_LABEL: voxel values are indices into a label table


def _check_affines(affines: np.ndarray, n_slices: int) -> np.ndarray:
    a = np.asarray(affines, dtype=float)
    if a.shape != (n_slices, 4, 4):
        raise QPerfusionError(
            f"affines have shape {a.shape}; expected ({n_slices}, 4, 4), one per slice "
            "mapping (column, row, 0, 1) to patient LPS mm"
        )
    return a


def nifti_affine(
    affines: np.ndarray, *, slice_thickness_mm: float | None = None
) -> tuple[np.ndarray, float]:
    """The NIfTI (RAS) affine of a slice stack and the slice-position misfit.

    Parameters
    ----------
    affines : ndarray of shape (n_slices, 4, 4)
        Per slice: (column, row, 0, 1) -> patient LPS (mm).
    slice_thickness_mm : float, optional
        Slice step (mm) along the normal for a single slice; default: the norm of the third
        column of ``affines[0]`` when non-zero, else 1 mm.

    Returns
    -------
    affine : ndarray of shape (4, 4)
        Voxel (column, row, slice, 1) -> RAS (mm).
    max_misfit_mm : float
        Largest distance between a slice's true origin and where the affine puts it (mm).
    """
    a = np.asarray(affines, dtype=float)
    n = a.shape[0]
    lps = a[0].copy()
    if n > 1:
        lps[:3, 2] = (a[-1, :3, 3] - a[0, :3, 3]) / (n - 1)
    else:
        normal = np.cross(a[0, :3, 0], a[0, :3, 1])
        normal /= np.linalg.norm(normal)
        step = slice_thickness_mm
        if step is None:
            col2 = float(np.linalg.norm(a[0, :3, 2]))
            step = col2 if col2 > 0 else 1.0
        lps[:3, 2] = normal * step
    predicted = lps[:3, 3][None, :] + np.arange(n)[:, None] * lps[:3, 2][None, :]
    misfit = float(np.max(np.linalg.norm(predicted - a[:, :3, 3], axis=1)))
    return LPS_TO_RAS @ lps, misfit


def slice_spacing_flag(affines: np.ndarray, *, name: str = "maps") -> list[QCFlag]:
    """A QC flag when the slices are too unevenly spaced for one NIfTI affine."""
    _, misfit = nifti_affine(affines)
    if misfit <= SLICE_POSITION_TOLERANCE_MM:
        return []
    return [QCFlag(
        "NIFTI_UNEVEN_SLICES", "info",
        f"The myocardial slices are unevenly spaced (up to {misfit:.1f} mm from an even "
        f"stack); the NIfTI {name} use the mean spacing, and the exact slice positions are "
        "in the header extension and in the DICOM Parametric Maps.", "io")]


def _to_image(
    volume: np.ndarray, affines: np.ndarray, dtype: np.dtype, slice_thickness_mm: float | None
) -> nib.Nifti1Image:
    vol = np.asarray(volume)
    if vol.ndim != 3:
        raise QPerfusionError(
            f"map has shape {vol.shape}; expected (n_slices, ny, nx)"
        )
    a = _check_affines(affines, vol.shape[0])
    affine, misfit = nifti_affine(a, slice_thickness_mm=slice_thickness_mm)
    data = np.ascontiguousarray(vol.transpose(2, 1, 0)).astype(dtype, copy=False)
    img = nib.Nifti1Image(data, affine)
    img.header.set_xyzt_units("mm", "sec")
    img.header.set_qform(affine, code=1)  # scanner-anatomical
    img.header.set_sform(affine, code=1)
    meta = {"qperfusion": {"axes": ["column", "row", "slice"],
                           "slice_affines_lps": a.tolist(),
                           "max_slice_misfit_mm": misfit}}
    img.header.extensions.append(
        nib.nifti1.Nifti1Extension(6, json.dumps(meta).encode())
    )
    return img


def write_map_nifti(
    path: str | Path,
    volume: np.ndarray,
    affines: np.ndarray,
    *,
    description: str = "",
    slice_thickness_mm: float | None = None,
) -> Path:
    """Write one parameter map (float32, NaN kept outside the myocardium).

    Parameters
    ----------
    path : str or Path
        Output file, ``.nii`` or ``.nii.gz``.
    volume : ndarray of shape (n_slices, ny, nx)
        Map in the myocardial image grid (any float unit; say it in the file name).
    affines : ndarray of shape (n_slices, 4, 4)
        Per slice: (column, row, 0, 1) -> patient LPS (mm).
    description : str
        Goes into the header ``descrip`` field (80 characters at most), e.g. ``"MBF mL/min/g"``.
    slice_thickness_mm : float, optional
        Slice step for a single-slice map (see :func:`nifti_affine`).

    Returns
    -------
    Path
    """
    img = _to_image(volume, affines, np.dtype(np.float32), slice_thickness_mm)
    img.header["descrip"] = description.encode()[:79]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(img, path)
    return path


def write_labels_nifti(
    path: str | Path,
    labels: np.ndarray,
    affines: np.ndarray,
    *,
    slice_thickness_mm: float | None = None,
) -> Path:
    """Write a label image (uint8: 1–16 AHA, 17 LV, 18 RV, 0 elsewhere), intent LABEL.

    Parameters
    ----------
    path : str or Path
    labels : ndarray of shape (n_slices, ny, nx), integer
    affines : ndarray of shape (n_slices, 4, 4)
    slice_thickness_mm : float, optional

    Returns
    -------
    Path
    """
    lab = np.asarray(labels)
    if lab.size and (lab.min() < 0 or lab.max() > 255):
        raise QPerfusionError(
            f"labels span {lab.min()}..{lab.max()}; expected 0–18 (AHA 1–16, LV 17, RV 18)"
        )
    img = _to_image(lab, affines, np.dtype(np.uint8), slice_thickness_mm)
    img.header.set_intent(_NIFTI_INTENT_LABEL)
    img.header["descrip"] = b"AHA 1-16, LV 17, RV 18"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(img, path)
    return path


def write_state_maps(
    outdir: str | Path,
    state: str,
    maps: Mapping[str, np.ndarray],
    affines: np.ndarray,
    *,
    labels: np.ndarray | None = None,
) -> dict[str, Path]:
    """Write ``<outdir>/<state>_<name>.nii.gz`` for every map (and ``<state>_labels``).

    Parameters
    ----------
    outdir : str or Path
        The ``maps/`` folder.
    state : str
        ``"stress"``, ``"rest"`` or ``"unspecified"``.
    maps : dict of str to ndarray of shape (n_slices, ny, nx)
    affines : ndarray of shape (n_slices, 4, 4)
    labels : ndarray of shape (n_slices, ny, nx), optional

    Returns
    -------
    dict of str to Path
        Map name (and ``"labels"``) -> file written.
    """
    outdir = Path(outdir)
    out = {}
    for name, vol in maps.items():
        out[name] = write_map_nifti(outdir / f"{state}_{name}.nii.gz", vol, affines,
                                    description=f"{state} {name}")
    if labels is not None:
        out["labels"] = write_labels_nifti(outdir / f"{state}_labels.nii.gz", labels, affines)
    return out


def read_map_nifti(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a map written here back to ``(n_slices, ny, nx)`` and its RAS affine.

    Returns
    -------
    volume : ndarray of shape (n_slices, ny, nx)
    affine : ndarray of shape (4, 4)
        Voxel (column, row, slice, 1) -> RAS (mm).
    """
    img = nib.load(str(path))
    data = np.asarray(img.dataobj)
    return data.transpose(2, 1, 0), np.asarray(img.affine)
