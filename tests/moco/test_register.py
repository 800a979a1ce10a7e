"""register_series on the truth-known moving series: residual motion, outliers, curves."""

from __future__ import annotations

import numpy as np
import pytest

from qperfusion import moco
from qperfusion.moco._synthetic import synthetic_series


def test_residual_displacement_in_myocardium(series, registered):
    T = series.images.shape[-1]
    assert registered.displacement.shape == (1, *series.images.shape[:2], 2, T)
    assert registered.displacement.dtype == np.float32
    r = np.moveaxis(moco.residual_displacement(registered.displacement, series.displacement[None]),
                    -1, 1)[0]
    keep = np.ones(T, dtype=bool)
    keep[series.through_plane_frames] = False  # no in-plane truth exists for these
    myo = r[keep][:, series.myocardium]
    before = np.linalg.norm(np.moveaxis(series.displacement, -1, 0)[keep][:, series.myocardium],
                            axis=-1)
    assert np.percentile(before, 95) > 4.0  # the test has motion to correct
    assert np.median(myo) <= 0.5
    assert np.percentile(myo, 95) <= 1.0
    # proton-density frames (other contrast) land in the same geometry
    assert np.median(r[: series.pd_frames][:, series.myocardium]) <= 0.5


def test_abrupt_frames_flagged_or_corrected(series, registered):
    r = np.moveaxis(moco.residual_displacement(registered.displacement, series.displacement[None]),
                    -1, 1)[0]
    for k in series.through_plane_frames:
        assert registered.outliers[0, k]
        assert "residual" in registered.reasons[(0, k)]
    for k in series.jump_frames:
        corrected = np.median(r[k][series.myocardium]) <= 1.0
        assert corrected or registered.outliers[0, k]
    # few false alarms, and no QC warning at this rate
    assert registered.outliers.sum() <= len(series.through_plane_frames) + len(
        series.jump_frames)
    assert set(registered.reasons) == {(0, int(k)) for k in np.nonzero(registered.outliers[0])[0]}
    assert registered.flags == []


def test_tissue_curves_follow_truth_and_outliers_are_bridged(series, registered):
    reg = registered.registered
    assert reg.shape == series.images.shape
    myo = series.myocardium
    truth = series.static[myo].mean(axis=0)  # the motion-free curve (partial volume included)
    T = truth.size
    moved = np.median(np.linalg.norm(series.displacement[myo], axis=1), axis=0) > 2.0  # px
    good = ~registered.outliers[0]
    err_after = np.abs(reg[myo].mean(axis=0) - truth)[good]
    err_before = np.abs(series.images[myo].mean(axis=0) - truth)[good]
    assert np.median(err_after[moved[good]]) < 0.4 * np.median(err_before[moved[good]])
    # worst at the LV peak: 0.3 px of residual lets bright blood into the edge pixels
    assert err_after.max() < 0.15 * np.ptp(truth[series.pd_frames:])
    # bridged outlier frame: the interpolation of its neighbours
    k = series.through_plane_frames[0]
    np.testing.assert_allclose(reg[..., k], 0.5 * (reg[..., k - 1] + reg[..., k + 1]),
                               atol=1e-5)
    assert reg.shape[-1] == T


def test_masks_carried_back_to_acquired_frames(series, registered):
    """A blood-pool mask on the registered geometry lands on the moving blood pool."""
    v = moco.invert_field(registered.displacement)
    lv_t = moco.warp(series.lv, v, order=0)  # (ny, nx, T), bool
    T = series.images.shape[-1]
    keep = [k for k in range(T) if k not in series.through_plane_frames]
    # the acquired LV blood pool of each frame: observed_t(p) = static(p + u_t(p))
    truth_t = moco.warp(series.lv, series.displacement, order=0)
    assert lv_t.dtype == bool
    assert lv_t.shape == truth_t.shape
    dice = [2 * np.sum(lv_t[..., k] & truth_t[..., k]) / (lv_t[..., k].sum()
            + truth_t[..., k].sum()) for k in keep]
    assert np.median(dice) > 0.9


