"""MBF maps over the anatomy: one row per state, one column per slice, cropped to the heart."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

__all__ = ["MapPanel", "crop_box", "plot_maps"]

#: Labels of the myocardium (1–16) and the blood pools (17 LV, 18 RV) used to crop.
_HEART_MAX_LABEL = 18


@dataclass
class MapPanel:
    """One state's images for the map figure.

    Attributes
    ----------
    anatomy : ndarray of shape (n_slices, ny, nx)
        Grey-scale background (e.g. the peak-enhancement frame), any unit.
    values : ndarray of shape (n_slices, ny, nx)
        The map (e.g. MBF, mL/min/g), NaN where not shown.
    labels : ndarray of shape (n_slices, ny, nx), optional
        Label image (1–16 myocardium, 17 LV, 18 RV): the myocardial outline is drawn and
        the images are cropped around the heart.
    slice_names : tuple of str, optional
        Column titles (default ``"slice 1"``, ...).
    """

    anatomy: np.ndarray | None
    values: np.ndarray
    labels: np.ndarray | None = None
    slice_names: tuple[str, ...] | None = None


def crop_box(mask: np.ndarray, *, margin: float = 0.35, min_size: int = 24) -> tuple[slice, slice]:
    """Square (row, column) slices around the ``True`` pixels of a (n_slices, ny, nx) mask.

    The box is the union over slices, grown by ``margin`` of its size on each side; the whole
    image when the mask is empty.
    """
    ny, nx = mask.shape[-2:]
    any2d = mask.reshape(-1, ny, nx).any(axis=0)
    if not any2d.any():
        return slice(0, ny), slice(0, nx)
    rows = np.nonzero(any2d.any(axis=1))[0]
    cols = np.nonzero(any2d.any(axis=0))[0]
    cy, cx = 0.5 * (rows[0] + rows[-1]), 0.5 * (cols[0] + cols[-1])
    half = max(rows[-1] - rows[0], cols[-1] - cols[0], min_size) * (0.5 + margin)
    r0, r1 = max(int(np.floor(cy - half)), 0), min(int(np.ceil(cy + half)) + 1, ny)
    c0, c1 = max(int(np.floor(cx - half)), 0), min(int(np.ceil(cx + half)) + 1, nx)
    return slice(r0, r1), slice(c0, c1)


def plot_maps(
    panels: Mapping[str, MapPanel],
    *,
    vmin: float = 0.0,
    vmax: float = 5.0,
    cmap: str = "inferno",
    unit: str = "MBF (mL/min/g)",
) -> Figure:
    """Map figure: rows = states (e.g. stress, rest), columns = slices.

    Parameters
    ----------
    panels : dict of str to MapPanel
        State name -> images.
    vmin, vmax : float
        Colour scale (same for every state so stress and rest compare by eye).
    cmap : str
    unit : str
        Colour-bar label.

    Returns
    -------
    Figure
    """
    n_rows = max(len(panels), 1)
    n_cols = max((p.values.shape[0] for p in panels.values()), default=1)
    # fixed margins (constrained layout is slow); last 0.9 in hold the colour bar
    w, h = 2.3 * n_cols + 0.9, 2.3 * n_rows + 0.3
    fig = Figure(figsize=(w, h))
    fig.subplots_adjust(left=0.25 / w, right=1 - 0.9 / w, bottom=0.05 / h, top=1 - 0.3 / h,
                        wspace=0.04, hspace=0.04)
    axes = fig.subplots(n_rows, n_cols, squeeze=False)
    cm = colormaps[cmap].with_extremes(bad=(0.0, 0.0, 0.0, 0.0))
    norm = Normalize(vmin=vmin, vmax=vmax)
    for r, (state, p) in enumerate(panels.items()):
        mask = (p.labels > 0) & (p.labels <= _HEART_MAX_LABEL) if p.labels is not None \
            else np.isfinite(p.values)
        rs, cs = crop_box(mask)
        for k in range(n_cols):
            ax = axes[r, k]
            ax.set_xticks([])
            ax.set_yticks([])
            if k >= p.values.shape[0]:
                ax.axis("off")
                continue
            if p.anatomy is not None:
                a = np.asarray(p.anatomy[k], dtype=float)[rs, cs]
                lo, hi = np.nanpercentile(a, [1, 99.5]) if np.isfinite(a).any() else (0, 1)
                ax.imshow(a, cmap="gray", vmin=lo, vmax=hi if hi > lo else lo + 1,
                          interpolation="nearest")
            ax.imshow(np.ma.masked_invalid(p.values[k][rs, cs]), cmap=cm, norm=norm,
                      interpolation="nearest")
            if p.labels is not None:
                myo = ((p.labels[k] >= 1) & (p.labels[k] <= 16))[rs, cs]
                if myo.any():
                    ax.contour(myo.astype(float), levels=[0.5], colors="cyan", linewidths=0.6)
            names = p.slice_names or tuple(f"slice {i + 1}" for i in range(p.values.shape[0]))
            ax.set_title(names[k] if r == 0 else "", fontsize=9)
            if k == 0:
                ax.set_ylabel(state, fontsize=11)
    cax = fig.add_axes((1 - 0.7 / w, 0.1, 0.18 / w, 0.8))
    cb = fig.colorbar(ScalarMappable(norm=norm, cmap=colormaps[cmap]), cax=cax)
    cb.set_label(unit, fontsize=9)
    return fig
