"""Kinetic models that generate the phantom's myocardial tissue curves (a registry).

Every model takes the same per-pixel physiology (:mod:`qperfusion.phantom.physiology`: Fp,
PS, vp, ve, delay) and the plasma AIF on the phantom's fine time grid, so the truth (blood
flow ``Fp / (1 − Hct)``) is the same whichever model made the curves; only the curve shape
differs. Which model generates the curves decides which fitted model can recover the truth:
a phantom made by one model measures the others' model error, not only their noise error.

* ``"2cxm"`` — two-compartment exchange model, :func:`qperfusion.kinetics.tcxm.tcxm_conc`
  (Sourbron & Buckley, NMR Biomed 2013;26:1004, doi:10.1002/nbm.2940).
* ``"btex"`` — the two-region, axially distributed blood–tissue exchange model with the
  capillary as 20 well-mixed segments in series: NIH's BTEX20 grid, the model behind the NIH
  inline maps (Bassingthwaighte et al., Circ Res 1989;65:1105, doi:10.1161/01.RES.65.4.1105;
  Xue et al., MRM 2020;83:712, doi:10.1002/mrm.27954), via
  :func:`qperfusion.kinetics._btex_segments.segment_curves_batch` with
  :data:`qperfusion.kinetics.btex.NIH_SEGMENTS`.
* ``"btex_plug"`` — the same exchange with plug flow along the capillary (the limit of
  infinitely many segments), :func:`qperfusion.kinetics.btex.btex_conc`.

With the phantom's stress physiology the 20-segment curves peak ~1 % below the plug-flow ones
and ~20 % above the 2CXM's (the 2CXM's well-mixed plasma space spreads the first pass). The
choice does not change the generation time (in-memory study, 3 seeds interleaved: 2CXM 2.2 s,
BTEX-20 2.0 s, plug 1.7 s). Against the real NIH stress ring (benchmarks/phantom_models.py
``--nih``: curves made from NIH's own AIF at the published map's flow with the phantom's
stress PS, vp, ve), the ring's peak / AIF peak is 0.128 and its upslope ratio 0.070; BTEX-20
gives 0.118 and 0.085, the 2CXM 0.090 and 0.060.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["TISSUE_MODELS", "tissue_curves"]

#: Quadrature step (s) of the BTEX interstitial-return convolution. On the 0.02 s phantom grid
#: halving it changes stress curves by < 1e-5 of the peak (measured), and 0.02 s costs 4–6×.
_BTEX_STEP_S = 0.05


def _tcxm(t: np.ndarray, cp: np.ndarray, params: np.ndarray) -> np.ndarray:
    from qperfusion.kinetics.tcxm import tcxm_conc

    return tcxm_conc(t, cp, fp=params[:, 0], ps=params[:, 1], vp=params[:, 2],
                     ve=params[:, 3], delay=params[:, 4])


def _btex_segments(t: np.ndarray, cp: np.ndarray, params: np.ndarray) -> np.ndarray:
    from qperfusion.kinetics._btex_segments import segment_curves_batch, segment_nodes
    from qperfusion.kinetics.btex import NIH_SEGMENTS

    t = np.ascontiguousarray(t, dtype=np.float64)
    return segment_curves_batch(np.ascontiguousarray(params, dtype=np.float64), t, t,
                                np.ascontiguousarray(cp, dtype=np.float64), _BTEX_STEP_S,
                                segment_nodes(NIH_SEGMENTS))


def _btex_plug(t: np.ndarray, cp: np.ndarray, params: np.ndarray) -> np.ndarray:
    from qperfusion.kinetics.btex import btex_conc

    return btex_conc(t, cp, fp=params[:, 0], ps=params[:, 1], vp=params[:, 2],
                     ve=params[:, 3], delay=params[:, 4], step=_BTEX_STEP_S)


#: name -> function ``(t (T,) s, plasma AIF (T,) mmol/L, params (n, 5) = fp, ps (mL/s/mL),
#: vp, ve, delay (s)) -> tissue [Gd] (n, T) mmol/L``.
TISSUE_MODELS: dict[str, Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]] = {
    "2cxm": _tcxm,
    "btex": _btex_segments,
    "btex_plug": _btex_plug,
}


def tissue_curves(model: str, t: np.ndarray, cp: np.ndarray, params: np.ndarray) -> np.ndarray:
    """Tissue [Gd] curves of many parameter sets for one plasma AIF.

    Parameters
    ----------
    model : {"2cxm", "btex", "btex_plug"}
        Key of :data:`TISSUE_MODELS`.
    t : ndarray of shape (T,)
        Strictly increasing times (s); the AIF is linear between them.
    cp : ndarray of shape (T,)
        Plasma AIF (mmol/L) at ``t``.
    params : ndarray of shape (n, 5)
        ``fp``, ``ps`` (mL/s/mL), ``vp``, ``ve`` (fractions), ``delay`` (s) per curve.

    Returns
    -------
    ndarray of shape (n, T)
        Tissue concentration (mmol/L) at ``t``.
    """
    from qperfusion.errors import QPerfusionError

    if model not in TISSUE_MODELS:
        raise QPerfusionError(
            f"tissue_model {model!r} is not one of {list(TISSUE_MODELS)}"
        )
    params = np.asarray(params, dtype=np.float64).reshape(-1, 5)
    return TISSUE_MODELS[model](t, cp, params)