def test_too_many_outliers_raise_qc_warning():
    coughs = tuple(range(12, 40, 3))  # 10 of 40 frames, each a different off-plane section
    s = synthetic_series(shape=(96, 128), n_frames=40, through_plane_frames=coughs,
                         jump_frames=(), seed=3)
    res = moco.register_series(s.images, pd_frames=s.pd_frames, max_outlier_fraction=0.15)
    assert res.outliers[0, list(coughs)].mean() >= 0.7
    assert res.outliers[0].sum() - res.outliers[0, list(coughs)].sum() <= 1
    codes = [f.code for f in res.flags]
    assert codes == ["MOCO_OUTLIERS"]
    assert res.flags[0].severity == "warning"
    assert res.flags[0].stage == "moco"


def test_multislice_and_small_aif_series():
    s = synthetic_series(shape=(48, 64), n_frames=30, resp_amplitude_px=(3.0, 1.0),
                         jump_frames=(), through_plane_frames=(), seed=2)
    stack = np.stack([s.images, s.images[::-1, :, :]])  # two slices, the 2nd flipped
    res = moco.register_series(stack, pd_frames=s.pd_frames)
    assert res.registered.shape == stack.shape
    assert res.displacement.shape == (2, 48, 64, 2, 30)
    assert res.outliers.shape == (2, 30)
    assert res.boxes == [(0, 48, 0, 64)] * 2  # small image: whole
    r = np.moveaxis(moco.residual_displacement(res.displacement[0], s.displacement), -1, 0)
    lv = s.lv
    before = np.linalg.norm(np.moveaxis(s.displacement, -1, 0)[:, lv], axis=-1)
    assert np.median(r[:, lv]) < 0.5 * np.median(before)
    # the blood-pool mask stays on the blood pool: its curve is the motion-free one
    truth = s.static[lv].mean(axis=0)
    err = np.abs(res.registered[0][lv].mean(axis=0) - truth)
    assert err.max() < 0.6 * np.abs(s.images[lv].mean(axis=0) - truth).max()
    assert err.max() < 0.03 * np.ptp(truth[s.pd_frames:])


def test_input_not_modified_and_bad_input_raises(series):
    small = series.images[40:104, 60:140, :20].copy()
    keep = small.copy()
    moco.register_series(small, pd_frames=3, ranks=(3,))
    np.testing.assert_array_equal(small, keep)
    with pytest.raises(moco.MocoInputError, match="valid"):
        moco.register_series(small, pd_frames=3, method="elastix")
    bad = small.copy()
    bad[0, 0, 5] = np.nan
    with pytest.raises(moco.MocoInputError, match="NaN"):
        moco.register_series(bad, pd_frames=3)
    with pytest.raises(moco.MocoInputError, match="pd_frames"):
        moco.register_series(small, pd_frames=19)
    with pytest.raises(moco.MocoInputError, match="crop"):
        moco.register_series(small, pd_frames=3, crop=(0, 500, 0, 10))


@pytest.mark.parametrize("name", sorted(moco.METHODS))
def test_every_method_reduces_motion(name):
    s = synthetic_series(shape=(64, 80), n_frames=30, resp_amplitude_px=(3.0, 1.5),
                         jump_frames=(), through_plane_frames=(), seed=5, noise=0.01)
    res = moco.register_series(s.images, pd_frames=2, method=name, crop=False, ranks=(3, 5))
    r = np.moveaxis(moco.residual_displacement(res.displacement[0], s.displacement), -1, 0)[2:]
    before = np.linalg.norm(np.moveaxis(s.displacement, -1, 0)[2:][:, s.myocardium], axis=-1)
    assert np.median(r[:, s.myocardium]) < 0.5 * np.median(before)


def test_blank_constant_and_integer_series_do_not_fail():
    """Degenerate input (no structure) gives zero motion and no outliers, without warnings."""
    for images in (np.zeros((40, 50, 10)), np.full((40, 50, 10), 7.0)):
        res = moco.register_series(images, pd_frames=2)
        assert np.abs(res.displacement).max() < 1e-3
        assert not res.outliers.any()
        np.testing.assert_allclose(res.registered, images, atol=1e-5)
    s = synthetic_series(shape=(64, 80), n_frames=12, jump_frames=(), through_plane_frames=())
    res = moco.register_series(np.round(s.images * 1000).astype(np.int16), pd_frames=3)
    assert res.registered.dtype == np.float32
