"""Perfusion series that already left DICOM: NIfTI (4-D/5-D) + JSON sidecar.

Layout. One file per series, ``NAME.nii`` or ``NAME.nii.gz`` with ``NAME.json`` beside it.
Array axes are (column, row, slice, frame) — the layout :mod:`qperfusion.io.nifti_out` writes —
plus a fifth echo axis for the dual-echo AIF; a 3-D file is one slice (column, row, frame).
The NIfTI affine is RAS; it is turned into per-slice DICOM LPS affines, or the exact ones are
taken from the ``qperfusion`` header extension (``slice_affines_lps``) when present.

Sidecar keys (BIDS names where BIDS has one; times in seconds as in BIDS):

=========================  ========  ==========================================================
key                        required  meaning
=========================  ========  ==========================================================
FrameTimes                 yes       frame times (s): a list (n_frames) or one list per slice
SliceTimeOffsets           no        per-slice offsets (s) added to a 1-D FrameTimes
State                      no        "stress" / "rest" / "unspecified" (else the file or folder
                                     name decides, as for DICOM)
Role                       no        "myocardium" / "aif" (else "aif" in the file name)
ProtonDensityFrames        no        leading PD frames (default 0)
PDFlipAngle                no        PD flip angle (deg)
Readout                    no        "flash" / "ssfp" (default flash, with a warning)
SaturationDelay            yes*      TD (s), saturation pulse → first readout line;
                                     BIDS ``InversionTime`` (s) is accepted instead
RepetitionTimeExcitation   yes*      TR between readout pulses (s) (BIDS)
EchoTime                   yes*      TE (s), a number or one per echo (BIDS)
FlipAngle                  yes*      readout flip angle (deg) (BIDS)
PhaseEncodingLines         no        acquired phase-encoding lines (default: rows)
LinesToCenter              no        pulses before the k-space centre (default lines // 2,
                                     0 for centric)
PhaseEncodingOrder         no        "linear" / "centric" (default linear)
RampUpPulses               no        ramp-up pulses before the first line (default 0)
MagneticFieldStrength      no        field (T) (BIDS; default 1.5 with a warning)
ContrastBolusAgent         no        agent name, trade names accepted (default gadobutrol)
Hematocrit                 no        fraction (default 0.42 or the caller's)
RRInterval                 no        RR (s) (default: median frame interval)
SeriesDescription          no        a name for messages and reports
=========================  ========  ==========================================================

``*``: read without them, the study loads with a ``SEQUENCE_TAG_MISSING`` warning, but the
signal → Gd conversion cannot run.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from qperfusion.errors import DicomInputError
from qperfusion.io._sequence import normalise_agent, normalise_readout
from qperfusion.io._series import state_from_text
from qperfusion.io.model import STATES, Acquisition, PerfusionSeries, SequenceParams, Study
from qperfusion.qc import QCFlag

__all__ = ["SIDECAR_KEYS", "read_nifti_series", "read_nifti_study"]

SIDECAR_KEYS = (
    "FrameTimes", "SliceTimeOffsets", "State", "Role", "ProtonDensityFrames", "PDFlipAngle",
    "Readout", "SaturationDelay", "InversionTime", "RepetitionTimeExcitation", "EchoTime",
    "FlipAngle", "PhaseEncodingLines", "LinesToCenter", "PhaseEncodingOrder", "RampUpPulses",
    "MagneticFieldStrength", "ContrastBolusAgent", "Hematocrit", "RRInterval",
    "SeriesDescription",
)

_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


def _stem(path: Path) -> Path:
    name = path.name
    for suffix in (".nii.gz", ".nii"):
        if name.lower().endswith(suffix):
            return path.with_name(name[: -len(suffix)])
    return path


def _sidecar(path: Path) -> dict[str, Any]:
    side = _stem(path).with_suffix(".json")
    if not side.is_file():
        raise DicomInputError(
            f"{path}: no JSON sidecar {side.name}; write one with at least FrameTimes (s) — "
            "see qperfusion.io.nifti_in for the keys")
    try:
        meta = json.loads(side.read_text())
    except (OSError, ValueError) as exc:
        raise DicomInputError(f"{side}: not valid JSON ({exc}); fix the sidecar") from None
    if not isinstance(meta, dict):
        raise DicomInputError(f"{side}: the sidecar must be a JSON object of keys")
    unknown = sorted(set(meta) - set(SIDECAR_KEYS))
    meta["_unknown"] = unknown
    meta["_path"] = str(side)
    return meta


def _number(meta: dict[str, Any], key: str, scale: float = 1.0) -> float:
    value = meta.get(key)
    if value is None:
        return math.nan
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        out = float(value) * scale  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise DicomInputError(f"{meta['_path']}: {key} = {value!r} is not a number") from None
    return out


def _times(meta: dict[str, Any], n_slices: int, n_frames: int) -> np.ndarray:
    raw = meta.get("FrameTimes")
    if raw is None:
        raise DicomInputError(f"{meta['_path']}: FrameTimes missing; give the acquisition "
                              "time (s) of every frame (heartbeats are not evenly spaced)")
    try:
        t = np.asarray(raw, dtype=float)
    except (TypeError, ValueError):
        raise DicomInputError(f"{meta['_path']}: FrameTimes must be numbers (s)") from None
    if t.ndim == 1:
        t = np.broadcast_to(t, (n_slices, t.size)).copy()
        offsets = meta.get("SliceTimeOffsets")
        if offsets is not None:
            off = np.asarray(offsets, dtype=float).reshape(-1)
            if off.size != n_slices:
                raise DicomInputError(f"{meta['_path']}: SliceTimeOffsets has {off.size} "
                                      f"values for {n_slices} slices")
            t += off[:, None]
    if t.shape != (n_slices, n_frames):
        raise DicomInputError(
            f"{meta['_path']}: FrameTimes has shape {t.shape}, image has {n_slices} slice(s) × "
            f"{n_frames} frames; give n_frames times (or one list per slice)")
    if not np.all(np.isfinite(t)) or np.any(np.diff(t, axis=1) <= 0):
        raise DicomInputError(f"{meta['_path']}: FrameTimes must be finite and strictly "
                              "increasing (s)")
    return t


def _affines(img: Any, n_slices: int) -> np.ndarray:
    for ext in getattr(img.header, "extensions", []):
        try:
            meta = json.loads(ext.get_content())
            aff = np.asarray(meta["qperfusion"]["slice_affines_lps"], dtype=float)
            if aff.shape == (n_slices, 4, 4):
                return aff
        except Exception:  # other extensions are not ours
            continue
    lps = _LPS_TO_RAS @ np.asarray(img.affine, dtype=float)  # the same matrix flips back
    out = np.repeat(lps[None], n_slices, axis=0)
    for k in range(n_slices):
        out[k, :3, 3] = (lps @ np.array([0.0, 0.0, k, 1.0]))[:3]
    return out


def read_nifti_series(path: str | os.PathLike[str], *, readout: str | None = None,
                      flags: list[QCFlag] | None = None
                      ) -> tuple[PerfusionSeries, dict[str, Any]]:
    """One series from NIfTI + sidecar; returns it with its sidecar (times not re-based).

    Parameters
    ----------
    path : str or path
        ``.nii`` / ``.nii.gz`` file with a ``.json`` sidecar of the same name.
    readout : {"flash", "ssfp"}, optional
        Overrides the sidecar's Readout.
    flags : list of QCFlag, optional
        Findings are appended here.
    """
    import nibabel as nib

    p = Path(path)
    flags = [] if flags is None else flags
    meta = _sidecar(p)
    try:
        img = nib.load(str(p))
        data = np.asarray(img.dataobj, dtype=np.float32)
    except Exception as exc:
        raise DicomInputError(f"{p}: cannot be read as NIfTI ({type(exc).__name__}); "
                              "check the file") from None
    if data.ndim == 3:
        data = data[:, :, None, :]
    if data.ndim == 4:
        data = data[..., None]
    if data.ndim != 5:
        raise DicomInputError(f"{p}: {data.ndim}-D image; expected (column, row, slice, frame"
                              "[, echo])")
    if not np.all(np.isfinite(data)):
        raise DicomInputError(f"{p}: image holds NaN or infinite values; fix the export")
    echoes = np.ascontiguousarray(np.transpose(data, (4, 2, 1, 0, 3)))  # e, slice, row, col, t
    n_echo, n_slices, _, _, n_frames = echoes.shape
    times = _times(meta, n_slices, n_frames)
    where = str(p.name)
    for key in meta["_unknown"]:
        flags.append(QCFlag("SIDECAR_KEY_UNKNOWN", "warning",
                            f"{meta['_path']}: key {key!r} is not used (known: "
                            f"{', '.join(SIDECAR_KEYS)})", "io"))
    td = _number(meta, "SaturationDelay")
    if math.isnan(td):
        td = _number(meta, "InversionTime")
    te = meta.get("EchoTime")
    te_s = tuple(float(v) for v in (te if isinstance(te, list) else [te])) if te is not None \
        else (math.nan,) * n_echo
    if len(te_s) != n_echo:
        raise DicomInputError(f"{meta['_path']}: EchoTime has {len(te_s)} value(s) for "
                              f"{n_echo} echo(es)")
    for key, value in (("SaturationDelay", td), ("RepetitionTimeExcitation",
                                                  _number(meta, "RepetitionTimeExcitation")),
                       ("FlipAngle", _number(meta, "FlipAngle")), ("EchoTime", te_s[0])):
        if math.isnan(value):
            flags.append(QCFlag("SEQUENCE_TAG_MISSING", "warning",
                                f"{where}: sidecar has no {key}; signal-to-Gd conversion "
                                "needs it", "io"))
    if readout is None:
        if meta.get("Readout") is None:
            flags.append(QCFlag("READOUT_UNKNOWN", "warning", f"{where}: sidecar has no "
                                "Readout; assuming FLASH", "io"))
            readout = "flash"
        else:
            readout = normalise_readout(str(meta["Readout"]))
    order = str(meta.get("PhaseEncodingOrder", "linear")).lower()
    if order not in ("linear", "centric"):
        raise DicomInputError(f"{meta['_path']}: PhaseEncodingOrder {order!r}; use linear or "
                              "centric")
    lines = int(_number(meta, "PhaseEncodingLines")) if "PhaseEncodingLines" in meta \
        else echoes.shape[2]
    to_center = int(_number(meta, "LinesToCenter")) if "LinesToCenter" in meta \
        else (0 if order == "centric" else lines // 2)
    field = _number(meta, "MagneticFieldStrength")
    if math.isnan(field):
        flags.append(QCFlag("FIELD_MISSING", "warning", f"{where}: sidecar has no "
                            "MagneticFieldStrength; assuming 1.5 T", "io"))
        field = 1.5
    agent_text = meta.get("ContrastBolusAgent")
    agent = normalise_agent(str(agent_text)) if agent_text else "gadobutrol"
    if agent is None:
        flags.append(QCFlag("AGENT_UNKNOWN", "warning", f"{where}: ContrastBolusAgent "
                            f"{agent_text!r} not recognised; using gadobutrol", "io"))
        agent = "gadobutrol"
    seq = SequenceParams(
        readout=readout,  # type: ignore[arg-type]
        td_s=td,
        tr_s=_number(meta, "RepetitionTimeExcitation"),
        te_s=te_s,
        flip_deg=_number(meta, "FlipAngle"),
        pd_flip_deg=_number(meta, "PDFlipAngle"),
        n_pe_lines=lines,
        lines_to_center=to_center,
        ordering=order,  # type: ignore[arg-type]
        n_rampup=int(_number(meta, "RampUpPulses")) if "RampUpPulses" in meta else 0,
        field_t=field,
        agent=agent,
    )
    affines = _affines(img, n_slices)
    normal = np.cross(affines[0, :3, 0], affines[0, :3, 1])
    normal = normal / (np.linalg.norm(normal) or 1.0)
    positions = affines[:, :3, 3] @ normal
    idx = np.argsort(positions, kind="stable")  # the model's slices ascend along the normal
    rr = _number(meta, "RRInterval")
    if math.isnan(rr):
        rr = float(np.median(np.diff(times[0]))) if n_frames > 1 else math.nan
    series = PerfusionSeries(
        echoes=np.ascontiguousarray(echoes[:, idx]),
        times_s=times[idx],
        pd_frames=int(_number(meta, "ProtonDensityFrames")) if "ProtonDensityFrames" in meta
        else 0,
        sequence=seq,
        affines=affines[idx],
        time_source="sidecar",
        rr_s=rr,
        description=str(meta.get("SeriesDescription", _stem(p).name)),
        series_uid="",
        slice_positions_mm=positions[idx],
        headers=[],
        source_files=[str(p), meta["_path"]],
    )
    return series, meta


def read_nifti_study(path: str | os.PathLike[str], *, readout: str | None = None,
                     hematocrit: float = 0.42) -> Study:
    """A study from one NIfTI file or a folder of them (each with its JSON sidecar).

    States come from the sidecar's ``State``, else the file or folder name (stress / rest);
    roles from ``Role``, else "aif" in the file name. Times are re-based per state on the
    earliest frame of its series, as for DICOM.
    """
    p = Path(path)
    files = [p] if p.is_file() else sorted(
        f for f in p.rglob("*") if f.name.lower().endswith((".nii", ".nii.gz")))
    flags: list[QCFlag] = []
    found: dict[str, dict[str, list[PerfusionSeries]]] = {}
    hct: dict[str, float] = {}
    for f in files:
        sflags: list[QCFlag] = []
        series, meta = read_nifti_series(f, readout=None, flags=sflags)
        state = meta.get("State")
        if state is None:
            rel = f.relative_to(p) if p.is_dir() else Path(f.name)
            for part in [*rel.parts[:-1], _stem(Path(rel.parts[-1])).name]:
                state = state_from_text(part)
                if state:
                    break
        state = str(state or "unspecified").lower()
        if state not in STATES:
            raise DicomInputError(f"{meta['_path']}: State {state!r}; use one of {STATES}")
        role = str(meta.get("Role") or ("aif" if "aif" in f.name.lower() else "myocardium"))
        if role not in ("myocardium", "aif"):
            raise DicomInputError(f"{meta['_path']}: Role {role!r}; use myocardium or aif")
        if role == "myocardium" and readout is not None:
            series.sequence = dataclasses.replace(series.sequence, readout=readout)
        found.setdefault(state, {}).setdefault(role, []).append(series)
        if "Hematocrit" in meta:
            hct[state] = _number(meta, "Hematocrit")
        found[state].setdefault("_flags", []).extend(sflags)  # type: ignore[arg-type]
    acquisitions = {}
    for state in STATES:
        if state not in found:
            continue
        group = found[state]
        myo, aifs = group.get("myocardium", []), group.get("aif", [])
        sflags = list(group.get("_flags", []))  # type: ignore[arg-type]
        if len(myo) != 1 or len(aifs) > 1:
            raise DicomInputError(
                f"{state}: {len(myo)} myocardial and {len(aifs)} AIF NIfTI series; give one "
                "myocardial series (and at most one AIF) per state via State/Role sidecar keys")
        aif = aifs[0] if aifs else None
        if aif is None:
            sflags.append(QCFlag("AIF_SERIES_MISSING", "warning", f"{state}: no AIF series "
                                 "(Role \"aif\"); the AIF will come from the LV blood pool of "
                                 "the myocardial series (may saturate)", "io"))
        origin = min(s.times_s.min() for s in [myo[0], *aifs])
        for s in [myo[0], *aifs]:
            s.times_s = s.times_s - origin
        acquisitions[state] = Acquisition(state=state, myocardium=myo[0], aif=aif,  # type: ignore[arg-type]
                                          hematocrit=hct.get(state, hematocrit),
                                          warnings=sflags)
    if not acquisitions:
        raise DicomInputError(f"no NIfTI series under {p}")
    return Study(acquisitions=acquisitions, warnings=flags, source=str(p))
