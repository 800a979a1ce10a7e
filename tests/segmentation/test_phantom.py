"""Segmentation and AIF detection against the digital phantom's truth (static phantom).

Figures (seed 0, no motion) are in benchmarks/segmentation.py's output; the thresholds here
are the acceptance criteria: myocardium Dice >= 0.90, AHA agreement >= 90 % of the pixels
that both call myocardium, anterior insertion within 10 degrees, AIF mask inside the LV pool.
"""

from __future__ import annotations

import numpy as np
import pytest

from qperfusion import aif, segmentation
from tests.segmentation.rings import dice

phantom = pytest.importorskip("qperfusion.phantom")


@pytest.fixture(scope="module")
def study():
    return phantom.simulate_study(seed=0, ischemia="lad", motion="none")


def _truth_insertion_image_deg() -> float:
    """Image angle of the phantom's anterior insertion, from its anatomy (not our code)."""
    from qperfusion.phantom import anatomy as an

    lateral, post, along_cols, along_rows = an.plane_frame()
    a = np.deg2rad(an.ANTERIOR_INSERTION_DEG)
    d = np.cos(a) * lateral - np.sin(a) * post  # anatomical angle: anterior = -posterior
    return float(np.rad2deg(np.arctan2(d @ along_rows, d @ along_cols)) % 360)


@pytest.mark.parametrize("state", ["stress", "rest"])
def test_phantom_segmentation_meets_the_acceptance_criteria(study, state):
    st = study.states[state]
    my = st.acquisition.myocardium
    seg = segmentation.segment_series(my.data, my.times_s, my.affines, pd_frames=my.pd_frames)
    truth = st.labels
    assert seg.levels == st.slice_names
    ins = _truth_insertion_image_deg()
    err = np.abs((seg.insertion_deg - ins + 180) % 360 - 180)
    assert np.all(err <= 10.0), f"insertion error {err} deg"
    for k in range(truth.shape[0]):
        t_my = (truth[k] >= 1) & (truth[k] <= 16)
        assert dice(seg.myocardium[k], t_my) >= 0.90
        assert dice(seg.lv_pool[k], truth[k] == 17) >= 0.90
        both = t_my & seg.myocardium[k]
        assert np.mean(seg.labels[k][both] == truth[k][both]) >= 0.90
        assert np.mean(seg.layers[k][both] == st.layers[k][both]) >= 0.80
    assert seg.confidence >= 0.5


@pytest.mark.parametrize("state", ["stress", "rest"])
def test_phantom_aif_mask_inside_the_lv_pool(study, state):
    st = study.states[state]
    series = st.acquisition.aif
    det = aif.detect_blood_pool(series.data[0], series.times_s[0], pd_frames=series.pd_frames)
    assert det.mask.sum() >= 10
    assert np.all(st.aif_mask[det.mask])  # static phantom: the same in every frame
    assert det.confidence >= 0.5
    curve = aif.aif_curve(series.data[0], det.mask)
    truth = aif.aif_curve(series.data[0], st.aif_mask)
    # same signal up to noise: SD of a mean over the smaller mask, four of them
    atol = 4.0 * st.noise_sd["aif"] / np.sqrt(det.mask.sum())
    np.testing.assert_allclose(curve, truth, rtol=0.02, atol=atol)
