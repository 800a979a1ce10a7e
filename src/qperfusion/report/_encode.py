"""Figure → PNG bytes / base64 data URI, without pyplot (no display, no global state)."""

from __future__ import annotations

import base64
import io

from matplotlib.figure import Figure

__all__ = ["figure_png", "png_data_uri"]

#: Resolution of report figures (dots per inch): sharp on screen, small files, fast.
DPI = 100


def figure_png(fig: Figure, *, dpi: int = DPI) -> bytes:
    """Render ``fig`` with the Agg canvas to PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
    return buf.getvalue()


def png_data_uri(png: bytes | Figure) -> str:
    """``data:image/png;base64,...`` of PNG bytes or of a figure (rendered first)."""
    if isinstance(png, Figure):
        png = figure_png(png)
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
