"""NIfTI + JSON sidecar input reads back what a DICOM study holds."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest
from pydicom.uid import generate_uid

import qperfusion as qp
from qperfusion.errors import DicomInputError

from .dicom_factory import SeriesSpec, classic_series, write

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


def _export(series, path, **extra):
    """Write a PerfusionSeries as NIfTI (column, row, slice, frame[, echo]) + sidecar."""
    data = np.transpose(series.echoes, (3, 2, 1, 4, 0))  # col, row, slice, t, echo
    if data.shape[-1] == 1:
        data = data[..., 0]
    aff = series.affines[0].copy()
    if series.n_slices > 1:
        aff[:3, 2] = (series.affines[-1, :3, 3] - series.affines[0, :3, 3]) / (
            series.n_slices - 1)
    nib.save(nib.Nifti1Image(data, LPS_TO_RAS @ aff), str(path))
    q = series.sequence
    side = {"FrameTimes": series.times_s.tolist(), "ProtonDensityFrames": series.pd_frames,
            "PDFlipAngle": q.pd_flip_deg, "Readout": q.readout, "SaturationDelay": q.td_s,
            "RepetitionTimeExcitation": q.tr_s, "EchoTime": list(q.te_s),
            "FlipAngle": q.flip_deg, "PhaseEncodingLines": q.n_pe_lines,
            "LinesToCenter": q.lines_to_center, "MagneticFieldStrength": q.field_t,
            "ContrastBolusAgent": q.agent, **extra}
    name = path.name.replace(".nii.gz", "").replace(".nii", "")
    (path.parent / f"{name}.json").write_text(json.dumps(side))


def test_nifti_roundtrip_of_a_dicom_study(tmp_path):
    uid = generate_uid()
    myo = SeriesSpec(description="perf rest", study_uid=uid, n_frames=6)
    aif = SeriesSpec(description="AIF rest", study_uid=uid, n_frames=6, n_slices=1, rows=4,
                     cols=4, echoes_ms=(0.8, 2.0), series_number=11)
    write(classic_series(myo), tmp_path / "dcm" / "m")
    write(classic_series(aif), tmp_path / "dcm" / "a")
    ref = qp.read_study(tmp_path / "dcm")["rest"]
    out = tmp_path / "nii"
    out.mkdir()
    _export(ref.myocardium, out / "rest_myo.nii.gz")
    _export(ref.aif, out / "rest_aif.nii.gz", Role="aif")
    acq = qp.read_study(out)["rest"]
    for a, b in ((ref.myocardium, acq.myocardium), (ref.aif, acq.aif)):
        np.testing.assert_array_equal(a.echoes, b.echoes)
        np.testing.assert_allclose(a.times_s, b.times_s)
        np.testing.assert_allclose(a.affines[:, :3, :2], b.affines[:, :3, :2], atol=1e-5)
        np.testing.assert_allclose(a.affines[:, :3, 3], b.affines[:, :3, 3], atol=1e-4)
        np.testing.assert_allclose(a.slice_positions_mm, b.slice_positions_mm, atol=1e-4)
        assert a.sequence == b.sequence
        assert a.pd_frames == b.pd_frames
        assert b.time_source == "sidecar"


def test_nifti_sidecar_errors(tmp_path):
    img = nib.Nifti1Image(np.ones((4, 4, 1, 5), np.float32), np.eye(4))
    nib.save(img, str(tmp_path / "stress.nii"))
    with pytest.raises(DicomInputError, match="no JSON sidecar"):
        qp.read_study(tmp_path / "stress.nii")
    (tmp_path / "stress.json").write_text(json.dumps({"FrameTimes": [0, 1, 2]}))
    with pytest.raises(DicomInputError, match="FrameTimes has shape"):
        qp.read_study(tmp_path / "stress.nii")
    (tmp_path / "stress.json").write_text(json.dumps({"FrameTimes": [0, 1, 2, 3, 4],
                                                      "Colour": "red"}))
    study = qp.read_study(tmp_path)
    assert study.states == ["stress"]
    codes = [f.code for f in study["stress"].warnings]
    assert "SIDECAR_KEY_UNKNOWN" in codes
    assert "SEQUENCE_TAG_MISSING" in codes
