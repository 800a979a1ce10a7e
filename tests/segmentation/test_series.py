"""Automatic segmentation recovers synthetic truth and the GE manual masks."""

from __future__ import annotations

import numpy as np
import pytest

from qperfusion import segmentation
from qperfusion.errors import SegmentationError
from tests.segmentation.rings import ANTERIOR_INSERTION_DEG, dice, make_rings


@pytest.fixture(scope="module")
def rings():
    return make_rings(3)


@pytest.fixture(scope="module")
def seg(rings):
    return segmentation.segment_series(rings.images, rings.times_s, rings.affines)


def test_pools_and_myocardium_match_truth(rings, seg):
    for k in range(3):
        assert dice(seg.myocardium[k], rings.myo[k]) >= 0.88
        assert dice(seg.lv_pool[k], rings.lv[k]) >= 0.88
        assert dice(seg.rv_pool[k], rings.rv[k]) >= 0.9


def test_insertion_sectors_levels(rings, seg):
    err = np.abs((seg.insertion_deg - ANTERIOR_INSERTION_DEG + 180) % 360 - 180)
    assert np.all(err <= 10.0)
    assert np.all(seg.sense == -1)
    assert seg.levels == rings.levels
    for k in range(3):
        both = rings.myo[k] & seg.myocardium[k]
        assert np.mean(seg.labels[k][both] == rings.aha[k][both]) >= 0.9
    # each level carries its own segment numbers, and all of them
    assert set(np.unique(seg.labels[0])) == {0, *range(1, 7), 17, 18}
    assert set(np.unique(seg.labels[1])) == {0, *range(7, 13), 17, 18}
    assert set(np.unique(seg.labels[2])) == {0, *range(13, 17), 17, 18}


def test_layers_split_the_wall(seg):
    my = seg.myocardium
    assert np.all((seg.layers > 0) == my)
    frac_endo = np.mean(seg.layers[my] == 1)
    assert 0.3 < frac_endo < 0.6  # inner half of a ring has a bit less area
    assert seg.labels.dtype == np.uint8
    assert seg.layers.dtype == np.uint8
    assert 0.5 <= seg.confidence <= 1.0


def test_inputs_are_not_modified(rings):
    before = rings.images.copy()
    segmentation.segment_series(rings.images[:1], rings.times_s[0], rings.affines[:1])
    np.testing.assert_array_equal(rings.images, before)


def test_no_enhancement_says_how_to_give_masks():
    r = make_rings(1)
    flat = np.repeat(r.images[..., :1], r.images.shape[-1], axis=-1)
    with pytest.raises(SegmentationError, match="masks"):
        segmentation.segment_series(flat, r.times_s, r.affines)


def test_bad_shapes_raise():
    r = make_rings(1)
    with pytest.raises(SegmentationError, match="affines"):
        segmentation.segment_series(r.images, r.times_s, r.affines[0])
    with pytest.raises(SegmentationError, match="times_s"):
        segmentation.segment_series(r.images, r.times_s[:, :-1], r.affines)


def test_outlier_frames_are_left_out():
    r = make_rings(1, seed=3)
    spoiled = r.images.copy()
    bad = np.zeros((1, r.images.shape[-1]), dtype=bool)
    bad[0, [12, 13, 30]] = True
    spoiled[0, ..., 12:14] = np.roll(spoiled[0, ..., 12:14], 6, axis=1)  # a gasp: 12 mm jump
    spoiled[0, ..., 30] = np.roll(spoiled[0, ..., 30], -6, axis=0)
    seg = segmentation.segment_series(spoiled, r.times_s, r.affines, outliers=bad)
    assert dice(seg.myocardium[0], r.myo[0]) >= 0.88
    with pytest.raises(SegmentationError, match="outliers"):
        segmentation.segment_series(spoiled, r.times_s, r.affines, outliers=bad[:, :-1])


def test_uncorrected_motion_lowers_the_confidence_and_is_flagged():
    r = make_rings(1, seed=2)
    still = segmentation.segment_series(r.images, r.times_s, r.affines)
    moving = r.images.copy()
    for k in range(moving.shape[-1]):  # breathing: +-6 mm every 6 beats
        moving[0, ..., k] = np.roll(moving[0, ..., k], round(3 * np.sin(np.pi * k / 3)), axis=0)
    seg = segmentation.segment_series(moving, r.times_s, r.affines)
    assert still.confidence >= 0.7
    assert seg.confidence < still.confidence - 0.3
    assert any(f.code == "SEG_LOW_CONFIDENCE" for f in seg.flags)
