"""The contract between the fitting engine and one kinetic model (how a model plugs in).

A model is one module under ``kinetics/`` holding one subclass of :class:`KineticModel`
and its pure forward function(s). To plug a model in:

1. Subclass :class:`KineticModel` and set the class attributes

   ``name``            registry key, e.g. ``"btex"``.
   ``param_names``     tuple of parameter names in the order of the columns of
                       :attr:`RawFit.params`. Use the package names where they apply:
                       ``fp, ps`` (mL/s/mL), ``fb`` (blood flow, mL/s/mL), ``vp, ve, vb``
                       (fractions), ``ktrans`` (1/s), ``delay`` (s). Include ``"delay"`` if the
                       model fits a bolus delay.
   ``param_units``     dict name -> unit string (internal units, e.g. ``"mL/s/mL"``).
   ``default_bounds``  dict name -> ``(low, high)`` in internal units; the user may override
                       any of them with ``kinetics.fit(..., bounds={...})``.
   ``aif_kind``        ``"blood"`` or ``"plasma"``: which AIF the equations take. The engine
                       converts the user's blood AIF (plasma = blood / (1 − Hct)) and
                       resamples it before calling the model.
   ``flow_param``      name of the parameter that is the flow *of the AIF's kind*
                       (``"fb"`` for a blood AIF, ``"fp"`` for a plasma AIF), or ``None`` for
                       models without a flow (their MBF is NaN).
   ``reference``       the paper and DOI.
   ``threshold_flow``  optional, default ``"mbf"``: which of the model's flows reads on the
                       scale of the NIH BTEX maps (validated against PET) that the published
                       stress-flow threshold of 2.0 mL/min/g comes from — ``"mbf"`` (blood
                       flow) or ``"fp"`` (plasma flow). The classification uses it unless the
                       user picks a convention (``Thresholds(flow=...)``).

2. Implement the batched entry point

   ``fit_batch(self, problem: FitProblem, bounds: dict[str, tuple[float, float]],
   **options) -> RawFit``

   ``problem`` holds the curves ``(n, T)`` (finite; bad curves are removed by the engine),
   the times, the AIF of ``aif_kind`` and a uniform fine grid with a smooth (cubic) AIF on it
   (see :class:`FitProblem`). Return a :class:`RawFit` with ``params`` and ``sd`` of shape
   ``(n, len(param_names))`` in internal units, ``success`` ``(n,)`` bool, ``rss`` ``(n,)``
   (sum of squared residuals, (mmol/L)²) and ``n_free`` (number of fitted parameters, for the
   AIC). A curve that cannot be fitted gives NaN rows and ``success=False``; never raise for it.
   Unknown ``options`` keywords must raise :class:`~qperfusion.errors.FitInputError`.

3. Implement ``predict(self, params: dict[str, ndarray], problem: FitProblem) -> ndarray``
   returning model curves ``(n, T)`` (mmol/L) at ``problem.times`` for parameter arrays
   ``(n,)``.

4. Add one line to ``_REGISTRY`` in ``kinetics/registry.py``:
   ``"btex": "qperfusion.kinetics.btex:BTEXModel"``. The model is then in
   ``kinetics.MODELS``, reachable by ``kinetics.fit("btex", ...)``, and the parametrised contract
   test in ``tests/kinetics/test_contract.py`` runs on it.

The engine (:func:`qperfusion.kinetics.fit`) does the rest: input checks, AIF resampling and
hematocrit conversion, NaN rows for bad curves, MBF/Fp in mL/min/g, AIC, and the
:class:`~qperfusion.kinetics.result.KineticFit` result.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np

__all__ = ["FitProblem", "KineticModel", "RawFit"]

AifKind = Literal["blood", "plasma"]


@dataclass(frozen=True)
class FitProblem:
    """Everything a model needs to fit a batch of curves (built by the engine).

    Attributes
    ----------
    curves : ndarray of shape (n, T)
        Tissue concentration (mmol/L), finite, C-contiguous float64.
    times : ndarray of shape (T,)
        Tissue sample times (s), strictly increasing, possibly uneven.
    aif : ndarray of shape (T,)
        AIF of the model's ``aif_kind`` (mmol/L) at ``times``.
    fine_t0 : float
        Start of the uniform fine grid (s); equals ``times[0]``.
    fine_dt : float
        Step of the fine grid (s).
    fine_aif : ndarray of shape (G,)
        AIF (mmol/L) at ``fine_t0 + fine_dt * arange(G)``, interpolated from the samples with
        the chosen scheme (cubic by default, which removes the bias of treating the AIF as
        piecewise linear between heartbeats). It covers ``times[-1]`` plus the largest negative
        delay; it is 0 before ``times[0]`` and held at its last value past the end.
    hematocrit : float
        Large-vessel hematocrit used to convert the AIF (fraction).
    aif_kind : {"blood", "plasma"}
        Which AIF ``aif`` and ``fine_aif`` are.
    """

    curves: np.ndarray
    times: np.ndarray
    aif: np.ndarray
    fine_t0: float
    fine_dt: float
    fine_aif: np.ndarray
    hematocrit: float
    aif_kind: AifKind

    @property
    def n_curves(self) -> int:
        return int(self.curves.shape[0])

    @property
    def fine_times(self) -> np.ndarray:
        """Fine-grid times (s), shape (G,)."""
        return self.fine_t0 + self.fine_dt * np.arange(self.fine_aif.size)

    def with_curves(self, curves: np.ndarray) -> FitProblem:
        """The same problem for other curves ``(n, T)``."""
        return FitProblem(
            np.ascontiguousarray(curves, dtype=np.float64),
            self.times,
            self.aif,
            self.fine_t0,
            self.fine_dt,
            self.fine_aif,
            self.hematocrit,
            self.aif_kind,
        )


@dataclass(frozen=True)
class RawFit:
    """What a model's ``fit_batch`` returns; the engine wraps it into a KineticFit.

    Attributes
    ----------
    params, sd : ndarray of shape (n, P)
        Estimates and their standard deviations, columns in ``param_names`` order, internal
        units; NaN rows where the fit failed.
    success : ndarray of shape (n,), bool
    rss : ndarray of shape (n,)
        Residual sum of squares ((mmol/L)²).
    n_free : float
        Number of fitted parameters (effective degrees of freedom for regularised fits).
    extra : dict of str -> ndarray of shape (n, ...), optional
        Further per-curve arrays the model's ``predict`` needs besides ``params`` (e.g. the
        impulse response of the model-free deconvolution); the engine keeps them in
        ``KineticFit.extra`` (NaN rows for bad curves) and passes them to ``predict`` inside
        ``params``.
    """

    params: np.ndarray
    sd: np.ndarray
    success: np.ndarray
    rss: np.ndarray
    n_free: float
    extra: dict[str, np.ndarray] = field(default_factory=dict)


class KineticModel(ABC):
    """Base class of every kinetic model; see the module docstring for the contract."""

    name: ClassVar[str]
    param_names: ClassVar[tuple[str, ...]]
    param_units: ClassVar[dict[str, str]]
    default_bounds: ClassVar[dict[str, tuple[float, float]]]
    aif_kind: ClassVar[AifKind]
    flow_param: ClassVar[str | None]
    reference: ClassVar[str]
    #: flow on the NIH-map scale of the stress threshold (see the module docstring). Measured on
    #: the NIH stress patch against its published map, pixel medians of blood flow per mL
    #: (benchmarks/flow_scale.py): Fermi 0.97, BTEX 0.88, model-free 0.86, 2CUM 1.20 — and
    #: 2CXM 1.58, whose plasma flow reads 0.91 instead (so 2CXM sets "fp").
    threshold_flow: ClassVar[str] = "mbf"

    @abstractmethod
    def fit_batch(
        self, problem: FitProblem, bounds: dict[str, tuple[float, float]], **options: Any
    ) -> RawFit:
        """Fit every curve of ``problem``; see the module docstring."""

    @abstractmethod
    def predict(self, params: dict[str, np.ndarray], problem: FitProblem) -> np.ndarray:
        """Model curves ``(n, T)`` (mmol/L) at ``problem.times`` for parameters ``(n,)``."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"
