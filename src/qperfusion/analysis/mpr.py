"""Myocardial perfusion reserve: MPR = stress MBF / rest MBF.

MPR is the same whether blood flow (Fb) or plasma flow (Fp = Fb·(1 − Hct)) is used, as long
as both states share the hematocrit. Stress and rest images are not registered to each
other, so MPR is formed per segment and globally from the segment/global statistics, never
pixel by pixel. The global MPR is the ratio of the global stress and rest values (each a
statistic over all myocardial pixels), not the median of the 16 segment ratios.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = ["mpr", "segment_mpr"]


def mpr(stress: float, rest: float) -> float:
    """Stress / rest flow ratio; NaN unless both are finite and rest > 0.

    Parameters
    ----------
    stress, rest : float
        Flows in the same unit (e.g. mL/min/g).

    Returns
    -------
    float
        Dimensionless ratio.
    """
    s, r = float(stress), float(rest)
    if not (np.isfinite(s) and np.isfinite(r)) or r <= 0.0:
        return float("nan")
    return s / r


def segment_mpr(
    stress: Mapping[int, float], rest: Mapping[int, float]
) -> dict[int, float]:
    """MPR of every segment present in ``stress`` (NaN where ``rest`` lacks it).

    Parameters
    ----------
    stress, rest : dict of int to float
        Segment -> flow (same unit in both).

    Returns
    -------
    dict of int to float
    """
    return {s: mpr(v, rest.get(s, float("nan"))) for s, v in stress.items()}
