"""QC flags found by the analysis stage, and collection of the flags from every stage."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from qperfusion.analysis.segments import SegmentStatistics
from qperfusion.qc import QCFlag

__all__ = ["SEVERITY_ORDER", "collect_qc", "mpr_flags", "segment_flags"]

#: Severity -> sort rank (most severe first).
SEVERITY_ORDER: dict[str, int] = {"error": 0, "warning": 1, "info": 2}

#: Fewer finite pixels than this in a segment: its statistic is not reliable.
MIN_VALID_PIXELS = 10
#: A segment whose fitted fraction is below this has many failed fits.
MIN_VALID_FRACTION = 0.5
#: Physiological range of myocardial blood flow (mL/min/g) outside which a segment is suspect:
#: rest ~0.5–1.5, hyperaemia up to ~5–6 (PET, e.g. Murthy et al. JNM 2018;59:273,
#: doi:10.2967/jnumed.117.201368); wider bounds leave room for the model spread.
MBF_RANGE_ML_MIN_G = (0.2, 8.0)


def collect_qc(*groups: Iterable[QCFlag]) -> list[QCFlag]:
    """Merge flags from several stages: duplicates dropped, most severe first, order kept otherwise.

    Parameters
    ----------
    *groups : iterables of QCFlag

    Returns
    -------
    list of QCFlag
    """
    seen: set[tuple[str, str, str]] = set()
    out: list[QCFlag] = []
    for group in groups:
        for f in group:
            key = (f.code, f.severity, f.message)
            if key not in seen:
                seen.add(key)
                out.append(f)
    return sorted(out, key=lambda f: SEVERITY_ORDER.get(f.severity, 3))


def segment_flags(
    stats: SegmentStatistics, state: str, *, flow_key: str = "mbf_ml_min_g"
) -> list[QCFlag]:
    """Flags about one state's segments: missing, few fitted pixels, implausible flow.

    Parameters
    ----------
    stats : SegmentStatistics
    state : str
        ``"stress"``, ``"rest"`` or ``"unspecified"`` (used in the messages).
    flow_key : str
        Statistic checked against the physiological range (mL/min/g).

    Returns
    -------
    list of QCFlag
    """
    flags: list[QCFlag] = []
    missing = [s for s, d in stats.segments.items() if d["n_pixels"] == 0]
    if missing:
        flags.append(QCFlag(
            "SEGMENT_MISSING", "warning",
            f"{state}: segment(s) {_join(missing)} have no myocardial pixels (not covered by "
            "the slices or the segmentation); they have no value.", "analysis"))
    few = [
        s for s, d in stats.segments.items()
        if d["n_pixels"] > 0 and (
            d["n_valid"] < MIN_VALID_PIXELS or d["n_valid"] < MIN_VALID_FRACTION * d["n_pixels"]
        )
    ]
    if few:
        flags.append(QCFlag(
            "SEGMENT_FEW_VALID_PIXELS", "warning",
            f"{state}: segment(s) {_join(few)} have fewer than {MIN_VALID_PIXELS} or under "
            f"{MIN_VALID_FRACTION:.0%} successfully fitted pixels; their values are uncertain.",
            "analysis"))
    lo, hi = MBF_RANGE_ML_MIN_G
    odd = [
        s for s, d in stats.segments.items()
        if np.isfinite(v := float(d.get(flow_key, np.nan))) and not lo <= v <= hi
    ]
    if odd:
        flags.append(QCFlag(
            "MBF_IMPLAUSIBLE", "warning",
            f"{state}: segment(s) {_join(odd)} have flow outside {lo}–{hi} mL/min/g; check "
            "the AIF, motion correction and segmentation there.", "analysis"))
    return flags


def mpr_flags(global_mpr: float) -> list[QCFlag]:
    """Flags about the global MPR (stress not above rest suggests a failed stress)."""
    if np.isfinite(global_mpr) and global_mpr < 1.0:
        return [QCFlag(
            "STRESS_NOT_ABOVE_REST", "warning",
            f"Global MPR is {global_mpr:.2f} (< 1): stress flow is not above rest flow. Check "
            "that the vasodilator worked (caffeine, heart-rate response) and that the stress "
            "and rest series were not swapped.", "analysis")]
    return []


def _join(segments: list[int]) -> str:
    return ", ".join(str(s) for s in segments)
