"""Write a phantom study to disk: DICOM per state, NIfTI masks and truth.json.

Layout (DESIGN.md "Output contract")::

    OUT/stress/IM_*.dcm   OUT/rest/IM_*.dcm          DICOM as a scanner writes it
    OUT/masks/<state>_labels.nii.gz                  1–16 AHA, 17 LV, 18 RV (myocardial grid)
    OUT/masks/<state>_layers.nii.gz                  1 endo, 2 epi half
    OUT/masks/<state>_aif_mask.nii.gz                LV pool of the AIF image
    OUT/truth.json                                   results.json shape
    OUT/figures/phantom.png                          with ``figure=True``

NIfTI arrays have axes (column, row, slice) and the affine from the DICOM geometry, converted
from DICOM LPS to NIfTI RAS (first two rows negated); slices in the stack order of the reader.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qperfusion.constants import DEFAULT_HEMATOCRIT
from qperfusion.errors import QPerfusionError
from qperfusion.io.model import PerfusionSeries
from qperfusion.phantom import protocol
from qperfusion.phantom.simulate import (
    DEFAULT_SNR,
    DOSE_MMOL_PER_KG,
    PATIENT,
    PATIENT_WEIGHT_KG,
    PhantomStudy,
    simulate_study,
)

__all__ = ["WrittenPhantom", "nifti_affine", "write_simulated", "write_study"]

#: Gadobutrol is 1.0 mmol/mL (Gadovist label).
GADOBUTROL_MMOL_PER_ML = 1.0


@dataclass
class WrittenPhantom:
    """Where :func:`write_study` put things, and the simulated study itself."""

    study: PhantomStudy
    out_dir: Path
    dicom_dirs: dict[str, Path]
    masks: dict[str, Path]
    truth_json: Path
    figure: Path | None = None
    n_files: int = 0
    files: dict[str, list[Path]] = field(default_factory=dict)


def nifti_affine(series: PerfusionSeries) -> np.ndarray:
    """(column, row, slice) → RAS (mm) affine of a series' stack, from its DICOM geometry."""
    aff = series.affines[0].copy()
    if series.n_slices > 1:
        aff[:3, 2] = series.affines[1][:3, 3] - series.affines[0][:3, 3]
    lps_to_ras = np.diag([-1.0, -1.0, 1.0, 1.0])
    return lps_to_ras @ aff


def _save_nifti(path: Path, stack: np.ndarray, affine: np.ndarray) -> None:
    import nibabel as nib

    data = np.ascontiguousarray(np.transpose(stack, (2, 1, 0)).astype(np.uint8))
    img = nib.Nifti1Image(data, affine)
    img.set_qform(affine, code=1)
    img.set_sform(affine, code=1)
    nib.save(img, str(path))


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.floating, float)):
        return None if not math.isfinite(float(x)) else float(x)
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x


def write_study(
    out_dir: str | Path,
    *,
    seed: int = 0,
    ischemia: str = "lad",
    motion: str = "resp",
    snr: float = DEFAULT_SNR,
    readout: str = "flash",
    noise: bool = True,
    hematocrit: float = DEFAULT_HEMATOCRIT,
    psf: bool = True,
    tissue_model: str = "2cxm",
    figure: bool = False,
    overwrite: bool = False,
) -> WrittenPhantom:
    """Simulate a study (see :func:`~qperfusion.phantom.simulate_study`) and write it.

    Parameters
    ----------
    out_dir : str or Path
        Output folder (created).
    seed, ischemia, motion, snr, readout, noise, hematocrit, psf, tissue_model
        As :func:`~qperfusion.phantom.simulate_study`.
    figure : bool
        Also write ``figures/phantom.png`` (peak frames and segment labels).
    overwrite : bool
        Replace DICOM files a previous run left in ``OUT/stress`` and ``OUT/rest``; without it
        such files raise (mixing two phantoms would give the reader extra series).

    Returns
    -------
    WrittenPhantom
    """
    out = Path(out_dir)
    _clear_old_dicom(out, overwrite)
    study = simulate_study(seed=seed, ischemia=ischemia, motion=motion, snr=snr,
                           readout=readout, noise=noise, hematocrit=hematocrit, psf=psf,
                           tissue_model=tissue_model)
    return write_simulated(out, study, figure=figure, overwrite=overwrite)


def _clear_old_dicom(out: Path, overwrite: bool) -> None:
    for d in (out / "stress", out / "rest"):
        old = sorted(d.glob("*.dcm")) if d.is_dir() else []
        if old and not overwrite:
            raise QPerfusionError(
                f"{d} already holds {len(old)} DICOM files; choose an empty folder or "
                "use overwrite (--overwrite)"
            )
        for f in old:
            f.unlink()


def write_simulated(
    out_dir: str | Path, study: PhantomStudy, *, figure: bool = False, overwrite: bool = False
) -> WrittenPhantom:
    """Write an already simulated :class:`PhantomStudy` (layout as :func:`write_study`)."""
    out = Path(out_dir)
    _clear_old_dicom(out, overwrite)
    dicom_dirs = {s: out / s for s in ("stress", "rest")}
    seed = int(study.options["seed"])
    from qperfusion.phantom import dicom

    files = {}
    dose_ml = DOSE_MMOL_PER_KG * PATIENT_WEIGHT_KG / GADOBUTROL_MMOL_PER_ML
    for name, st in study.states.items():
        written = dicom.write_state(
            dicom_dirs[name], name, st, seed=seed, patient=PATIENT,
            weight_kg=PATIENT_WEIGHT_KG, dose_ml=dose_ml, pe_steps=protocol.PE_STEPS,
            acceleration=protocol.ACCELERATION, slice_spacing_mm=protocol.SLICE_SPACING_MM,
            thickness_mm={"myocardium": protocol.MYO_GRID.thickness_mm,
                          "aif": protocol.AIF_GRID.thickness_mm})
        files[name] = written["aif"] + written["myocardium"]

    mask_dir = out / "masks"
    mask_dir.mkdir(parents=True, exist_ok=True)
    masks = {}
    for name, st in study.states.items():
        acq = st.acquisition
        aff = nifti_affine(acq.myocardium)
        for what, stack in (("labels", st.labels), ("layers", st.layers)):
            masks[f"{name}_{what}"] = mask_dir / f"{name}_{what}.nii.gz"
            _save_nifti(masks[f"{name}_{what}"], stack, aff)
        masks[f"{name}_aif_mask"] = mask_dir / f"{name}_aif_mask.nii.gz"
        _save_nifti(masks[f"{name}_aif_mask"], st.aif_mask[None].astype(np.uint8),
                    nifti_affine(acq.aif))

    truth_path = out / "truth.json"
    truth_path.write_text(json.dumps(_jsonable(study.truth), indent=2, allow_nan=False) + "\n")
    fig_path = None
    if figure:
        from qperfusion.phantom.figure import phantom_figure

        fig_path = phantom_figure(study, out / "figures" / "phantom.png")
    return WrittenPhantom(
        study=study, out_dir=out, dicom_dirs=dicom_dirs, masks=masks, truth_json=truth_path,
        figure=fig_path, n_files=sum(len(v) for v in files.values()), files=files,
    )
