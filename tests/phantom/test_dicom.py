"""The written study: DICOM re-read with pydicom gives back what was simulated; masks; truth."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime

import nibabel as nib
import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset

from qperfusion.phantom import dicom
from qperfusion.phantom.write import _jsonable
from qperfusion.physics.bloch import center_line_index
from qperfusion.physics.relaxation import agent_name


@pytest.fixture(scope="module")
def reread(written):
    """Every file, grouped: state -> SeriesInstanceUID -> list of datasets."""
    out = {}
    for state in ("stress", "rest"):
        groups = defaultdict(list)
        for path in sorted(written.dicom_dirs[state].glob("*.dcm")):
            ds = pydicom.dcmread(path)
            groups[ds.SeriesInstanceUID].append(ds)
        out[state] = dict(groups)
    return out


def _series(groups, aif: bool):
    (uid,) = [u for u, g in groups.items() if ("AIF" in g[0].SeriesDescription) == aif]
    return groups[uid]


def _seconds(tm: str) -> float:
    t = datetime.strptime(tm, "%H%M%S.%f")
    return t.hour * 3600 + t.minute * 60 + t.second + t.microsecond * 1e-6


def test_files_series_and_uids(written, reread):
    assert written.n_files == 2 * 64 * (3 + 2)
    studies, frames, sops = set(), set(), set()
    for state, groups in reread.items():
        assert len(groups) == 2
        for g in groups.values():
            desc = g[0].SeriesDescription
            assert state in desc.lower()
            assert ("rest" in desc.lower()) == (state == "rest")
            for ds in g:
                assert ds.SOPClassUID == pydicom.uid.MRImageStorage
                assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
                studies.add(ds.StudyInstanceUID)
                frames.add(ds.FrameOfReferenceUID)
                sops.add(ds.SOPInstanceUID)
        assert len(_series(groups, aif=True)) == 64 * 2
        assert len(_series(groups, aif=False)) == 64 * 3
    assert len(studies) == 1
    assert len(frames) == 1
    assert len(sops) == written.n_files
    ds = reread["stress"][next(iter(reread["stress"]))][0]
    assert str(ds.PatientName) == "PHANTOM^PERFUSION"
    assert ds.PatientID
    assert ds.PatientBirthDate


@pytest.mark.parametrize("state", ["stress", "rest"])
@pytest.mark.parametrize("kind", ["myocardium", "aif"])
def test_geometry_timing_parameters_and_pixels_round_trip(study, reread, state, kind):
    st = study.states[state]
    series = getattr(st.acquisition, kind)
    files = _series(reread[state], aif=kind == "aif")
    assert files[0].SeriesInstanceUID == series.series_uid
    assert files[0].SeriesDescription == series.description
    seq = series.sequence
    # the clock origin of a state is its first image (the AIF's)
    t0 = min(_seconds(ds.AcquisitionTime) for g in reread[state].values() for ds in g)
    iop = np.array(files[0].ImageOrientationPatient, dtype=float)
    normal = np.cross(iop[:3], iop[3:])
    positions = sorted({round(float(np.array(ds.ImagePositionPatient, float) @ normal), 3)
                        for ds in files})
    assert len(positions) == series.n_slices
    np.testing.assert_allclose(positions, series.slice_positions_mm, atol=1e-3)  # rounded
    if series.n_slices > 1:
        np.testing.assert_allclose(np.diff(series.slice_positions_mm), 11.0, atol=1e-6)
        step = series.affines[1][:3, 3] - series.affines[0][:3, 3]
        np.testing.assert_allclose(series.affines[0][:3, 2], step, atol=1e-9)
    seen = np.zeros((series.n_echoes, series.n_slices, series.n_frames), dtype=int)
    for ds in files:
        ipp = np.array(ds.ImagePositionPatient, dtype=float)
        s = positions.index(round(float(ipp @ normal), 3))
        # frame index = rank of the time within the slice
        t = _seconds(ds.AcquisitionTime) - t0
        k = int(np.argmin(np.abs(series.times_s[s] - t)))
        assert t == pytest.approx(series.times_s[s, k], abs=1e-9)
        dt = datetime.strptime(ds.AcquisitionDateTime, "%Y%m%d%H%M%S.%f")
        assert dt.strftime("%H%M%S.%f") == ds.AcquisitionTime
        e = int(ds.EchoNumbers) - 1
        seen[e, s, k] += 1
        # geometry: DICOM affine (column, row) equals the acquisition's
        ps = np.array(ds.PixelSpacing, dtype=float)
        aff = series.affines[s]
        np.testing.assert_allclose(iop[:3] * ps[1], aff[:3, 0], atol=1e-9)
        np.testing.assert_allclose(iop[3:] * ps[0], aff[:3, 1], atol=1e-9)
        np.testing.assert_allclose(ipp, aff[:3, 3], atol=1e-8)
        assert float(ds.SliceThickness) == (8.0 if kind == "myocardium" else 10.0)
        # sequence parameters
        assert float(ds.InversionTime) == pytest.approx(seq.td_s * 1e3)
        assert float(ds.RepetitionTime) == pytest.approx(seq.tr_s * 1e3)
        assert float(ds.EchoTime) == pytest.approx(seq.te_s[e] * 1e3)
        flip = seq.pd_flip_deg if k < series.pd_frames else seq.flip_deg
        assert float(ds.FlipAngle) == pytest.approx(flip)
        assert float(ds.MagneticFieldStrength) == seq.field_t
        assert agent_name(ds.ContrastBolusAgent) == seq.agent
        assert ds.SequenceName == ("*tfl2d1" if seq.readout == "flash" else "*tfi2d1")
        am = [int(v) for v in ds.AcquisitionMatrix]
        steps = am[3] if ds.InPlanePhaseEncodingDirection == "COL" else am[2]
        lines = steps // int(ds[0x0018, 0x9069].value)
        assert lines == seq.n_pe_lines
        assert center_line_index(lines, "linear") == seq.lines_to_center
        assert float(ds.TriggerTime) == pytest.approx(
            np.atleast_2d(st.trigger_time_ms[kind])[s, k], abs=0.006)
        rr = np.diff(st.r_wave_s)
        assert int(ds.NominalInterval) == round(1e3 * rr[min(k, rr.size - 1)])
        np.testing.assert_array_equal(ds.pixel_array, series.echoes[e, s, :, :, k])
    assert np.all(seen == 1)
    # instance numbers follow the acquisition order
    order = sorted(files, key=lambda d: int(d.InstanceNumber))
    times = [_seconds(d.AcquisitionTime) for d in order]
    assert np.all(np.diff(times) >= 0)


def test_fast_writer_equals_dcmwrite(written, tmp_path):
    src = next(iter(written.files["rest"]))
    tpl = pydicom.dcmread(src)
    changes = Dataset()
    changes.SOPInstanceUID = dicom.uid("test", 1)
    changes.InstanceNumber = "7"
    changes.AcquisitionTime = "101010.123456"
    changes.PixelData = np.arange(tpl.Rows * tpl.Columns, dtype="<u2").tobytes()
    changes["PixelData"].VR = "OW"
    dicom.TemplateWriter(tpl).write(tmp_path / "fast.dcm", changes)
    for elem in changes:
        tpl[elem.tag] = elem
    tpl.file_meta.MediaStorageSOPInstanceUID = changes.SOPInstanceUID
    pydicom.dcmwrite(tmp_path / "ref.dcm", tpl, enforce_file_format=True)
    fast, ref = (pydicom.dcmread(tmp_path / n) for n in ("fast.dcm", "ref.dcm"))
    assert fast == ref
    assert fast.file_meta == ref.file_meta
    assert (tmp_path / "fast.dcm").read_bytes() == (tmp_path / "ref.dcm").read_bytes()


@pytest.mark.parametrize("state", ["stress", "rest"])
def test_masks_are_nifti_in_the_dicom_geometry(study, written, state):
    st = study.states[state]
    img = nib.load(written.masks[f"{state}_labels"])
    data = np.asarray(img.dataobj)
    np.testing.assert_array_equal(np.transpose(data, (2, 1, 0)), st.labels)
    layers = np.asarray(nib.load(written.masks[f"{state}_layers"]).dataobj)
    np.testing.assert_array_equal(np.transpose(layers, (2, 1, 0)), st.layers)
    myo = st.acquisition.myocardium
    for k in range(myo.n_slices):
        for i, j in [(0, 0), (10, 20), (191, 143)]:
            ras = img.affine @ [i, j, k, 1]
            lps = myo.affines[k] @ [i, j, 0, 1]
            np.testing.assert_allclose(ras[:3] * [-1, -1, 1], lps[:3], atol=1e-3)  # float32
    aif = np.asarray(nib.load(written.masks[f"{state}_aif_mask"]).dataobj)
    np.testing.assert_array_equal(aif[:, :, 0].T, st.aif_mask)


def test_truth_json_is_the_truth(study, written):
    on_disk = json.loads(written.truth_json.read_text())
    assert on_disk == _jsonable(study.truth)
    assert on_disk["findings"]["ischemic_segments"] == [1, 2, 7, 8, 13, 14]
    assert on_disk["states"]["stress"]["segments"]["1"]["name"] == "basal anterior"


def test_refuses_to_mix_two_phantoms(study, written):
    from qperfusion.errors import QPerfusionError
    from qperfusion.phantom import write_simulated

    with pytest.raises(QPerfusionError, match="overwrite"):
        write_simulated(written.out_dir, study)
