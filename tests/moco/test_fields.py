"""warp / invert_field / jacobian_determinant against analytic shifts and deformations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi
from skimage.transform import warp as sk_warp

from qperfusion import moco


def _smooth_image(ny: int = 40, nx: int = 50) -> np.ndarray:
    yy, xx = np.mgrid[0:ny, 0:nx]
    return (np.sin(yy / 5.0) * np.cos(xx / 7.0) + 0.1 * yy).astype(np.float64)


def test_warp_matches_skimage_backward_convention():
    img = _smooth_image()
    ny, nx = img.shape
    yy, xx = np.mgrid[0:ny, 0:nx]
    d = np.stack([1.3 * np.sin(xx / 9.0), -0.7 + 0.02 * yy], axis=-1)  # (ny, nx, 2)
    ref = sk_warp(img, np.stack([yy + d[..., 0], xx + d[..., 1]]), order=1, mode="edge")
    out = moco.warp(img, d)
    inner = (slice(3, -3), slice(3, -3))
    np.testing.assert_allclose(out[inner], ref[inner], atol=1e-10)


def test_warp_time_series_and_static_map_and_labels():
    img = _smooth_image()
    T = 4
    series = np.stack([img * (k + 1) for k in range(T)], axis=-1)[None]  # (1, ny, nx, T)
    d = np.zeros((1, *img.shape, 2, T), dtype=np.float32)
    for k in range(T):
        d[0, ..., 0, k] = k  # integer row shifts
    out = moco.warp(series, d)
    assert out.shape == series.shape
    for k in range(T):
        np.testing.assert_allclose(out[0, :-T, :, k], series[0, k:k + img.shape[0] - T, :, k],
                                   rtol=1e-6)
    labels = (np.arange(img.size).reshape(img.shape) % 5).astype(np.int16)
    moved = moco.warp(labels, d, order=0)  # static map carried to every frame
    assert moved.shape == (*img.shape, T)
    assert moved.dtype == np.int16
    np.testing.assert_array_equal(moved[:-3, :, 3], labels[3:, :])
    assert set(np.unique(moco.warp(labels, d + 0.4, order=0))) <= set(np.unique(labels))


def test_warp_rejects_mismatched_shapes():
    d = np.zeros((1, 10, 12, 2, 3), dtype=np.float32)
    with pytest.raises(moco.MocoInputError, match="image size"):
        moco.warp(np.zeros((11, 12, 3)), d)
    with pytest.raises(moco.MocoInputError, match="frames"):
        moco.warp(np.zeros((10, 12, 5)), d)
    with pytest.raises(moco.MocoInputError, match="order"):
        moco.warp(np.zeros((10, 12, 3)), d, order=2)


def test_cubic_warp_blurs_less_than_bilinear():
    # a sharp disc shifted by half a pixel: the truth is the disc drawn at the shifted place
    ny, nx = 40, 40
    yy, xx = np.mgrid[0:ny, 0:nx].astype(np.float64)

    def disc(cy: float) -> np.ndarray:
        r = np.hypot(yy - cy, xx - 20.0)
        return 1.0 / (1.0 + np.exp((r - 8.0) / 0.6))  # smooth edge, ~1 px wide

    d = np.zeros((ny, nx, 2, 1), dtype=np.float32)
    d[:, :, 0, 0] = 0.5
    truth = disc(19.5)
    err = {o: np.abs(moco.warp(disc(20.0)[..., None], d, order=o)[..., 0] - truth).max()
           for o in (1, 3)}
    assert err[3] < 0.5 * err[1]


def test_invert_field_composes_to_identity():
    ny, nx, T = 48, 56, 2
    yy, xx = np.mgrid[0:ny, 0:nx].astype(np.float64)
    u = np.zeros((ny, nx, 2, T), dtype=np.float32)
    u[..., 0, 0] = 2.0 * np.sin(xx / 11.0)
    u[..., 1, 0] = 1.5 * np.cos(yy / 13.0)
    u[..., 0, 1] = -3.0
    v = moco.invert_field(u)
    assert v.shape == u.shape
    # v(q) + u(q + v(q)) = 0
    for k in range(T):
        comp = [ndi.map_coordinates(u[..., c, k], [yy + v[..., 0, k], xx + v[..., 1, k]],
                                    order=1, mode="nearest") for c in range(2)]
        err = np.hypot(v[..., 0, k] + comp[0], v[..., 1, k] + comp[1])[6:-6, 6:-6]
        assert err.max() < 0.02


def test_jacobian_determinant_of_scaling_and_fold():
    ny, nx = 20, 20
    yy, xx = np.mgrid[0:ny, 0:nx].astype(np.float64)
    scale = np.stack([0.1 * yy, 0.1 * xx], axis=-1)[None]  # p -> 1.1 p
    np.testing.assert_allclose(moco.jacobian_determinant(scale), 1.21, atol=1e-12)
    fold = np.stack([-2.0 * yy, 0 * xx], axis=-1)[None]  # p_y -> -p_y
    assert (moco.jacobian_determinant(fold) < 0).all()
