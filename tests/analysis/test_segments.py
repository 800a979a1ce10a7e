"""Segment statistics on hand-made label maps with known values."""

from __future__ import annotations

import numpy as np
import pytest

from qperfusion.analysis import (
    AHA_SEGMENTS,
    LABEL_LV,
    SEGMENT_NAMES,
    segment_statistics,
)
from qperfusion.errors import QPerfusionError


def _phantom():
    """3 slices × 8 × 20: segment s owns 5 pixels in row block; values known per segment."""
    labels = np.zeros((3, 8, 20), np.uint8)
    mbf = np.full(labels.shape, np.nan)
    sd = np.full(labels.shape, np.nan)
    layers = np.zeros(labels.shape, np.uint8)
    truth = {}
    for s in AHA_SEGMENTS:
        z, k = divmod(s - 1, 6) if s <= 12 else (2, s - 13)
        rows, cols = slice(0, 1), slice(k * 3, k * 3 + 3)  # 3 pixels in row 0
        rows2 = slice(1, 2)  # 2 more in row 1
        base = 0.5 + 0.25 * s
        vals = np.array([base, base + 0.1, base - 0.1])
        labels[z, rows, cols] = s
        mbf[z, rows, cols] = vals
        labels[z, rows2, k * 3 : k * 3 + 2] = s
        mbf[z, rows2, k * 3 : k * 3 + 2] = [base + 10.0, base - 10.0]  # outliers
        sd[z, rows, cols] = 0.1 * s
        sd[z, rows2, k * 3 : k * 3 + 2] = 0.1 * s
        layers[z, rows, cols] = 1  # endo
        layers[z, rows2, k * 3 : k * 3 + 2] = 2  # epi
        allv = np.concatenate([vals, [base + 10.0, base - 10.0]])
        truth[s] = allv
    # a big LV blood pool that must not enter any statistic
    labels[:, 5:8, :] = LABEL_LV
    mbf[:, 5:8, :] = 50.0
    return labels, mbf, sd, layers, truth


def test_median_sd_endo_epi_counts_against_truth():
    labels, mbf, sd, layers, truth = _phantom()
    maps = {"mbf_ml_min_g": mbf, "mbf_sd_ml_min_g": sd, "fp_ml_min_g": 0.58 * mbf}
    st = segment_statistics(maps, labels, layers)
    assert st.statistic == "median"
    for s in AHA_SEGMENTS:
        d = st.segments[s]
        v = truth[s]
        assert d["name"] == SEGMENT_NAMES[s]
        assert d["n_pixels"] == 5
        assert d["n_valid"] == 5
        assert d["mbf_ml_min_g"] == pytest.approx(np.median(v))  # outliers ignored
        assert d["mbf_ml_min_g"] == pytest.approx(0.5 + 0.25 * s)
        assert d["mbf_sd_ml_min_g"] == pytest.approx(np.std(v, ddof=1))
        assert d["mbf_fit_sd_ml_min_g"] == pytest.approx(0.1 * s)
        assert d["fp_ml_min_g"] == pytest.approx(0.58 * (0.5 + 0.25 * s))
        assert d["endo_mbf_ml_min_g"] == pytest.approx(0.5 + 0.25 * s)
        assert d["epi_mbf_ml_min_g"] == pytest.approx(0.5 + 0.25 * s)  # median of ±10
        assert d["endo_fp_ml_min_g"] == pytest.approx(0.58 * (0.5 + 0.25 * s))
    allv = np.concatenate([truth[s] for s in AHA_SEGMENTS])
    assert st.global_["n_pixels"] == 80
    assert st.global_["mbf_ml_min_g"] == pytest.approx(np.median(allv))
    assert st.global_["mbf_sd_ml_min_g"] == pytest.approx(np.std(allv, ddof=1))


@pytest.mark.parametrize(
    ("statistic", "expect"),
    [
        ("median", lambda v: np.median(v)),
        ("mean", lambda v: np.mean(v)),
        ("trimmed_mean", lambda v: np.mean(np.sort(v)[0 : v.size])),  # 5 values: 10 % cuts 0
    ],
)
def test_statistic_registry(statistic, expect):
    labels, mbf, _, _, truth = _phantom()
    st = segment_statistics({"mbf_ml_min_g": mbf}, labels, statistic=statistic)
    for s in (1, 9, 16):
        assert st.segments[s]["mbf_ml_min_g"] == pytest.approx(expect(truth[s]))


def test_nan_pixels_count_in_n_pixels_not_in_values_and_missing_segment():
    labels, mbf, _, _, _ = _phantom()
    mbf2 = mbf.copy()
    z_s1 = np.nonzero(labels == 1)
    mbf2[z_s1[0][:4], z_s1[1][:4], z_s1[2][:4]] = np.nan  # 4 of 5 failed
    labels2 = labels.copy()
    labels2[labels2 == 16] = 0  # apical lateral not covered
    before = mbf2.copy()
    st = segment_statistics({"mbf_ml_min_g": mbf2}, labels2)
    np.testing.assert_array_equal(before, mbf2)  # inputs not modified
    assert st.segments[1]["n_pixels"] == 5
    assert st.segments[1]["n_valid"] == 1
    assert np.isnan(st.segments[1]["mbf_sd_ml_min_g"])  # one value has no SD
    assert st.segments[16]["n_pixels"] == 0
    assert np.isnan(st.segments[16]["mbf_ml_min_g"])
    assert "endo_mbf_ml_min_g" not in st.segments[2]  # no layers given


def test_bad_input_raises_with_helpful_message():
    labels, mbf, _, _, _ = _phantom()
    with pytest.raises(QPerfusionError, match="shape"):
        segment_statistics({"mbf_ml_min_g": mbf[:2]}, labels)
    with pytest.raises(QPerfusionError, match="median"):
        segment_statistics({"mbf_ml_min_g": mbf}, labels, statistic="mode")
    with pytest.raises(QPerfusionError, match="layers"):
        segment_statistics({"mbf_ml_min_g": mbf}, labels, labels[:1])


def test_trimmed_mean_cuts_ten_percent_each_end():
    labels = np.ones((1, 1, 20), np.uint8)
    v = np.arange(20.0)
    v[0], v[19] = -1000.0, 1000.0  # both cut (10 % of 20 = 2 per end)
    st = segment_statistics({"mbf_ml_min_g": v[None, None]}, labels, statistic="trimmed_mean")
    assert st.segments[1]["mbf_ml_min_g"] == pytest.approx(np.mean(np.arange(2.0, 18.0)))


def test_endo_epi_ratio():
    labels = np.full((1, 2, 10), 5, np.uint8)
    layers = np.array([[[1] * 10, [2] * 10]], np.uint8)
    mbf = np.where(layers == 1, 1.5, 3.0).astype(float)
    st = segment_statistics({"mbf_ml_min_g": mbf}, labels, layers)
    assert st.segments[5]["endo_epi_ratio"] == pytest.approx(0.5)
    assert st.global_["endo_epi_ratio"] == pytest.approx(0.5)
    assert np.isnan(st.segments[4]["endo_epi_ratio"])
