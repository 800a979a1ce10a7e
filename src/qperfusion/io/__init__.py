"""DICOM / NIfTI input, NIfTI and DICOM Parametric Map output, and the shared data model.

``read_study`` is loaded on first use so that importing :mod:`qperfusion.io.model` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {"read_study": "qperfusion.io.reader", "study_summary": "qperfusion.io.summary"}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'qperfusion.io' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
