"""The model registry: one line per model, ``name -> "module:Class"`` (imported on first use).

See :mod:`qperfusion.kinetics.base` for what a model class supplies.
"""

from __future__ import annotations

import importlib
from functools import cache

from qperfusion.errors import FitInputError
from qperfusion.kinetics.base import KineticModel

__all__ = ["MODELS", "get_model"]

_REGISTRY: dict[str, str] = {
    "fermi": "qperfusion.kinetics.fermi:FermiModel",
    "btex": "qperfusion.kinetics.btex:BTEXModel",
    "btex20": "qperfusion.kinetics.btex:BTEX20Model",
    "2cxm": "qperfusion.kinetics.tcxm:TCXMModel",
    "2cum": "qperfusion.kinetics.tcum:TCUMModel",
    "tofts": "qperfusion.kinetics.tofts:ToftsModel",
    "etofts": "qperfusion.kinetics.tofts:ExtendedToftsModel",
    "patlak": "qperfusion.kinetics.patlak:PatlakModel",
    "modelfree": "qperfusion.kinetics.modelfree:ModelFreeModel",
}

#: Registry names of the kinetic models, in registry order.
MODELS: tuple[str, ...] = tuple(_REGISTRY)


@cache
def get_model(name: str) -> KineticModel:
    """The model instance registered under ``name``.

    Raises
    ------
    FitInputError
        If ``name`` is not registered; the message lists the valid names.
    """
    target = _REGISTRY.get(name)
    if target is None:
        raise FitInputError(
            f"unknown kinetic model {name!r}; choose one of {', '.join(sorted(_REGISTRY))}"
        )
    module_name, class_name = target.split(":")
    model = getattr(importlib.import_module(module_name), class_name)()
    if model.name != name:
        raise RuntimeError(
            f"model class {target} declares name {model.name!r}, registered {name!r}"
        )
    return model
