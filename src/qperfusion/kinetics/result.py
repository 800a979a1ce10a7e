"""The result of a kinetic fit: named parameter maps, their SD, success, residual and AIC."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from qperfusion.kinetics.base import FitProblem, KineticModel

__all__ = ["KineticFit"]


@dataclass(frozen=True)
class KineticFit:
    """Per-curve estimates of one model for a batch of curves.

    Attributes
    ----------
    model : str
        Registry name of the model.
    params, sd : dict of str -> ndarray of shape (n,)
        Estimates and standard deviations (from the Jacobian at the solution), internal units
        (fp, ps, fb: mL/s/mL; vp, ve, vb: fractions; ktrans: 1/s; delay: s). NaN where the fit
        failed or the curve was bad.
    success : ndarray of shape (n,), bool
    rss : ndarray of shape (n,)
        Residual sum of squares ((mmol/L)²).
    residual : ndarray of shape (n,)
        Root-mean-square residual (mmol/L).
    aic : ndarray of shape (n,)
        Akaike information criterion ``T·ln(RSS/T) + 2k`` (least-squares form); compare models
        on the same curves, lower is better.
    mbf_ml_min_g, fp_ml_min_g : ndarray of shape (n,)
        Blood flow Fb and plasma flow Fp = Fb·(1 − Hct) per gram of tissue (mL/min/g); NaN for
        models without a flow.
    mbf_sd_ml_min_g : ndarray of shape (n,)
        SD of ``mbf_ml_min_g`` (mL/min/g).
    hematocrit : float
    extra : dict of str -> ndarray of shape (n, ...)
        Model-specific per-curve arrays (e.g. ``"impulse_response"`` of ``modelfree``).
    """

    model: str
    params: dict[str, np.ndarray]
    sd: dict[str, np.ndarray]
    success: np.ndarray
    rss: np.ndarray
    residual: np.ndarray
    aic: np.ndarray
    mbf_ml_min_g: np.ndarray
    fp_ml_min_g: np.ndarray
    mbf_sd_ml_min_g: np.ndarray
    hematocrit: float
    problem: FitProblem = field(repr=False)
    kinetic_model: KineticModel = field(repr=False)
    extra: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def n_curves(self) -> int:
        return int(self.success.size)

    def predict(self) -> np.ndarray:
        """Model curves at the fitted parameters, shape (n, T) (mmol/L); NaN rows where failed."""
        names = self.kinetic_model.param_names
        params = {k: np.where(self.success, self.params[k], 0.0) for k in names}
        for k, v in self.extra.items():
            mask = self.success.reshape((-1,) + (1,) * (v.ndim - 1))
            params[k] = np.where(mask, v, 0.0)
        out = self.kinetic_model.predict(params, self.problem)
        out[~self.success] = np.nan
        return out
