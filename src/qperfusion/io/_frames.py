"""One record per 2-D image, whether it came from a classic file or a multi-frame file.

Classic MR stores one image per file with its values at the top level; enhanced MR stores
every frame in one file with per-frame and shared *functional groups*. :class:`FrameRecord`
hides the difference so grouping, timing and sequence parsing see one shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qperfusion.io._values import da_days, dt_seconds, fnum, fseq, get, inum, text, tm_seconds

__all__ = ["FrameRecord", "frames_from_dataset", "is_multiframe", "lookup"]


def is_multiframe(ds: Any) -> bool:
    """True when the dataset holds several frames described by functional groups."""
    n = inum(get(ds, "NumberOfFrames"))
    return bool(n and n > 1) or get(ds, "PerFrameFunctionalGroupsSequence") is not None


def _item(seq: Any, index: int) -> Any:
    try:
        return seq[index]
    except Exception:
        return None


def lookup(ds: Any, frame: int | None, keyword: str, group: str | None = None) -> Any:
    """A value for one frame: the per-frame group, else the shared group, else the top level.

    Parameters
    ----------
    ds : pydicom.Dataset
    frame : int or None
        Frame index in a multi-frame file; None for a classic file.
    keyword : str
        Attribute keyword, e.g. ``"FlipAngle"``.
    group : str, optional
        Functional group sequence holding it, e.g. ``"MRTimingAndRelatedParametersSequence"``.
    """
    if frame is not None and group is not None:
        for fg_name, idx in (("PerFrameFunctionalGroupsSequence", frame),
                             ("SharedFunctionalGroupsSequence", 0)):
            fg = _item(get(ds, fg_name), idx)
            if fg is None:
                continue
            inner = _item(get(fg, group), 0)
            value = get(inner, keyword)
            if value is not None:
                return value
    return get(ds, keyword)


@dataclass
class FrameRecord:
    """What the reader needs from one 2-D image (values already parsed; None = absent)."""

    source: str
    frame: int | None
    order: int
    ds: Any
    series_uid: str
    study_uid: str
    patient_id: str
    patient_name: str
    description: str
    series_number: int | None
    derived: bool
    rows: int
    cols: int
    ipp: tuple[float, ...] | None
    iop: tuple[float, ...] | None
    spacing: tuple[float, ...] | None
    slice_location: float | None
    instance: int | None
    temporal_index: int | None
    acq_s: float | None
    acq_frac: bool
    acq_tag: str
    trigger_ms: float | None
    echo_number: int | None
    te_ms: float | None
    tr_ms: float | None
    ti_ms: float | None
    flip_deg: float | None
    rr_ms: float | None
    slope: float
    intercept: float

    def value(self, keyword: str, group: str | None = None) -> Any:
        """Any other attribute of this frame (per-frame, shared, then top level)."""
        return lookup(self.ds, self.frame, keyword, group)


_TIMING = "MRTimingAndRelatedParametersSequence"
_CARDIAC = "CardiacSynchronizationSequence"


def _acq_time(ds: Any, frame: int | None) -> tuple[float | None, bool, str]:
    """Frame acquisition time (s, continuous clock) with its fraction flag and tag name."""
    if frame is not None:
        for kw in ("FrameAcquisitionDateTime", "FrameReferenceDateTime"):
            v = dt_seconds(lookup(ds, frame, kw, "FrameContentSequence"))
            if v is not None:
                return v[0], v[1], "FrameAcquisitionDateTime"
    tm = tm_seconds(get(ds, "AcquisitionTime"))
    dt = dt_seconds(get(ds, "AcquisitionDateTime"))
    if tm is not None and (dt is None or tm[1] or not dt[1]):
        day = da_days(get(ds, "AcquisitionDate"))
        if day is None:
            day = da_days(get(ds, "SeriesDate")) or 0
        return day * 86400.0 + tm[0], tm[1], "AcquisitionTime"
    if dt is not None:
        return dt[0], dt[1], "AcquisitionDateTime"
    return None, False, ""


def _record(ds: Any, source: str, frame: int | None, order: int) -> FrameRecord:
    def lk(kw: str, group: str | None = None) -> Any:
        return lookup(ds, frame, kw, group)

    acq_s, acq_frac, acq_tag = _acq_time(ds, frame)
    trigger = fnum(lk("NominalCardiacTriggerDelayTime", _CARDIAC)) if frame is not None else None
    if trigger is None:
        trigger = fnum(get(ds, "TriggerTime"))
    te = fnum(lk("EffectiveEchoTime", "MREchoSequence")) if frame is not None else None
    if te is None:
        te = fnum(get(ds, "EchoTime"))
    ti = fnum(lk("InversionTimes", "MRModifierSequence")) if frame is not None else None
    if ti is None:
        ti = fnum(get(ds, "InversionTime"))
    rr = fnum(lk("RRIntervalTimeNominal", _CARDIAC)) if frame is not None else None
    if rr is None:
        rr = fnum(get(ds, "NominalInterval"))
    temporal = None
    if frame is not None:
        temporal = inum(lk("TemporalPositionIndex", "FrameContentSequence"))
    if temporal is None:
        temporal = inum(get(ds, "TemporalPositionIdentifier"))
    slope = fnum(lk("RescaleSlope", "PixelValueTransformationSequence"))
    intercept = fnum(lk("RescaleIntercept", "PixelValueTransformationSequence"))
    image_type = text(get(ds, "ImageType")).upper()
    return FrameRecord(
        source=source,
        frame=frame,
        order=order,
        ds=ds,
        series_uid=text(get(ds, "SeriesInstanceUID")),
        study_uid=text(get(ds, "StudyInstanceUID")),
        patient_id=text(get(ds, "PatientID")),
        patient_name=text(get(ds, "PatientName")),
        description=text(get(ds, "SeriesDescription")),
        series_number=inum(get(ds, "SeriesNumber")),
        derived=image_type.startswith("DERIVED"),
        rows=inum(get(ds, "Rows")) or 0,
        cols=inum(get(ds, "Columns")) or 0,
        ipp=_vec(lk("ImagePositionPatient", "PlanePositionSequence"), 3),
        iop=_vec(lk("ImageOrientationPatient", "PlaneOrientationSequence"), 6),
        spacing=_vec(lk("PixelSpacing", "PixelMeasuresSequence"), 2),
        slice_location=fnum(get(ds, "SliceLocation")),
        instance=inum(get(ds, "InstanceNumber")),
        temporal_index=temporal,
        acq_s=acq_s,
        acq_frac=acq_frac,
        acq_tag=acq_tag,
        trigger_ms=trigger,
        echo_number=inum(get(ds, "EchoNumbers")),
        te_ms=te,
        tr_ms=fnum(lk("RepetitionTime", _TIMING)),
        ti_ms=ti,
        flip_deg=fnum(lk("FlipAngle", _TIMING)),
        rr_ms=rr,
        slope=1.0 if slope is None or slope == 0 else slope,
        intercept=0.0 if intercept is None else intercept,
    )


def _vec(value: Any, n: int) -> tuple[float, ...] | None:
    out = fseq(value)
    return out if out is not None and len(out) == n else None


def frames_from_dataset(ds: Any, source: str, start_order: int = 0) -> list[FrameRecord]:
    """Every 2-D image a dataset holds (one for classic files, NumberOfFrames otherwise).

    Parameters
    ----------
    ds : pydicom.Dataset
        Read with or without pixel data.
    source : str
        The file it came from (kept for messages and for reading pixels later).
    start_order : int
        Running index so that ties in every other key still sort the same way each time.
    """
    if not is_multiframe(ds):
        return [_record(ds, source, None, start_order)]
    n = inum(get(ds, "NumberOfFrames")) or 1
    return [_record(ds, source, i, start_order + i) for i in range(max(n, 1))]
