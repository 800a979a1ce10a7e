"""DICOM / NIfTI input, NIfTI and DICOM Parametric Map output, and the shared data model.

``read_study`` is loaded on first use so that importing :mod:`qperfusion.io.model` stays light.
"""

from __future__ import annotations

from qperfusion._lazy import lazy_exports

_LAZY = {"read_study": "qperfusion.io.reader", "study_summary": "qperfusion.io.summary"}

__all__ = sorted(_LAZY)


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
