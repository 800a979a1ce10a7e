"""Blood-pool detection on synthetic AIF series with known LV, RV and aorta."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from qperfusion import aif
from qperfusion.errors import SegmentationError


def _gv(t, t0, peak, tmax=3.0):
    x = np.clip(t - t0, 0, None) / tmax
    return peak * x**2 * np.exp(2 * (1 - x))


def make_aif_series(*, rv=True, aorta=True, motion_px=0.0, seed=0, pd_frames=3):
    """Low-resolution AIF image: LV disc, RV crescent, aorta disc; optional breathing shift."""
    rng = np.random.default_rng(seed)
    ny, nx, n = 40, 48, 60
    t = np.cumsum(np.r_[0.0, 0.85 + 0.05 * rng.standard_normal(n - 1)])
    yy, xx = np.mgrid[0:ny, 0:nx].astype(float)
    lv_c, rv_c, ao_c = _gv(t, 7.0, 400.0), _gv(t, 4.0, 450.0), _gv(t, 8.0, 380.0)
    myo_c = 0.05 * np.cumsum(lv_c * 0.85) * np.exp(-t / 40)
    shifts = motion_px * np.sin(2 * np.pi * t / 5.0)
    img = np.empty((ny, nx, n))
    lv_masks = np.empty((ny, nx, n), dtype=bool)
    for k in range(n):
        cy, cx = 20.0 + shifts[k], 26.0
        r = np.hypot(yy - cy, xx - cx)
        phi = np.degrees(np.arctan2(yy - cy, xx - cx)) % 360
        lv = r < 6.0
        myo = (r >= 6.0) & (r < 8.5)
        rvm = rv & (r >= 8.5) & (r < 13) & (phi > 130) & (phi < 230)
        ao = aorta & (np.hypot(yy - 8.0 - shifts[k], xx - 38.0) < 2.5)
        s = np.full((ny, nx), 30.0)
        s[myo] = 60 + myo_c[k]
        s[lv] = 90 + lv_c[k]
        s[rvm] = 90 + rv_c[k]
        s[ao] = 90 + ao_c[k]
        s = ndimage.gaussian_filter(s, 0.6)
        if k < pd_frames:  # proton-density frames: bright, no contrast
            s = np.full((ny, nx), 500.0)
        img[..., k] = s + 3.0 * rng.standard_normal((ny, nx))
        lv_masks[..., k] = lv
    return img, t, lv_masks, lv_c


@pytest.mark.parametrize("motion_px", [0.0, 1.5, 2.5])
def test_aif_mask_inside_the_lv_in_every_frame(motion_px):
    img, t, lv, _ = make_aif_series(motion_px=motion_px)
    det = aif.detect_blood_pool(img, t, pd_frames=3)
    assert det.mask.sum() >= 20
    assert np.all(lv[det.mask]), "AIF mask pixel outside the LV pool in some frame"
    assert det.confidence >= 0.5
    assert det.lv_arrival_s > det.rv_arrival_s
    assert not any(f.severity != "info" for f in det.flags)


def test_aorta_is_not_taken_for_the_lv():
    img, t, _, _ = make_aif_series(rv=True, aorta=True)
    det = aif.detect_blood_pool(img, t, pd_frames=3)
    assert not det.lv_pool[8, 38]  # the aorta's centre
    assert det.lv_pool[20, 26]


def test_single_pool_without_rv_is_flagged():
    img, t, lv, _ = make_aif_series(rv=False, aorta=False)
    det = aif.detect_blood_pool(img, t, pd_frames=3)
    assert np.all(lv[det.mask])
    assert any(f.code == "AIF_NO_RV" for f in det.flags)


def test_aif_curve_is_the_pool_signal():
    img, t, _, lv_c = make_aif_series()
    det = aif.detect_blood_pool(img, t, pd_frames=3)
    curve = aif.aif_curve(img, det.mask)
    truth = 90 + lv_c
    np.testing.assert_allclose(curve[3:], truth[3:], rtol=0.03, atol=3.0)


def test_no_enhancement_raises_with_mask_hint():
    img, t, _, _ = make_aif_series()
    flat = np.repeat(img[..., 5:6], img.shape[-1], axis=-1)
    with pytest.raises(SegmentationError, match="masks"):
        aif.detect_blood_pool(flat, t, pd_frames=3)


def test_bad_input_raises():
    img, t, _, _ = make_aif_series()
    with pytest.raises(SegmentationError, match=r"\(ny, nx, T\)"):
        aif.detect_blood_pool(img[None], t)
    with pytest.raises(SegmentationError, match="times_s"):
        aif.detect_blood_pool(img, t[:-1])
    with pytest.raises(SegmentationError, match="too few"):
        aif.detect_blood_pool(img[..., :6], t[:6], pd_frames=3)


def test_aif_from_the_myocardial_series_warns_about_saturation():
    img, t, lv, _ = make_aif_series()
    weak = img.copy()
    weak[..., 3:] = weak[..., 3:5].mean(axis=-1, keepdims=True)  # slice 0: no enhancement
    k, det = aif.detect_in_myocardial_series(np.stack([weak, img]), t, pd_frames=3)
    assert k == 1
    assert np.all(lv[det.mask])
    assert any(f.code == "AIF_FROM_MYOCARDIAL_SERIES" and f.severity == "warning"
               for f in det.flags)
    with pytest.raises(SegmentationError, match="no LV blood pool"):
        aif.detect_in_myocardial_series(weak[None], t, pd_frames=3)
