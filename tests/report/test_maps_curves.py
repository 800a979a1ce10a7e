"""Map and curve figures: cropping, transparency outside the myocardium, missing data."""

from __future__ import annotations

import numpy as np
import pytest

from qperfusion.report import MapPanel, crop_box, figure_png, plot_curves, plot_maps


def test_crop_box_centres_on_mask_and_keeps_margin():
    mask = np.zeros((2, 100, 120), bool)
    mask[0, 40:60, 50:70] = True  # 20 × 20 in slice 0
    mask[1, 45:50, 55:60] = True
    rs, cs = crop_box(mask, margin=0.5, min_size=10)
    assert (rs.start, rs.stop) == (30, 70)  # 10 rows margin each side of 40..59
    assert (cs.start, cs.stop) == (40, 80)
    assert crop_box(np.zeros((1, 8, 9), bool)) == (slice(0, 8), slice(0, 9))


def test_crop_box_clipped_at_image_edge():
    mask = np.zeros((1, 50, 50), bool)
    mask[0, 0:5, 45:50] = True
    rs, cs = crop_box(mask)
    assert rs.start == 0
    assert cs.stop == 50


def test_maps_overlay_nan_transparent(rest_state):
    maps, labels, _, im = rest_state
    fig = plot_maps({"rest": MapPanel(im.anatomy, maps["mbf_ml_min_g"], labels)}, vmax=4.0)
    ax = fig.axes[0]
    overlay = ax.images[1]  # anatomy, then the map
    data = overlay.get_array()
    assert np.ma.isMaskedArray(data)
    assert data.mask.any()
    assert (~data.mask).any()
    rgba = overlay.cmap(overlay.norm(data))
    assert np.all(rgba[data.mask][:, 3] == 0)  # NaN pixels let the anatomy through
    assert overlay.norm.vmax == 4.0
    assert len(fig.axes) == 3 + 1  # 3 slices + colour bar
    assert figure_png(fig)[:4] == b"\x89PNG"


def test_curves_with_missing_segments_and_no_aif():
    t = np.linspace(0, 40, 50)
    y = np.exp(-((t - 15) / 5) ** 2)
    fig = plot_curves(None, None, {"3": (t, y, y), 10: (t, y + 0.1, y)}, mbf={"3": 2.5})
    assert len(fig.axes) == 1 + 16
    texts = [tx.get_text() for ax in fig.axes for tx in ax.texts]
    assert "no AIF" in texts
    assert texts.count("no data") == 14
    assert "2.50" in texts
    lines = next(ax for ax in fig.axes if ax.get_title().startswith("3 ")).lines
    assert len(lines) == 2
    np.testing.assert_allclose(lines[1].get_ydata(), y)


@pytest.mark.parametrize("n_slices", [1, 4])
def test_maps_any_slice_count(n_slices):
    vals = np.full((n_slices, 20, 20), np.nan)
    vals[:, 5:10, 5:10] = 2.0
    fig = plot_maps({"stress": MapPanel(None, vals)})
    assert len(fig.axes) == n_slices + 1
