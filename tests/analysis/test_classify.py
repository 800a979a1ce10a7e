"""MPR and classification edge cases."""

from __future__ import annotations

import math

import pytest

from qperfusion.analysis import Thresholds, classify_segment, classify_segments, mpr, segment_mpr
from qperfusion.errors import QPerfusionError

nan = float("nan")


@pytest.mark.parametrize(
    ("stress", "rest", "expect"),
    [(3.0, 1.0, 3.0), (1.0, 2.0, 0.5), (2.0, 0.0, nan), (2.0, -1.0, nan), (nan, 1.0, nan),
     (2.0, nan, nan), (0.0, 1.0, 0.0)],
)
def test_mpr(stress, rest, expect):
    got = mpr(stress, rest)
    assert (math.isnan(got) and math.isnan(expect)) or got == pytest.approx(expect)


def test_segment_mpr_missing_rest_segment():
    assert segment_mpr({1: 3.0, 2: 2.0}, {1: 1.5}) == {1: 2.0, 2: pytest.approx(nan, nan_ok=True)}


@pytest.mark.parametrize(
    ("m", "flow", "expect"),
    [
        (1.49, 3.0, "abnormal"),
        (1.5, 3.0, "borderline"),  # thresholds are strict "<"
        (1.99, 3.0, "borderline"),
        (2.0, 2.0, "normal"),
        (2.5, 1.99, "borderline"),  # low stress flow alone
        (1.2, 1.0, "abnormal"),
        (3.0, 2.5, "normal"),
        (nan, 2.5, "normal"),  # no rest pixels: stress-flow rules only
        (nan, 1.5, "borderline"),
        (2.5, nan, "indeterminate"),
        (None, 2.5, "normal"),  # stress only
        (None, 1.9, "borderline"),
        (None, nan, "indeterminate"),
    ],
)
def test_classify_segment_rules(m, flow, expect):
    assert classify_segment(m, flow) == expect


def test_no_stress_is_indeterminate_and_options():
    assert classify_segment(2.5, None) == "indeterminate"
    t = Thresholds(mpr_abnormal=1.2, mpr_borderline=1.6, stress_flow_borderline_ml_min_g=1.5,
                   stress_flow_abnormal_ml_min_g=1.0)
    assert classify_segment(1.4, 3.0, t) == "borderline"
    assert classify_segment(1.7, 3.0, t) == "normal"
    assert classify_segment(3.0, 0.9, t) == "abnormal"
    assert classify_segment(None, 0.9, t) == "abnormal"
    assert Thresholds(flow="fp").flow_key == "fp_ml_min_g"
    assert Thresholds(flow="mbf").flow_key == "mbf_ml_min_g"


def test_auto_flow_takes_the_models_convention():
    # the flow that reads on the NIH map's scale (tests/kinetics/test_flow_scale.py)
    assert Thresholds().for_model("2cxm").flow_key == "fp_ml_min_g"
    for model in ("btex", "fermi", "modelfree", "2cum"):
        assert Thresholds().for_model(model).flow_key == "mbf_ml_min_g"
    assert Thresholds(flow="fp").for_model("btex").flow == "fp"  # the user's choice stands
    with pytest.raises(QPerfusionError, match="for_model"):
        _ = Thresholds().flow_key


def test_threshold_validation_lists_valid_names():
    with pytest.raises(QPerfusionError, match="'fp'"):
        Thresholds(flow="plasma")
    with pytest.raises(QPerfusionError, match="must not exceed"):
        Thresholds(mpr_abnormal=2.5)


def test_classify_segments_all_16():
    out = classify_segments({s: 1.0 for s in range(1, 17)}, {s: 3.0 for s in range(1, 17)})
    assert list(out) == list(range(1, 17))
    assert set(out.values()) == {"abnormal"}
