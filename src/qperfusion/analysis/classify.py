"""Segment classification from MPR and stress flow.

Rules (defaults; every threshold is an option of :class:`Thresholds`):

* ``abnormal``   — MPR < 1.5 (or, if ``stress_flow_abnormal`` is set, stress flow below it);
* ``borderline`` — MPR < 2.0, or stress flow < 2.0 mL/min/g;
* ``normal``     — otherwise;
* ``indeterminate`` — the values needed are missing (NaN) or there is no stress state.

The stress-flow threshold of 2.0 mL/min/g comes from the NIH BTEX work whose maps are
numerically plasma flow (see validation/README.md and DESIGN.md "Flow convention"), so by
default it is compared with **Fp** (``fp_ml_min_g``); ``flow="mbf"`` compares blood flow.
With a stress state only, segments are classified on stress flow alone (MPR rules skipped);
with a rest state only (or an unspecified state) nothing is classified.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np

from qperfusion.errors import QPerfusionError

__all__ = [
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
    flow : {"fp", "mbf"}
        Which flow the stress thresholds apply to (a key of :data:`FLOW_CONVENTIONS`).
    """

    mpr_abnormal: float = 1.5
    mpr_borderline: float = 2.0
    stress_flow_borderline_ml_min_g: float = 2.0
    stress_flow_abnormal_ml_min_g: float | None = None
    flow: str = "fp"

    def __post_init__(self) -> None:
        if self.flow not in FLOW_CONVENTIONS:
            raise QPerfusionError(
                f"unknown flow convention {self.flow!r}; choose one of {sorted(FLOW_CONVENTIONS)}"
            )
        if self.mpr_abnormal > self.mpr_borderline:
            raise QPerfusionError(
                f"mpr_abnormal ({self.mpr_abnormal}) must not exceed "
                f"mpr_borderline ({self.mpr_borderline})"
            )

    @property
    def flow_key(self) -> str:
        """Segment statistic the stress-flow thresholds apply to (e.g. ``"fp_ml_min_g"``)."""
        return FLOW_CONVENTIONS[self.flow][0]

    @property
    def flow_description(self) -> str:
        return FLOW_CONVENTIONS[self.flow][1]

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
