"""The pieces: demons, the low-rank model, the heart box, outlier bookkeeping."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from qperfusion.moco._crop import heart_box
from qperfusion.moco._demons import demons, downsample, upsample_field
from qperfusion.moco._model import lowrank_model
from qperfusion.moco._outliers import interpolate_frames


def _blobs(ny: int = 64, nx: int = 64) -> np.ndarray:
    yy, xx = np.mgrid[0:ny, 0:nx].astype(np.float64)
    img = np.exp(-((yy - 30) ** 2 + (xx - 34) ** 2) / 60.0)
    img += 0.6 * ((np.hypot(yy - 32, xx - 30) > 10) & (np.hypot(yy - 32, xx - 30) < 16))
    return ndi.gaussian_filter(img, 1.0)


def test_demons_recovers_known_smooth_deformation():
    ref = _blobs()
    ny, nx = ref.shape
    yy, xx = np.mgrid[0:ny, 0:nx].astype(np.float64)
    truth = np.stack([2.5 + 0.8 * np.sin(xx / 12.0), -1.8 + 0.6 * np.cos(yy / 10.0)], -1)
    # moving(p) = ref(p - truth(p)) approximately undone by u ~ truth (smooth, small gradient)
    inv = -truth
    moving = ndi.map_coordinates(ref, [yy + inv[..., 0], xx + inv[..., 1]], order=3,
                                 mode="nearest")
    u = demons(ref[None], moving[None])[0]
    back = ndi.map_coordinates(moving, [yy + u[..., 0], xx + u[..., 1]], order=1, mode="nearest")
    inner = (slice(12, -12), slice(12, -12))
    before = np.abs(moving - ref)[inner].mean()
    after = np.abs(back - ref)[inner].mean()
    assert after < 0.1 * before
    edges = np.hypot(*np.gradient(ref))[inner] > 0.05  # the field is defined where there is edge
    err = np.hypot(*(u - truth)[inner].transpose(2, 0, 1))[edges]
    assert np.median(err) < 0.3


def test_pyramid_helpers_keep_px_units():
    f = np.full((1, 16, 20, 2), 3.0, dtype=np.float32)
    coarse = downsample(f) / 2.0
    assert coarse.shape == (1, 8, 10, 2)
    np.testing.assert_allclose(upsample_field(coarse, (16, 20)), 3.0, rtol=1e-6)
    assert downsample(np.ones((2, 7, 9))).shape == (2, 4, 5)


def test_lowrank_model_reproduces_a_low_rank_series_and_projects_other_frames():
    rng = np.random.default_rng(1)
    a, b = rng.random((2, 20, 24))
    T = 30
    c1, c2 = rng.random(T), rng.random(T)
    frames = c1[:, None, None] * a + c2[:, None, None] * b
    frames[:3] = 0.5 * a + 2.0 * b  # PD-like frames with another mixture: still in the span
    basis = np.arange(T) >= 3
    M = lowrank_model(frames, 2, basis)
    np.testing.assert_allclose(M, frames, rtol=1e-4, atol=1e-5)
    # rank 1 cannot hold two independent patterns
    assert np.abs(lowrank_model(frames, 1, basis) - frames).max() > 1e-2


def test_heart_box_contains_the_heart_and_small_images_are_whole(series):
    y0, y1, x0, x1 = heart_box(series.images[..., series.pd_frames:])
    ys, xs = np.nonzero(series.myocardium | series.rv)
    assert y0 <= ys.min() - 4
    assert y1 >= ys.max() + 4
    assert x0 <= xs.min() - 4
    assert x1 >= xs.max() + 4
    ny, nx = series.images.shape[:2]
    assert (y1 - y0) * (x1 - x0) < 0.4 * ny * nx  # a real crop
    assert heart_box(np.ones((48, 64, 20))) == (0, 48, 0, 64)


def test_interpolate_frames_bridges_within_kind():
    T = 8
    x = np.tile(np.arange(T, dtype=float), (2, 3, 1))
    bad = np.zeros(T, dtype=bool)
    bad[[1, 4, 5, 7]] = True
    out = interpolate_frames(x, bad, pd_frames=2)
    np.testing.assert_allclose(out[0, 0], [0, 0, 2, 3, 4, 5, 6, 6])
    np.testing.assert_array_equal(x[0, 0], np.arange(T))  # input untouched
