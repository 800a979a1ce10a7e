"""A study in words and in the ``qperfusion info --json`` shape of DESIGN.md."""

from __future__ import annotations

import math
from typing import Any

from qperfusion.io.model import PerfusionSeries, Study
from qperfusion.qc import QCFlag

__all__ = ["format_summary", "study_summary"]


def _num(value: float, digits: int = 4) -> float | None:
    v = float(value)
    return None if not math.isfinite(v) else round(v, digits)


def _myocardium(s: PerfusionSeries) -> dict[str, Any]:
    q = s.sequence
    return {
        "n_slices": s.n_slices,
        "n_frames": s.n_frames,
        "pd_frames": s.pd_frames,
        "time_source": s.time_source,
        "rr_s": _num(s.rr_s),
        "readout": q.readout,
        "td_ms": _num(q.td_s * 1000.0, 3),
        "tr_ms": _num(q.tr_s * 1000.0, 4),
        "te_ms": _num(q.te_s[0] * 1000.0, 4) if q.te_s else None,
        "flip_deg": _num(q.flip_deg, 3),
        "field_t": _num(q.field_t, 4),
        "agent": q.agent,
        # beyond DESIGN.md's keys: what else the physics stage uses
        "pd_flip_deg": _num(q.pd_flip_deg, 3),
        "n_pe_lines": q.n_pe_lines,
        "lines_to_center": q.lines_to_center,
        "ordering": q.ordering,
        "matrix": list(s.matrix),
        "pixel_spacing_mm": [round(v, 4) for v in s.pixel_spacing_mm],
        "slice_positions_mm": [round(float(v), 3) for v in s.slice_positions_mm],
        "description": s.description,
    }


def _aif(s: PerfusionSeries | None) -> dict[str, Any] | None:
    if s is None:
        return None
    q = s.sequence
    return {
        "n_frames": s.n_frames,
        "n_echoes": s.n_echoes,
        "pd_frames": s.pd_frames,
        "matrix": list(s.matrix),
        "te_ms": [_num(t * 1000.0, 4) for t in q.te_s],
        "time_source": s.time_source,
        "readout": q.readout,
        "td_ms": _num(q.td_s * 1000.0, 3),
        "flip_deg": _num(q.flip_deg, 3),
        "description": s.description,
    }


def _text(flag: QCFlag) -> str:
    return f"{flag.code}: {flag.message}"


def study_summary(study: Study, *, show_phi: bool = False) -> dict[str, Any]:
    """The ``qperfusion info --json`` dictionary.

    Parameters
    ----------
    study : Study
    show_phi : bool
        Include patient identifiers (name, ID, birth date); off by default.

    Returns
    -------
    dict
        ``{"states": {state: {"aif": {...} | None, "myocardium": {...}}}, "warnings": [...],
        "notes": [...]}``; ``warnings`` holds every warning/error flag as ``"CODE: message"``,
        ``notes`` the info-level ones (assumptions such as no acceleration tag).
    """
    flags = list(study.warnings)
    states = {}
    for name, acq in study.acquisitions.items():
        states[name] = {"aif": _aif(acq.aif), "myocardium": _myocardium(acq.myocardium),
                        "hematocrit": acq.hematocrit}
        flags.extend(acq.warnings)
    out: dict[str, Any] = {
        "states": states,
        "warnings": [_text(f) for f in flags if f.severity != "info"],
        "notes": [_text(f) for f in flags if f.severity == "info"],
    }
    if show_phi:
        out["patient"] = dict(study.patient)
    return out


def format_summary(study: Study, *, show_phi: bool = False) -> str:
    """A readable multi-line summary of what was found, then every warning."""
    info = study_summary(study, show_phi=show_phi)
    lines = [f"source: {study.source}"]
    if show_phi and study.patient:
        lines.append("patient: " + ", ".join(f"{k} {v}" for k, v in study.patient.items() if v))
    for name, st in info["states"].items():
        m = st["myocardium"]
        lines.append(f"{name}:")
        lines.append(
            f"  myocardium  {m['description'] or '-'}: {m['n_slices']} slice(s) × "
            f"{m['n_frames']} frames, matrix {m['matrix'][0]}×{m['matrix'][1]}, "
            f"{m['pd_frames']} PD frame(s)"
            + (f" (flip {m['pd_flip_deg']}°)" if m["pd_frames"] else ""))
        lines.append(f"    time source {m['time_source']}, RR {m['rr_s']} s")
        lines.append(
            f"    readout {m['readout']}, TD {m['td_ms']} ms, TR {m['tr_ms']} ms, "
            f"TE {m['te_ms']} ms, FA {m['flip_deg']}°, {m['n_pe_lines']} PE lines "
            f"({m['lines_to_center']} to centre, {m['ordering']})")
        lines.append(f"    field {m['field_t']} T, agent {m['agent']}, hematocrit "
                     f"{st['hematocrit']}")
        a = st["aif"]
        if a is None:
            lines.append("  aif         none")
        else:
            lines.append(
                f"  aif         {a['description'] or '-'}: {a['n_echoes']} echo(es) "
                f"TE {a['te_ms']} ms, {a['n_frames']} frames, matrix "
                f"{a['matrix'][0]}×{a['matrix'][1]}, {a['pd_frames']} PD frame(s), "
                f"time source {a['time_source']}")
    lines.append(f"warnings ({len(info['warnings'])}):")
    lines.extend(f"  - {w}" for w in info["warnings"])
    if info["notes"]:
        lines.append(f"notes ({len(info['notes'])}):")
        lines.extend(f"  - {n}" for n in info["notes"])
    return "\n".join(lines)
