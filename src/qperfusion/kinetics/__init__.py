"""Kinetic models and the batched fitting engine (stage 4).

Nothing heavy is imported here; public names load their module on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> module that defines it (loaded lazily, PEP 562)
_LAZY: dict[str, str] = {
    "tcxm_conc": "qperfusion.kinetics.tcxm",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'qperfusion.kinetics' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(__all__)
