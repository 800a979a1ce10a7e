"""Fermi-constrained deconvolution: the impulse response is a Fermi function.

Jerosch-Herold, Wilke & Stillman, Med Phys 1998;25:73, doi:10.1118/1.598163. The tissue curve is
the blood AIF convolved with::

    R(t) = Fb · (1 + β) / (1 + β · exp(α t)),   t ≥ 0

so ``R(0) = Fb`` is the myocardial blood flow (mL/s/mL); ``α`` (1/s) sets the roll-off rate and
``β`` (dimensionless) its timing (the shoulder sits at ``t ≈ −ln(β)/α``). This is the classic
``F/(exp((t − τ0)k) + 1)`` re-parameterised so that the amplitude is exactly the flow. A bolus
delay between AIF and tissue is fitted.

The fit runs in :mod:`qperfusion.kinetics._fermi_fast` (the shared kernel's model with an
analytic Jacobian, ``Fb`` by variable projection and a dense start table; ~28x the shared LM
kernel on 2CXM-like curves and ~10x on Fermi curves, ~110,000 curves/s on 2 threads with evenly
spaced samples and ~86,000 with heartbeat-uneven ones, the same MBF to 3e-4 in the median;
benchmarks/fermi_throughput.py, benchmarks/fit_throughput.py --jitter).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from qperfusion.errors import FitInputError
from qperfusion.kinetics._kernels_ids import MODEL_FERMI
from qperfusion.kinetics._parametric import _OPTIONS, ParametricModel
from qperfusion.kinetics.base import FitProblem, RawFit

__all__ = ["FermiModel", "fermi_residue"]

#: lowest ln α (α in 1/s) and ln β of the fast fit's start shapes
_START_LN_MIN = (float(np.log(1e-3)), float(np.log(1e-6)))


def fermi_residue(
    t: np.ndarray, *, fb: np.ndarray | float, alpha: np.ndarray | float, beta: np.ndarray | float
) -> np.ndarray:
    """Fermi impulse response ``Fb (1 + β) / (1 + β e^{α t})`` (0 for t < 0).

    Parameters
    ----------
    t : ndarray of shape (T,)
        Time after the bolus reaches the tissue (s).
    fb : float or ndarray
        Blood flow (mL/s/mL), the response at t = 0.
    alpha : float or ndarray
        Roll-off rate (1/s).
    beta : float or ndarray
        Shoulder parameter (dimensionless, > 0).

    Returns
    -------
    ndarray of shape broadcast(fb, alpha, beta).shape + (T,)
        Impulse response (1/s).
    """
    t = np.asarray(t, dtype=float)
    fb, alpha, beta = (np.asarray(v, dtype=float)[..., None] for v in (fb, alpha, beta))
    with np.errstate(over="ignore"):
        r = fb * (1.0 + beta) / (1.0 + beta * np.exp(alpha * t))
    return np.where(t >= 0, r, 0.0)


class FermiModel(ParametricModel):
    """Fermi-constrained deconvolution of a blood AIF: ``fb`` (mL/s/mL), ``alpha`` (1/s),
    ``beta`` (1), ``delay`` (s).

    Fitted by :mod:`qperfusion.kinetics._fermi_fast` (the same model as the shared LM kernel,
    with an analytic Jacobian, ``fb`` by variable projection, a dense start table and an
    active set on the bounds); with a ``prior`` it falls back to the shared LM kernel, which
    carries the priors.
    """

    name = "fermi"
    param_names = ("fb", "alpha", "beta", "delay")
    param_units: ClassVar[dict[str, str]] = {
        "fb": "mL/s/mL",
        "alpha": "1/s",
        "beta": "1",
        "delay": "s",
    }
    default_bounds: ClassVar[dict[str, tuple[float, float]]] = {
        "fb": (0.0, 0.3),
        "alpha": (0.01, 5.0),
        "beta": (1e-4, 100.0),
        "delay": (-2.0, 8.0),
    }
    aif_kind = "blood"
    flow_param = "fb"
    reference = "Jerosch-Herold et al., Med Phys 1998;25:73, doi:10.1118/1.598163"
    model_id = MODEL_FERMI
    # start shapes of the prior-carrying fallback (the shared LM kernel)
    starts = tuple(
        {"fb": 0.02, "alpha": alpha, "beta": beta}
        for alpha in (0.1, 0.3, 1.0)
        for beta in (0.01, 0.1, 1.0)
    )
    scale_params = ("fb",)
    # the Fermi convolution costs O(G²): run it on every 2nd fine node (0.5 s by default),
    # ample for a smooth empirical residue and 4x faster
    grid_stride = 2
    log_params = ("beta",)  # β spans decades
    # the fallback's Fermi valley is flat: past ~20 iterations its RSS changes in the 4th digit
    default_max_iter = 20
    #: start table of the fast fit: ln α and ln β evenly over their bounds (× the delay grid)
    n_start_alpha = 8
    n_start_beta = 8
    #: LM iterations of the fast fit unless ``max_iter`` is given, and its stopping tolerance
    #: (the RSS decrease the linear model predicts for the next step, relative to the RSS)
    fast_max_iter = 50
    fast_tol = 1e-5
    #: the start search scores curves in the templates' span to this fraction of the largest
    #: template's norm (0.3 %, far below the noise of a curve: 15 coordinates instead of 26 at
    #: 1e-4, 3 % more curves/s; the same start for 99.8 % of 2CXM-like and 98.9 % of Fermi
    #: curves, the others as often better as worse, benchmarks/fermi_throughput.py)
    start_basis_rtol = 3e-3

    def fit_batch(
        self, problem: FitProblem, bounds: dict[str, tuple[float, float]], **options: Any
    ) -> RawFit:
        """Fit every curve; options as :meth:`ParametricModel.fit_batch` (``fit_delay``,
        ``delay``, ``max_iter``, ``delay_step``, ``prior``, ``noise_sd``). Without a prior (the
        default) the fast kernel runs; ``max_iter`` then counts its LM iterations."""
        unknown = sorted(set(options) - set(_OPTIONS))
        if unknown:
            raise FitInputError(
                f"unknown option(s) {', '.join(unknown)} for model {self.name!r}; valid: "
                f"{', '.join(_OPTIONS)}"
            )
        if options.get("prior"):
            return super().fit_batch(problem, bounds, **options)
        from qperfusion.kinetics import _fermi_fast

        lo, hi = _internal_bounds(bounds)
        fit_delay = bool(options.get("fit_delay", True))
        if fit_delay:
            step = float(options.get("delay_step", 1.0))
            if not step > 0:
                raise FitInputError(f"delay_step must be > 0 s, got {step!r}")
            n_d = max(1, int(np.floor((hi[3] - lo[3]) / step)) + 1)
            delay_grid = lo[3] + step * np.arange(n_d)
        else:
            fixed = float(options.get("delay", 0.0))
            delay_grid = np.array([fixed])
            lo[3] = hi[3] = fixed
        free = lo < hi
        max_iter = int(options.get("max_iter", self.fast_max_iter))
        # start shapes evenly in ln α, ln β; a lower bound at (or near) 0 would put most of them
        # where the residue no longer changes over the scan, so they start at 1e-3 and 1e-6
        la_lo = min(max(lo[1], _START_LN_MIN[0]), hi[1])
        lb_lo = min(max(lo[2], _START_LN_MIN[1]), hi[2])
        la = np.linspace(la_lo, hi[1], self.n_start_alpha if free[1] else 1)
        lb = np.linspace(lb_lo, hi[2], self.n_start_beta if free[2] else 1)
        shapes = np.stack(np.meshgrid(la, lb, indexing="ij"), axis=-1).reshape(-1, 2)
        t_rel = np.ascontiguousarray(problem.times - problem.fine_t0)
        fine_aif, fine_dt = self._grid(problem)
        templ = _fermi_fast.fermi_templates(shapes, delay_grid, t_rel, fine_aif, fine_dt)
        # the start search scores every curve against every template in their span (to
        # start_basis_rtol: ~15 coordinates instead of 60 frames; a start needs no more)
        basis, templ_b = _fermi_fast.fermi_template_basis(templ, self.start_basis_rtol)
        # start parameters and, after them, the start's model (saves one model evaluation)
        start_x = np.zeros((templ.shape[0], 4 + templ.shape[1]))
        start_x[:, 1:3] = np.repeat(shapes, delay_grid.size, axis=0)
        start_x[:, 3] = np.tile(delay_grid, shapes.shape[0])
        start_x[:, 4:] = templ
        curves = np.ascontiguousarray(problem.curves, dtype=np.float64)
        n = curves.shape[0]
        out_p = np.empty((n, 4))
        out_sd = np.empty((n, 4))
        out_rss = np.empty(n)
        _fermi_fast.fermi_fit_batch(
            curves, t_rel, fine_aif, fine_dt, start_x, basis, templ_b, lo, hi, free, max_iter,
            self.fast_tol, out_p, out_sd, out_rss,
        )  # fmt: skip
        # back from (Fb, ln α, ln β, delay); sd(x) = x · sd(ln x) (delta method)
        out_p[:, 1:3] = np.exp(out_p[:, 1:3])
        out_sd[:, 1:3] *= out_p[:, 1:3]
        success = np.isfinite(out_rss) & np.all(np.isfinite(out_p), axis=1)
        return RawFit(out_p, out_sd, success, out_rss, float(np.count_nonzero(free)))

    def predict(self, params: dict[str, np.ndarray], problem: FitProblem) -> np.ndarray:
        from qperfusion.kinetics import _fermi_fast

        cols = [np.asarray(params[k], dtype=np.float64) for k in self.param_names]
        p = np.stack(np.broadcast_arrays(*cols), axis=-1).reshape(-1, 4).copy()
        with np.errstate(divide="ignore"):
            p[:, 1:3] = np.log(np.maximum(p[:, 1:3], 1e-300))
        out = np.empty((p.shape[0], problem.times.size))
        t_rel = np.ascontiguousarray(problem.times - problem.fine_t0)
        fine_aif, fine_dt = self._grid(problem)
        _fermi_fast.fermi_predict_batch(p, t_rel, fine_aif, fine_dt, out)
        return out


def _internal_bounds(bounds: dict[str, tuple[float, float]]) -> tuple[np.ndarray, np.ndarray]:
    """Bounds of the kernel's ``(Fb, ln α, ln β, delay)``."""
    names = FermiModel.param_names
    lo = np.array([bounds[k][0] for k in names], dtype=np.float64)
    hi = np.array([bounds[k][1] for k in names], dtype=np.float64)
    for i, k in ((1, "alpha"), (2, "beta")):
        if not hi[i] > 0:
            raise FitInputError(f"the upper bound of Fermi {k!r} must be > 0, got {hi[i]!r}")
        lo[i] = np.log(max(lo[i], 1e-300))
        hi[i] = np.log(hi[i])
    return lo, hi
