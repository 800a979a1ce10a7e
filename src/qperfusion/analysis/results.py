"""Build the results.json dictionary and the segments.csv rows (DESIGN.md "Output contract").

The dictionary returned by :func:`build_results` is JSON-safe: NaN becomes ``None`` (JSON
``null``) and numpy scalars become Python numbers, so ``json.dumps(results,
allow_nan=False)`` works. Fixed keys (the contract) are always present; more are added:
per state ``global`` (every global statistic), ``statistic``; top level ``qc`` (study-level
flags); in ``findings`` the ``basis``, ``flow_convention``, ``thresholds`` and a ``note``.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qperfusion.analysis.aha import AHA_SEGMENTS
from qperfusion.analysis.classify import FLOW_CONVENTIONS, Thresholds, classify_segments
from qperfusion.analysis.mpr import mpr, segment_mpr
from qperfusion.analysis.qc import collect_qc, mpr_flags, segment_flags
from qperfusion.analysis.segments import SegmentStatistics
from qperfusion.errors import QPerfusionError
from qperfusion.qc import QCFlag

__all__ = [
    "CSV_COLUMNS",
    "SEGMENT_KEYS",
    "StateSummary",
    "build_results",
    "segments_csv_rows",
    "to_jsonable",
    "write_results_json",
    "write_segments_csv",
]

#: Keys every segment entry of results.json carries (the contract).
SEGMENT_KEYS: tuple[str, ...] = (
    "name", "mbf_ml_min_g", "mbf_sd_ml_min_g", "fp_ml_min_g",
    "endo_mbf_ml_min_g", "epi_mbf_ml_min_g", "n_pixels",
)

#: Leading columns of segments.csv; further statistics follow in sorted order.
CSV_COLUMNS: tuple[str, ...] = (
    "state", "segment", *SEGMENT_KEYS, "mpr", "classification",
)

_STATE_ORDER = ("stress", "rest", "unspecified")


@dataclass
class StateSummary:
    """What results.json needs from one state (stress, rest or unspecified).

    Attributes
    ----------
    stats : SegmentStatistics
        From :func:`qperfusion.analysis.segment_statistics`.
    aif_peak_mM : float
        Peak of the AIF (mmol/L, blood), e.g. ``np.nanmax(aif)``.
    aif_saturation_warning : bool
        True when the AIF stage suspects signal saturation at the peak.
    qc : sequence of QCFlag
        Flags from every stage of this state (io, physics, moco, aif, segmentation, kinetics).
    """

    stats: SegmentStatistics
    aif_peak_mM: float = float("nan")  # noqa: N815 (unit mM as in results.json)
    aif_saturation_warning: bool = False
    qc: Sequence[QCFlag] = field(default_factory=tuple)


def to_jsonable(obj: Any) -> Any:
    """Recursively turn numpy types into Python ones and NaN/inf into None."""
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, bool | np.bool_):
        return bool(obj)
    if isinstance(obj, int | np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        x = float(obj)
        return x if math.isfinite(x) else None
    if isinstance(obj, QCFlag):
        return obj.to_dict()
    return obj


def _ordered_states(states: Mapping[str, StateSummary]) -> list[str]:
    known = [s for s in _STATE_ORDER if s in states]
    return known + [s for s in states if s not in known]


def build_results(
    states: Mapping[str, StateSummary],
    *,
    model: str,
    thresholds: Thresholds | None = None,
    study_qc: Iterable[QCFlag] = (),
    version: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The results.json dictionary of one study.

    Parameters
    ----------
    states : dict of str to StateSummary
        Keyed ``"stress"``, ``"rest"`` or ``"unspecified"``.
    model : str
        Kinetic model name (``"btex"``, ``"fermi"``, ...).
    thresholds : Thresholds, optional
        Classification thresholds and flow convention (defaults: DESIGN.md).
    study_qc : iterable of QCFlag
        Study-level flags (e.g. stress/rest protocol mismatch); written to top-level ``qc``.
    version : str, optional
        Package version; defaults to ``qperfusion.__version__``.
    extra : dict, optional
        Further top-level keys (must not collide with the fixed ones).

    Returns
    -------
    dict
        JSON-safe; keys per DESIGN.md plus the additions named in the module docstring.
        MPR is only formed when both stress and rest are present (else ``null`` values);
        classification uses MPR and stress flow with both states, stress flow alone with
        stress only (``findings.basis`` says which), and is ``"indeterminate"`` otherwise.
    """
    from qperfusion import __version__

    # flow="auto": the threshold applies to the flow of this model that reads on its scale
    t = (thresholds or Thresholds()).for_model(model)
    out: dict[str, Any] = {
        "qperfusion_version": version or __version__,
        "model": model,
        "states": {},
    }
    for state in _ordered_states(states):
        summ = states[state]
        st = summ.stats
        flags = collect_qc(summ.qc, segment_flags(st, state))
        segs = {}
        for s in AHA_SEGMENTS:
            d = dict(st.segments[s])
            for k in SEGMENT_KEYS:  # contract keys exist even when a map was not given
                d.setdefault(k, float("nan"))
            segs[str(s)] = {k: d[k] for k in SEGMENT_KEYS} | {
                k: v for k, v in d.items() if k not in SEGMENT_KEYS
            }
        out["states"][state] = {
            "global_mbf_ml_min_g": st.global_.get("mbf_ml_min_g", float("nan")),
            "segments": segs,
            "aif": {
                "peak_mM": float(summ.aif_peak_mM),
                "saturation_warning": bool(summ.aif_saturation_warning),
            },
            "qc": [f.to_dict() for f in flags],
            "global": dict(st.global_),
            "statistic": st.statistic,
        }

    stress = states.get("stress")
    rest = states.get("rest")
    if stress is not None and t.flow_key not in stress.stats.maps:
        raise QPerfusionError(
            f"the stress statistics have no {t.flow_key!r} map (have {list(stress.stats.maps)}); "
            f"pass it to segment_statistics or choose Thresholds(flow=...) among "
            f"{sorted(FLOW_CONVENTIONS)}"
        )
    seg_mpr: dict[int, float] = {s: float("nan") for s in AHA_SEGMENTS}
    global_mpr = float("nan")
    if stress is not None and rest is not None:
        seg_mpr = segment_mpr(
            stress.stats.values("mbf_ml_min_g"), rest.stats.values("mbf_ml_min_g")
        )
        global_mpr = mpr(
            stress.stats.global_.get("mbf_ml_min_g", np.nan),
            rest.stats.global_.get("mbf_ml_min_g", np.nan),
        )
    out["mpr"] = {"global": global_mpr, "segments": {str(s): seg_mpr[s] for s in AHA_SEGMENTS}}

    if stress is not None and rest is not None:
        basis = "mpr_and_stress_flow"
        note = (f"Segments classified on MPR and stress {t.flow_description}.")
        classes = classify_segments(seg_mpr, stress.stats.values(t.flow_key), t)
    elif stress is not None:
        basis = "stress_flow_only"
        note = (f"Stress state only: no MPR; segments classified on stress "
                f"{t.flow_description} alone.")
        classes = classify_segments(None, stress.stats.values(t.flow_key), t)
    else:
        basis = "none"
        which = ", ".join(states) or "no"
        note = (f"No stress state ({which} only): MBF reported without MPR and without "
                "classification.")
        classes = classify_segments(None, None, t)
    out["findings"] = {
        "classification": {str(s): classes[s] for s in AHA_SEGMENTS},
        "ischemic_segments": [s for s in AHA_SEGMENTS if classes[s] == "abnormal"],
        "basis": basis,
        "flow_convention": t.flow,
        "flow_description": t.flow_description,
        "thresholds": t.to_dict(),
        "note": note,
    }
    out["qc"] = [f.to_dict() for f in collect_qc(study_qc, mpr_flags(global_mpr))]
    if extra:
        clash = set(extra) & set(out)
        if clash:
            raise ValueError(f"extra keys {sorted(clash)} collide with fixed results.json keys")
        out.update(extra)
    return to_jsonable(out)


