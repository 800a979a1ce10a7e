"""Tofts and extended Tofts models (no flow: their MBF is NaN).

Tofts et al., JMRI 1999;10:223, doi:10.1002/(SICI)1522-2586(199909)10:3<223::AID-JMRI2>3.0.CO;2-S.
With a plasma AIF ``Cp`` and ``kep = Ktrans / ve``::

    Tofts:           Ct(t) = Ktrans ∫ Cp(s) exp(−kep (t − s)) ds
    extended Tofts:  Ct(t) = vp Cp(t) + Ktrans ∫ Cp(s) exp(−kep (t − s)) ds
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from qperfusion.kinetics._expconv import exp_conv
from qperfusion.kinetics._kernels_ids import MODEL_ETOFTS, MODEL_TOFTS
from qperfusion.kinetics._parametric import ParametricModel

__all__ = ["ExtendedToftsModel", "ToftsModel", "etofts_conc", "tofts_conc"]


def tofts_conc(
    t: np.ndarray,
    aif: np.ndarray,
    *,
    ktrans: np.ndarray | float,
    ve: np.ndarray | float,
    delay: np.ndarray | float = 0.0,
) -> np.ndarray:
    """Tofts tissue concentration (mmol/L); ``ktrans`` in 1/s, ``ve`` a fraction, ``delay`` s.

    ``aif`` is the plasma AIF (mmol/L) at ``t`` (s), linear between samples. Returns shape
    ``broadcast(ktrans, ve, delay).shape + (T,)``.
    """
    ktrans, ve = np.broadcast_arrays(np.asarray(ktrans, dtype=float), np.asarray(ve, dtype=float))
    return ktrans[..., None] * exp_conv(t, aif, ktrans / np.maximum(ve, 1e-8), delay)


def etofts_conc(
    t: np.ndarray,
    aif: np.ndarray,
    *,
    ktrans: np.ndarray | float,
    ve: np.ndarray | float,
    vp: np.ndarray | float,
    delay: np.ndarray | float = 0.0,
) -> np.ndarray:
    """Extended Tofts tissue concentration (mmol/L): Tofts plus ``vp · Cp(t − delay)``."""
    t = np.asarray(t, dtype=float)
    aif = np.asarray(aif, dtype=float)
    vp = np.asarray(vp, dtype=float)
    delay = np.asarray(delay, dtype=float)
    tau = t - delay[..., None]
    shifted = np.where(tau < t[0], 0.0, np.interp(tau, t, aif))
    return tofts_conc(t, aif, ktrans=ktrans, ve=ve, delay=delay) + vp[..., None] * shifted


class ToftsModel(ParametricModel):
    """Tofts model: ``ktrans`` (1/s), ``ve`` (fraction), ``delay`` (s); plasma AIF."""

    name = "tofts"
    param_names = ("ktrans", "ve", "delay")
    param_units: ClassVar[dict[str, str]] = {"ktrans": "1/s", "ve": "1", "delay": "s"}
    default_bounds: ClassVar[dict[str, tuple[float, float]]] = {
        "ktrans": (0.0, 0.1),
        "ve": (0.001, 1.0),
        "delay": (-2.0, 8.0),
    }
    aif_kind = "plasma"
    flow_param = None
    reference = (
        "Tofts et al., JMRI 1999;10:223, "
        "doi:10.1002/(SICI)1522-2586(199909)10:3<223::AID-JMRI2>3.0.CO;2-S"
    )
    model_id = MODEL_TOFTS
    starts = tuple({"ktrans": 0.005, "ve": ve} for ve in (0.05, 0.15, 0.4, 0.8))
    scale_params = ("ktrans", "ve")


class ExtendedToftsModel(ParametricModel):
    """Extended Tofts: ``ktrans`` (1/s), ``ve``, ``vp`` (fractions), ``delay`` (s); plasma AIF."""

    name = "etofts"
    param_names = ("ktrans", "ve", "vp", "delay")
    param_units: ClassVar[dict[str, str]] = {"ktrans": "1/s", "ve": "1", "vp": "1", "delay": "s"}
    default_bounds: ClassVar[dict[str, tuple[float, float]]] = {
        "ktrans": (0.0, 0.1),
        "ve": (0.001, 1.0),
        "vp": (0.0, 1.0),
        "delay": (-2.0, 8.0),
    }
    aif_kind = "plasma"
    flow_param = None
    reference = ToftsModel.reference
    model_id = MODEL_ETOFTS
    starts = tuple(
        {"ktrans": 0.005, "ve": ve, "vp": vp}
        for ve in (0.05, 0.15, 0.4, 0.8)
        for vp in (0.005, 0.05)
    )
    scale_params = ("ktrans", "ve", "vp")
