"""The AIF curve is a trimmed mean: exact on clean pixels, robust to a few outliers."""

from __future__ import annotations

import numpy as np
import pytest

from qperfusion import aif
from qperfusion.errors import SegmentationError


def test_trimmed_mean_ignores_outlier_pixels():
    rng = np.random.default_rng(0)
    truth = np.linspace(0, 5, 30)
    series = truth + 0.01 * rng.standard_normal((10, 10, 30))
    mask = np.zeros((10, 10), bool)
    mask[2:8, 2:8] = True
    series[2, 2:5] += 50.0  # three wall/motion pixels
    curve = aif.aif_curve(series, mask)
    np.testing.assert_allclose(curve, truth, atol=0.01)
    np.testing.assert_allclose(aif.aif_curve(series, mask, trim=0.0)[5:],
                               truth[5:] + 150 / 36, atol=0.01)


def test_input_not_modified_and_one_pixel_works():
    series = np.arange(24, dtype=float).reshape(2, 3, 4)
    before = series.copy()
    m = np.zeros((2, 3), bool)
    m[1, 2] = True
    np.testing.assert_array_equal(aif.aif_curve(series, m), series[1, 2])
    np.testing.assert_array_equal(series, before)


def test_bad_mask_raises():
    with pytest.raises(SegmentationError, match="empty"):
        aif.aif_curve(np.ones((4, 4, 5)), np.zeros((4, 4), bool))
    with pytest.raises(SegmentationError, match="shape"):
        aif.aif_curve(np.ones((4, 4, 5)), np.ones((5, 4), bool))


def test_user_aif_mask_from_nifti(tmp_path):
    nib = pytest.importorskip("nibabel")
    m = np.zeros((6, 8), bool)
    m[2:4, 3:6] = True
    path = tmp_path / "aif.nii.gz"
    nib.save(nib.Nifti1Image(m.T[..., None].astype(np.uint8), np.eye(4)), str(path))
    np.testing.assert_array_equal(aif.read_aif_mask(path, (6, 8)), m)
    with pytest.raises(SegmentationError, match="draw the mask on the AIF series"):
        aif.read_aif_mask(path, (8, 6))
    nib.save(nib.Nifti1Image(np.zeros((8, 6, 1), np.uint8), np.eye(4)), str(path))
    with pytest.raises(SegmentationError, match="empty"):
        aif.read_aif_mask(path)
    with pytest.raises(SegmentationError, match="not found"):
        aif.read_aif_mask(tmp_path / "none.nii")
