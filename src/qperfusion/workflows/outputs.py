"""Write a pipeline result as the output contract of DESIGN.md, completely or not at all.

``OUT/results.json  OUT/segments.csv  OUT/report.html  OUT/maps/  OUT/figures/
OUT/provenance.json``. Everything is written into a temporary sibling folder first and moved
into place only when complete; an existing ``OUT`` is replaced in one rename, so a reader
never sees a half-written result and a failed run leaves the previous one untouched.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qperfusion import analysis
from qperfusion.io import nifti_out, parametric_map

if TYPE_CHECKING:
    from qperfusion.workflows.pipeline import PipelineResult, StateResult

__all__ = ["OUTPUT_FILES", "hash_files", "write_outputs"]

#: What a complete output folder holds (checked by cohort runs before skipping a study).
OUTPUT_FILES: tuple[str, ...] = (
    "results.json", "segments.csv", "report.html", "provenance.json", "maps", "figures",
)

#: Maps written per state (NIfTI always; DICOM Parametric Map when the input was DICOM).
_MAP_NAMES: tuple[str, ...] = (
    "mbf_ml_min_g", "mbf_sd_ml_min_g", "fp_ml_min_g", "ps", "vp", "ve", "delay", "fb",
    "ktrans", "vb", "residual_mM",
)


def hash_files(paths: Iterable[str]) -> dict[str, str]:
    """SHA-256 of each input file (provenance: the same inputs give the same hashes)."""
    out = {}
    for p in sorted(set(paths)):
        h = hashlib.sha256()
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        out[p] = h.hexdigest()
    return out


def inputs_digest(hashes: dict[str, str]) -> str:
    """One hash over all input file contents (names excluded: a moved study is the same)."""
    h = hashlib.sha256()
    for digest in sorted(hashes.values()):
        h.update(digest.encode())
    return h.hexdigest()


def _state_maps(sr: StateResult) -> dict[str, np.ndarray]:
    return {k: sr.maps[k] for k in _MAP_NAMES if k in sr.maps}


def _mpr_map(result: PipelineResult) -> np.ndarray | None:
    """Pixel-wise stress/rest MBF, when both states share the myocardial image grid."""
    s, r = result.states.get("stress"), result.states.get("rest")
    if s is None or r is None:
        return None
    a, b = s.maps["mbf_ml_min_g"], r.maps["mbf_ml_min_g"]
    if a.shape != b.shape or not np.allclose(
        s.acquisition.myocardium.affines, r.acquisition.myocardium.affines, atol=1.0
    ):
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, a / b, np.nan)


def _mean_of_finite(curves: np.ndarray) -> np.ndarray:
    """Mean over pixels (axis 0) of the finite values; NaN where a frame has none."""
    ok = np.isfinite(curves)
    n = ok.sum(axis=0)
    total = np.where(ok, curves, 0.0).sum(axis=0)
    return np.where(n > 0, total / np.maximum(n, 1), np.nan)


def _segment_curves(sr: StateResult) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per AHA segment: frame times, mean measured and mean fitted [Gd] (first slice it is in)."""
    out = {}
    labels = sr.segmentation.labels
    for k in range(1, 17):
        where = labels == k
        if not where.any():
            continue
        s = int(np.argmax(where.reshape(where.shape[0], -1).any(axis=1)))
        m = where[s]
        measured = _mean_of_finite(sr.gd_myo[s][m])
        fitted = _mean_of_finite(sr.fitted[s][m])
        measured[~sr.frame_used[s]] = np.nan
        out[k] = (sr.gd_times_s[s], measured, fitted)
    return out


def _figures(result: PipelineResult) -> dict[str, Any]:
    from qperfusion.report import StateImages, make_report_figures

    images = {}
    for state, sr in result.states.items():
        images[state] = StateImages(
            mbf_ml_min_g=sr.maps["mbf_ml_min_g"],
            anatomy=sr.anatomy,
            labels=sr.segmentation.labels,
            aif_times_s=sr.aif.times_s,
            aif_mM=sr.aif.gd_blood,
            segment_curves=_segment_curves(sr),
            slice_names=tuple(sr.segmentation.levels),
        )
    return make_report_figures(result.results, images)


