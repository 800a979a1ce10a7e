"""DICOM Parametric Map writer: values, units, geometry and references survive a re-read."""

from __future__ import annotations

import highdicom as hd
import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

from qperfusion.errors import QPerfusionError
from qperfusion.io.nifti_out import read_map_nifti, write_map_nifti
from qperfusion.io.parametric_map import (
    QUANTITIES,
    read_parametric_map,
    write_parametric_map,
    write_state_parametric_maps,
)

ROWS, COLS = 12, 16
SPACING = (1.5, 1.25)  # (row spacing, column spacing) mm


def source_headers(n_slices=3, gaps=(10.0, 12.0)):
    """Headers as the reader keeps them: first frame per slice, no PixelData, oblique."""
    rng = np.random.default_rng(7)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    row_cos, col_cos = q[:, 0], q[:, 1]
    normal = np.cross(row_cos, col_cos)
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    pos = np.concatenate([[0.0], np.cumsum(gaps[: n_slices - 1])])
    headers, affines = [], np.zeros((n_slices, 4, 4))
    for k in range(n_slices):
        ipp = np.array([-60.0, 30.0, 5.0]) + pos[k] * normal
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = MRImageStorage
        ds.SOPClassUID = MRImageStorage
        ds.SOPInstanceUID = generate_uid()
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.Modality = "MR"
        ds.PatientName, ds.PatientID = "Doe^Jane", "PID123"
        ds.PatientBirthDate, ds.PatientSex = "19700101", "F"
        ds.StudyDate, ds.StudyTime, ds.StudyID = "20240101", "120000", "1"
        ds.AccessionNumber, ds.ReferringPhysicianName = "", ""
        ds.SeriesNumber, ds.InstanceNumber = 5, k + 1
        ds.Rows, ds.Columns = ROWS, COLS
        ds.PixelSpacing = list(SPACING)
        ds.SliceThickness = 8.0
        ds.ImageOrientationPatient = [*row_cos.tolist(), *col_cos.tolist()]
        ds.ImagePositionPatient = ipp.tolist()
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        headers.append(ds)
        affines[k, :3, 0] = row_cos * SPACING[1]
        affines[k, :3, 1] = col_cos * SPACING[0]
        affines[k, :3, 3] = ipp
        affines[k, 3, 3] = 1.0
    return headers, affines


def _mbf_map():
    rng = np.random.default_rng(1)
    vol = rng.uniform(0.5, 4.5, (3, ROWS, COLS)).astype(np.float32)
    vol[:, :3, :] = np.nan  # outside the myocardium
    return vol


def test_round_trip_equals_nifti_and_source(tmp_path):
    headers, affines = source_headers()
    vol = _mbf_map()
    dcm = write_parametric_map(tmp_path / "stress_mbf.dcm", vol, headers, state="stress")
    nii = write_map_nifti(tmp_path / "stress_mbf.nii.gz", vol, affines)
    from_dcm = read_parametric_map(dcm, headers)
    from_nii, _ = read_map_nifti(nii)
    np.testing.assert_array_equal(from_dcm, from_nii)  # NaN at the same places
    np.testing.assert_array_equal(from_dcm, vol)

    ds = pydicom.dcmread(dcm)
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.30"  # Parametric Map Storage
    assert ds.StudyInstanceUID == headers[0].StudyInstanceUID
    assert ds.FrameOfReferenceUID == headers[0].FrameOfReferenceUID
    assert ds.SeriesInstanceUID != headers[0].SeriesInstanceUID
    assert "FloatPixelData" in ds
    m = ds.SharedFunctionalGroupsSequence[0].RealWorldValueMappingSequence[0]
    unit = m.MeasurementUnitsCodeSequence[0]
    assert (unit.CodeValue, unit.CodingSchemeDesignator) == ("mL/min/g", "UCUM")
    assert m.LUTLabel == "MBF"
    # each frame sits at its source slice's position and references that slice
    by_uid = {h.SOPInstanceUID: h for h in headers}
    for g in ds.PerFrameFunctionalGroupsSequence:
        src = g.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
        np.testing.assert_allclose(
            [float(x) for x in g.PlanePositionSequence[0].ImagePositionPatient],
            [float(x) for x in by_uid[src].ImagePositionPatient], atol=1e-3)
    assert "stress" in ds.SeriesDescription
    assert str(ds.PatientName) == "Doe^Jane"


def test_highdicom_volume_matches(tmp_path):
    headers, affines = source_headers(gaps=(10.0, 10.0))
    vol = _mbf_map()
    dcm = write_parametric_map(tmp_path / "m.dcm", vol, headers)
    pm = hd.pm.ParametricMap.from_dataset(pydicom.dcmread(dcm))
    v = pm.get_volume()
    # highdicom's volume affine maps (frame, row, column) to LPS: check every voxel's value
    for k in range(3):
        for j, i in [(3, 0), (7, 9), (11, 15)]:
            lps = affines[k] @ np.array([i, j, 0.0, 1.0])
            ijk = np.linalg.solve(v.affine, lps)[:3]
            f, r, c = np.round(ijk).astype(int)
            assert v.array[f, r, c] == vol[k, j, i]


def test_anonymize_and_state_writer(tmp_path):
    headers, _ = source_headers()
    vol = _mbf_map()
    maps = {"mbf_ml_min_g": vol, "fp_ml_min_g": vol * 0.58, "unknown_thing": vol}
    out = write_state_parametric_maps(tmp_path, "rest", maps, headers, anonymize=True)
    assert set(out) == {"mbf_ml_min_g", "fp_ml_min_g"}
    ds = pydicom.dcmread(out["fp_ml_min_g"])
    assert str(ds.PatientName) == "Anonymous^"
    assert ds.PatientID == ""
    assert ds.SeriesNumber == 901
    np.testing.assert_allclose(read_parametric_map(out["fp_ml_min_g"], headers),
                               (vol * 0.58).astype(np.float32))


def test_bad_input_messages(tmp_path):
    headers, _ = source_headers()
    vol = _mbf_map()
    with pytest.raises(QPerfusionError, match="known"):
        write_parametric_map(tmp_path / "x.dcm", vol, headers, quantity="flow")
    with pytest.raises(QPerfusionError, match="one pydicom"):
        write_parametric_map(tmp_path / "x.dcm", vol, headers[:2])
    with pytest.raises(QPerfusionError, match="source grid"):
        write_parametric_map(tmp_path / "x.dcm", vol[:, :10], headers)
    h = [h.copy() for h in headers]
    del h[1].ImagePositionPatient
    with pytest.raises(QPerfusionError, match="ImagePositionPatient"):
        write_parametric_map(tmp_path / "x.dcm", vol, h)
    assert "mbf_ml_min_g" in QUANTITIES


def test_all_nan_map_of_a_failed_state(tmp_path):
    headers, _ = source_headers()
    vol = np.full((3, ROWS, COLS), np.nan)
    p = write_parametric_map(tmp_path / "nan.dcm", vol, headers)
    assert np.isnan(read_parametric_map(p, headers)).all()
