"""Model-free (Tikhonov-regularised) deconvolution; MBF is the peak of the impulse response.

Jerosch-Herold et al., Int J Card Imaging 2004;20:485, doi:10.1007/s10554-004-7010-z (model
independent MBF), with second-difference Tikhonov regularisation (Hansen, *Rank-Deficient and
Discrete Ill-Posed Problems*, SIAM 1998, doi:10.1137/1.9780898719697). With a blood AIF ``Cb``::

    Ct(t_i) = ∫ R(u) Cb(t_i − u) du ≈ Σ_k A_ik r_k,     R piecewise linear on u_k = k·Δ
    r = argmin ||A r − c||² + λ² ||L r||²,              L = second differences

One matrix serves every curve of the batch, so the solve is a single matrix product. ``λ`` is
chosen by generalised cross-validation pooled over the batch (or given). The flow ``fb`` is
``max_k r_k`` (mL/s/mL, blood) and ``delay`` the lag of that peak (s).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from qperfusion.errors import FitInputError
from qperfusion.kinetics.base import FitProblem, KineticModel, RawFit

__all__ = ["ModelFreeModel", "convolution_matrix"]

_OPTIONS = ("regularization", "lag_step")
_LAMBDA_GRID = np.logspace(-4, 1, 26)  # relative to sqrt(trace(AᵀA)/trace(LᵀL))


def convolution_matrix(problem: FitProblem, lag_step: float) -> tuple[np.ndarray, np.ndarray]:
    """Matrix ``A (T, K)`` mapping a piecewise-linear impulse response to tissue samples.

    Parameters
    ----------
    problem : FitProblem
        Supplies the sample times and the fine-grid AIF (mmol/L).
    lag_step : float
        Spacing ``Δ`` (s) of the impulse-response nodes.

    Returns
    -------
    A : ndarray of shape (T, K)
        ``A[i, k] = ∫ hat_k(u) a(t_i − u) du`` (mmol/L·s), integrated on the fine grid.
    lags : ndarray of shape (K,)
        Node lags ``u_k`` (s).
    """
    t = problem.times
    h = problem.fine_dt
    span = t[-1] - problem.fine_t0
    n_k = int(np.floor(span / lag_step)) + 1
    lags = lag_step * np.arange(n_k)
    u = h * np.arange(int(np.ceil(lags[-1] / h)) + 2)
    # AIF at t_i − u_m (0 before the grid start), by linear reading of the fine grid
    pos = (t[:, None] - problem.fine_t0 - u[None, :]) / h
    a = problem.fine_aif
    q = np.clip(np.floor(pos).astype(np.int64), 0, a.size - 2)
    f = np.clip(pos - q, 0.0, 1.0)
    shifted = np.where(pos < 0, 0.0, (1 - f) * a[q] + f * a[q + 1])
    hats = np.maximum(0.0, 1.0 - np.abs(u[None, :] - lags[:, None]) / lag_step)
    w = np.full(u.size, h)
    w[0] = 0.5 * h
    return (shifted * w[None, :]) @ hats.T, lags


class ModelFreeModel(KineticModel):
    """Tikhonov deconvolution of a blood AIF: ``fb`` (peak of R, mL/s/mL), ``delay`` (s)."""

    name = "modelfree"
    param_names = ("fb", "delay")
    param_units: ClassVar[dict[str, str]] = {"fb": "mL/s/mL", "delay": "s"}
    default_bounds: ClassVar[dict[str, tuple[float, float]]] = {
        "fb": (0.0, np.inf),
        "delay": (0.0, np.inf),
    }
    aif_kind = "blood"
    flow_param = "fb"
    reference = (
        "Jerosch-Herold et al., Int J Card Imaging 2004;20:485, doi:10.1007/s10554-004-7010-z"
    )

    def fit_batch(
        self, problem: FitProblem, bounds: dict[str, tuple[float, float]], **options: Any
    ) -> RawFit:
        """Options: ``regularization`` (λ relative to the scale of A; default: pooled GCV) and
        ``lag_step`` (impulse-response node spacing, s; default the median sample interval).
        The bounds are not used (the deconvolution is linear)."""
        unknown = sorted(set(options) - set(_OPTIONS))
        if unknown:
            raise FitInputError(
                f"unknown option(s) {', '.join(unknown)} for model 'modelfree'; valid: "
                f"{', '.join(_OPTIONS)}"
            )
        lag_step = float(options.get("lag_step", np.median(np.diff(problem.times))))
        if not lag_step > 0:
            raise FitInputError(f"lag_step must be > 0 s, got {lag_step!r}")
        amat, lags = convolution_matrix(problem, lag_step)
        n_t, n_k = amat.shape
        lmat = np.diff(np.eye(n_k), n=2, axis=0)
        ata = amat.T @ amat
        ltl = lmat.T @ lmat
        scale = np.sqrt(np.trace(ata) / max(np.trace(ltl), 1e-300))
        c = problem.curves
        reg = options.get("regularization")
        grid = _LAMBDA_GRID if reg is None else np.array([float(reg)])
        best = None
        for rel in grid:
            lam2 = (rel * scale) ** 2
            solver = np.linalg.solve(ata + lam2 * ltl, amat.T)  # (K, T)
            hat = amat @ solver
            dof = float(np.trace(hat))
            resid = c - c @ hat.T
            rss = np.einsum("ij,ij->i", resid, resid)
            gcv = rss.sum() / max(n_t - dof, 1e-6) ** 2
            if best is None or gcv < best[0]:
                best = (gcv, solver, dof, rss)
        _, solver, dof, rss = best
        r = c @ solver.T  # (n, K)
        k_peak = np.argmax(r, axis=1)
        fb = r[np.arange(r.shape[0]), k_peak]
        sigma2 = rss / max(n_t - dof, 1.0)
        # variance of the peak node: σ² · (M Mᵀ)_kk with M = solver
        var_nodes = np.einsum("kt,kt->k", solver, solver)
        sd_fb = np.sqrt(sigma2 * var_nodes[k_peak])
        params = np.stack([fb, lags[k_peak]], axis=1)
        sd = np.stack([sd_fb, np.full_like(fb, 0.5 * lag_step)], axis=1)
        success = np.isfinite(fb) & (fb > 0)
        extra = {"impulse_response": r, "impulse_lags": np.broadcast_to(lags, r.shape).copy()}
        return RawFit(params, sd, success, rss, dof, extra)

    def predict(self, params: dict[str, np.ndarray], problem: FitProblem) -> np.ndarray:
        """Tissue curves from the stored impulse responses (``params["impulse_response"]``)."""
        r = np.asarray(params["impulse_response"], dtype=float)
        lags = np.asarray(params["impulse_lags"], dtype=float)
        steps = np.diff(lags, axis=-1)
        lag_step = float(np.nanmax(steps)) if steps.size else 1.0
        amat, _ = convolution_matrix(problem, lag_step)
        return r[:, : amat.shape[1]] @ amat.T
