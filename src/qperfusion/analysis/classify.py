"""Segment classification from MPR and stress flow.

Rules (defaults; every threshold is an option of :class:`Thresholds`):

* ``abnormal``   — MPR < 1.5 (or, if ``stress_flow_abnormal`` is set, stress flow below it);
* ``borderline`` — MPR < 2.0, or stress flow < 2.0 mL/min/g;
* ``normal``     — otherwise;
* ``indeterminate`` — the values needed are missing (NaN) or there is no stress state.

The stress-flow threshold of 2.0 mL/min/g comes from the NIH BTEX work (maps validated against
PET). Which of a model's flows reads on that scale was measured on the real NIH stress patch
against its published map (benchmarks/flow_scale.py): blood flow (``mbf_ml_min_g``) for BTEX,
Fermi, model-free and 2CUM, plasma flow (``fp_ml_min_g``) for the 2CXM, whose blood flow reads
1.6× the map. The default ``flow="auto"`` takes each model's ``threshold_flow``
(:mod:`qperfusion.kinetics.base`); ``"fp"`` or ``"mbf"`` force one.
With a stress state only, segments are classified on stress flow alone (MPR rules skipped);
with a rest state only (or an unspecified state) nothing is classified.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace

import numpy as np

from qperfusion.errors import QPerfusionError

__all__ = [
    "AUTO_FLOW",
    "CLASSES",
    "FLOW_CONVENTIONS",
    "Thresholds",
    "classify_segment",
    "classify_segments",
]

#: Classification labels, least to most severe, then "indeterminate".
CLASSES: tuple[str, ...] = ("normal", "borderline", "abnormal", "indeterminate")

#: Registry of flow conventions for the stress-flow threshold:
#: name -> (segment key in the statistics, words for the report).
FLOW_CONVENTIONS: dict[str, tuple[str, str]] = {
    "fp": ("fp_ml_min_g", "plasma flow Fp = Fb·(1 − Hct)"),
    "mbf": ("mbf_ml_min_g", "blood flow Fb (MBF)"),
}


#: ``Thresholds.flow`` value that takes the kinetic model's own convention.
AUTO_FLOW = "auto"


@dataclass(frozen=True)
class Thresholds:
    """Classification thresholds.

    Attributes
    ----------
    mpr_abnormal : float
        MPR below this is abnormal (dimensionless).
    mpr_borderline : float
        MPR below this (and not abnormal) is borderline.
    stress_flow_borderline_ml_min_g : float
        Stress flow below this (mL/min/g) makes a segment at least borderline.
    stress_flow_abnormal_ml_min_g : float or None
        Stress flow below this is abnormal; None (default) disables the rule.
    flow : {"auto", "fp", "mbf"}
        Which flow the stress thresholds apply to: a key of :data:`FLOW_CONVENTIONS`, or
        ``"auto"`` (default) for the model's own (:meth:`for_model` resolves it).
    """

    mpr_abnormal: float = 1.5
    mpr_borderline: float = 2.0
    stress_flow_borderline_ml_min_g: float = 2.0
    stress_flow_abnormal_ml_min_g: float | None = None
    flow: str = AUTO_FLOW

    def __post_init__(self) -> None:
        if self.flow != AUTO_FLOW and self.flow not in FLOW_CONVENTIONS:
            raise QPerfusionError(
                f"unknown flow convention {self.flow!r}; choose one of "
                f"{[AUTO_FLOW, *sorted(FLOW_CONVENTIONS)]}"
            )
        if self.mpr_abnormal > self.mpr_borderline:
            raise QPerfusionError(
                f"mpr_abnormal ({self.mpr_abnormal}) must not exceed "
                f"mpr_borderline ({self.mpr_borderline})"
            )

    def for_model(self, model: str) -> Thresholds:
        """These thresholds with ``flow="auto"`` resolved to ``model``'s ``threshold_flow``."""
        if self.flow != AUTO_FLOW:
            return self
        from qperfusion.kinetics.registry import get_model

        return replace(self, flow=get_model(model).threshold_flow)

    @property
    def flow_key(self) -> str:
        """Segment statistic the stress-flow thresholds apply to (e.g. ``"fp_ml_min_g"``)."""
        return self._convention()[0]

    @property
    def flow_description(self) -> str:
        return self._convention()[1]

    def _convention(self) -> tuple[str, str]:
        if self.flow == AUTO_FLOW:
            raise QPerfusionError(
                'flow="auto" depends on the kinetic model: call Thresholds.for_model(model)'
            )
        return FLOW_CONVENTIONS[self.flow]

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def classify_segment(
    mpr: float | None, stress_flow: float | None, thresholds: Thresholds | None = None
) -> str:
    """Classify one segment.

    Parameters
    ----------
    mpr : float or None
        Stress/rest ratio; None when there is no rest state (stress-flow rules only).
    stress_flow : float or None
        Stress flow (mL/min/g) in the convention of ``thresholds.flow``; None without stress.
    thresholds : Thresholds, optional

    Returns
    -------
    {"normal", "borderline", "abnormal", "indeterminate"}
    """
    t = thresholds or Thresholds()
    if stress_flow is None:
        return "indeterminate"
    flow_ok = np.isfinite(stress_flow)
    if mpr is None:
        if not flow_ok:
            return "indeterminate"
    elif not (np.isfinite(mpr) and flow_ok):
        # a segment whose MPR is known but stress flow is not cannot happen; one with a
        # finite stress flow but NaN MPR (no rest pixels) falls back to the flow rules only
        if not flow_ok:
            return "indeterminate"
        mpr = None
    if mpr is not None and mpr < t.mpr_abnormal:
        return "abnormal"
    flow_abnormal = t.stress_flow_abnormal_ml_min_g
    if flow_abnormal is not None and stress_flow < flow_abnormal:
        return "abnormal"
    if mpr is not None and mpr < t.mpr_borderline:
        return "borderline"
    if stress_flow < t.stress_flow_borderline_ml_min_g:
        return "borderline"
    return "normal"


def classify_segments(
    mpr: Mapping[int, float] | None,
    stress_flow: Mapping[int, float] | None,
    thresholds: Thresholds | None = None,
    *,
    segments: tuple[int, ...] = tuple(range(1, 17)),
) -> dict[int, str]:
    """Classify every segment.

    Parameters
    ----------
    mpr : dict of int to float, or None
        Segment -> MPR; None when there is no rest state.
    stress_flow : dict of int to float, or None
        Segment -> stress flow (mL/min/g, convention ``thresholds.flow``); None without stress.
    thresholds : Thresholds, optional
    segments : tuple of int
        Segments to classify (AHA 1–16).

    Returns
    -------
    dict of int to str
    """
    out = {}
    for s in segments:
        m = None if mpr is None else float(mpr.get(s, np.nan))
        f = None if stress_flow is None else float(stress_flow.get(s, np.nan))
        out[s] = classify_segment(m, f, thresholds)
    return out
