"""AHA bullseye plot of 16 segment values (apex cap, segment 17, shown blank).

Layout as in Cerqueira et al., Circulation 2002;105:539, doi:10.1161/hc0402.102975: basal
segments 1–6 in the outer ring, mid 7–12 in the middle ring, apical 13–16 in the inner ring;
anterior at the top, septum on the left, lateral wall on the right, inferior at the bottom.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Circle, Wedge

__all__ = ["plot_bullseye", "segment_wedges"]

# ring: (segments, inner radius, start angle of the first segment, degrees per segment)
_RINGS = (
    ((1, 2, 3, 4, 5, 6), 3.0, 60.0, 60.0),
    ((7, 8, 9, 10, 11, 12), 2.0, 60.0, 60.0),
    ((13, 14, 15, 16), 1.0, 45.0, 90.0),
)

# classification -> (hatch, outline width): sparse so the printed value stays readable
_MARKS = {"abnormal": ("xx", 3.0), "borderline": ("..", 1.2)}


def segment_wedges() -> dict[int, tuple[float, float, float, float]]:
    """Segment -> (inner radius, outer radius, theta1, theta2 in degrees, counter-clockwise)."""
    out = {}
    for segs, r0, start, step in _RINGS:
        for i, s in enumerate(segs):
            out[s] = (r0, r0 + 1.0, start + i * step, start + (i + 1) * step)
    return out


def plot_bullseye(
    values: Mapping[int | str, float | None],
    *,
    ax: Axes | None = None,
    title: str = "",
    unit: str = "mL/min/g",
    cmap: str = "inferno",
    vmin: float = 0.0,
    vmax: float = 4.0,
    marks: Mapping[int | str, str] | None = None,
    fmt: str = "{:.2f}",
    colorbar: bool = True,
    cax: Axes | None = None,
) -> Axes:
    """Draw a 16-segment AHA bullseye.

    Parameters
    ----------
    values : dict of int or str to float or None
        Segment (1–16, or its results.json key) -> value; None/NaN drawn grey with "–".
    ax : Axes, optional
        Where to draw; a new 4×4 in figure otherwise (``ax.figure`` holds it).
    title, unit : str
        Panel title and the colour-bar label.
    cmap : str
        Matplotlib colour map name.
    vmin, vmax : float
        Colour scale limits (in the unit of ``values``).
    marks : dict of int or str to str, optional
        Segment -> classification; ``"abnormal"`` segments get a sparse cross hatch and a
        thick outline, ``"borderline"`` a dotted hatch and a thin outline.
    fmt : str
        Format of the value printed in each segment.
    colorbar : bool
        Add a colour bar under the plot.
    cax : Axes, optional
        Axes for the colour bar (horizontal); otherwise space is taken from ``ax``.

    Returns
    -------
    Axes
    """
    if ax is None:
        ax = Figure(figsize=(4, 4.4)).add_subplot()
    norm = Normalize(vmin=vmin, vmax=vmax)
    cm = colormaps[cmap]
    vals = {int(k): (np.nan if v is None else float(v)) for k, v in values.items()}
    mk = {int(k): v for k, v in (marks or {}).items()}
    for s, (r0, r1, t1, t2) in segment_wedges().items():
        v = vals.get(s, np.nan)
        finite = np.isfinite(v)
        face = cm(norm(v)) if finite else (0.85, 0.85, 0.85, 1.0)
        hatch, lw = _MARKS.get(mk.get(s, ""), (None, 0.0))
        ax.add_patch(Wedge((0, 0), r1, t1, t2, width=r1 - r0, facecolor=face,
                           edgecolor="white", linewidth=1.5))
        if hatch:
            ax.add_patch(Wedge((0, 0), r1 - 0.04, t1 + 1.0, t2 - 1.0, width=r1 - r0 - 0.08,
                               facecolor="none", edgecolor=(0, 0, 0, 0.55), hatch=hatch,
                               linewidth=lw))
        mid = np.deg2rad(0.5 * (t1 + t2))
        rm = 0.5 * (r0 + r1)
        lum = np.dot(face[:3], (0.299, 0.587, 0.114))
        color = "black" if lum > 0.5 else "white"
        ax.text(rm * np.cos(mid), rm * np.sin(mid) + 0.14, fmt.format(v) if finite else "–",
                ha="center", va="center", fontsize=8.5, fontweight="bold", color=color,
                bbox={"boxstyle": "round,pad=0.15", "fc": face, "ec": "none"}
                if hatch else None)
        ax.text(rm * np.cos(mid), rm * np.sin(mid) - 0.22, str(s), ha="center", va="center",
                fontsize=6.5, color=color)
    ax.add_patch(Circle((0, 0), 1.0, facecolor="white", edgecolor="0.7", linewidth=1.0))
    ax.text(0, 0, "apex\n(17)", ha="center", va="center", fontsize=6.5, color="0.5")
    for txt, xy in (("ANT", (0, 4.3)), ("INF", (0, -4.3)), ("SEPT", (-4.35, 0)),
                    ("LAT", (4.35, 0))):
        ax.text(*xy, txt, ha="center", va="center", fontsize=7, color="0.35",
                rotation=90 if txt in ("SEPT", "LAT") else 0)
    ax.set_xlim(-4.6, 4.6)
    ax.set_ylim(-4.6, 4.6)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=11)
    if colorbar:
        sm = ScalarMappable(norm=norm, cmap=cm)
        if cax is not None:
            cb = ax.figure.colorbar(sm, cax=cax, orientation="horizontal")
        else:
            cb = ax.figure.colorbar(sm, ax=ax, orientation="horizontal", fraction=0.05,
                                    pad=0.02, shrink=0.8)
        cb.set_label(unit, fontsize=8)
        cb.ax.tick_params(labelsize=7)
    return ax