def _study_info(result: PipelineResult) -> dict[str, str]:
    info = {}
    for state, sr in result.states.items():
        seq = sr.acquisition.myocardium.sequence
        info[f"{state} acquisition"] = (
            f"{seq.readout.upper()}, {seq.field_t:g} T, {seq.agent}, "
            f"{sr.acquisition.myocardium.n_slices} slices × {sr.acquisition.myocardium.n_frames} "
            f"frames, RR {sr.acquisition.myocardium.rr_s:.2f} s"
        )
    info["Model"] = result.options.models[0]
    hct = result.options.hematocrit
    info["Hematocrit"] = "from the study" if hct is None else f"{hct:.2f}"
    return info


def _provenance(result: PipelineResult, hashes: dict[str, str], anonymize: bool,
                extra: dict[str, Any] | None) -> dict:
    from qperfusion import __version__

    files = hashes if not anonymize else {f"input_{i:04d}": h for i, h in
                                          enumerate(hashes[k] for k in sorted(hashes))}
    versions = {}
    for mod in ("numpy", "scipy", "numba", "pydicom", "highdicom", "nibabel", "skimage"):
        m = sys.modules.get(mod)
        if m is not None:
            versions[mod] = getattr(m, "__version__", "?")
    return {
        "qperfusion_version": __version__,
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "options": result.options.to_dict(),
        "inputs": {"n_files": len(hashes), "digest": inputs_digest(hashes), "files": files},
        "timing_s": {k: round(v, 3) for k, v in result.timing_s.items()},
        "python": platform.python_version(),
        "platform": platform.platform(),
        "libraries": versions,
        "time_sources": {s: sr.acquisition.myocardium.time_source
                         for s, sr in result.states.items()},
        **(extra or {}),
    }


def _write_all(result: PipelineResult, tmp: Path, hashes: dict[str, str],
               anonymize: bool, extra: dict[str, Any] | None) -> None:
    analysis.write_results_json(tmp / "results.json", result.results)
    analysis.write_segments_csv(tmp / "segments.csv", result.results)
    maps_dir = tmp / "maps"
    maps_dir.mkdir()
    for state, sr in result.states.items():
        myo = sr.acquisition.myocardium
        maps = _state_maps(sr)
        nifti_out.write_state_maps(maps_dir, state, maps, myo.affines,
                                   labels=sr.segmentation.labels)
        if len(myo.headers) == myo.n_slices:
            parametric_map.write_state_parametric_maps(
                maps_dir, state, maps, myo.headers, anonymize=anonymize,
                first_series_number=900 + 20 * list(result.states).index(state),
            )
    ratio = _mpr_map(result)
    if ratio is not None:
        myo = result.states["stress"].acquisition.myocardium
        nifti_out.write_map_nifti(maps_dir / "mpr.nii.gz", ratio, myo.affines,
                                  description="MPR stress/rest MBF")
    from qperfusion.report import save_figures, write_report

    figures = _figures(result)
    save_figures(figures, tmp / "figures")
    write_report(tmp / "report.html", result.results, figures, study_info=_study_info(result))
    (tmp / "provenance.json").write_text(
        json.dumps(_provenance(result, hashes, anonymize, extra), indent=2), encoding="utf-8"
    )


def write_outputs(result: PipelineResult, out_dir: str | os.PathLike,
                  *, anonymize: bool | None = None,
                  extra_provenance: dict[str, Any] | None = None) -> Path:
    """Write every output of one study into ``out_dir`` atomically.

    Parameters
    ----------
    result : PipelineResult
        From :func:`qperfusion.run`.
    out_dir : path
        Destination folder; replaced as a whole if it exists.
    anonymize : bool, optional
        Blank patient identifiers in DICOM outputs and input paths in provenance.json;
        default ``result.options.anonymize``.
    extra_provenance : dict, optional
        More top-level keys for provenance.json (a cohort run records its request there).

    Returns
    -------
    Path
        ``out_dir``.
    """
    out = Path(out_dir).resolve()
    anon = result.options.anonymize if anonymize is None else anonymize
    out.parent.mkdir(parents=True, exist_ok=True)
    hashes = hash_files(f for sr in result.states.values()
                        for series in (sr.acquisition.myocardium, sr.acquisition.aif)
                        if series is not None for f in series.source_files)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        _write_all(result, tmp, hashes, anon, extra_provenance)
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.replace(out, old / out.name)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
