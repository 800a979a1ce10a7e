"""The reader on a real scanner series: GE Signa 1.5 T first pass (validation data)."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

import qperfusion as qp

pytestmark = pytest.mark.validation


@pytest.fixture(scope="module")
def ge_dir(validation_dir):
    path = validation_dir / "ge_firstpass" / "dicom"
    if not path.is_dir():
        pytest.skip("ge_firstpass/dicom not present")
    return path


@pytest.fixture(scope="module")
def ge_study(ge_dir):
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in ge_dir.iterdir()}
    study = qp.read_study(ge_dir)
    after = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in ge_dir.iterdir()}
    assert before == after  # the reader never writes to its input
    return study


def test_ge_frames_and_timing(ge_study):
    assert ge_study.states == ["unspecified"]
    m = ge_study["unspecified"].myocardium
    assert m.echoes.shape == (1, 1, 256, 256, 79)
    # AcquisitionTime has whole seconds only; cumulative TriggerTime resolves the frames
    assert m.time_source == "TriggerTime"
    assert m.rr_s == pytest.approx(0.698, abs=0.002)  # HeartRate tag says 86 bpm = 0.698 s
    assert m.times_s[0, 0] == 0.0
    assert m.times_s[0, -1] == pytest.approx((55187 - 769) / 1000.0)
    assert np.all(np.diff(m.times_s[0]) > 0.69)
    assert np.all(np.diff(m.times_s[0]) < 0.71)


def test_ge_sequence_and_field(ge_study):
    m = ge_study["unspecified"].myocardium
    q = m.sequence
    assert q.field_t == pytest.approx(1.5)  # MagneticFieldStrength 15000 gauss
    assert q.td_s == pytest.approx(0.1308, abs=1e-4)
    assert q.tr_s == pytest.approx(0.006827)
    assert q.te_s == pytest.approx((0.001484,), abs=1e-6)
    assert q.flip_deg == pytest.approx(25.0)
    assert m.pd_frames == 0
    assert q.n_pe_lines == 96  # AcquisitionMatrix 0\128\96\0
    assert m.pixel_spacing_mm == pytest.approx((1.40625, 1.40622), abs=1e-4)
    assert len(m.source_files) == 79


def test_ge_no_aif_is_a_warning(ge_study):
    acq = ge_study["unspecified"]
    assert acq.aif is None
    msg = [f.message for f in acq.warnings if f.code == "AIF_SERIES_MISSING"]
    assert len(msg) == 1
    assert "--aif-series" in msg[0]


def test_ge_pixels_are_the_stored_images(ge_dir, ge_study):
    import pydicom

    ds = pydicom.dcmread(ge_dir / "I40")
    k = int(ds.InstanceNumber) - 2  # numbering starts at 2
    np.testing.assert_array_equal(ge_study["unspecified"].myocardium.data[0, :, :, k],
                                  ds.pixel_array.astype(np.float32))


def test_ge_copy_with_a_missing_file_or_timing(ge_dir, tmp_path):
    import shutil

    import pydicom

    from qperfusion.errors import DicomInputError

    holed = tmp_path / "holed"
    shutil.copytree(ge_dir, holed)
    (holed / "I40").unlink()  # InstanceNumber 41
    with pytest.raises(DicomInputError, match=r"InstanceNumber \[41\] missing"):
        qp.read_study(holed)
    untimed = tmp_path / "untimed"
    untimed.mkdir()
    for f in sorted(ge_dir.iterdir())[:10]:
        ds = pydicom.dcmread(f)
        del ds.TriggerTime  # whole-second AcquisitionTime stays; NominalInterval is "6"
        ds.save_as(untimed / f.name)
    with pytest.raises(DicomInputError, match="no frame timing"):
        qp.read_study(untimed)
