"""Motion correction (stage 3): model-based non-rigid registration of perfusion series.

Contrast changes from frame to frame, so no single frame is a usable reference. Each frame is
registered instead to its own synthetic frame from a low-rank (PCA / Karhunen–Loève) model of
the series, whose rank is raised as the series gets aligned; proton-density frames are aligned
among themselves, then moved as a group onto the saturation-recovery geometry by their edges.

Method (measured by ``benchmarks/moco.py``; CPU times on the shared 2-core machine):

* crop: a box around the heart from the temporal SD of the saturation-recovery frames (the
  region with the largest summed SD, so a bright aorta does not win); whole image for small
  images such as the 48 x 64 AIF series. The field is continued outside the box with a
  Gaussian fall-off, so the full-image field is continuous;
* rigid: translation by phase correlation to a *temporally smoothed* copy of the series
  (breathing averages out over a cycle, contrast stays matched), twice; a shift is kept only
  where it lowers the mismatch by 10% (in a dark pre-contrast frame the correlation peak is
  noise). A low-rank model of unaligned frames follows the motion of a small apical heart
  instead (measured: apical slice median residual 1.9 px without this step, 0.25 px with);
* model: rank 3, 4, 6 over three passes; components learned from frames scaled to unit norm
  (by energy alone the bolus frames decide them and dark pre-contrast frames are modelled
  badly); PD frames registered to their own mean, then moved as a group onto the
  saturation-recovery geometry by phase correlation of edge maps (gradient magnitude:
  shared edges, not shared intensities);
* non-rigid: our own batched symmetric-force demons (:mod:`._demons`): every frame advances
  together as one array, with a noise floor in the force so featureless frames are not
  driven by noise. Chosen over scikit-image's ``optical_flow_tvl1`` and
  ``optical_flow_ilk`` (kept in :data:`METHODS`) on the synthetic series (144 x 192 x 60):
  demons 0.022 s/frame CPU, residual median/p95 0.33/0.86 px; iLK 0.042 s, 0.35/1.01 px,
  flags a pre-contrast frame; TV-L1 0.089 s, 0.33/0.66 px. TV-L1 is a little more accurate
  at the 95th percentile but 4x slower, and the speed goal (0.05 s per 192 x 144 frame, model
  included) rules it out as default; ``method="tvl1"`` is there when time does not matter;
* reference geometry: end-expiration (the densest per-frame position, where free breathing
  dwells), so the registered series looks like the acquired frames there;
* outliers: residual to the model (Gaussian-smoothed difference inside the box, divided by
  what a registered frame of that contrast leaves: a Theil–Sen line of residual vs contrast),
  judged against a model learned without suspicious frames; robust z > 5 and > 3.5x the
  expected; plus Jacobian folding. Excluded from fitting, interpolated for display; more
  than 20% of a slice's frames raises ``MOCO_OUTLIERS``.

Phantom (``simulate_study(seed=0)``, 3 slices of 144 x 192 + the 48 x 64 AIF series, 64
frames): myocardial residual median / p95 stress 0.31 / 0.77 px, rest 0.24 / 0.52 px (before:
1.51 / 4.64 and 0.86 / 3.16); abrupt frames corrected to <= 0.4 px; AIF blood pool 0.36 /
0.76 px; 0.020 s per frame, 9.6 s for the whole study (stress + rest, all series). Known
weakness: the bolus-arrival frame can be flagged although registered (seed 2, bSSFP).

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
from qperfusion.moco.register import METHODS, REFERENCES, MocoResult, register_series

__all__ = [
    "METHODS",
    "REFERENCES",
    "MocoInputError",
    "MocoResult",
    "invert_field",
    "jacobian_determinant",
    "register_series",
    "residual_displacement",
    "warp",
]
