"""Find DICOM images under a path and read their headers (no pixel data).

Files may have any names (or none) and sit in any order and any depth. A file that is not
DICOM is skipped with a warning; a DICOM object without an image (DICOMDIR, reports,
presentation states) is skipped quietly.
"""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qperfusion.io._frames import FrameRecord, frames_from_dataset
from qperfusion.io._values import get, inum

__all__ = ["ScanResult", "Source", "list_files", "read_header", "scan"]

# Files the pipeline itself writes next to DICOM (phantom truth, masks, maps): never DICOM,
# so skipping them needs no warning.
_QUIET_SUFFIXES = (".json", ".nii", ".nii.gz", ".csv", ".html")

_MAX_MATRIX = 4096   # larger MR images do not exist; a bigger value is a damaged header
_MAX_FRAMES = 100_000

#: A source is a path, or a (name, bytes) pair for in-memory data (tests, fuzzing).
Source = str | tuple[str, bytes]


@dataclass
class ScanResult:
    """Headers of every image found, and what was skipped (file, reason)."""

    records: list[FrameRecord] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    n_files: int = 0


def list_files(path: str | os.PathLike[str]) -> list[str]:
    """Every regular file under ``path`` (or ``path`` itself), sorted, hidden files excluded."""
    p = Path(path)
    if p.is_file():
        return [str(p)]
    out = []
    for root, dirs, files in os.walk(p):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        out.extend(str(Path(root) / f) for f in sorted(files) if not f.startswith("."))
    return out


def _open(source: Source) -> tuple[str, Any]:
    if isinstance(source, tuple):
        return source[0], io.BytesIO(source[1])
    return source, source


def read_header(source: Source, *, pixels: bool = False) -> Any:
    """Read one DICOM object; raises ``pydicom.errors.InvalidDicomError`` (or others) if not.

    Files without the 128-byte preamble (some older exports) are accepted when the forced
    read yields an image header; anything else is not DICOM.
    """
    import pydicom
    from pydicom.errors import InvalidDicomError

    name, fp = _open(source)
    with warnings.catch_warnings():
        # malformed values are judged by the reader, not reported by pydicom one by one
        warnings.simplefilter("ignore")
        try:
            return pydicom.dcmread(fp, stop_before_pixels=not pixels)
        except InvalidDicomError:
            if isinstance(fp, io.BytesIO):
                fp.seek(0)
            ds = pydicom.dcmread(fp, stop_before_pixels=not pixels, force=True)
            if get(ds, "SOPClassUID") is None and get(ds, "SeriesInstanceUID") is None:
                raise InvalidDicomError(f"{name} is not a DICOM file") from None
            return ds


def scan(sources: list[Source]) -> ScanResult:
    """Read the header of every source and turn each image into :class:`FrameRecord` s."""
    result = ScanResult(n_files=len(sources))
    order = 0
    for source in sources:
        name = source[0] if isinstance(source, tuple) else source
        if name.lower().endswith(_QUIET_SUFFIXES):
            continue
        try:
            ds = read_header(source)
        except Exception as exc:  # any failure to parse means "not usable DICOM"
            result.skipped.append((name, f"not a readable DICOM file ({type(exc).__name__})"))
            continue
        try:
            rows, cols = inum(get(ds, "Rows")), inum(get(ds, "Columns"))
            if not rows or not cols or rows < 1 or cols < 1:
                continue  # DICOMDIR, reports, presentation states: no image to read
            frames = inum(get(ds, "NumberOfFrames")) or 1
            if rows > _MAX_MATRIX or cols > _MAX_MATRIX or not 1 <= frames <= _MAX_FRAMES:
                result.skipped.append((name, f"implausible image size Rows {rows}, Columns "
                                             f"{cols}, NumberOfFrames {frames} (damaged header)"))
                continue
            records = frames_from_dataset(ds, name, order)
        except Exception as exc:
            result.skipped.append((name, f"unreadable DICOM header ({type(exc).__name__})"))
            continue
        order += len(records)
        result.records.extend(records)
    return result
