"""Segment statistics leave out the myocardium's border ring (partial volume)."""

from __future__ import annotations

import numpy as np

from qperfusion.workflows.pipeline import MIN_CORE_PIXELS, core_labels


def _ring(n: int = 64, r_in: float = 10, r_out: float = 16) -> np.ndarray:
    y, x = np.mgrid[:n, :n] - n / 2
    r = np.hypot(y, x)
    return (r >= r_in) & (r < r_out)


def test_border_ring_is_removed_and_pools_are_kept():
    myo = _ring()[None]
    labels = np.where(myo, 7, 0).astype(np.uint8)
    labels[0, 32, 32] = 17  # an LV pool pixel stays
    out = core_labels(labels, myo)
    kept = out == 7
    # every kept pixel has all 4 neighbours in the myocardium; every border pixel is gone
    inner = myo[0, 1:-1, 1:-1] & myo[0, :-2, 1:-1] & myo[0, 2:, 1:-1] \
        & myo[0, 1:-1, :-2] & myo[0, 1:-1, 2:]
    np.testing.assert_array_equal(kept[0, 1:-1, 1:-1], inner)
    assert out[0, 32, 32] == 17
    assert labels[0, 32, 32] == 17  # input untouched


def test_a_thin_segment_keeps_all_its_pixels():
    myo = _ring(r_in=10, r_out=12)[None]  # two pixels thick: almost nothing survives erosion
    labels = np.where(myo, 3, 0).astype(np.uint8)
    out = core_labels(labels, myo)
    assert np.count_nonzero(out == 3) >= MIN_CORE_PIXELS
    np.testing.assert_array_equal(out, labels)
