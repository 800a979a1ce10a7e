"""The self-contained HTML report: one file, figures embedded as base64 PNG, no links out.

Everything shown comes from the results dictionary (:func:`qperfusion.analysis.build_results`)
and the figures (:func:`qperfusion.report.make_report_figures`), so the report can never
disagree with results.json.
"""

from __future__ import annotations

import datetime as _dt
import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
from matplotlib.figure import Figure

from qperfusion.analysis.aha import AHA_SEGMENTS, SEGMENT_NAMES
from qperfusion.report._encode import png_data_uri

__all__ = ["FIGURE_TEXT", "render_report", "write_report"]

#: Figure name -> (title, caption) in the report; unknown names get their name as title.
FIGURE_TEXT: dict[str, tuple[str, str]] = {
    "bullseye": (
        "AHA 16-segment bullseye",
        "Median MBF per segment (blood flow, mL/min/g) and, with stress and rest, MPR = "
        "stress / rest. Outer ring basal, middle ring mid, inner ring apical; anterior at the "
        "top, septum on the left. Classification (on the MPR panel, else on stress): "
        "cross-hatched with a thick outline = abnormal, dotted = borderline.",
    ),
    "maps": (
        "Pixel-wise MBF maps",
        "MBF (mL/min/g, blood flow) over the anatomy; the cyan line is the myocardial "
        "outline used. Same colour scale for every state.",
    ),
}

_SEVERITY_WORDS = {
    "error": "Error — the number it concerns should not be used.",
    "warning": "Warning — check the result before relying on it.",
    "info": "Note — for information.",
}

_CLASS_WORDS = {
    "normal": "normal",
    "borderline": "borderline",
    "abnormal": "abnormal (ischaemic)",
    "indeterminate": "not classified",
}

_BASIS_WORDS = {
    "mpr_and_stress_flow": "MPR and stress flow (stress and rest acquired)",
    "stress_flow_only": "stress flow only (no rest state, so no MPR)",
    "none": "not classified (no stress state)",
}


@functools.cache
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("qperfusion.report", "templates"),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = _num
    return env


def _num(v: Any, digits: int = 2) -> str:
    if v is None:
        return "–"
    try:
        return f"{float(v):.{digits}f}"
    except (TypeError, ValueError):
        return str(v)


def _figure_uri(fig: Figure | bytes | str) -> str:
    if isinstance(fig, str):
        if not fig.startswith("data:image/"):
            raise ValueError("figure strings must be data URIs (data:image/...)")
        return fig
    return png_data_uri(fig)


def _context(
    results: Mapping[str, Any],
    figures: Mapping[str, Figure | bytes | str],
    title: str,
    study_info: Mapping[str, str] | None,
) -> dict[str, Any]:
    states = results["states"]
    findings = results["findings"]
    classes = findings["classification"]
    mpr = results.get("mpr", {})
    rows = []
    for s in AHA_SEGMENTS:
        k = str(s)
        rows.append({
            "segment": s,
            "name": SEGMENT_NAMES[s],
            "states": {st: states[st]["segments"][k] for st in states},
            "mpr": mpr.get("segments", {}).get(k),
            "cls": classes.get(k, "indeterminate"),
            "cls_words": _CLASS_WORDS.get(classes.get(k, ""), classes.get(k, "")),
        })
    qc = []
    for st, sres in states.items():
        for f in sres.get("qc", []):
            qc.append({"where": st, **f})
    for f in results.get("qc", []):
        qc.append({"where": "study", **f})
    qc.sort(key=lambda f: {"error": 0, "warning": 1, "info": 2}.get(f["severity"], 3))
    figs = []
    for name, fig in figures.items():
        if name.startswith("curves_"):
            state = name.removeprefix("curves_")
            ttl = f"AIF and segment curves — {state}"
            cap = ("Top: arterial input function (blood, mmol/L). Below: the mean measured "
                   "tissue curve of each AHA segment (dots) and the model fit (line), with the "
                   "segment's MBF (mL/min/g).")
        else:
            ttl, cap = FIGURE_TEXT.get(name, (name, ""))
        figs.append({"id": name, "title": ttl, "caption": cap, "uri": _figure_uri(fig)})
    counts = {c: sum(1 for v in classes.values() if v == c) for c in _CLASS_WORDS}
    th = findings.get("thresholds", {})
    return {
        "title": title,
        "generated": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "version": results.get("qperfusion_version", ""),
        "model": results.get("model", ""),
        "study_info": dict(study_info or {}),
        "states": list(states),
        "state_results": states,
        "global_mpr": mpr.get("global"),
        "rows": rows,
        "ischemic": [(s, SEGMENT_NAMES[int(s)]) for s in findings.get("ischemic_segments", [])],
        "counts": counts,
        "basis": _BASIS_WORDS.get(findings.get("basis", ""), findings.get("basis", "")),
        "basis_code": findings.get("basis", ""),
        "note": findings.get("note", ""),
        "flow_convention": findings.get("flow_convention", ""),
        "flow_description": findings.get("flow_description", ""),
        "flow_label": {"fp": "Fp", "mbf": "MBF"}.get(findings.get("flow_convention", ""),
                                                     findings.get("flow_convention", "")),
        "thresholds": th,
        "statistic": next(iter(states.values()), {}).get("statistic", "median"),
        "figures": figs,
        "qc": qc,
        "severity_words": _SEVERITY_WORDS,
    }


def render_report(
    results: Mapping[str, Any],
    figures: Mapping[str, Figure | bytes | str] | None = None,
    *,
    title: str = "qperfusion — myocardial blood flow report",
    study_info: Mapping[str, str] | None = None,
) -> str:
    """The report as one self-contained HTML string.

    Parameters
    ----------
    results : dict
        From :func:`qperfusion.analysis.build_results`.
    figures : dict of str to Figure, PNG bytes or data URI, optional
        From :func:`qperfusion.report.make_report_figures`; embedded in the given order.
    title : str
    study_info : dict of str to str, optional
        Extra lines for the header (e.g. ``{"Field strength": "1.5 T"}``); put no patient
        identifiers here unless the report is meant to carry them.

    Returns
    -------
    str
        HTML5 with inline CSS and base64 images; no scripts and no external resources.
    """
    ctx = _context(results, figures or {}, title, study_info)
    return _env().get_template("report.html.j2").render(**ctx)


def write_report(
    path: str | Path,
    results: Mapping[str, Any],
    figures: Mapping[str, Figure | bytes | str] | None = None,
    **kwargs: Any,
) -> Path:
    """Render with :func:`render_report` and write to ``path`` (UTF-8); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(results, figures, **kwargs), encoding="utf-8")
    return path
