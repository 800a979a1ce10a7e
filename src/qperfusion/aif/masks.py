"""A user's own AIF mask overrides the automatic blood-pool detection."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from qperfusion.errors import SegmentationError

__all__ = ["read_aif_mask"]


def read_aif_mask(path: str | Path, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Read an AIF (LV blood pool) mask from a NIfTI file.

    Parameters
    ----------
    path : str or Path
        ``.nii`` / ``.nii.gz``, array axes (column, row[, 1]) in the AIF image grid, as the
        phantom's ``masks/<state>_aif_mask.nii.gz``; any non-zero voxel is in the mask.
    shape : (ny, nx), optional
        The AIF image's (rows, columns), checked when given.

    Returns
    -------
    ndarray of shape (ny, nx), bool

    Raises
    ------
    SegmentationError
        Unreadable file, wrong shape or an empty mask.
    """
    import nibabel as nib

    p = Path(path)
    if not p.is_file():
        raise SegmentationError(f"AIF mask file {p} not found; give a .nii or .nii.gz file")
    try:
        data = np.asarray(nib.load(str(p)).dataobj)
    except Exception as exc:  # nibabel raises many types for a bad file
        raise SegmentationError(f"AIF mask file {p}: cannot read NIfTI ({exc})") from exc
    if data.ndim == 3 and data.shape[2] == 1:
        data = data[..., 0]
    if data.ndim != 2:
        raise SegmentationError(
            f"AIF mask file {p}: expected one 2-D image (column, row), got shape {data.shape}"
        )
    mask = np.asarray(data).T != 0
    if shape is not None and mask.shape != tuple(shape):
        raise SegmentationError(
            f"AIF mask file {p}: {mask.shape[0]} rows x {mask.shape[1]} columns, but the AIF "
            f"images are {shape[0]} x {shape[1]}; draw the mask on the AIF series"
        )
    if not mask.any():
        raise SegmentationError(f"AIF mask file {p} is empty")
    return mask
