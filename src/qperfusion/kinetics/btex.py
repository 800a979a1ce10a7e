"""Two-region, axially distributed blood–tissue exchange model (BTEX) without axial diffusion.

Equations along the capillary (normalised length ``x ∈ [0, 1]``, per mL of tissue)::

    vp ∂Cp/∂t = −Fp ∂Cp/∂x − PS (Cp − Ce)        Cp(0, t) = Ca(t − delay)
    ve ∂Ce/∂t =  PS (Cp − Ce)
    Ct(t)     =  vp ∫ Cp dx + ve ∫ Ce dx

with the plasma AIF ``Ca``. It is the model behind the NIH inline perfusion maps (JSim model 080;
Bassingthwaighte et al., Circ Res 1989;65:1105, doi:10.1161/01.RES.65.4.1105; Kellman et al.,
JCMR 2017;19:43, doi:10.1186/s12968-017-0355-5).

Solver: the outflow response of these PDEs is known in closed form (Sangren & Sheppard 1953): a
spike after the transit time ``Tc = vp/Fp`` plus a Poisson mixture of Gamma densities for
particles returning from the ISF. With mass balance ``Ct = Fp ∫ (Cin − Cout)`` the tissue curve
is exact except for one smooth convolution, done by exact bin masses on a grid of step ``step``
(second order; halving the default step changes curves by < 0.2 %). An independent Lagrangian
PDE solver (:func:`qperfusion.kinetics._btex_pde.btex_conc_pde`) agrees to ~1e-5.
See :mod:`qperfusion.kinetics._btex_solver`.

Fit: the curve shape depends only on (Tc, γ = PS/Fp, ki = PS/ve, delay) and scales linearly
with Fp at fixed shape, so a table of shapes for the given AIF is searched with the amplitude
solved in closed form; the best start of each table delay (3 by default) is refined by bounded
Levenberg–Marquardt and the best refinement kept (see :mod:`qperfusion.kinetics._btex_table`,
:mod:`qperfusion.kinetics._btex_fit`). ``fp`` and ``ps`` are per mL of tissue (mL/s/mL); the
engine reports ``fp_ml_min_g = fp·60/1.05`` and blood flow ``mbf_ml_min_g = fp/(1 − Hct)·60/1.05``.

How the NIH inline maps are made (the model we are compared with). Sources: the QPerf
release notes (github.com/xueh2/QPerf: ``gadgetron_QPerf_mapping`` takes the blood AIF, the
myocardial Gd images, the AIF foot, dt = 500 ms and hematocrit 0.42 and computes its own table;
the map is called MBF) and the NIH drivers of that binary in github.com/xueh2/matlab_mrrecon:
BTEX20 is solved numerically on ``xspan = 0:L/20:L`` (L = 0.1 cm, 20 segments) with axial
diffusion Dp = 1e-5, Disf = 1e-6 cm²/s; a table over Fp 0.1:0.15:6.0, PS 0.35:0.05:4.0
(mL/min/g), Vp 0.04:0.01:0.10, Visf 0.1:0.075:0.475 is searched, then refined locally
(max_iter = max_func_eval = 15) with a time shift ≤ 2.5 s; the tissue curve is
``Fp ∫ (Cin − Cout)`` as here (Xue et al., MRM 2020;83:712, doi:10.1002/mrm.27954). One driver
builds the table from the baseline-corrected blood AIF; another scales the AIF by 1/(1 − Hct)
first and multiplies the flow map by 1/(1 − Hct) after; a later one builds it from the plasma
AIF ``aif(foot+1:end) − aif(foot+1)`` and hands the binary the blood AIF and the hematocrit.
The flows agree: BTEX is homogeneous of degree one in (Fp, PS, vp, ve), so a fit to the blood
AIF ``(1 − Hct)·Cp`` returns every parameter divided by (1 − Hct).

Flow convention (benchmarks/btex_nih.py on the NIH stress ring, 442 pixels, map median 3.32):
NIH's map is numerically our ``fp / (1 − Hct)`` per mL of tissue — ``mbf_ml_min_g × 1.05``, as
NIH applies no tissue density — not our plasma ``fp``, which reads 0.52–0.57 of the map with
the same pixel ranks. (The 2CXM's plasma Fp lands near the map only because its mixed plasma
space reads ~2× the Fp of BTEX on the same curve; benchmarks/btex_crossfit.py.) With NIH's
published conventions — their inputs (:func:`nih_inputs`), their table grid as bounds on the
plasma-AIF parameters (:data:`NIH_BOUNDS`) and their 20-segment capillary (``segments=20``,
:mod:`qperfusion.kinetics._btex_segments`) — ``fp / (1 − Hct)`` reads the map at 0.98, Pearson
0.83, Spearman 0.84 (tests/kinetics/test_btex_fit.py). One at a time, against the product's
defaults with baselines removed (0.89, Pearson 0.67): the grid bounds on the plasma-AIF
parameters bring the correlation (0.88, Pearson 0.80; taken on the blood-AIF parameters, i.e.
vp ≤ 0.1 blood = 0.058 plasma, they read 1.31 with 29 % of pixels at the flow ceiling the map
never reaches); the 20 segments +4–5 %; NIH's table AIF, which starts at the ``foot`` frame with
its value there (already on the upslope, 4 % of the peak) subtracted, +6 %. The delay range,
the fit window (foot + 2 FWHM … whole curve), the AIF interpolation and 1 s sampling move the
median by ≤ 2 %; NIH's own search (nearest grid entry, 15 Nelder–Mead evaluations) reads 1.01
with Pearson 0.78. The NIH rest ring's endocardial edge holds LV blood (peaks with the AIF at
~3× the ring's enhancement); those pixels fit as Fp at its bound. The published map is stored
left–right flipped with respect to the data arrays. On noise-free stress-like 2CXM curves BTEX
returns 0.60–0.73 of the true Fp (benchmarks/btex_crossfit.py); a 2CXM-made phantom therefore
reads low through BTEX.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from qperfusion.errors import FitInputError
from qperfusion.kinetics._btex_fit import lm_batch
from qperfusion.kinetics._btex_segments import (
    lm_batch_segments,
    segment_curves_batch,
    segment_nodes,
)
from qperfusion.kinetics._btex_solver import btex_curves_batch
from qperfusion.kinetics._btex_table import table_start
from qperfusion.kinetics.base import FitProblem, KineticModel, RawFit

__all__ = ["NIH_BOUNDS", "NIH_SEGMENTS", "BTEX20Model", "BTEXModel", "btex_conc", "nih_inputs"]

PARAM_NAMES: tuple[str, ...] = ("fp", "ps", "vp", "ve", "delay")
# scaled fitting units: every coordinate O(1) (flows in mL/min/mL, volumes in tenths)
_SCALE = np.array([1 / 60, 1 / 60, 0.1, 0.1, 1.0])
_STEP_RANGE_S = (0.05, 1.0)
_OPTIONS = ("step", "max_iter", "table", "n_starts", "segments")

#: NIH's BTEX look-up-table grid as bounds (internal units): Fp 0.1–6.0 and PS 0.35–4.0
#: mL/min/mL, Vp 0.04–0.10, Visf 0.1–0.475, time shift ≤ 2.5 s (xueh2/matlab_mrrecon driver of
#: gadgetron_QPerf_mapping). Plasma space: NIH's research scripts scale the blood AIF by
#: 1/(1 − Hct) before building the table (and the binary takes the hematocrit), so the grid
#: bounds the plasma-AIF parameters, as ours. On the NIH stress ring these bounds raise the
#: pixel-wise correlation with the published map (Pearson 0.67 → 0.80) without moving the median.
NIH_BOUNDS: dict[str, tuple[float, float]] = {
    "fp": (0.1 / 60, 6.0 / 60),
    "ps": (0.35 / 60, 4.0 / 60),
    "vp": (0.04, 0.10),
    "ve": (0.10, 0.475),
    "delay": (0.0, 2.5),
}
#: Capillary segments of NIH's BTEX20 grid (``xspan = 0:L/20:L``), for the ``segments`` option.
NIH_SEGMENTS = 20


def default_step(times: np.ndarray) -> float:
    """Quadrature step (s) of the ISF-return convolution: the shortest frame spacing, clipped."""
    spacing = float(np.min(np.diff(times))) if times.size > 1 else 1.0
    return float(np.clip(spacing, *_STEP_RANGE_S))


def btex_conc(
    t: np.ndarray,
    aif: np.ndarray,
    *,
    fp: np.ndarray | float,
    ps: np.ndarray | float,
    vp: np.ndarray | float,
    ve: np.ndarray | float,
    delay: np.ndarray | float = 0.0,
    step: float | None = None,
) -> np.ndarray:
    """Tissue concentration of the BTEX model for a plasma AIF.

    The AIF is taken as linear between its samples (0 before ``t[0]``, held after ``t[-1]``).

    Parameters
    ----------
    t : ndarray of shape (T,)
        Strictly increasing sample times (s), possibly uneven.
    aif : ndarray of shape (T,)
        Plasma concentration (mmol/L) sampled at ``t``.
    fp, ps : float or ndarray
        Plasma flow and permeability-surface product (mL/s/mL).
    vp, ve : float or ndarray
        Plasma and interstitial volume fractions.
    delay : float or ndarray
        Bolus arrival delay of the tissue after the AIF (s).
    step : float, optional
        Quadrature step (s) of the ISF-return convolution; default the shortest frame spacing
        (clipped to 0.05–1 s). Error is second order in ``step``.

    Returns
    -------
    ndarray of shape broadcast(fp, ps, vp, ve, delay).shape + (T,)
        Tissue concentration (mmol/L).
    """
    t = np.ascontiguousarray(t, dtype=np.float64)
    aif = np.ascontiguousarray(aif, dtype=np.float64)
    if t.ndim != 1 or aif.shape != t.shape or t.size < 2:
        raise FitInputError(
            f"t and aif must be 1-D of equal length ≥ 2, got {t.shape}, {aif.shape}"
        )
    if np.any(np.diff(t) <= 0):
        raise FitInputError("t must be strictly increasing; sort the frames by acquisition time")
    h = default_step(t) if step is None else float(step)
    arrays = np.broadcast_arrays(
        *(np.asarray(v, dtype=np.float64) for v in (fp, ps, vp, ve, delay))
    )
    shape = arrays[0].shape
    params = np.ascontiguousarray(np.stack([a.ravel() for a in arrays], axis=-1))
    return btex_curves_batch(params, t, t, aif, h).reshape(*shape, t.size)


def nih_inputs(
    curves: np.ndarray, aif: np.ndarray, times: np.ndarray, foot: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tissue curves, AIF and times prepared as NIH's pipeline prepares them for its BTEX table.

    To reproduce NIH's inline maps, not a neutral choice: NIH removes the mean of the ``foot``
    pre-bolus frames from the AIF, keeps the frames from ``foot`` on, and builds its table from
    that AIF minus its first value (``aif(foot+1:end) − aif(foot+1)`` in the MATLAB driver of
    github.com/xueh2/matlab_mrrecon, where ``foot = N − NUsed`` counts the pre-bolus frames).
    Where the first kept frame is already on the upslope this lowers the whole AIF by that
    value (4 % of the peak on the NIH stress example) and raises the flow: on the NIH stress
    ring, with ``bounds=NIH_BOUNDS, segments=NIH_SEGMENTS``, the map is read at 0.98 instead of
    0.92 (benchmarks/btex_nih.py). The tissue gets the same pre-bolus mean removed and the
    same frames kept.

    Parameters
    ----------
    curves : ndarray of shape (n, T)
        Tissue concentration (mmol/L).
    aif : ndarray of shape (T,)
        Blood AIF (mmol/L) at the same frames.
    times : ndarray of shape (T,)
        Frame times (s).
    foot : int
        NIH's ``foot``: the number of pre-bolus frames, i.e. the 0-based index of the first
        frame kept (the ``foot`` stored with the NIH QPerf examples and passed to their binary).

    Returns
    -------
    curves : ndarray of shape (n, T − foot)
    aif : ndarray of shape (T − foot,)
    times : ndarray of shape (T − foot,)
    """
    curves = np.asarray(curves, dtype=np.float64)
    aif = np.asarray(aif, dtype=np.float64).ravel()
    times = np.asarray(times, dtype=np.float64).ravel()
    if curves.ndim != 2 or curves.shape[1] != aif.size or times.size != aif.size:
        raise FitInputError(
            f"nih_inputs needs curves (n, T), aif (T,) and times (T,), got {curves.shape}, "
            f"{aif.shape}, {times.shape}"
        )
    if not 1 <= int(foot) <= aif.size - 3:
        raise FitInputError(
            f"foot must count the pre-bolus frames (1 … {aif.size - 3}), got {foot!r}"
        )
    k = int(foot)
    tissue = curves[:, k:] - curves[:, :k].mean(axis=1, keepdims=True)
    cin = aif[k:] - aif[:k].mean()
    return tissue, cin - cin[0], times[k:].copy()


