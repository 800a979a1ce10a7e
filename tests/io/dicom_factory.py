"""Hand-made perfusion DICOM for the reader's tests: classic single-frame and enhanced MR.

Pixel values encode where an image belongs, so a test can check the order the reader puts
them in: ``value = base + 1000·frame + 100·slice + 30000·echo`` (stored), with the rescale
applied on top when ``slope``/``intercept`` are given.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filewriter import dcmwrite
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

MR = "1.2.840.10008.5.1.4.1.1.4"
ENHANCED_MR = "1.2.840.10008.5.1.4.1.1.4.1"


@dataclass
class SeriesSpec:
    """What one hand-made series holds; times follow ``time_mode``."""

    description: str = "Perfusion stress"
    n_slices: int = 3
    n_frames: int = 12
    rows: int = 8
    cols: int = 8
    echoes_ms: tuple[float, ...] = (1.1,)
    pd_frames: int = 2
    flip: float = 12.0
    pd_flip: float = 5.0
    td_ms: float = 90.0
    tr_ms: float = 2.5
    rr_s: tuple[float, ...] | float = 0.8
    slice_offset_s: float = 0.12
    t0_s: float = 36000.0  # 10:00:00
    time_mode: str = "acq"  # acq | acq_whole_trigger | nominal | none
    sequence_name: str = "*tfl2d1_12"
    scanning: str = "GR"
    variant: str = "SP"
    acq_matrix: tuple[int, int, int, int] = (0, 128, 96, 0)
    phase_dir: str = "ROW"
    accel: float | None = None
    field_t: float = 1.5
    agent: str = "Gadovist"
    spacing: tuple[float, float] = (2.0, 2.5)
    slice_gap_mm: float = 10.0
    study_uid: str = field(default_factory=generate_uid)
    series_uid: str = field(default_factory=generate_uid)
    series_number: int = 10
    patient_id: str = "PAT-0001"
    patient_name: str = "Doe^Jane"
    slope: float | None = None
    intercept: float | None = None
    first_instance: int = 1

    def frame_times(self) -> np.ndarray:
        """(n_slices, n_frames) absolute acquisition times (s since midnight)."""
        rr = np.broadcast_to(np.asarray(self.rr_s, dtype=float), (self.n_frames,))
        beats = self.t0_s + np.concatenate([[0.0], np.cumsum(rr[:-1])])
        return beats[None, :] + self.slice_offset_s * np.arange(self.n_slices)[:, None]


_IOP = (0.6, 0.8, 0.0, 0.0, 0.0, -1.0)


def _normal() -> np.ndarray:
    return np.cross(np.array(_IOP[:3]), np.array(_IOP[3:]))


def _ipp(spec: SeriesSpec, s: int) -> list[float]:
    return list(np.array([-50.0, -80.0, 30.0]) + _normal() * spec.slice_gap_mm * s)


def pixel_value(spec: SeriesSpec, echo: int, s: int, t: int) -> np.ndarray:
    """The stored (pre-rescale) image of echo/slice/frame."""
    base = np.arange(spec.rows * spec.cols, dtype=np.uint16).reshape(spec.rows, spec.cols)
    return (base + 1000 * t + 100 * s + 30000 * echo).astype(np.uint16)


def _tm(seconds: float, whole: bool) -> str:
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    if whole:
        return f"{int(h):02d}{int(m):02d}{int(s):02d}"
    return f"{int(h):02d}{int(m):02d}{s:09.6f}"


def _common(ds: Dataset, spec: SeriesSpec, sop_class: str) -> None:
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = generate_uid()
    ds.Modality = "MR"
    ds.Manufacturer = "TESTVENDOR"
    ds.PatientID = spec.patient_id
    ds.PatientName = spec.patient_name
    ds.PatientBirthDate = "19600101"
    ds.StudyInstanceUID = spec.study_uid
    ds.SeriesInstanceUID = spec.series_uid
    ds.SeriesNumber = spec.series_number
    ds.SeriesDescription = spec.description
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = "20240102"
    ds.MagneticFieldStrength = spec.field_t
    ds.ContrastBolusAgent = spec.agent
    ds.SequenceName = spec.sequence_name
    ds.ScanningSequence = spec.scanning
    ds.SequenceVariant = spec.variant
    ds.AcquisitionMatrix = list(spec.acq_matrix)
    ds.InPlanePhaseEncodingDirection = spec.phase_dir
    ds.FrameOfReferenceUID = spec.series_uid[:60] + ".9"
    ds.Rows, ds.Columns = spec.rows, spec.cols
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    if spec.accel is not None:
        ds.ParallelReductionFactorInPlane = spec.accel


def _file_meta(ds: Dataset) -> None:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta


def to_bytes(ds: Dataset) -> bytes:
    """The Part-10 file of a dataset."""
    buf = io.BytesIO()
    dcmwrite(buf, ds, enforce_file_format=True)
    return buf.getvalue()


def classic_series(spec: SeriesSpec) -> list[tuple[str, Dataset]]:
    """One file per image: (file name, dataset), instance numbers running frame-major."""
    times = spec.frame_times()
    out = []
    inst = spec.first_instance
    for t in range(spec.n_frames):
        for e, te in enumerate(spec.echoes_ms):
            for s in range(spec.n_slices):
                ds = Dataset()
                _common(ds, spec, MR)
                ds.InstanceNumber = inst
                ds.ImagePositionPatient = _ipp(spec, s)
                ds.ImageOrientationPatient = list(_IOP)
                ds.PixelSpacing = list(spec.spacing)
                ds.SliceThickness = 8
                ds.EchoTime = te
                ds.EchoNumbers = e + 1
                ds.RepetitionTime = spec.tr_ms
                ds.InversionTime = spec.td_ms
                ds.FlipAngle = spec.pd_flip if t < spec.pd_frames else spec.flip
                _times(ds, spec, times[s, t], t, s)
                if spec.slope is not None:
                    ds.RescaleSlope = spec.slope
                    ds.RescaleIntercept = spec.intercept or 0.0
                ds.PixelData = pixel_value(spec, e, s, t).tobytes()
                _file_meta(ds)
                out.append((f"IM_{inst:05d}.dcm", ds))
                inst += 1
    return out


def _times(ds: Dataset, spec: SeriesSpec, when: float, t: int, s: int) -> None:
    rr = float(np.mean(np.asarray(spec.rr_s)))
    if spec.time_mode == "acq":
        ds.AcquisitionTime = _tm(when, whole=False)
        ds.TriggerTime = 300.0
    elif spec.time_mode == "acq_whole_trigger":
        ds.AcquisitionTime = _tm(spec.t0_s + 1.0 * (t * rr // 20), whole=True)
        ds.TriggerTime = round((when - spec.t0_s) * 1000.0, 1)
    elif spec.time_mode == "whole_nominal":  # whole seconds + per-beat trigger delay
        ds.AcquisitionTime = _tm(when, whole=True)
        ds.TriggerTime = round(spec.slice_offset_s * s * 1000.0, 1)
        ds.NominalInterval = round(rr * 1000.0)
    elif spec.time_mode == "nominal":
        ds.TriggerTime = round(spec.slice_offset_s * s * 1000.0, 1)  # delay after the R wave
        ds.NominalInterval = round(rr * 1000.0)
    elif spec.time_mode != "none":
        raise ValueError(spec.time_mode)


def enhanced_series(spec: SeriesSpec) -> Dataset:
    """All images in one Enhanced MR dataset with shared and per-frame functional groups."""
    times = spec.frame_times()
    ds = Dataset()
    _common(ds, spec, ENHANCED_MR)
    ds.InstanceNumber = 1
    ds.ImageType = ["ORIGINAL", "PRIMARY", "PERFUSION", "NONE"]
    shared = Dataset()
    pm = Dataset()
    pm.PixelSpacing = list(spec.spacing)
    pm.SliceThickness = 8
    shared.PixelMeasuresSequence = Sequence([pm])
    po = Dataset()
    po.ImageOrientationPatient = list(_IOP)
    shared.PlaneOrientationSequence = Sequence([po])
    mod = Dataset()
    mod.InversionTimes = [spec.td_ms]
    if spec.accel is not None:
        mod.ParallelReductionFactorInPlane = spec.accel
    shared.MRModifierSequence = Sequence([mod])
    if spec.slope is not None:
        pvt = Dataset()
        pvt.RescaleSlope = spec.slope
        pvt.RescaleIntercept = spec.intercept or 0.0
        pvt.RescaleType = "US"
        shared.PixelValueTransformationSequence = Sequence([pvt])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    frames, pixels = [], []
    for t in range(spec.n_frames):
        for e, te in enumerate(spec.echoes_ms):
            for s in range(spec.n_slices):
                fg = Dataset()
                fc = Dataset()
                day = "20240102"
                fc.FrameAcquisitionDateTime = day + _tm(times[s, t], whole=False)
                fc.TemporalPositionIndex = t + 1
                fg.FrameContentSequence = Sequence([fc])
                pp = Dataset()
                pp.ImagePositionPatient = _ipp(spec, s)
                fg.PlanePositionSequence = Sequence([pp])
                tim = Dataset()
                tim.RepetitionTime = spec.tr_ms
                tim.FlipAngle = spec.pd_flip if t < spec.pd_frames else spec.flip
                fg.MRTimingAndRelatedParametersSequence = Sequence([tim])
                echo = Dataset()
                echo.EffectiveEchoTime = te
                fg.MREchoSequence = Sequence([echo])
                frames.append(fg)
                pixels.append(pixel_value(spec, e, s, t))
    ds.PerFrameFunctionalGroupsSequence = Sequence(frames)
    ds.NumberOfFrames = len(frames)
    ds.PixelData = np.stack(pixels).tobytes()
    _file_meta(ds)
    return ds


def write(items: list[tuple[str, Dataset]], folder: Path, *, shuffle_seed: int | None = None
          ) -> list[Path]:
    """Write datasets under ``folder`` (created); optionally with shuffled, meaningless names."""
    folder.mkdir(parents=True, exist_ok=True)
    order = list(range(len(items)))
    if shuffle_seed is not None:
        rng = np.random.default_rng(shuffle_seed)
        rng.shuffle(order)
    paths = []
    for k, i in enumerate(order):
        name = items[i][0] if shuffle_seed is None else f"x{k:04d}{rng.integers(1e6)}"
        p = folder / name
        p.write_bytes(to_bytes(items[i][1]))
        paths.append(p)
    return paths
