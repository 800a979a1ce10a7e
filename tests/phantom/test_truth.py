"""Segment truth: matches the masks and maps, has the results.json shape, classifies cleanly."""

from __future__ import annotations

import numpy as np
import pytest

from qperfusion.phantom import physiology, truth

SEG_KEYS = {"name", "mbf_ml_min_g", "mbf_sd_ml_min_g", "fp_ml_min_g", "endo_mbf_ml_min_g",
            "epi_mbf_ml_min_g", "n_pixels"}


@pytest.mark.parametrize("state", ["stress", "rest"])
def test_segment_truth_matches_the_masks(study, state):
    st = study.states[state]
    mbf = st.params["mbf_ml_min_g"]
    segs = st.truth["segments"]
    assert set(segs) == {str(k) for k in range(1, 17)}
    for key, seg in segs.items():
        sel = st.labels == int(key)
        assert set(seg) >= SEG_KEYS
        assert seg["n_pixels"] == sel.sum() > 40
        assert seg["mbf_ml_min_g"] == pytest.approx(mbf[sel].mean(), rel=1e-12)
        assert seg["mbf_sd_ml_min_g"] == pytest.approx(mbf[sel].std(), rel=1e-12)
        assert seg["endo_mbf_ml_min_g"] == pytest.approx(mbf[sel & (st.layers == 1)].mean())
        assert seg["epi_mbf_ml_min_g"] == pytest.approx(mbf[sel & (st.layers == 2)].mean())
        assert seg["fp_ml_min_g"] == pytest.approx(seg["mbf_ml_min_g"] * (1 - 0.42))
        # every segment lies in one slice
        assert np.count_nonzero(sel.any(axis=(1, 2))) == 1
    myo = (st.labels >= 1) & (st.labels <= 16)
    assert st.truth["global_mbf_ml_min_g"] == pytest.approx(mbf[myo].mean())
    assert st.truth["aif"]["peak_mM"] == pytest.approx(st.gd_blood_aif.max())
    assert 4.0 <= st.truth["aif"]["peak_mM"] <= 7.0
    assert np.all(np.isnan(mbf[~myo]))


def test_flow_units_and_convention(study):
    p = study.states["stress"].params
    myo = np.isfinite(p["fp"])
    # mbf (blood, mL/min/g) = Fp / (1 − Hct) · 60 / 1.05, Fp in mL/s/mL
    np.testing.assert_allclose(p["mbf_ml_min_g"][myo], p["fp"][myo] / 0.58 * 60 / 1.05)
    np.testing.assert_allclose(p["fp_ml_min_g"][myo], p["fp"][myo] * 60 / 1.05)
    assert np.all((p["vp"][myo] > 0.04) & (p["vp"][myo] < 0.1))
    assert np.all((p["ve"][myo] > 0.15) & (p["ve"][myo] < 0.3))
    ps = p["ps"][myo] * 60 / 1.05
    assert np.all((ps >= 1.0) & (ps <= 1.5))


def test_lad_territory_is_abnormal_and_the_rest_clearly_normal(study):
    t = study.truth
    lad = physiology.TERRITORIES["lad"]
    assert t["findings"]["ischemic_segments"] == list(lad)
    stress, rest = t["states"]["stress"]["segments"], t["states"]["rest"]["segments"]
    for k, cls in t["findings"]["classification"].items():
        mpr = t["mpr"]["segments"][k]
        assert mpr == pytest.approx(stress[k]["mbf_ml_min_g"] / rest[k]["mbf_ml_min_g"])
        assert 0.95 <= rest[k]["mbf_ml_min_g"] <= 1.35  # rest flow preserved everywhere
        if int(k) in lad:
            assert cls == "abnormal"
            assert mpr < 1.4
            assert stress[k]["endo_mbf_ml_min_g"] < stress[k]["epi_mbf_ml_min_g"] - 0.1
            assert 1.1 <= stress[k]["mbf_ml_min_g"] <= 1.7
        else:
            assert cls == "normal"
            # margins: stress Fp ≥ 2.0 + 5 %, MPR ≥ 2.0 + 25 %
            assert stress[k]["fp_ml_min_g"] > 2.1
            assert mpr > 2.5
    assert t["mpr"]["global"] == pytest.approx(
        t["states"]["stress"]["global_mbf_ml_min_g"] / t["states"]["rest"]["global_mbf_ml_min_g"])
    assert set(t) >= {"qperfusion_version", "model", "states", "mpr", "findings"}


@pytest.mark.parametrize("ischemia", ["none", "lcx", "rca"])
def test_every_territory_option_classifies_as_designed(clean, ischemia):
    st = clean.states["stress"]  # its labels and depth are the same for every option
    depth = np.where(st.layers > 0, 0.5, np.nan)
    maps = {}
    for state in ("stress", "rest"):
        maps[state] = physiology.parameter_maps(
            st.labels, depth, state=state, ischemia=ischemia, hematocrit=0.42,
            rng=np.random.default_rng(0))
    expected = set(physiology.TERRITORIES.get(ischemia, ()))
    for seg in range(1, 17):
        sel = st.labels == seg
        s_mbf = maps["stress"]["mbf_ml_min_g"][sel].mean()
        r_mbf = maps["rest"]["mbf_ml_min_g"][sel].mean()
        cls = truth.classify(s_mbf / r_mbf, maps["stress"]["fp_ml_min_g"][sel].mean())
        assert cls == ("abnormal" if seg in expected else "normal")


def test_classification_rules():
    assert truth.classify(1.4, 3.0) == "abnormal"
    assert truth.classify(1.8, 3.0) == "borderline"
    assert truth.classify(3.0, 1.9) == "borderline"
    assert truth.classify(3.0, 2.1) == "normal"
    assert truth.classify(float("nan"), 2.1) == "indeterminate"
