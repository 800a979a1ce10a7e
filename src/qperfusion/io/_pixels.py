"""Pixel data (each file decoded once) and the voxel → patient geometry of each slice."""

from __future__ import annotations

import warnings

import numpy as np

from qperfusion.errors import DicomInputError
from qperfusion.io._frames import FrameRecord
from qperfusion.io._scan import Source, read_header
from qperfusion.io._values import fnum, get, inum

__all__ = ["PixelJob", "load_pixels", "slice_affine"]

#: (target array, echo, slice, frame, record): where one decoded image goes.
PixelJob = tuple[np.ndarray, int, int, int, FrameRecord]


def _decode(source: Source, name: str) -> np.ndarray:
    try:
        ds = read_header(source, pixels=True)
    except Exception as exc:
        raise DicomInputError(
            f"{name}: file could not be read again for its pixel data ({type(exc).__name__}); "
            "check that the file is complete and readable") from None
    _check_length(ds, name)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.asarray(ds.pixel_array)
    except Exception as exc:
        msg = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise DicomInputError(
            f"{name}: pixel data cannot be decoded ({msg}); re-export uncompressed or install "
            "a decoder for its transfer syntax (pylibjpeg / gdcm)") from None


def _check_length(ds: object, name: str) -> None:
    """Refuse uncompressed pixel data shorter than its header says, before decoding it.

    Decoders allocate the size the header claims; a damaged Rows/Columns/NumberOfFrames
    must not turn into gigabytes of memory.
    """
    try:
        ts = ds.file_meta.TransferSyntaxUID  # type: ignore[attr-defined]
        compressed = bool(ts.is_compressed)
    except Exception:
        compressed = False
    rows, cols = inum(get(ds, "Rows")) or 0, inum(get(ds, "Columns")) or 0
    frames = inum(get(ds, "NumberOfFrames")) or 1
    bits = inum(get(ds, "BitsAllocated")) or 0
    spp = inum(get(ds, "SamplesPerPixel")) or 1
    data = get(ds, "PixelData")
    if data is None:
        if get(ds, "FloatPixelData") is None and get(ds, "DoubleFloatPixelData") is None:
            raise DicomInputError(f"{name}: no pixel data; remove the file or re-export it")
        return
    if bits not in (1, 8, 16, 32, 64):
        raise DicomInputError(f"{name}: BitsAllocated {bits} is not valid; re-export the file")
    need = rows * cols * frames * spp * bits // 8
    if not compressed and len(data) < need:
        raise DicomInputError(
            f"{name}: pixel data has {len(data)} bytes, Rows×Columns×frames needs {need} "
            "(truncated file or damaged header); re-export the series")


def load_pixels(jobs: list[PixelJob], sources: dict[str, Source]) -> None:
    """Decode every file once and scatter its image(s) into the target arrays.

    RescaleSlope/RescaleIntercept (per frame for enhanced MR) are applied. A frame whose
    shape does not match its header, that holds NaN/inf, or that is constant raises
    :class:`~qperfusion.errors.DicomInputError` naming the file.
    """
    by_file: dict[str, list[PixelJob]] = {}
    for job in jobs:
        by_file.setdefault(job[4].source, []).append(job)
    for name, items in by_file.items():
        pix = _decode(sources.get(name, name), name)
        for arr, e, s, t, rec in items:
            if rec.frame is not None and pix.ndim == 3:
                if rec.frame >= pix.shape[0]:
                    raise DicomInputError(
                        f"{name}: NumberOfFrames says frame {rec.frame + 1} exists but the "
                        f"pixel data holds {pix.shape[0]}; re-export the series")
                img = pix[rec.frame]
            else:
                img = pix
            if img.shape != (rec.rows, rec.cols):
                raise DicomInputError(
                    f"{name}: pixel data shape {tuple(img.shape)} does not match Rows×Columns "
                    f"{rec.rows}×{rec.cols} (colour or damaged image?); remove the file or "
                    "re-export the series")
            with np.errstate(all="ignore"):
                val = img.astype(np.float64) * rec.slope + rec.intercept
            if not np.all(np.isfinite(val)):
                raise DicomInputError(
                    f"{name}: image holds NaN or infinite values (frame {t + 1}); "
                    "re-export the series from the scanner")
            lo, hi = float(val.min()), float(val.max())
            if lo == hi:
                raise DicomInputError(
                    f"{name}: image is constant (every pixel = {lo:g}, frame {t + 1}); the "
                    "frame is empty or damaged — re-export the series")
            arr[e, s, :, :, t] = val


def slice_affine(rec: FrameRecord, slice_step_mm: float) -> tuple[np.ndarray, bool]:
    """Affine mapping (column, row, 0, 1) → LPS mm, and whether real geometry was found.

    Column index moves along the row direction cosine (first three ImageOrientationPatient
    values) by the column spacing (PixelSpacing[1]); row index along the column cosine by
    PixelSpacing[0]; the third axis is the slice normal times the slice step.
    """
    aff = np.eye(4)
    ok = rec.iop is not None and rec.ipp is not None
    spacing = rec.spacing
    if spacing is None or min(spacing) <= 0:
        sp = fnum(rec.value("ImagerPixelSpacing"))
        spacing = (sp, sp) if sp and sp > 0 else (1.0, 1.0)
        ok = False
    if rec.iop is not None:
        row = np.asarray(rec.iop[:3], dtype=float)
        col = np.asarray(rec.iop[3:], dtype=float)
    else:
        row, col = np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])
    normal = np.cross(row, col)
    n = np.linalg.norm(normal)
    if n < 1e-6:
        row, col, normal, ok = np.eye(3)[0], np.eye(3)[1], np.eye(3)[2], False
    else:
        normal = normal / n
    aff[:3, 0] = row * spacing[1]
    aff[:3, 1] = col * spacing[0]
    aff[:3, 2] = normal * slice_step_mm
    aff[:3, 3] = np.asarray(rec.ipp, dtype=float) if rec.ipp is not None else 0.0
    return aff, ok
