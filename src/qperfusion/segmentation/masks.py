"""A user's own masks override the automatic segmentation.

Accepted forms
--------------
NIfTI label image (``.nii`` / ``.nii.gz``), array axes (column, row, slice) as
qperfusion writes ``maps/<state>_labels.nii.gz``, in the myocardial image grid. Values in
one of two styles (``style="auto"`` tells them apart: any value above 3 means AHA):

* ``"aha"``: 1–16 AHA segment (myocardium), 17 LV blood pool, 18 RV blood pool, 0 else —
  the segments are kept as given, only the endo/epi layers are computed;
* ``"lv_myo_rv"``: 1 LV blood pool, 2 myocardium, 3 RV blood pool, 0 else — the RV
  insertion points and AHA sectors are then computed as for the automatic segmentation.

JSON contours: closed polygons in pixel coordinates (x = column, y = row, 0-based pixel
centres) per slice::

    {"shape": [n_slices, ny, nx],
     "slices": [{"slice": 0, "endo": [[x, y], ...], "epi": [[x, y], ...],
                 "rv": [[x, y], ...], "anterior_insertion": [x, y], "level": "basal"}]}

``rv``, ``anterior_insertion`` and ``level`` are optional (without ``rv`` in some slice, its
insertion is borrowed from another slice or must be given). Arrays (n_slices, ny, nx) in
either label style are accepted too.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from skimage.draw import polygon2mask

from qperfusion.errors import SegmentationError
from qperfusion.segmentation.aha import LEVELS
from qperfusion.segmentation.labels import LV_LABEL, RV_LABEL, Segmentation, labels_from_pools

__all__ = ["MASK_STYLES", "labels_from_masks"]

MASK_STYLES = ("auto", "aha", "lv_myo_rv")

# RAS (NIfTI/nibabel) -> LPS (DICOM): flip x and y
_RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])


def labels_from_masks(
    masks: str | Path | np.ndarray,
    affines: np.ndarray | None = None,
    *,
    style: str = "auto",
    shape: tuple[int, int, int] | None = None,
) -> Segmentation:
    """Build the segmentation from a user's masks (NIfTI, JSON contours or an array).

    Parameters
    ----------
    masks : path or ndarray of shape (n_slices, ny, nx)
        ``.nii``/``.nii.gz`` label image, ``.json`` contours, or a label array.
    affines : ndarray of shape (n_slices, 4, 4), optional
        (column, row, slice, 1) → LPS mm of the myocardial series. Required for arrays and
        JSON; for NIfTI, when absent, the exact per-slice affines qperfusion's writer stores
        in the header extension, else the file's own affine (RAS, converted to LPS).
    style : {"auto", "aha", "lv_myo_rv"}
        Label values of a NIfTI/array input (see the module docstring).
    shape : (n_slices, ny, nx), optional
        Image grid of JSON contours when the file has no ``"shape"``.

    Returns
    -------
    Segmentation
        ``source`` is "nifti", "json" or "array".

    Raises
    ------
    SegmentationError
        Unreadable file, unknown style, wrong shape, or masks without myocardium.
    """
    if style not in MASK_STYLES:
        raise SegmentationError(
            f"unknown mask style {style!r}; valid: {', '.join(MASK_STYLES)}"
        )
    if isinstance(masks, np.ndarray):
        return _from_label_array(masks, affines, style, "array")
    path = Path(masks)
    if not path.is_file():
        raise SegmentationError(f"mask file {path} not found; give a .nii(.gz) or .json file")
    name = path.name.lower()
    if name.endswith((".nii", ".nii.gz")):
        return _from_nifti(path, affines, style)
    if name.endswith(".json"):
        return _from_json(path, affines, shape)
    raise SegmentationError(
        f"mask file {path}: unknown format; give a NIfTI label image (.nii/.nii.gz) or "
        "JSON contours (.json)"
    )


def _from_nifti(path: Path, affines, style) -> Segmentation:
    import nibabel as nib

    try:
        img = nib.load(str(path))
        data = np.asarray(img.dataobj)
    except Exception as exc:  # nibabel raises many types for a bad file
        raise SegmentationError(f"mask file {path}: cannot read NIfTI ({exc})") from exc
    if data.ndim == 2:
        data = data[:, :, None]
    if data.ndim != 3:
        raise SegmentationError(
            f"mask file {path}: expected a 3-D label image (column, row, slice), got "
            f"shape {data.shape}"
        )
    lab = np.transpose(np.rint(data).astype(np.int64), (2, 1, 0))
    if affines is None:
        affines = _slice_affines_from_extension(img, lab.shape[0])
    if affines is None:
        a = _RAS_TO_LPS @ img.affine
        affines = np.stack([a @ _shift(k) for k in range(lab.shape[0])])
    return _from_label_array(lab, affines, style, "nifti", where=str(path))


def _slice_affines_from_extension(img, n_slices: int) -> np.ndarray | None:
    """Exact per-slice LPS affines that qperfusion's NIfTI writer stores in a JSON
    header extension (``{"qperfusion": {"slice_affines_lps": ...}}``); None if absent."""
    for ext in img.header.extensions:
        try:
            meta = json.loads(ext.get_content())
            a = np.asarray(meta["qperfusion"]["slice_affines_lps"], dtype=np.float64)
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            continue
        if a.shape == (n_slices, 4, 4):
            return a
    return None


def _shift(k: int) -> np.ndarray:
    s = np.eye(4)
    s[2, 3] = k
    return s


def _from_label_array(lab, affines, style, source, where="array") -> Segmentation:
    lab = np.asarray(lab)
    if lab.ndim == 2:
        lab = lab[None]
    if lab.ndim != 3:
        raise SegmentationError(f"{where}: label image must be (n_slices, ny, nx), got "
                                f"shape {lab.shape}")
    if affines is None:
        raise SegmentationError(f"{where}: give the myocardial series' affines with the masks")
    vals = set(np.unique(lab).tolist())
    if not vals <= set(range(19)):
        raise SegmentationError(
            f"{where}: label values {sorted(vals - set(range(19)))} are not labels; use "
            "1-16 AHA / 17 LV / 18 RV, or 1 LV / 2 myocardium / 3 RV"
        )
    if style == "auto":
        style = "aha" if max(vals) > 3 else "lv_myo_rv"
    if style == "aha":
        lv, rv = lab == LV_LABEL, lab == RV_LABEL
        my = (lab >= 1) & (lab <= 16)
        levels = [_level_of(lab[k], my[k]) for k in range(lab.shape[0])]
        return labels_from_pools(lv, my, rv, affines, levels=levels, source=source,
                                 aha_labels=np.where(my, lab, 0))
    return labels_from_pools(lab == 1, lab == 2, lab == 3, affines, source=source)


def _level_of(lab: np.ndarray, my: np.ndarray) -> str:
    if not my.any():
        return "mid"
    v = lab[my]
    counts = [np.sum((v >= 1) & (v <= 6)), np.sum((v >= 7) & (v <= 12)), np.sum(v >= 13)]
    return LEVELS[int(np.argmax(counts))]


def _from_json(path: Path, affines, shape) -> Segmentation:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SegmentationError(f"mask file {path}: not valid JSON ({exc})") from exc
    shp = doc.get("shape", shape)
    if shp is None or len(shp) != 3:
        raise SegmentationError(
            f"mask file {path}: say the image grid as \"shape\": [n_slices, ny, nx]"
        )
    if affines is None:
        raise SegmentationError(f"mask file {path}: give the myocardial series' affines")
    n_sl, ny, nx = (int(v) for v in shp)
    lv = np.zeros((n_sl, ny, nx), dtype=bool)
    epi = np.zeros_like(lv)
    rv = np.zeros_like(lv)
    ins = np.full(n_sl, np.nan)
    levels: list[str | None] = [None] * n_sl
    for entry in doc.get("slices", []):
        k = int(entry.get("slice", -1))
        if not 0 <= k < n_sl:
            raise SegmentationError(f"mask file {path}: slice index {k} outside 0..{n_sl - 1}")
        for key, out in (("endo", lv), ("epi", epi), ("rv", rv)):
            if key in entry:
                out[k] = _poly(entry[key], (ny, nx), path, key)
        if "anterior_insertion" in entry:
            x, y = entry["anterior_insertion"]
            c = np.argwhere(epi[k] | lv[k]).mean(axis=0)
            ins[k] = np.rad2deg(np.arctan2(float(y) - c[0], float(x) - c[1]))
        if "level" in entry:
            if entry["level"] not in LEVELS:
                raise SegmentationError(
                    f"mask file {path}: level {entry['level']!r}; valid: {', '.join(LEVELS)}"
                )
            levels[k] = entry["level"]
    lv_all = None if any(v is None for v in levels) else [str(v) for v in levels]
    return labels_from_pools(lv, epi & ~lv, rv & ~epi, affines, levels=lv_all,
                             insertion_deg=ins, source="json")


def _poly(points, shape, path, key) -> np.ndarray:
    p = np.asarray(points, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 2 or len(p) < 3:
        raise SegmentationError(
            f"mask file {path}: contour {key!r} must be a list of at least 3 [x, y] points"
        )
    return polygon2mask(shape, p[:, ::-1])
