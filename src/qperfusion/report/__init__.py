"""Report stage: bullseye plots, MBF maps, AIF/tissue curves and the self-contained HTML report.

Figures are drawn on :class:`matplotlib.figure.Figure` objects with the Agg canvas, never
through pyplot, so no display is needed and nothing global changes.

Typical use by the pipeline::

    from qperfusion import report
    figs = report.make_report_figures(results, {"stress": report.StateImages(...), ...})
    report.save_figures(figs, out / "figures")
    report.write_report(out / "report.html", results, figs)
"""

from __future__ import annotations

from qperfusion.report._encode import figure_png, png_data_uri
from qperfusion.report.bullseye import plot_bullseye, segment_wedges
from qperfusion.report.curves import plot_curves
from qperfusion.report.figures import StateImages, make_report_figures, save_figures
from qperfusion.report.html import FIGURE_TEXT, render_report, write_report
from qperfusion.report.maps import MapPanel, crop_box, plot_maps

__all__ = [
    "FIGURE_TEXT",
    "MapPanel",
    "StateImages",
    "crop_box",
    "figure_png",
    "make_report_figures",
    "plot_bullseye",
    "plot_curves",
    "plot_maps",
    "png_data_uri",
    "render_report",
    "save_figures",
    "segment_wedges",
    "write_report",
]
