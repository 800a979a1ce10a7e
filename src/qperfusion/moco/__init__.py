"""Motion correction (stage 3): model-based non-rigid registration of perfusion series.

Contrast changes from frame to frame, so no single frame is a usable reference. Each frame is
registered instead to its own synthetic frame from a low-rank (PCA / Karhunen–Loève) model of
the series, whose rank is raised as the series gets aligned; proton-density frames go to their
projection on the saturation-recovery components, so they land in the same geometry.

Method (measured by ``benchmarks/moco.py``; figures in its docstring):

* crop: a box around the heart from the temporal SD (whole image for the small AIF series);
* rigid: translation by phase correlation on the first pass (breath-holds lost, gasps);
* non-rigid: our own batched symmetric-force demons (:mod:`._demons`), all frames advancing
  together as one array, chosen over scikit-image's ``optical_flow_ilk`` and
  ``optical_flow_tvl1`` (kept in :data:`METHODS` for comparison) because it was as accurate
  and several times faster on the moving synthetic series;
* outliers: residual to the model (robust z and ratio to the median frame) and Jacobian
  folding, each with its reason; excluded from the model and from fitting, interpolated for
  display; more than 20% of a slice's frames flagged raises ``MOCO_OUTLIERS``.

Convention: ``registered_t(p) = images_t(p + displacement_t(p))``, px, (dy, dx) — the
:func:`skimage.transform.warp` backward warp. :func:`warp` carries maps and masks with it,
:func:`invert_field` gives the field that carries them back onto the acquired frames.
"""

from __future__ import annotations

from qperfusion.moco._fields import (
    MocoInputError,
    invert_field,
    jacobian_determinant,
    residual_displacement,
    warp,
)
from qperfusion.moco.register import METHODS, MocoResult, register_series

__all__ = [
    "METHODS",
    "MocoInputError",
    "MocoResult",
    "invert_field",
    "jacobian_determinant",
    "register_series",
    "residual_displacement",
    "warp",
]
