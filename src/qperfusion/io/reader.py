"""``read_study``: a perfusion study from DICOM (classic or enhanced MR) or NIfTI + JSON."""

from __future__ import annotations

import os
from pathlib import Path

from qperfusion.constants import DEFAULT_HEMATOCRIT
from qperfusion.errors import DicomInputError
from qperfusion.io._dicom_study import AifSpec, StudyInput, build_study
from qperfusion.io._scan import list_files
from qperfusion.io._sequence import normalise_readout
from qperfusion.io.consistency import protocol_mismatches
from qperfusion.io.model import Study

__all__ = ["read_study"]

PathLike = str | os.PathLike[str]


def _is_nifti(path: Path) -> bool:
    if path.is_file():
        return path.name.lower().endswith((".nii", ".nii.gz"))
    if not path.is_dir():
        return False
    files = list_files(path)
    nii = [f for f in files if f.lower().endswith((".nii", ".nii.gz"))]
    # a folder of NIfTI images with sidecars (masks/ beside DICOM does not count)
    others = [f for f in files if not f.lower().endswith((".nii", ".nii.gz", ".json"))]
    return bool(nii) and not others


def _input(path: PathLike, state: str | None, role: str | None = None) -> StudyInput:
    p = Path(path)
    if not p.exists():
        what = f"--{state}" if state else ("--aif-series" if role else "path")
        raise DicomInputError(f"{what} {str(p)!r} does not exist: give an existing folder or file")
    files = list_files(p)
    if not files:
        raise DicomInputError(f"{str(p)!r} holds no files: point at the DICOM folder")
    root = str(p) if p.is_dir() else str(p.parent)
    return StudyInput(sources=list(files), label=str(p), root=root, state=state, role=role)


def read_study(
    path: PathLike | None = None,
    *,
    stress: PathLike | None = None,
    rest: PathLike | None = None,
    aif_series: PathLike | AifSpec = None,
    readout: str | None = None,
    hematocrit: float | None = None,
) -> Study:
    """Read a stress/rest first-pass perfusion study.

    Parameters
    ----------
    path : str or path, optional
        A folder holding the whole study (DICOM in any layout, or NIfTI + JSON sidecars), or
        one file. States come from SeriesDescription (stress / rest / adeno / regadenoson),
        else from folder names below ``path``; a study that names none is ``"unspecified"``.
    stress, rest : str or path, optional
        Folders (or files) holding one state each, instead of ``path``.
    aif_series : str, path or dict, optional
        The AIF series when it is not found automatically: a folder/file holding it, or a
        SeriesInstanceUID, SeriesNumber or SeriesDescription; a dict ``{"stress": ..,
        "rest": ..}`` gives one per state. An explicit choice that matches nothing is an error.
    readout : {"flash", "ssfp"}, optional
        Overrides the myocardial readout read from the headers.
    hematocrit : float, optional
        Blood hematocrit (fraction, 0–1); default 0.42.

    Returns
    -------
    Study
        One :class:`~qperfusion.io.model.Acquisition` per state; ``Study.warnings`` holds
        skipped files and stress/rest protocol mismatches, each acquisition its own findings.

    Raises
    ------
    DicomInputError
        Input that cannot be read as a perfusion study; the message names the file, tag or
        value and what to do.
    """
    if readout is not None:
        readout = normalise_readout(readout)
    hct = DEFAULT_HEMATOCRIT if hematocrit is None else hematocrit
    try:
        hct = float(hct)
    except (TypeError, ValueError):
        raise DicomInputError(f"hematocrit {hematocrit!r} is not a number: give a fraction "
                              "such as 0.42") from None
    if not 0.0 < hct < 1.0:
        raise DicomInputError(f"hematocrit {hct} is outside (0, 1): give a fraction such as "
                              "0.42, not a percentage")
    if path is None and stress is None and rest is None:
        raise DicomInputError("no input: give a study folder, or stress= and/or rest= folders")
    if path is not None and (stress is not None or rest is not None):
        raise DicomInputError("give either a study folder or stress=/rest= folders, not both")

    if path is not None and _is_nifti(Path(path)):
        from qperfusion.io.nifti_in import read_nifti_study

        study = read_nifti_study(path, readout=readout, hematocrit=hct)
        study.warnings.extend(protocol_mismatches(study))
        return study

    inputs = []
    if path is not None:
        inputs.append(_input(path, None))
    for state, p in (("stress", stress), ("rest", rest)):
        if p is not None:
            inputs.append(_input(p, state))
    spec: AifSpec = None
    if aif_series is not None:
        if isinstance(aif_series, dict):
            spec = {k: str(v) for k, v in aif_series.items()}
        elif isinstance(aif_series, os.PathLike) or Path(str(aif_series)).exists():
            aif_input = _input(aif_series, None, role="aif")  # type: ignore[arg-type]
            if aif_input.label not in {i.label for i in inputs}:
                states = [i.state for i in inputs if i.state]
                aif_input.state = states[0] if len(states) == 1 else None
                inputs.append(aif_input)
            else:
                raise DicomInputError(
                    f"--aif-series {aif_input.label!r} is the same folder as the study; give "
                    "the AIF series' own folder, or its SeriesNumber / SeriesInstanceUID")
        else:
            spec = str(aif_series)
    study = build_study(inputs, aif_series=spec, readout=readout, hematocrit=hct)
    study.warnings.extend(protocol_mismatches(study))
    return study
