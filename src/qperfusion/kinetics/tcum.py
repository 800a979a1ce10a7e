"""Two-compartment uptake model (2CUM): plasma flow and one-way leakage into the interstitium.

Sourbron & Buckley, NMR Biomed 2013;26:1004, doi:10.1002/nbm.2940. With a plasma AIF::

    vp dCp/dt = Fp (Ca − Cp) − PS Cp,   Ct = vp Cp + PS ∫ Cp
    R(t) = Fp (1 − E) exp(−(Fp + PS) t / vp) + Fp E,   E = PS / (Fp + PS)
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from qperfusion.kinetics._expconv import exp_conv
from qperfusion.kinetics._kernels_ids import MODEL_2CUM
from qperfusion.kinetics._parametric import ParametricModel

__all__ = ["TCUMModel", "tcum_conc"]


def tcum_conc(
    t: np.ndarray,
    aif: np.ndarray,
    *,
    fp: np.ndarray | float,
    ps: np.ndarray | float,
    vp: np.ndarray | float,
    delay: np.ndarray | float = 0.0,
) -> np.ndarray:
    """Tissue concentration (mmol/L) of the 2CUM for a plasma AIF (mmol/L) sampled at ``t`` (s).

    ``fp, ps`` in mL/s/mL, ``vp`` a fraction, ``delay`` in s; the AIF is linear between samples.
    Returns shape ``broadcast(fp, ps, vp, delay).shape + (T,)``.
    """
    fp, ps, vp = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (fp, ps, vp)))
    tot = fp + ps
    e = np.where(tot > 0, ps / np.where(tot > 0, tot, 1.0), 0.0)
    k = tot / np.maximum(vp, 1e-8)
    out = (fp * (1 - e))[..., None] * exp_conv(t, aif, k, delay)
    return out + (fp * e)[..., None] * exp_conv(t, aif, np.zeros_like(k), delay)


class TCUMModel(ParametricModel):
    """2CUM fitted to a plasma AIF: ``fp, ps`` (mL/s/mL), ``vp`` (fraction), ``delay`` (s)."""

    name = "2cum"
    param_names = ("fp", "ps", "vp", "delay")
    param_units: ClassVar[dict[str, str]] = {
        "fp": "mL/s/mL",
        "ps": "mL/s/mL",
        "vp": "1",
        "delay": "s",
    }
    default_bounds: ClassVar[dict[str, tuple[float, float]]] = {
        "fp": (0.0, 0.2),
        "ps": (0.0, 0.2),
        "vp": (0.001, 1.0),
        "delay": (-2.0, 8.0),
    }
    aif_kind = "plasma"
    flow_param = "fp"
    reference = "Sourbron & Buckley, NMR Biomed 2013;26:1004, doi:10.1002/nbm.2940"
    model_id = MODEL_2CUM
    starts = tuple(
        {"fp": 0.01, "ps": ps, "vp": vp}
        for vp in (0.01, 0.04, 0.15, 0.6)
        for ps in (0.0001, 0.001, 0.005)
    )
    scale_params = ("fp", "ps", "vp")
