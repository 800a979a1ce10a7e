"""The package's own exception types.

Every error raised for bad *input* is a :class:`QPerfusionError` whose message names the
file, tag or value at fault and says what to do. A bad *pixel* never raises: it gives NaN
and ``success=False`` in the fit.
"""

from __future__ import annotations

__all__ = ["DicomInputError", "FitInputError", "QPerfusionError", "SegmentationError"]


class QPerfusionError(Exception):
    """Base class of every error qperfusion raises on purpose."""


class DicomInputError(QPerfusionError, ValueError):
    """A DICOM/NIfTI input that cannot be read as a perfusion study."""


class FitInputError(QPerfusionError, ValueError):
    """Arrays handed to a kinetic fit that are inconsistent (shapes, units, NaN AIF)."""


class SegmentationError(QPerfusionError, RuntimeError):
    """Automatic AIF detection or segmentation failed; the message says how to give masks."""
