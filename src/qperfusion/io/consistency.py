"""Stress/rest protocol consistency: MPR needs both states measured the same way.

A different saturation delay, flip angle, TR, readout, matrix or field between stress and
rest changes the signal-to-Gd conversion of one state and not the other, which biases MPR;
each difference becomes a ``PROTOCOL_MISMATCH`` QC warning with both values.
"""

from __future__ import annotations

import math

from qperfusion.io.model import PerfusionSeries, Study
from qperfusion.qc import QCFlag

__all__ = ["protocol_mismatches"]

# (label, getter, absolute tolerance or None for exact match)
_CHECKS = (
    ("readout", lambda s: s.sequence.readout, None, ""),
    ("saturation delay TD", lambda s: s.sequence.td_s * 1000, 0.5, " ms"),
    ("TR", lambda s: s.sequence.tr_s * 1000, 0.05, " ms"),
    ("TE", lambda s: s.sequence.te_s[0] * 1000 if s.sequence.te_s else math.nan, 0.05, " ms"),
    ("flip angle", lambda s: s.sequence.flip_deg, 0.5, "°"),
    ("PD flip angle", lambda s: s.sequence.pd_flip_deg, 0.5, "°"),
    ("phase-encoding lines", lambda s: s.sequence.n_pe_lines, None, ""),
    ("lines to k-space centre", lambda s: s.sequence.lines_to_center, None, ""),
    ("PE ordering", lambda s: s.sequence.ordering, None, ""),
    ("field", lambda s: s.sequence.field_t, 0.05, " T"),
    ("contrast agent", lambda s: s.sequence.agent, None, ""),
    ("matrix", lambda s: s.matrix, None, ""),
    ("pixel spacing", lambda s: tuple(round(v, 2) for v in s.pixel_spacing_mm), None, " mm"),
    ("slices", lambda s: s.n_slices, None, ""),
)


def _same(a: object, b: object, tol: float | None) -> bool:
    if tol is None:
        return a == b
    fa, fb = float(a), float(b)  # type: ignore[arg-type]
    if math.isnan(fa) and math.isnan(fb):
        return True
    return abs(fa - fb) <= tol


def _fmt(v: object) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _compare(role: str, a: PerfusionSeries, b: PerfusionSeries) -> list[QCFlag]:
    out = []
    for label, get, tol, unit in _CHECKS:
        va, vb = get(a), get(b)
        if not _same(va, vb, tol):
            out.append(QCFlag(
                "PROTOCOL_MISMATCH", "warning",
                f"{role} {label} differs between stress ({_fmt(va)}{unit}) and rest "
                f"({_fmt(vb)}{unit}): the two states are not measured alike, MPR may be biased",
                "io"))
    return out


def protocol_mismatches(study: Study) -> list[QCFlag]:
    """QC warnings for every sequence parameter that differs between stress and rest.

    Parameters
    ----------
    study : Study
        Needs both ``stress`` and ``rest``; returns [] otherwise.
    """
    if "stress" not in study.acquisitions or "rest" not in study.acquisitions:
        return []
    s, r = study["stress"], study["rest"]
    flags = _compare("myocardium", s.myocardium, r.myocardium)
    if s.aif is not None and r.aif is not None:
        flags += _compare("AIF", s.aif, r.aif)
    elif (s.aif is None) != (r.aif is None):
        which = "stress" if s.aif is None else "rest"
        flags.append(QCFlag("PROTOCOL_MISMATCH", "warning",
                            f"only {'rest' if which == 'stress' else 'stress'} has an AIF series "
                            f"({which} has none): the AIFs are measured differently", "io"))
    return flags
