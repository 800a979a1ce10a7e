"""AIF and per-segment measured/fitted tissue curves of one state."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib.figure import Figure

from qperfusion.analysis.aha import RINGS, SEGMENT_NAMES

__all__ = ["plot_curves"]


def plot_curves(
    aif_times_s: np.ndarray | None,
    aif_mM: np.ndarray | None,
    segment_curves: Mapping[int | str, tuple[np.ndarray, np.ndarray, np.ndarray]] | None,
    *,
    title: str = "",
    mbf: Mapping[int | str, float | None] | None = None,
) -> Figure:
    """AIF on top, then one small panel per AHA segment (rows basal, mid, apical).

    Parameters
    ----------
    aif_times_s : ndarray of shape (T,), optional
        AIF frame times (s).
    aif_mM : ndarray of shape (T,), optional
        AIF concentration (mmol/L).
    segment_curves : dict of int to (times_s, measured_mM, fitted_mM), optional
        Segment -> three arrays of shape (T_s,): the segment's frame times (s), its measured
        mean tissue concentration and the model's fitted curve (mmol/L). Missing segments
        are left empty.
    title : str
    mbf : dict of int to float, optional
        Segment MBF (mL/min/g) printed in each panel.

    Returns
    -------
    Figure
    """
    # fixed margins, not constrained layout: it costs ~1 s for 17 axes
    fig = Figure(figsize=(11, 7.2))
    gs = fig.add_gridspec(4, 6, height_ratios=[1.3, 1, 1, 1], left=0.06, right=0.99,
                          bottom=0.05, top=0.95, hspace=0.45, wspace=0.18)
    ax = fig.add_subplot(gs[0, :])
    if aif_times_s is not None and aif_mM is not None:
        ax.plot(aif_times_s, aif_mM, "o-", ms=2.5, lw=1.2, color="crimson", label="AIF (blood)")
        peak = int(np.nanargmax(aif_mM))
        ax.annotate(f"peak {aif_mM[peak]:.1f} mmol/L", (aif_times_s[peak], aif_mM[peak]),
                    xytext=(8, -4), textcoords="offset points", fontsize=8)
        ax.legend(fontsize=8, loc="upper right")
    else:
        ax.text(0.5, 0.5, "no AIF", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("time (s)", fontsize=8)
    ax.set_ylabel("[Gd] (mmol/L)", fontsize=8)
    ax.tick_params(labelsize=7)
    if title:
        ax.set_title(title, fontsize=11)

    curves = {int(k): v for k, v in (segment_curves or {}).items()}
    flows = {int(k): v for k, v in (mbf or {}).items()}
    ymax = max((float(np.nanmax(np.r_[m, f])) for _, m, f in curves.values()
                if np.isfinite(np.r_[m, f]).any()), default=1.0)
    first = None
    for r, (ring, segs) in enumerate(RINGS.items(), start=1):
        for c in range(6):
            if c >= len(segs):
                continue
            s = segs[c]
            a = fig.add_subplot(gs[r, c], sharex=first, sharey=first)
            first = first or a
            a.tick_params(labelsize=6, labelleft=c == 0, labelbottom=r == 3 or c >= 4)
            name = SEGMENT_NAMES[s].split(" ", 1)[1]
            a.set_title(f"{s} {name}", fontsize=7.5, pad=2)
            if c == 0:
                a.set_ylabel(ring, fontsize=9)
            if s in curves:
                t, meas, fit = curves[s]
                a.plot(t, meas, ".", ms=3, color="0.25")
                a.plot(t, fit, "-", lw=1.3, color="tab:blue")
            else:
                a.text(0.5, 0.5, "no data", ha="center", va="center", fontsize=7,
                       transform=a.transAxes, color="0.5")
            v = flows.get(s)
            if v is not None and np.isfinite(v):
                a.text(0.97, 0.92, f"{v:.2f}", ha="right", va="top", fontsize=7,
                       transform=a.transAxes, color="tab:blue")
    if first is not None:
        first.set_ylim(bottom=min(0.0, first.get_ylim()[0]), top=1.1 * ymax)
    fig.text(0.995, 0.005, "dots measured, line fitted (mmol/L vs s); number: MBF mL/min/g",
             ha="right", va="bottom", fontsize=7, color="0.4")
    return fig
