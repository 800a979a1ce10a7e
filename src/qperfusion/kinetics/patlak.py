"""Patlak model: intravascular signal plus irreversible uptake (no flow: MBF is NaN).

Patlak, Blasberg & Fenstermacher, J Cereb Blood Flow Metab 1983;3:1, doi:10.1038/jcbfm.1983.1.
With a plasma AIF::

    Ct(t) = vp Cp(t) + Ktrans ∫_0^t Cp(s) ds
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from qperfusion.kinetics._expconv import exp_conv
from qperfusion.kinetics._kernels_ids import MODEL_PATLAK
from qperfusion.kinetics._parametric import ParametricModel

__all__ = ["PatlakModel", "patlak_conc"]


def patlak_conc(
    t: np.ndarray,
    aif: np.ndarray,
    *,
    ktrans: np.ndarray | float,
    vp: np.ndarray | float,
    delay: np.ndarray | float = 0.0,
) -> np.ndarray:
    """Patlak tissue concentration (mmol/L); ``ktrans`` 1/s, ``vp`` fraction, ``delay`` s.

    ``aif`` is the plasma AIF (mmol/L) at ``t`` (s), linear between samples.
    """
    t = np.asarray(t, dtype=float)
    aif = np.asarray(aif, dtype=float)
    ktrans, vp = np.broadcast_arrays(np.asarray(ktrans, dtype=float), np.asarray(vp, dtype=float))
    delay = np.asarray(delay, dtype=float)
    tau = t - delay[..., None]
    shifted = np.where(tau < t[0], 0.0, np.interp(tau, t, aif))
    integral = exp_conv(t, aif, np.zeros(np.broadcast(ktrans, delay).shape), delay)
    return ktrans[..., None] * integral + vp[..., None] * shifted


class PatlakModel(ParametricModel):
    """Patlak: ``ktrans`` (1/s), ``vp`` (fraction), ``delay`` (s); plasma AIF."""

    name = "patlak"
    param_names = ("ktrans", "vp", "delay")
    param_units: ClassVar[dict[str, str]] = {"ktrans": "1/s", "vp": "1", "delay": "s"}
    default_bounds: ClassVar[dict[str, tuple[float, float]]] = {
        "ktrans": (0.0, 0.1),
        "vp": (0.0, 1.0),
        "delay": (-2.0, 8.0),
    }
    aif_kind = "plasma"
    flow_param = None
    reference = "Patlak et al., J Cereb Blood Flow Metab 1983;3:1, doi:10.1038/jcbfm.1983.1"
    model_id = MODEL_PATLAK
    starts = tuple({"ktrans": k, "vp": vp} for k in (0.0002, 0.002) for vp in (0.02, 0.1))
    scale_params = ("ktrans", "vp")
