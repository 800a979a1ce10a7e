"""Kinetic models and the batched fitting engine (stage 4).

``kinetics.fit(name, curves, aif=..., times=..., hematocrit=...)`` fits one of ``kinetics.MODELS``;
how a model plugs in is written in :mod:`qperfusion.kinetics.base`.

Nothing heavy is imported here; public names load their module on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> module that defines it (loaded lazily, PEP 562)
_LAZY: dict[str, str] = {
    "MODELS": "qperfusion.kinetics.registry",
    "FitProblem": "qperfusion.kinetics.base",
    "KineticFit": "qperfusion.kinetics.result",
    "KineticModel": "qperfusion.kinetics.base",
    "RawFit": "qperfusion.kinetics.base",
    "fermi_residue": "qperfusion.kinetics.fermi",
    "fit": "qperfusion.kinetics.engine",
    "gamma_variate_aif": "qperfusion.kinetics.aifs",
    "get_model": "qperfusion.kinetics.registry",
    "interpolate_aif": "qperfusion.kinetics.aifs",
    "population_aif": "qperfusion.kinetics.aifs",
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
