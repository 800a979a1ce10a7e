"""Write parameter maps as DICOM Parametric Map objects (highdicom), referencing the source.

One multi-frame Parametric Map instance per state × quantity, in its own new series of the
source study: 32-bit float pixel data (NaN outside the myocardium, kept as is), a real-world
value mapping (slope 1, intercept 0) carrying the unit as a UCUM code, one frame per source
slice with that slice's position and orientation, and a per-frame reference to the source
image it was derived from. A viewer can therefore overlay the map on the scanner images.

The quantities and their units are a registry, :data:`QUANTITIES`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import highdicom as hd
import numpy as np
from pydicom import Dataset
from pydicom.uid import generate_uid

from qperfusion.errors import QPerfusionError

__all__ = [
    "QUANTITIES",
    "Quantity",
    "read_parametric_map",
    "write_parametric_map",
    "write_state_parametric_maps",
]


@dataclass(frozen=True)
class Quantity:
    """How one map is described in DICOM.

    Attributes
    ----------
    label : str
        Short label (LUT Label, ≤ 16 characters; Content Label in upper case).
    explanation : str
        LUT Explanation, in words.
    ucum : str
        UCUM unit code (e.g. ``"mL/min/g"``).
    unit_meaning : str
        The unit in words.
    window : tuple of float
        Display window (centre, width) in real-world units.
    """

    label: str
    explanation: str
    ucum: str
    unit_meaning: str
    window: tuple[float, float]


_FLOW = ("mL/min/g", "milliliter per minute per gram")

#: Map name (as in the pipeline's maps dict) -> DICOM description.
QUANTITIES: dict[str, Quantity] = {
    "mbf_ml_min_g": Quantity("MBF", "myocardial blood flow (blood flow Fb)", *_FLOW, (2.5, 5.0)),
    "fp_ml_min_g": Quantity("FP", "myocardial plasma flow Fp = Fb(1-Hct)", *_FLOW, (1.5, 3.0)),
    "mbf_sd_ml_min_g": Quantity("MBF SD", "fit uncertainty (SD) of MBF", *_FLOW, (0.5, 1.0)),
    "ps_ml_min_g": Quantity("PS", "permeability-surface area product", *_FLOW, (1.0, 2.0)),
    "vp": Quantity("VP", "plasma volume fraction", "1", "no units", (0.1, 0.2)),
    "vb": Quantity("VB", "blood volume fraction", "1", "no units", (0.1, 0.2)),
    "ve": Quantity("VE", "interstitial volume fraction", "1", "no units", (0.25, 0.5)),
    "delay_s": Quantity("DELAY", "bolus arrival delay AIF to tissue", "s", "second", (2.0, 4.0)),
}


def _check_inputs(volume: np.ndarray, headers: Sequence[Dataset], quantity: str) -> None:
    if quantity not in QUANTITIES:
        raise QPerfusionError(
            f"no DICOM description for map {quantity!r}; known: {sorted(QUANTITIES)}"
        )
    if volume.ndim != 3:
        raise QPerfusionError(f"map has shape {volume.shape}; expected (n_slices, ny, nx)")
    if len(headers) != volume.shape[0]:
        raise QPerfusionError(
            f"{len(headers)} source headers for {volume.shape[0]} slices; pass one pydicom "
            "Dataset per slice (the first frame of each slice of the source series)"
        )
    for k, h in enumerate(headers):
        for tag in ("SOPInstanceUID", "ImagePositionPatient", "ImageOrientationPatient",
                    "PixelSpacing", "Rows", "Columns", "FrameOfReferenceUID"):
            if tag not in h:
                raise QPerfusionError(
                    f"source header of slice {k} lacks {tag}; the Parametric Map needs the "
                    "source geometry (write NIfTI maps only for non-DICOM input)"
                )
        if (int(h.Rows), int(h.Columns)) != volume.shape[1:]:
            raise QPerfusionError(
                f"slice {k}: source image is {h.Rows}×{h.Columns} but the map is "
                f"{volume.shape[1]}×{volume.shape[2]}; maps must be in the source grid"
            )


def write_parametric_map(
    path: str | Path,
    volume: np.ndarray,
    source_headers: Sequence[Dataset],
    *,
    quantity: str = "mbf_ml_min_g",
    state: str = "unspecified",
    series_number: int = 900,
    anonymize: bool = False,
    software_version: str | None = None,
) -> Path:
    """Write one map as a DICOM Parametric Map (float32, real-world value mapping).

    Parameters
    ----------
    path : str or Path
        Output file (``.dcm``).
    volume : ndarray of shape (n_slices, ny, nx)
        The map in the source image grid, in the unit of ``QUANTITIES[quantity]``.
    source_headers : sequence of pydicom.Dataset
        One per slice, same order as ``volume``: the source image's header (pixel data
        not needed) with geometry, UIDs and the patient/study modules.
    quantity : str
        Key of :data:`QUANTITIES` (the map's name in the pipeline).
    state : str
        ``"stress"``, ``"rest"`` or ``"unspecified"`` (goes into SeriesDescription).
    series_number : int
        Series Number of the new series.
    anonymize : bool
        Blank PatientName, PatientID and PatientBirthDate copied from the source.
    software_version : str, optional
        Defaults to ``qperfusion.__version__``.

    Returns
    -------
    Path
    """
    from qperfusion import __version__

    vol = np.asarray(volume, dtype=np.float32)
    _check_inputs(vol, source_headers, quantity)
    q = QUANTITIES[quantity]
    finite = vol[np.isfinite(vol)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    unit = hd.sr.CodedConcept(value=q.ucum, scheme_designator="UCUM", meaning=q.unit_meaning)
    rwvm = hd.pm.RealWorldValueMapping(
        lut_label=q.label, lut_explanation=q.explanation, unit=unit,
        value_range=(lo, hi), slope=1.0, intercept=0.0,
    )
    voi = hd.VOILUTTransformation(window_center=q.window[0], window_width=q.window[1])
    pm = hd.pm.ParametricMap(
        source_images=list(source_headers),
        pixel_array=vol,
        series_instance_uid=generate_uid(),
        series_number=int(series_number),
        sop_instance_uid=generate_uid(),
        instance_number=1,
        manufacturer="qperfusion",
        manufacturer_model_name="qperfusion",
        software_versions=software_version or __version__,
        device_serial_number="0",
        contains_recognizable_visual_features=False,
        real_world_value_mappings=[rwvm],
        voi_lut_transformations=[voi],
        content_label=q.label.replace(" ", "_").upper()[:16],
        content_description=f"{state} {q.explanation} ({q.ucum})"[:64],
    )
    pm.SeriesDescription = f"qperfusion {state} {q.label} {q.ucum}"[:64]
    if anonymize:
        pm.PatientName = "Anonymous^"
        pm.PatientID = ""
        pm.PatientBirthDate = ""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pm.save_as(path)
    return path


def write_state_parametric_maps(
    outdir: str | Path,
    state: str,
    maps: Mapping[str, np.ndarray],
    source_headers: Sequence[Dataset],
    *,
    quantities: Sequence[str] | None = None,
    first_series_number: int = 900,
    anonymize: bool = False,
) -> dict[str, Path]:
    """Write ``<outdir>/<state>_<name>.dcm`` for each map with a DICOM description.

    Parameters
    ----------
    outdir : str or Path
    state : str
    maps : dict of str to ndarray of shape (n_slices, ny, nx)
    source_headers : sequence of pydicom.Dataset
        One per slice.
    quantities : sequence of str, optional
        Which maps to write; default: every map in ``maps`` that :data:`QUANTITIES` describes.
    first_series_number : int
        Series Number of the first map; the next maps count up from it.
    anonymize : bool

    Returns
    -------
    dict of str to Path
    """
    names = list(quantities) if quantities is not None else [m for m in maps if m in QUANTITIES]
    out = {}
    for i, name in enumerate(names):
        if name not in maps:
            raise QPerfusionError(f"map {name!r} requested but not given; have {sorted(maps)}")
        out[name] = write_parametric_map(
            Path(outdir) / f"{state}_{name}.dcm", maps[name], source_headers,
            quantity=name, state=state, series_number=first_series_number + i,
            anonymize=anonymize,
        )
    return out


def read_parametric_map(
    path: str | Path, source_headers: Sequence[Dataset]
) -> np.ndarray:
    """Read a Parametric Map back into the source slice order, in real-world units.

    Frames are matched to ``source_headers`` by the source SOP Instance UID each frame
    references (highdicom stores frames in spatial order, not necessarily the given order).

    Parameters
    ----------
    path : str or Path
    source_headers : sequence of pydicom.Dataset
        The headers the map was written with (only SOPInstanceUID is used).

    Returns
    -------
    ndarray of shape (n_slices, ny, nx), float
    """
    import pydicom

    ds = pydicom.dcmread(str(path))
    pixels = ds.pixel_array.reshape(-1, int(ds.Rows), int(ds.Columns))
    index = {str(h.SOPInstanceUID): k for k, h in enumerate(source_headers)}
    out = np.full((len(source_headers), *pixels.shape[1:]), np.nan)
    shared = ds.SharedFunctionalGroupsSequence[0]
    for f, group in enumerate(ds.PerFrameFunctionalGroupsSequence):
        src = group.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
        rw = (group if "RealWorldValueMappingSequence" in group else shared)
        m = rw.RealWorldValueMappingSequence[0]
        k = index.get(str(src))
        if k is None:
            raise QPerfusionError(
                f"{path}: frame {f} references source {src}, not among the given headers"
            )
        out[k] = pixels[f] * float(m.RealWorldValueSlope) + float(m.RealWorldValueIntercept)
    return out
