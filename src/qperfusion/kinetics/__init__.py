"""Kinetic models and the batched fitting engine (stage 4).

``kinetics.fit(name, curves, aif=..., times=..., hematocrit=...)`` fits one of ``kinetics.MODELS``;
how a model plugs in is written in :mod:`qperfusion.kinetics.base`.

Nothing heavy is imported here; public names load their module on first use.
"""

from __future__ import annotations

from qperfusion._lazy import lazy_exports

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


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
