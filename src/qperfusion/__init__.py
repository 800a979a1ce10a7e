"""qperfusion: absolute myocardial blood flow from stress/rest first-pass perfusion CMR.

Nothing heavy is imported here: the public functions load their stage on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it (loaded lazily, PEP 562)
_LAZY: dict[str, str] = {
    "QCFlag": "qperfusion.qc",
    "QPerfusionError": "qperfusion.errors",
    "read_study": "qperfusion.io.reader",
    "run": "qperfusion.workflows.pipeline",
    "RunOptions": "qperfusion.workflows.options",
    "run_batch": "qperfusion.workflows.cohort",
}

__all__ = ["__version__", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'qperfusion' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(__all__)
