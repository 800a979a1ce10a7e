"""Per-AHA-segment and global statistics of parameter maps.

The central value of a segment is the **median** over its myocardial pixels by default: a
pixel-wise fit leaves a few wild pixels (partial volume at the blood-pool border, dark-rim
artefacts, failed fits that hit a bound), and the median ignores them where a mean does not.
The spread is reported two ways:

``<q>_sd_<unit>``
    the standard deviation *across the segment's pixels* (ddof=1) of the map ``<q>_<unit>``:
    the spatial heterogeneity, as papers report "MBF ± SD";
``<q>_fit_sd_<unit>``
    the median of the per-pixel fit uncertainty map ``<q>_sd_<unit>`` when the pipeline gives
    one (e.g. ``mbf_sd_ml_min_g`` from the kinetic fit): how well each pixel was determined.

Map names follow the package convention ``<quantity>_<unit>`` (``mbf_ml_min_g``,
``fp_ml_min_g``) or a bare parameter name (``vp``, ``ps``); a map whose second name token is
``sd`` (``mbf_sd_ml_min_g``, ``vp_sd``) is the per-pixel uncertainty of the map named
without it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from qperfusion.analysis.aha import AHA_SEGMENTS, SEGMENT_NAMES
from qperfusion.errors import QPerfusionError

__all__ = [
    "LAYER_ENDO",
    "LAYER_EPI",
    "STATISTICS",
    "SegmentStatistics",
    "fit_sd_name",
    "sd_name",
    "segment_statistics",
]

#: Layer values in the ``layers`` image.
LAYER_ENDO = 1
LAYER_EPI = 2


def _trimmed_mean(x: np.ndarray) -> float:
    """Mean of the central 80 % (10 % cut at each end)."""
    x = np.sort(x)
    cut = int(0.1 * x.size)
    return float(np.mean(x[cut : x.size - cut]))


#: Registry of central statistics: name -> function of a 1-D array of finite values.
STATISTICS: dict[str, Callable[[np.ndarray], float]] = {
    "median": lambda x: float(np.median(x)),
    "mean": lambda x: float(np.mean(x)),
    "trimmed_mean": _trimmed_mean,
}


def sd_name(name: str) -> str:
    """Name of the across-pixel SD of map ``name``.

    ``"mbf_ml_min_g"`` -> ``"mbf_sd_ml_min_g"``; ``"vp"`` -> ``"vp_sd"``.
    """
    base, sep, unit = name.partition("_")
    return f"{base}_sd_{unit}" if sep else f"{base}_sd"


def fit_sd_name(name: str) -> str:
    """Name of the median per-pixel fit SD of map ``name``: ``"mbf_fit_sd_ml_min_g"``."""
    base, sep, unit = name.partition("_")
    return f"{base}_fit_sd_{unit}" if sep else f"{base}_fit_sd"


def _is_sd_map(name: str) -> bool:
    parts = name.split("_")
    return len(parts) >= 2 and parts[1] == "sd"


def _value_of_sd_map(name: str) -> str:
    """``"mbf_sd_ml_min_g"`` -> ``"mbf_ml_min_g"``."""
    parts = name.split("_")
    return "_".join([parts[0], *parts[2:]])


@dataclass
class SegmentStatistics:
    """Statistics of one state's maps per AHA segment and over the whole myocardium.

    Attributes
    ----------
    segments : dict of int to dict of str to float
        AHA segment (1–16) -> ``{"name", <map>, <map sd>, <map fit sd>, "endo_<map>",
        "epi_<map>", "endo_epi_ratio" (of MBF), "n_pixels", "n_valid"}``. Values are NaN for
        a segment with no valid pixel.
    global_ : dict of str to float
        The same keys (without ``name``) over every myocardial pixel (labels 1–16).
    statistic : str
        The central statistic used (a key of :data:`STATISTICS`).
    maps : tuple of str
        Names of the value maps summarised (SD maps excluded), first one decides ``n_valid``.
    """

    segments: dict[int, dict[str, float | int | str]]
    global_: dict[str, float | int]
    statistic: str = "median"
    maps: tuple[str, ...] = field(default_factory=tuple)

    def values(self, key: str = "mbf_ml_min_g") -> dict[int, float]:
        """Segment -> value of ``key`` (NaN where missing)."""
        return {s: float(self.segments[s].get(key, np.nan)) for s in self.segments}


def _stats_of(
    pixels: np.ndarray,
    maps: Mapping[str, np.ndarray],
    value_names: list[str],
    sd_maps: dict[str, str],
    layer_names: tuple[str, ...],
    layers: np.ndarray | None,
    central: Callable[[np.ndarray], float],
) -> dict[str, float | int]:
    """Statistics of every map over the boolean pixel mask ``pixels``."""
    out: dict[str, float | int] = {"n_pixels": int(np.count_nonzero(pixels))}
    n_valid = 0
    for name in value_names:
        v = maps[name][pixels]
        v = v[np.isfinite(v)]
        if name == value_names[0]:
            n_valid = int(v.size)
        out[name] = central(v) if v.size else float("nan")
        out[sd_name(name)] = float(np.std(v, ddof=1)) if v.size > 1 else float("nan")
        if name in sd_maps:
            s = maps[sd_maps[name]][pixels]
            s = s[np.isfinite(s)]
            out[fit_sd_name(name)] = float(np.median(s)) if s.size else float("nan")
        if name in layer_names and layers is not None:
            for prefix, layer in (("endo", LAYER_ENDO), ("epi", LAYER_EPI)):
                w = maps[name][pixels & (layers == layer)]
                w = w[np.isfinite(w)]
                out[f"{prefix}_{name}"] = central(w) if w.size else float("nan")
            if name == "mbf_ml_min_g":
                # transmural perfusion ratio: < 1 flags subendocardial hypoperfusion
                endo, epi = out[f"endo_{name}"], out[f"epi_{name}"]
                out["endo_epi_ratio"] = endo / epi if epi > 0 else float("nan")
    out["n_valid"] = n_valid
    return out


def segment_statistics(
    maps: Mapping[str, np.ndarray],
    labels: np.ndarray,
    layers: np.ndarray | None = None,
    *,
    statistic: str = "median",
    layer_maps: tuple[str, ...] = ("mbf_ml_min_g", "fp_ml_min_g"),
) -> SegmentStatistics:
    """Per-segment and global statistics of one state's parameter maps.

    Parameters
    ----------
    maps : dict of str to ndarray of shape (n_slices, ny, nx)
        Parameter maps (NaN outside the myocardium or where the fit failed), named
        ``<quantity>_<unit>`` (``mbf_ml_min_g``, ``fp_ml_min_g``) or by parameter (``vp``).
        Maps named ``<q>_sd_<unit>`` are per-pixel uncertainties of ``<q>_<unit>``.
        The first non-SD map decides ``n_valid``; put the MBF map first.
    labels : ndarray of shape (n_slices, ny, nx), integer
        1–16 AHA segment, 17 LV and 18 RV blood pool, 0 elsewhere.
    layers : ndarray of shape (n_slices, ny, nx), integer, optional
        1 endocardial half, 2 epicardial half, 0 elsewhere. Without it no endo/epi values.
    statistic : {"median", "mean", "trimmed_mean"}
        Central value of a segment over its finite pixels.
    layer_maps : tuple of str
        Maps that get ``endo_<map>`` / ``epi_<map>`` values (when present in ``maps``).

    Returns
    -------
    SegmentStatistics
        ``n_pixels`` counts the labelled pixels of a segment, ``n_valid`` those with a finite
        value of the first map. Segments absent from ``labels`` have ``n_pixels == 0`` and NaN.

    Raises
    ------
    QPerfusionError
        A map or ``layers`` whose shape differs from ``labels``, no maps, or an unknown statistic.
    """
    central = STATISTICS.get(statistic)
    if central is None:
        raise QPerfusionError(
            f"unknown statistic {statistic!r}; choose one of {sorted(STATISTICS)}"
        )
    labels = np.asarray(labels)
    for name, m in maps.items():
        if np.shape(m) != labels.shape:
            raise QPerfusionError(
                f"map {name!r} has shape {np.shape(m)} but labels have {labels.shape}; "
                "pass maps on the label grid (n_slices, ny, nx)"
            )
    if layers is not None and np.shape(layers) != labels.shape:
        raise QPerfusionError(
            f"layers have shape {np.shape(layers)} but labels have {labels.shape}"
        )
    arrays = {k: np.asarray(v, dtype=float) for k, v in maps.items()}
    value_names = [k for k in arrays if not _is_sd_map(k)]
    if not value_names:
        raise QPerfusionError("no parameter maps given (only SD maps); pass at least the MBF map")
    sd_maps = {
        _value_of_sd_map(k): k for k in arrays if _is_sd_map(k) and _value_of_sd_map(k) in arrays
    }
    layer_arr = None if layers is None else np.asarray(layers)

    segments: dict[int, dict[str, float | int | str]] = {}
    for seg in AHA_SEGMENTS:
        stats = _stats_of(
            labels == seg, arrays, value_names, sd_maps, layer_maps, layer_arr, central
        )
        segments[seg] = {"name": SEGMENT_NAMES[seg], **stats}
    myo = (labels >= 1) & (labels <= 16)
    global_ = _stats_of(myo, arrays, value_names, sd_maps, layer_maps, layer_arr, central)
    return SegmentStatistics(segments, global_, statistic, tuple(value_names))