def write_results_json(path: str | Path, results: Mapping[str, Any]) -> Path:
    """Write ``results`` as strict JSON (NaN → null), indented; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(to_jsonable(results), indent=2, allow_nan=False) + "\n")
    return path


def segments_csv_rows(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per state × segment (1–16, then ``"global"``), with that segment's MPR and class.

    Parameters
    ----------
    results : dict
        As returned by :func:`build_results`.

    Returns
    -------
    list of dict
        Keys: :data:`CSV_COLUMNS` then any further statistics, sorted. ``None`` where missing.
        The ``mpr`` and ``classification`` columns repeat the segment's values on the rows of
        every state (they belong to the segment, not the state); global rows carry the global MPR.
    """
    rows: list[dict[str, Any]] = []
    mprs = results.get("mpr", {})
    classes = results.get("findings", {}).get("classification", {})
    for state, sres in results["states"].items():
        for key, seg in sres["segments"].items():
            rows.append({"state": state, "segment": key, **seg,
                         "mpr": mprs.get("segments", {}).get(key),
                         "classification": classes.get(key)})
        glob = {k: v for k, v in sres.get("global", {}).items()}
        rows.append({"state": state, "segment": "global", "name": "global", **glob,
                     "mpr": mprs.get("global"), "classification": None})
    return rows


def write_segments_csv(path: str | Path, results: Mapping[str, Any]) -> Path:
    """Write :func:`segments_csv_rows` to ``path`` (empty cell for None); returns the path."""
    rows = segments_csv_rows(results)
    extra = sorted({k for r in rows for k in r} - set(CSV_COLUMNS))
    columns = [*CSV_COLUMNS, *extra]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=columns, restval="")
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if v is None else v) for k, v in r.items()})
    return path
