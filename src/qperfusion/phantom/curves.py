"""Blood concentration curves of the phantom: LV (the AIF), RV and descending aorta.

The LV blood curve is a first-pass gamma variate, a broader recirculation gamma variate and a
slowly decaying plateau (whole blood, mmol/L)::

    Cb(t) = A1·g(t − t0; α1, τ1) + A2·g(t − t0 − Δr; α2, τ2) + A3·s(t − t0)·exp(−(t − t0)/τw)
    g(τ; α, τp) = (τ/τp)^α · exp(α (1 − τ/τp)),  g(τp) = 1   (0 for τ ≤ 0)

with ``s`` a smooth step (logistic). Values for 0.05 mmol/kg gadobutrol: LV peak 4–7 mmol/L,
recirculation ~15–20 % of the first pass, late plateau ~0.4 mmol/L (Kellman P et al., JCMR
2017;19:43, doi:10.1186/s12968-017-0355-5, Fig. 6; Ishida M et al., JCMR 2011;13:28,
doi:10.1186/1532-429X-13-28). Stress (higher cardiac output) gives an earlier, narrower and
lower first pass than rest. Gamma-variate bolus: Thompson HK et al., Circ Res 1964;14:502,
doi:10.1161/01.RES.14.6.502.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["BolusShape", "blood_curve", "bolus_shape", "gamma_variate"]


def gamma_variate(tau: np.ndarray, *, alpha: float, t_peak: float) -> np.ndarray:
    """Gamma variate normalised to a peak of 1 at ``tau = t_peak`` (0 for ``tau <= 0``)."""
    tau = np.asarray(tau, dtype=float)
    x = np.where(tau > 0, tau, 0.0) / t_peak
    return np.where(tau > 0, x**alpha * np.exp(alpha * (1.0 - x)), 0.0)


@dataclass(frozen=True)
class BolusShape:
    """Parameters of :func:`blood_curve` (times in s, concentrations in mmol/L blood)."""

    peak_mmol_l: float
    alpha: float
    t_peak_s: float
    recirc_fraction: float
    recirc_delay_s: float
    recirc_t_peak_s: float
    plateau_mmol_l: float
    washout_s: float = 600.0


#: Per state; rest broader and higher (lower cardiac output).
_SHAPES: dict[str, BolusShape] = {
    "stress": BolusShape(5.0, 3.0, 3.2, 0.18, 7.5, 4.0, 0.40),
    "rest": BolusShape(6.0, 3.0, 4.5, 0.16, 10.0, 5.0, 0.45),
}


def bolus_shape(state: str, rng: np.random.Generator | None = None) -> BolusShape:
    """The state's bolus, with a ±5 % random peak and width when ``rng`` is given."""
    s = _SHAPES[state]
    if rng is None:
        return s
    f_peak, f_width = 1.0 + 0.05 * rng.uniform(-1, 1, size=2)
    return BolusShape(
        s.peak_mmol_l * f_peak, s.alpha, s.t_peak_s * f_width, s.recirc_fraction,
        s.recirc_delay_s, s.recirc_t_peak_s, s.plateau_mmol_l, s.washout_s,
    )


def blood_curve(t: np.ndarray, *, onset_s: float, shape: BolusShape) -> np.ndarray:
    """Whole-blood [Gd] (mmol/L) at times ``t`` (s) for a bolus arriving at ``onset_s``.

    Parameters
    ----------
    t : ndarray of shape (T,)
        Times (s).
    onset_s : float
        Bolus arrival time (s) in the vessel.
    shape : BolusShape

    Returns
    -------
    ndarray of shape (T,)
        Blood concentration (mmol/L); 0 before ``onset_s``.
    """
    tau = np.asarray(t, dtype=float) - onset_s
    first = gamma_variate(tau, alpha=shape.alpha, t_peak=shape.t_peak_s)
    recirc = gamma_variate(tau - shape.recirc_delay_s, alpha=2.5, t_peak=shape.recirc_t_peak_s)
    step = 1.0 / (1.0 + np.exp(-(tau - shape.recirc_delay_s) / 1.5))
    plateau = np.where(tau > 0, step * np.exp(-np.maximum(tau, 0) / shape.washout_s), 0.0)
    bolus = shape.peak_mmol_l * (first + shape.recirc_fraction * recirc)
    return bolus + shape.plateau_mmol_l * plateau
