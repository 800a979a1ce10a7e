"""qperfusion: absolute myocardial blood flow from stress/rest first-pass perfusion CMR.

Nothing heavy is imported here: the public functions load their stage on first use.
"""

from __future__ import annotations

from qperfusion._lazy import lazy_exports

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


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, ("__version__",))
