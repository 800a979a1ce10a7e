"""Ground truth of a phantom study in the ``results.json`` shape of DESIGN.md.

Segment values are means over the segment's pixels of the per-pixel truth maps (motion-free
labels); ``mbf_sd_ml_min_g`` is the pixel SD (the true heterogeneity); endo/epi are the means
over the inner/outer half of the wall. MPR = stress / rest of the segment (or global) means.
Classification follows DESIGN.md defaults: abnormal if MPR < 1.5; borderline if MPR < 2.0 or
stress Fp < 2.0 mL/min/g; else normal.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qperfusion import __version__

__all__ = ["SEGMENT_NAMES", "classify", "state_truth", "study_truth"]

#: AHA segment number -> name (Cerqueira et al., Circulation 2002;105:539,
#: doi:10.1161/hc0402.102975).
SEGMENT_NAMES: dict[int, str] = {
    1: "basal anterior", 2: "basal anteroseptal", 3: "basal inferoseptal", 4: "basal inferior",
    5: "basal inferolateral", 6: "basal anterolateral", 7: "mid anterior",
    8: "mid anteroseptal", 9: "mid inferoseptal", 10: "mid inferior", 11: "mid inferolateral",
    12: "mid anterolateral", 13: "apical anterior", 14: "apical septal", 15: "apical inferior",
    16: "apical lateral",
}
MPR_ABNORMAL = 1.5
MPR_BORDERLINE = 2.0
STRESS_FP_BORDERLINE_ML_MIN_G = 2.0


def _mean(x: np.ndarray) -> float:
    return float(np.mean(x)) if x.size else float("nan")


def state_truth(state: Any) -> dict[str, Any]:
    """The ``states.<state>`` entry of results.json for one :class:`PhantomState`."""
    labels, layers, p = state.labels, state.layers, state.params
    mbf, fp = p["mbf_ml_min_g"], p["fp_ml_min_g"]
    myo = (labels >= 1) & (labels <= 16)
    segments = {}
    for seg, name in SEGMENT_NAMES.items():
        sel = labels == seg
        segments[str(seg)] = {
            "name": name,
            "mbf_ml_min_g": _mean(mbf[sel]),
            "mbf_sd_ml_min_g": float(np.std(mbf[sel])) if sel.any() else float("nan"),
            "fp_ml_min_g": _mean(fp[sel]),
            "endo_mbf_ml_min_g": _mean(mbf[sel & (layers == 1)]),
            "epi_mbf_ml_min_g": _mean(mbf[sel & (layers == 2)]),
            "n_pixels": int(sel.sum()),
            "endo_fp_ml_min_g": _mean(fp[sel & (layers == 1)]),
            "epi_fp_ml_min_g": _mean(fp[sel & (layers == 2)]),
            "ps_ml_min_g": _mean(p["ps"][sel]) * 60.0 / 1.05,
            "vp": _mean(p["vp"][sel]),
            "ve": _mean(p["ve"][sel]),
            "delay_s": _mean(p["delay"][sel]),
        }
    return {
        "global_mbf_ml_min_g": _mean(mbf[myo]),
        "global_fp_ml_min_g": _mean(fp[myo]),
        "segments": segments,
        "aif": {
            "peak_mM": float(np.max(state.gd_blood_aif)),
            "saturation_warning": False,
            "hematocrit": float(state.acquisition.hematocrit),
        },
        "qc": [],
        "abrupt_frames": list(state.abrupt_frames),
    }


def classify(mpr: float, stress_fp: float) -> str:
    """DESIGN.md default classification of one segment."""
    if not (np.isfinite(mpr) and np.isfinite(stress_fp)):
        return "indeterminate"
    if mpr < MPR_ABNORMAL:
        return "abnormal"
    if mpr < MPR_BORDERLINE or stress_fp < STRESS_FP_BORDERLINE_ML_MIN_G:
        return "borderline"
    return "normal"


def study_truth(states: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    """The full truth.json dict (results.json shape) of a stress + rest phantom study."""
    st = {name: state_truth(s) for name, s in states.items()}
    stress, rest = st["stress"], st["rest"]
    mpr_seg = {
        k: stress["segments"][k]["mbf_ml_min_g"] / rest["segments"][k]["mbf_ml_min_g"]
        for k in stress["segments"]
    }
    classification = {
        k: classify(mpr_seg[k], stress["segments"][k]["fp_ml_min_g"]) for k in mpr_seg
    }
    return {
        "qperfusion_version": __version__,
        # the model that generated the tissue curves (older phantoms: always the 2CXM)
        "model": options.get("tissue_model", "2cxm"),
        "source": "qperfusion.phantom",
        "phantom": dict(options),
        "flow_convention": "classification stress threshold on fp (plasma flow)",
        "states": st,
        "mpr": {
            "global": stress["global_mbf_ml_min_g"] / rest["global_mbf_ml_min_g"],
            "segments": mpr_seg,
        },
        "findings": {
            "classification": classification,
            "ischemic_segments": [int(k) for k, c in classification.items() if c == "abnormal"],
        },
    }