class BTEXModel(KineticModel):
    """BTEX model for the fitting engine (plasma AIF; parameters fp, ps, vp, ve, delay).

    Options of ``fit_batch``: ``step`` (s, quadrature step, default the shortest frame
    spacing), ``max_iter`` (Levenberg–Marquardt iterations, default 30), ``table`` (bool,
    start from the nearest table curves, default True; False starts every curve at the middle
    of the bounds), ``n_starts`` (refine the ``n_starts`` nearest table curves and keep the
    best, default 3: the likelihood has separate minima along the Fp–delay–vp valley),
    ``segments`` (int ≥ 1 or None, default None: the capillary as that many well-mixed
    segments in series instead of plug flow — 20 (``NIH_SEGMENTS``) is NIH's BTEX20 grid, see
    :mod:`qperfusion.kinetics._btex_segments`; ~7× slower than plug flow).

    NIH-equivalent configuration: inputs from :func:`nih_inputs`, ``bounds=NIH_BOUNDS,
    segments=NIH_SEGMENTS``; NIH's flow map is then numerically ``fp / (1 − Hct)`` per mL of
    tissue (``mbf_ml_min_g × 1.05``), not ``fp``.
    """

    name: ClassVar[str] = "btex"
    #: capillary segments when the caller gives no ``segments`` option (None: plug flow)
    default_segments: ClassVar[int | None] = None
    param_names: ClassVar[tuple[str, ...]] = PARAM_NAMES
    param_units: ClassVar[dict[str, str]] = {
        "fp": "mL/s/mL",
        "ps": "mL/s/mL",
        "vp": "fraction",
        "ve": "fraction",
        "delay": "s",
    }
    # NIH's table grid (NIH_BOUNDS) bounds the fit: vp ≥ 0.04, ve ≥ 0.1 and PS ≥ 0.35 mL/min/mL
    # keep it off the branches where Fp is not identified. Measured against the previous
    # bounds (Fp 0.05–6, PS 0.05–3 mL/min/mL, vp 0.02–0.10, ve 0.05–0.50): on the NIH stress
    # ring Pearson with the published map 0.67 → 0.80 at the same median
    # (benchmarks/btex_nih.py); on the 2CXM phantom at rest +452 % (Fp run up to its bound,
    # no ischemic territory found) → −32 %, the structural plug-flow vs mixed-plasma gap; on
    # the BTEX phantom rest 5.3 → 3.7 % median error (benchmarks/phantom_models.py btex-nihb).
    default_bounds: ClassVar[dict[str, tuple[float, float]]] = dict(NIH_BOUNDS)
    aif_kind: ClassVar[str] = "plasma"
    flow_param: ClassVar[str | None] = "fp"
    reference: ClassVar[str] = (
        "Bassingthwaighte et al., Circ Res 1989;65:1105, doi:10.1161/01.RES.65.4.1105; "
        "Kellman et al., JCMR 2017;19:43, doi:10.1186/s12968-017-0355-5"
    )

    @staticmethod
    def _input(problem: FitProblem) -> tuple[np.ndarray, np.ndarray]:
        if problem.fine_aif is not None and problem.fine_aif.size > 1:
            t_in = np.ascontiguousarray(problem.fine_times, dtype=np.float64)
            return t_in, np.ascontiguousarray(problem.fine_aif, dtype=np.float64)
        return (
            np.ascontiguousarray(problem.times, dtype=np.float64),
            np.ascontiguousarray(problem.aif, dtype=np.float64),
        )

    def fit_batch(
        self, problem: FitProblem, bounds: dict[str, tuple[float, float]], **options: Any
    ) -> RawFit:
        """Table search + bounded LM for every curve of ``problem`` (see the class docstring)."""
        unknown = sorted(set(options) - set(_OPTIONS))
        if unknown:
            raise FitInputError(
                f"unknown btex option(s) {', '.join(unknown)}; valid: {', '.join(_OPTIONS)}"
            )
        out_t = np.ascontiguousarray(problem.times, dtype=np.float64)
        t_in, cin = self._input(problem)
        h = default_step(out_t) if options.get("step") is None else float(options["step"])
        max_iter = int(options.get("max_iter", 30))
        lo = np.array([bounds[k][0] for k in PARAM_NAMES], dtype=np.float64)
        hi = np.array([bounds[k][1] for k in PARAM_NAMES], dtype=np.float64)
        if np.any(hi < lo):
            raise FitInputError(f"btex bounds have low > high: {bounds}")
        curves = np.ascontiguousarray(problem.curves, dtype=np.float64)
        n = curves.shape[0]
        segments = options.get("segments", self.default_segments)
        mix = None
        if segments is not None:
            if int(segments) != segments or segments < 1:
                raise FitInputError(
                    f"btex option segments must be an integer ≥ 1 (or None), got {segments!r}"
                )
            mix = segment_nodes(int(segments))
        if options.get("table", True):
            n_starts = int(options.get("n_starts", 3))
            start = table_start(curves, out_t, t_in, cin, h, lo, hi, n_starts, mix)
        else:
            start = np.broadcast_to(0.5 * (lo + hi), (n, 1, len(PARAM_NAMES)))
        k = start.shape[1]
        args = (
            np.repeat(curves, k, axis=0),
            np.ascontiguousarray(start.reshape(-1, 5) / _SCALE),
            lo / _SCALE,
            hi / _SCALE,
            _SCALE,
            out_t,
            t_in,
            cin,
            h,
            max_iter,
        )
        if mix is None:
            params, sd, rss, _n_iter, ok = lm_batch(*args)
        else:
            params, sd, rss, _n_iter, ok = lm_batch_segments(*args, mix)
        # keep the best of the k refinements of each curve
        rss_k = np.where(ok, rss, np.inf).reshape(n, k)
        best = np.argmin(rss_k, axis=1) + k * np.arange(n)
        return RawFit(
            params=params[best],
            sd=sd[best],
            success=ok[best],
            rss=rss[best],
            n_free=float(np.count_nonzero(hi > lo)),
            # predict() needs the capillary model the curves were fitted with
            extra={} if mix is None else {"segments": np.full(n, float(segments))},
        )

    def predict(self, params: dict[str, np.ndarray], problem: FitProblem) -> np.ndarray:
        """Model curves ``(n, T)`` (mmol/L) at ``problem.times``."""
        out_t = np.ascontiguousarray(problem.times, dtype=np.float64)
        t_in, cin = self._input(problem)
        cols = np.broadcast_arrays(*(np.asarray(params[k], dtype=np.float64) for k in PARAM_NAMES))
        p = np.ascontiguousarray(np.stack([c.ravel() for c in cols], axis=-1))
        segments = np.asarray(params.get("segments", 0.0), dtype=np.float64)
        n_seg = int(np.nanmax(segments)) if segments.size and np.any(segments >= 1) else 0
        if n_seg >= 1:
            mix = segment_nodes(n_seg)
            return segment_curves_batch(p, out_t, t_in, cin, default_step(out_t), mix)
        return btex_curves_batch(p, out_t, t_in, cin, default_step(out_t))


class BTEX20Model(BTEXModel):
    """BTEX with NIH's 20-segment capillary (``segments=NIH_SEGMENTS`` by default): the model of
    the NIH inline maps, ~7× slower than plug flow; on the NIH stress ring its blood flow reads
    the published map at 0.92 (0.98 with :func:`nih_inputs`), plug flow at 0.88."""

    name: ClassVar[str] = "btex20"
    default_segments: ClassVar[int | None] = NIH_SEGMENTS

