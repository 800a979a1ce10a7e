"""Shared fitting code of the closed-form models (Fermi, 2CXM, 2CUM, Tofts, eTofts, Patlak).

Each such model sets ``model_id`` (a ``_kernels.MODEL_*``), ``starts`` (start points of the
non-delay parameters) and ``scale_params`` (parameters the model is homogeneous of degree one
in: the start is scaled to the data by linear least squares). The delay is always the last
parameter.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from qperfusion.errors import FitInputError
from qperfusion.kinetics.base import FitProblem, KineticModel, RawFit

__all__ = ["ParametricModel"]

_OPTIONS = ("fit_delay", "delay", "max_iter", "delay_step", "prior", "noise_sd")


class ParametricModel(KineticModel):
    """A closed-form model fitted by the batched Levenberg–Marquardt kernel."""

    model_id: ClassVar[int]
    starts: ClassVar[tuple[dict[str, float], ...]]
    scale_params: ClassVar[tuple[str, ...]]
    #: default log-normal priors ``name -> (median, log-SD)`` on nuisance parameters (never on
    #: the flow); weighted by each curve's noise SD, so they matter only at low SNR
    default_prior: ClassVar[dict[str, tuple[float, float]]] = {}
    #: use every n-th node of the problem's fine grid (a coarser grid for costly convolutions)
    grid_stride: ClassVar[int] = 1
    #: parameters the kernel works with as natural logarithms (better-conditioned LM steps)
    log_params: ClassVar[tuple[str, ...]] = ()
    #: LM iterations unless the caller gives ``max_iter``
    default_max_iter: ClassVar[int] = 60

    def _log_mask(self) -> np.ndarray:
        return np.array([k in self.log_params for k in self.param_names], dtype=bool)

    def _grid(self, problem: FitProblem) -> tuple[np.ndarray, float]:
        stride = self.grid_stride
        return np.ascontiguousarray(problem.fine_aif[::stride]), problem.fine_dt * stride

    def _vector(self, values: dict[str, float]) -> np.ndarray:
        return np.array([values[k] for k in self.param_names], dtype=np.float64)

    def fit_batch(
        self, problem: FitProblem, bounds: dict[str, tuple[float, float]], **options: Any
    ) -> RawFit:
        """Batched LM fit; options ``fit_delay`` (True), ``delay`` (0 s, used when not fitted),
        ``max_iter`` (the model's ``default_max_iter``), ``delay_step`` (start-grid spacing of
        the delay, 1 s), ``prior`` (dict ``name -> (median, log-SD)`` of log-normal priors, the
        median a number or one per curve; None for none; default the model's
        ``default_prior``) and ``noise_sd`` (float or ``(n,)`` array, mmol/L: the noise SD that
        weights each curve's prior, for curves denoised before the fit; default: estimated
        from each curve)."""
        unknown = sorted(set(options) - set(_OPTIONS))
        if unknown:
            raise FitInputError(
                f"unknown option(s) {', '.join(unknown)} for model {self.name!r}; valid: "
                f"{', '.join(_OPTIONS)}"
            )
        from qperfusion.kinetics import _kernels

        fit_delay = bool(options.get("fit_delay", True))
        max_iter = int(options.get("max_iter", self.default_max_iter))
        delay_step = float(options.get("delay_step", 1.0))
        names = self.param_names
        lo = np.array([bounds[k][0] for k in names], dtype=np.float64)
        hi = np.array([bounds[k][1] for k in names], dtype=np.float64)
        free = np.array([lo[i] < hi[i] for i in range(len(names))], dtype=np.bool_)
        if fit_delay:
            d_lo, d_hi = bounds["delay"]
            n_d = max(1, int(np.floor((d_hi - d_lo) / delay_step)) + 1)
            delay_grid = np.linspace(d_lo, d_lo + (n_d - 1) * delay_step, n_d)
        else:
            fixed = float(options.get("delay", 0.0))
            delay_grid = np.array([fixed])
            free[-1] = False
            lo[-1] = min(lo[-1], fixed)
            hi[-1] = max(hi[-1], fixed)
        starts = np.array(
            [self._vector({**s, "delay": delay_grid[0]}) for s in self.starts], dtype=np.float64
        )
        logm = self._log_mask()
        starts[:, logm] = np.log(starts[:, logm])
        lo[logm] = np.log(np.maximum(lo[logm], 1e-300))
        hi[logm] = np.log(hi[logm])
        scale = np.array([k in self.scale_params for k in names], dtype=np.bool_)
        prior = options.get("prior", self.default_prior)
        prior = {} if prior is None else dict(prior)
        bad = sorted(set(prior) - set(names))
        if bad:
            raise FitInputError(
                f"prior given for {', '.join(bad)}, which model {self.name!r} does not have"
            )
        curves = np.ascontiguousarray(problem.curves, dtype=np.float64)
        n = curves.shape[0]
        # medians may be one per curve (e.g. neighbourhood values of an earlier fit)
        prior_mu = np.ones((n, len(names)))
        for i, k in enumerate(names):
            if k in prior:
                mu = np.asarray(prior[k][0], dtype=np.float64)
                if mu.ndim > 1 or (mu.ndim == 1 and mu.size != n):
                    raise FitInputError(
                        f"the prior median of {k!r} must be a number or one value per curve "
                        f"({n}), got shape {mu.shape}"
                    )
                prior_mu[:, i] = mu
        prior_w = np.array([1.0 / prior[k][1] if k in prior else 0.0 for k in names])
        if not np.all(prior_mu > 0) or np.any(prior_w < 0):
            raise FitInputError("prior medians and log-SDs must be > 0")
        sigmas = np.full(n, np.nan)
        if options.get("noise_sd") is not None:
            given = np.asarray(options["noise_sd"], dtype=np.float64)
            if given.ndim > 1 or (given.ndim == 1 and given.size != n):
                raise FitInputError(
                    f"noise_sd must be a number or one value per curve ({n}), got {given.shape}"
                )
            sigmas[:] = given
        out_p = np.empty((n, len(names)))
        out_sd = np.empty((n, len(names)))
        out_rss = np.empty(n)
        t_rel = np.ascontiguousarray(problem.times - problem.fine_t0)
        fine_aif, fine_dt = self._grid(problem)
        _kernels.lm_fit_batch(
            self.model_id,
            curves,
            t_rel,
            fine_aif,
            fine_dt,
            starts,
            scale,
            lo,
            hi,
            free,
            delay_grid,
            max_iter,
            prior_mu,
            prior_w,
            sigmas,
            out_p,
            out_sd,
            out_rss,
        )
        out_p[:, logm] = np.exp(out_p[:, logm])
        out_sd[:, logm] *= out_p[:, logm]  # delta method: sd(x) = x · sd(ln x)
        success = np.isfinite(out_rss) & np.all(np.isfinite(out_p), axis=1)
        return RawFit(out_p, out_sd, success, out_rss, float(np.count_nonzero(free)))

    def predict(self, params: dict[str, np.ndarray], problem: FitProblem) -> np.ndarray:
        from qperfusion.kinetics import _kernels

        cols = [np.asarray(params[k], dtype=np.float64) for k in self.param_names]
        p = np.stack(np.broadcast_arrays(*cols), axis=-1).reshape(-1, len(cols))
        logm = self._log_mask()
        if logm.any():
            p = p.copy()
            p[:, logm] = np.log(np.maximum(p[:, logm], 1e-300))
        p = np.ascontiguousarray(p)
        out = np.empty((p.shape[0], problem.times.size))
        t_rel = np.ascontiguousarray(problem.times - problem.fine_t0)
        fine_aif, fine_dt = self._grid(problem)
        _kernels.predict_batch(self.model_id, p, t_rel, fine_aif, fine_dt, out)
        return out
