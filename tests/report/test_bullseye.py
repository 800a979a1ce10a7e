"""Bullseye geometry follows the AHA layout; colours follow the values."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.patches import Wedge

from qperfusion.report import figure_png, plot_bullseye, segment_wedges


def _mid_angle(s):
    _, _, t1, t2 = segment_wedges()[s]
    return (0.5 * (t1 + t2)) % 360


@pytest.mark.parametrize(
    ("segment", "angle", "ring"),
    [
        (1, 90, "outer"), (2, 150, "outer"), (3, 210, "outer"), (4, 270, "outer"),
        (5, 330, "outer"), (6, 30, "outer"),  # anterior top, septum left, lateral right
        (7, 90, "middle"), (10, 270, "middle"),
        (13, 90, "inner"), (14, 180, "inner"), (15, 270, "inner"), (16, 0, "inner"),
    ],
)
def test_aha_layout(segment, angle, ring):
    r0, r1, _, _ = segment_wedges()[segment]
    assert _mid_angle(segment) == pytest.approx(angle)
    assert {"outer": (3, 4), "middle": (2, 3), "inner": (1, 2)}[ring] == (r0, r1)


def test_wedges_cover_each_ring_once():
    w = segment_wedges()
    assert sorted(w) == list(range(1, 17))
    for ring in ((1, 6), (7, 12), (13, 16)):
        span = sum(w[s][3] - w[s][2] for s in range(ring[0], ring[1] + 1))
        assert span == pytest.approx(360)


def test_colours_follow_values_and_missing_is_grey():
    ax = Figure().add_subplot()
    vals = {str(s): float(s) / 4 for s in range(1, 16)}  # segment 16 missing
    vals["3"] = None
    plot_bullseye(vals, ax=ax, vmin=0, vmax=4, cmap="viridis", marks={"1": "abnormal"})
    faces = [p.get_facecolor() for p in ax.patches if isinstance(p, Wedge)
             and p.get_facecolor()[3] > 0]
    # 16 coloured wedges (the hatch overlay of segment 1 has no face)
    assert len(faces) == 16
    grey = (0.85, 0.85, 0.85, 1.0)
    assert sum(np.allclose(f, grey) for f in faces) == 2  # segments 3 and 16
    texts = [t.get_text() for t in ax.texts]
    assert "0.25" in texts
    assert "3.75" in texts
    assert texts.count("–") == 2
    assert figure_png(ax.figure)[:8] == b"\x89PNG\r\n\x1a\n"
