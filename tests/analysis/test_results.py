"""results.json dictionary and segments.csv rows."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from qperfusion.analysis import (
    AHA_SEGMENTS,
    SEGMENT_KEYS,
    StateSummary,
    Thresholds,
    build_results,
    segment_statistics,
    segments_csv_rows,
    write_results_json,
    write_segments_csv,
)
from qperfusion.errors import QPerfusionError
from qperfusion.qc import QCFlag

FIXED_TOP = {"qperfusion_version", "model", "states", "mpr", "findings"}
FIXED_STATE = {"global_mbf_ml_min_g", "segments", "aif", "qc"}


def _state(mbf_per_segment: dict[int, float], hct: float = 0.42, missing=()):
    """One pixel-block per segment, constant value; Fp = Fb (1 - Hct)."""
    labels = np.zeros((1, 16, 10), np.uint8)
    mbf = np.full(labels.shape, np.nan)
    for s in AHA_SEGMENTS:
        if s in missing:
            continue
        labels[0, s - 1, :] = s
        mbf[0, s - 1, :] = mbf_per_segment[s]
    layers = np.where(labels > 0, 1 + (np.arange(10) >= 5), 0).astype(np.uint8)
    maps = {"mbf_ml_min_g": mbf, "fp_ml_min_g": mbf * (1 - hct)}
    return segment_statistics(maps, labels, layers)


def _study(stress_vals, rest_vals, model="2cxm", **kw):
    states = {}
    if stress_vals is not None:
        states["stress"] = StateSummary(
            _state(stress_vals), aif_peak_mM=5.2, aif_saturation_warning=True,
            qc=[QCFlag("AIF_SATURATION", "warning", "AIF peak may be saturated.", "aif")])
    if rest_vals is not None:
        states["rest"] = StateSummary(_state(rest_vals), aif_peak_mM=4.0)
    return build_results(states, model=model, **kw)


def test_fixed_keys_and_values():
    stress = {s: 3.0 for s in AHA_SEGMENTS}
    stress[7], stress[13] = 1.2, 1.4  # ischemic
    rest = {s: 1.0 for s in AHA_SEGMENTS}
    r = _study(stress, rest)
    assert set(r) >= FIXED_TOP
    assert set(r["states"]) == {"stress", "rest"}
    for st in r["states"].values():
        assert set(st) >= FIXED_STATE
        assert list(st["segments"]) == [str(s) for s in AHA_SEGMENTS]
        for seg in st["segments"].values():
            assert set(SEGMENT_KEYS) <= set(seg)
        assert set(st["aif"]) == {"peak_mM", "saturation_warning"}
        for f in st["qc"]:
            assert {"code", "severity", "message"} <= set(f)
    s = r["states"]["stress"]
    assert s["segments"]["1"]["name"] == "basal anterior"
    assert s["segments"]["1"]["mbf_ml_min_g"] == pytest.approx(3.0)
    assert s["segments"]["1"]["fp_ml_min_g"] == pytest.approx(3.0 * 0.58)
    assert s["segments"]["1"]["n_pixels"] == 10
    assert s["aif"] == {"peak_mM": 5.2, "saturation_warning": True}
    assert s["qc"][0]["code"] == "AIF_SATURATION"
    assert set(r["mpr"]) == {"global", "segments"}
    assert r["mpr"]["segments"]["7"] == pytest.approx(1.2)
    assert r["mpr"]["global"] == pytest.approx(3.0)
    cls = r["findings"]["classification"]
    assert cls["7"] == cls["13"] == "abnormal"
    assert cls["1"] == "borderline"  # Fp 1.74 < 2.0 although MPR is 3
    assert r["findings"]["ischemic_segments"] == [7, 13]
    assert r["findings"]["basis"] == "mpr_and_stress_flow"
    assert r["findings"]["flow_convention"] == "fp"  # the 2CXM's flow on the NIH scale
    json.dumps(r, allow_nan=False)
    # BTEX's blood flow reads on the NIH scale: segment 1 (MBF 3.0) is normal with it
    r = _study(stress, rest, model="btex")
    assert r["findings"]["flow_convention"] == "mbf"
    assert r["findings"]["classification"]["1"] == "normal"


def test_flow_convention_switch_to_blood_flow():
    stress = {s: 3.0 for s in AHA_SEGMENTS}
    rest = {s: 1.0 for s in AHA_SEGMENTS}
    r = _study(stress, rest, thresholds=Thresholds(flow="mbf"))
    assert set(r["findings"]["classification"].values()) == {"normal"}
    assert r["findings"]["thresholds"]["flow"] == "mbf"


def test_stress_only_and_rest_only():
    stress = {s: 1.5 for s in AHA_SEGMENTS}
    r = _study(stress, None)
    assert r["findings"]["basis"] == "stress_flow_only"
    assert "no MPR" in r["findings"]["note"]
    assert set(r["findings"]["classification"].values()) == {"borderline"}
    assert r["findings"]["ischemic_segments"] == []
    assert r["mpr"]["global"] is None
    assert all(v is None for v in r["mpr"]["segments"].values())
    r = _study(None, {s: 1.0 for s in AHA_SEGMENTS})
    assert r["findings"]["basis"] == "none"
    assert set(r["findings"]["classification"].values()) == {"indeterminate"}


def test_missing_segment_is_null_and_flagged_and_stress_below_rest():
    stress_stats = _state({s: 0.8 for s in AHA_SEGMENTS}, missing=(16,))
    rest_stats = _state({s: 1.0 for s in AHA_SEGMENTS})
    r = build_results({"rest": StateSummary(rest_stats), "stress": StateSummary(stress_stats)},
                      model="fermi")
    assert list(r["states"]) == ["stress", "rest"]
    seg16 = r["states"]["stress"]["segments"]["16"]
    assert seg16["mbf_ml_min_g"] is None
    assert seg16["n_pixels"] == 0
    codes = [f["code"] for f in r["states"]["stress"]["qc"]]
    assert "SEGMENT_MISSING" in codes
    assert r["findings"]["classification"]["16"] == "indeterminate"
    assert [f["code"] for f in r["qc"]] == ["STRESS_NOT_ABOVE_REST"]
    json.dumps(r, allow_nan=False)


def test_json_and_csv_files(tmp_path):
    stress = {s: 3.5 + 0.05 * s for s in AHA_SEGMENTS}
    rest = {s: 1.0 for s in AHA_SEGMENTS}
    r = _study(stress, rest)
    p = write_results_json(tmp_path / "results.json", r)
    assert json.loads(p.read_text()) == r
    rows = segments_csv_rows(r)
    assert len(rows) == 2 * 17
    c = write_segments_csv(tmp_path / "segments.csv", r)
    with c.open() as fh:
        got = list(csv.DictReader(fh))
    assert len(got) == 34
    assert list(got[0])[:4] == ["state", "segment", "name", "mbf_ml_min_g"]
    row7 = next(x for x in got if x["state"] == "stress" and x["segment"] == "7")
    assert float(row7["mbf_ml_min_g"]) == pytest.approx(3.85)
    assert float(row7["mpr"]) == pytest.approx(3.85)
    assert row7["classification"] == "normal"
    glob = next(x for x in got if x["state"] == "rest" and x["segment"] == "global")
    assert float(glob["mbf_ml_min_g"]) == pytest.approx(1.0)


def test_missing_flow_map_for_the_convention_raises():
    labels = np.ones((1, 4, 4), np.uint8)
    st = segment_statistics({"mbf_ml_min_g": np.full((1, 4, 4), 2.0)}, labels)
    with pytest.raises(QPerfusionError, match="fp_ml_min_g"):
        build_results({"stress": StateSummary(st)}, model="2cxm")
    r = build_results({"stress": StateSummary(st)}, model="fermi",
                      thresholds=Thresholds(flow="mbf"))
    assert r["findings"]["classification"]["1"] == "normal"
