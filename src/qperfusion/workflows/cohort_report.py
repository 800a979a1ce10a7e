"""``OUT/cohort.html``: one table row per study with a link to its report, and distributions."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
from matplotlib.figure import Figure

from qperfusion.report import png_data_uri

__all__ = ["write_cohort_html"]

_TEMPLATE = jinja2.Template(
    """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>qperfusion cohort</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse}
td,th{padding:.3em .7em;border-bottom:1px solid #ddd;text-align:right}
td:first-child,th:first-child{text-align:left}.failed{color:#b00}.skipped{color:#666}
</style></head><body>
<h1>qperfusion cohort: {{ rows|length }} studies</h1>
<p>{{ n_done }} done, {{ n_skipped }} unchanged since the last run, {{ n_failed }} failed.</p>
{% if plot %}<img alt="distribution of global MBF and MPR" src="{{ plot }}">{% endif %}
<table><tr><th>study</th><th>status</th><th>stress MBF</th><th>rest MBF</th><th>MPR</th>
<th>abnormal segments</th><th>report</th></tr>
{% for r in rows %}<tr class="{{ r.status }}"><td>{{ r.id }}</td><td>{{ r.status }}</td>
<td>{{ r.stress }}</td><td>{{ r.rest }}</td><td>{{ r.mpr }}</td><td>{{ r.ischemic }}</td>
<td>{% if r.report %}<a href="{{ r.report }}">report</a>
{%- elif r.status == "failed" %}<a href="{{ r.id }}/error.json">error.json</a>: {{ r.error }}
{%- endif %}</td></tr>
{% endfor %}</table>
<p>MBF: blood flow, mL/min/g, global median over the myocardium. Per-segment values for every
study are in cohort.csv.</p>
</body></html>
""",
    autoescape=True,
)


def _fmt(v: Any) -> str:
    return f"{v:.2f}" if _finite(v) else "–"


def _finite(v: Any) -> bool:
    return v is not None and bool(np.isfinite(v))


def _distribution(values: dict[str, list[float]]) -> str | None:
    panels = [(k, v) for k, v in values.items() if v]
    if not panels:
        return None
    fig = Figure(figsize=(3.2 * len(panels), 2.8))
    for i, (name, vals) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        ax.hist(vals, bins=max(5, min(20, len(vals))), color="#4c72b0")
        ax.set_title(name)
        ax.set_ylabel("studies")
    fig.tight_layout()
    return png_data_uri(fig)


def write_cohort_html(out_root: str | os.PathLike, ids: Sequence[str],
                      outcomes: Sequence[Any]) -> Path:
    """Write ``OUT/cohort.html`` from each study's results.json and the batch outcomes.

    Parameters
    ----------
    out_root : path
        The batch output folder holding ``<id>/results.json``.
    ids : sequence of str
        Studies in manifest order (one table row each).
    outcomes : sequence of StudyOutcome
        This batch's outcome of every id; a failed study links its ``error.json``.

    Returns
    -------
    Path
        The page: a row per study (global stress and rest MBF in mL/min/g, MPR, abnormal
        segments, link to its report) and histograms of global MBF and MPR over the cohort.
    """
    out_root = Path(out_root)
    by_id = {o.id: o for o in outcomes}
    rows, dist = [], {"stress MBF (mL/min/g)": [], "rest MBF (mL/min/g)": [], "MPR": []}
    for sid in ids:
        o = by_id[sid]
        res_file = out_root / sid / "results.json"
        row = {"id": sid, "status": o.status, "stress": "–", "rest": "–", "mpr": "–",
               "ischemic": "", "report": None, "error": o.error}
        if o.status != "failed" and res_file.is_file():
            res = json.loads(res_file.read_text(encoding="utf-8"))
            for state in ("stress", "rest"):
                g = res["states"].get(state, {}).get("global_mbf_ml_min_g")
                row[state] = _fmt(g)
                if _finite(g):  # a failed state has no global value (None or NaN)
                    dist[f"{state} MBF (mL/min/g)"].append(float(g))
            gm = res.get("mpr", {}).get("global")
            row["mpr"] = _fmt(gm)
            if _finite(gm):
                dist["MPR"].append(float(gm))
            row["ischemic"] = ", ".join(map(str, res["findings"]["ischemic_segments"]))
            row["report"] = f"{sid}/report.html"
        rows.append(row)
    html = _TEMPLATE.render(
        rows=rows, plot=_distribution(dist),
        n_done=sum(o.status == "done" for o in outcomes),
        n_skipped=sum(o.status == "skipped" for o in outcomes),
        n_failed=sum(o.status == "failed" for o in outcomes),
    )
    path = out_root / "cohort.html"
    # written beside and renamed: a browser open on the old table never sees half a file
    fd, tmp = tempfile.mkstemp(prefix=".cohort.html.", dir=out_root)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(html)
    os.replace(tmp, path)
    return path
