"""All figures of a study's report from the results dictionary and the images."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from qperfusion.report._encode import figure_png
from qperfusion.report.bullseye import plot_bullseye
from qperfusion.report.curves import plot_curves
from qperfusion.report.maps import MapPanel, plot_maps

__all__ = ["StateImages", "make_report_figures", "save_figures"]


@dataclass
class StateImages:
    """What the figures need from one state beyond results.json.

    Attributes
    ----------
    mbf_ml_min_g : ndarray of shape (n_slices, ny, nx), optional
        Pixel-wise MBF map (NaN outside the myocardium).
    anatomy : ndarray of shape (n_slices, ny, nx), optional
        Background image for the map (e.g. the peak myocardial enhancement frame).
    labels : ndarray of shape (n_slices, ny, nx), optional
        1–16 AHA, 17 LV, 18 RV.
    aif_times_s, aif_mM : ndarray of shape (T,), optional
        The AIF (s, mmol/L blood).
    segment_curves : dict of int to (times_s, measured_mM, fitted_mM), optional
        Per segment: its frame times and mean measured and fitted tissue curves.
    slice_names : tuple of str, optional
        E.g. ``("basal", "mid", "apical")``.
    """

    mbf_ml_min_g: np.ndarray | None = None
    anatomy: np.ndarray | None = None
    labels: np.ndarray | None = None
    aif_times_s: np.ndarray | None = None
    aif_mM: np.ndarray | None = None  # noqa: N815 (mmol/L, the contract's spelling)
    segment_curves: Mapping[int, tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None
    slice_names: tuple[str, ...] | None = None


def _bullseye_figure(results: Mapping) -> Figure:
    states = results["states"]
    panels: list[tuple[str, dict, dict, str, str, float, float, str]] = []
    flows = [v for st in states.values() for v in
             (s.get("mbf_ml_min_g") for s in st["segments"].values()) if v is not None]
    vmax = max(4.0, float(np.ceil(max(flows, default=4.0))))
    mpr = results.get("mpr", {}).get("segments", {})
    has_mpr = any(v is not None for v in mpr.values())
    classes = results["findings"]["classification"]
    for state, st in states.items():
        vals = {k: s.get("mbf_ml_min_g") for k, s in st["segments"].items()}
        # the classification belongs to the segment: shown once, on MPR, else on stress
        marks = classes if state == "stress" and not has_mpr else {}
        panels.append((f"{state} MBF", vals, marks, "MBF (mL/min/g)", "inferno", 0.0, vmax,
                       "{:.2f}"))
    if has_mpr:
        panels.append(("MPR (stress / rest)", mpr, classes,
                       "MPR", "RdYlBu", 0.5, 3.5, "{:.2f}"))
    # explicit axes positions: constrained layout triples the drawing time here
    n = len(panels)
    fig = Figure(figsize=(3.6 * n, 4.3))
    for i, (title, vals, marks, unit, cmap, lo, hi, fmt) in enumerate(panels):
        ax = fig.add_axes((i / n + 0.01 / n, 0.17, 0.98 / n, 0.75))
        cax = fig.add_axes((i / n + 0.15 / n, 0.09, 0.7 / n, 0.035))
        plot_bullseye(vals, ax=ax, title=title, unit=unit, cmap=cmap, vmin=lo, vmax=hi,
                      marks=marks, fmt=fmt, cax=cax)
    return fig


def make_report_figures(
    results: Mapping,
    images: Mapping[str, StateImages] | None = None,
    *,
    map_vmax_ml_min_g: float = 5.0,
) -> dict[str, Figure]:
    """Build the report's figures.

    Parameters
    ----------
    results : dict
        From :func:`qperfusion.analysis.build_results`.
    images : dict of str to StateImages, optional
        Per state; figures whose inputs are missing are left out.
    map_vmax_ml_min_g : float
        Upper end of the MBF map colour scale (mL/min/g), the same for every state.

    Returns
    -------
    dict of str to Figure
        ``"bullseye"`` (stress, rest, MPR panels; abnormal segments cross-hatched,
        borderline hatched), ``"maps"`` (if any state has an MBF map) and
        ``"curves_<state>"`` (if the state has an AIF or segment curves).
    """
    figs: dict[str, Figure] = {"bullseye": _bullseye_figure(results)}
    images = images or {}
    panels = {s: MapPanel(im.anatomy, im.mbf_ml_min_g, im.labels, im.slice_names)
              for s, im in images.items() if im.mbf_ml_min_g is not None}
    if panels:
        figs["maps"] = plot_maps(panels, vmax=map_vmax_ml_min_g)
    for state, im in images.items():
        if im.aif_mM is None and not im.segment_curves:
            continue
        seg = results["states"].get(state, {}).get("segments", {})
        figs[f"curves_{state}"] = plot_curves(
            im.aif_times_s, im.aif_mM, im.segment_curves, title=f"{state}: AIF and tissue curves",
            mbf={k: v.get("mbf_ml_min_g") for k, v in seg.items()})
    return figs


def save_figures(figures: Mapping[str, Figure], outdir: str | Path) -> dict[str, Path]:
    """Write every figure as ``<outdir>/<name>.png``; returns name -> path."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, fig in figures.items():
        p = outdir / f"{name}.png"
        p.write_bytes(figure_png(fig))
        out[name] = p
    return out
