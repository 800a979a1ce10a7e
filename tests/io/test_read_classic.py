"""The DICOM reader on hand-made classic (one image per file) studies with known truth."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from pydicom.uid import generate_uid

import qperfusion as qp
from qperfusion.errors import DicomInputError, QPerfusionError

from .dicom_factory import SeriesSpec, classic_series, pixel_value, write


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _codes(study) -> list[str]:
    flags = list(study.warnings)
    for acq in study.acquisitions.values():
        flags.extend(acq.warnings)
    return [f.code for f in flags]


def _dual(tmp: Path, state: str, *, study_uid: str, shuffle: int | None = None,
          aif_desc: str | None = None, **kw) -> tuple[SeriesSpec, SeriesSpec]:
    """A myocardial series + a dual-echo AIF series of one state, written to ``tmp``."""
    t0 = kw.pop("t0_s", 36000.0)
    myo = SeriesSpec(description=f"Perfusion {state}", study_uid=study_uid, t0_s=t0, **kw)
    aif = SeriesSpec(description=aif_desc if aif_desc is not None else f"AIF {state}",
                     n_slices=1, rows=4, cols=6, echoes_ms=(0.8, 2.0), study_uid=study_uid,
                     series_number=myo.series_number + 1, slice_offset_s=0.0,
                     t0_s=t0 - 0.05, **{k: v for k, v in kw.items() if k != "series_number"})
    write(classic_series(myo), tmp / f"{state}_myo", shuffle_seed=shuffle)
    write(classic_series(aif), tmp / f"{state}_aif", shuffle_seed=shuffle)
    return myo, aif


def test_single_series_values_order_and_geometry(tmp_path):
    spec = SeriesSpec(description="Perfusion stress", slope=2.0, intercept=-5.0,
                      rr_s=(0.8, 0.75, 0.9, 0.82) * 3)
    write(classic_series(spec), tmp_path, shuffle_seed=1)
    study = qp.read_study(tmp_path)
    assert study.states == ["stress"]
    acq = study["stress"]
    m = acq.myocardium
    assert m.echoes.shape == (1, 3, 8, 8, 12)
    assert m.echoes.dtype == np.float32
    for s in range(3):
        for t in (0, 5, 11):
            expect = pixel_value(spec, 0, s, t) * 2.0 - 5.0
            np.testing.assert_array_equal(m.echoes[0, s, :, :, t], expect)
    truth = spec.frame_times()
    np.testing.assert_allclose(m.times_s, truth - truth.min(), atol=1e-5)
    assert m.time_source == "AcquisitionTime"
    assert m.rr_s == pytest.approx(np.median(np.diff(truth[0])), abs=1e-4)
    assert np.all(np.diff(m.slice_positions_mm) == pytest.approx(10.0))
    # affine: column index moves along the row cosine by the column spacing
    a = m.affines[1]
    np.testing.assert_allclose(a[:3, 0], np.array([0.6, 0.8, 0.0]) * 2.5)
    np.testing.assert_allclose(a[:3, 1], np.array([0.0, 0.0, -1.0]) * 2.0)
    assert m.pixel_spacing_mm == pytest.approx((2.0, 2.5))
    assert len(m.headers) == 3
    assert "PixelData" not in m.headers[0]
    assert len(m.source_files) == 36
    assert acq.aif is None
    assert "AIF_SERIES_MISSING" in _codes(study)


def test_sequence_parameters(tmp_path):
    spec = SeriesSpec(description="perf rest", accel=2.0, acq_matrix=(0, 160, 120, 0),
                      field_t=30000.0, agent="Dotarem", td_ms=95.0, tr_ms=2.7, flip=14.0,
                      pd_flip=4.0, pd_frames=3)
    write(classic_series(spec), tmp_path)
    q = qp.read_study(tmp_path)["rest"].myocardium
    seq = q.sequence
    assert q.pd_frames == 3
    assert seq.pd_flip_deg == pytest.approx(4.0)
    assert seq.flip_deg == pytest.approx(14.0)
    assert seq.td_s == pytest.approx(0.095)
    assert seq.tr_s == pytest.approx(0.0027)
    assert seq.te_s == pytest.approx((0.0011,))
    assert seq.n_pe_lines == 60
    assert seq.lines_to_center == 30
    assert seq.ordering == "linear"
    assert seq.field_t == pytest.approx(3.0)  # 30 000 gauss
    assert seq.agent == "gadoterate"
    assert seq.readout == "flash"


@pytest.mark.parametrize(("name", "scanning", "variant", "expect"), [
    ("*tfi2d1_8", "GR", "SS", "ssfp"),
    ("*tfl2d1", "GR", "SP", "flash"),
    ("FIESTA", "GR", "SS", "ssfp"),
    ("fgre", "GR", "NONE", "flash"),
    ("", "GR", "SP", "flash"),
    ("", "GR", "SS", "ssfp"),
])
def test_readout_detection(tmp_path, name, scanning, variant, expect):
    spec = SeriesSpec(sequence_name=name, scanning=scanning, variant=variant, n_frames=5,
                      n_slices=1, pd_frames=0)
    write(classic_series(spec), tmp_path)
    assert qp.read_study(tmp_path)["stress"].myocardium.sequence.readout == expect


def test_readout_override_and_unknown(tmp_path):
    spec = SeriesSpec(sequence_name="", scanning="RM", variant="NONE", n_frames=5, n_slices=1)
    write(classic_series(spec), tmp_path)
    study = qp.read_study(tmp_path)
    assert "READOUT_UNKNOWN" in _codes(study)
    assert qp.read_study(tmp_path, readout="ssfp")["stress"].myocardium.sequence.readout == "ssfp"
    with pytest.raises(DicomInputError, match="flash"):
        qp.read_study(tmp_path, readout="epi")


def test_stress_rest_aif_in_one_folder_shuffled(tmp_path):
    uid = generate_uid()
    myo_s, aif_s = _dual(tmp_path / "all", "stress", study_uid=uid, shuffle=3)
    myo_r, aif_r = _dual(tmp_path / "all", "rest", study_uid=uid, shuffle=4, t0_s=40000.0,
                         series_number=20)
    before = _hashes(tmp_path)
    study = qp.read_study(tmp_path / "all")
    assert _hashes(tmp_path) == before  # inputs never modified
    assert study.states == ["stress", "rest"]
    for state, myo, aif in (("stress", myo_s, aif_s), ("rest", myo_r, aif_r)):
        acq = study[state]
        assert acq.aif is not None
        assert acq.aif.echoes.shape == (2, 1, 4, 6, 12)
        assert acq.aif.sequence.te_s == pytest.approx((0.0008, 0.002))
        np.testing.assert_array_equal(acq.aif.echoes[1, 0, :, :, 4],
                                      pixel_value(aif, 1, 0, 4))
        # one clock per state: the AIF (started 50 ms earlier) is the origin
        origin = min(myo.frame_times().min(), aif.frame_times().min())
        np.testing.assert_allclose(acq.myocardium.times_s, myo.frame_times() - origin,
                                   atol=1e-5)
        np.testing.assert_allclose(acq.aif.times_s, aif.frame_times() - origin, atol=1e-5)
        assert acq.aif.times_s.min() == 0.0
        assert acq.aif.pd_frames == 2
    assert "PROTOCOL_MISMATCH" not in _codes(study)


def test_aif_found_by_structure_not_name(tmp_path):
    uid = generate_uid()
    _dual(tmp_path, "stress", study_uid=uid, aif_desc="Perfusion stress lowres")
    acq = qp.read_study(tmp_path)["stress"]
    assert acq.aif is not None
    assert acq.aif.n_echoes == 2
    assert acq.myocardium.n_slices == 3


def test_separate_folders_and_folder_names(tmp_path):
    uid = generate_uid()
    for state in ("stress", "rest"):
        spec = SeriesSpec(description="Perfusion", study_uid=uid, n_frames=6, n_slices=2)
        write(classic_series(spec), tmp_path / "study" / state / "series1")
    by_args = qp.read_study(stress=tmp_path / "study" / "stress",
                            rest=tmp_path / "study" / "rest")
    assert by_args.states == ["stress", "rest"]
    by_folder = qp.read_study(tmp_path / "study")
    assert by_folder.states == ["stress", "rest"]


def test_two_unlabelled_series_is_an_error(tmp_path):
    uid = generate_uid()
    for k in range(2):
        spec = SeriesSpec(description="Perfusion", study_uid=uid, n_frames=6, n_slices=2,
                          series_number=k + 1)
        write(classic_series(spec), tmp_path / f"s{k}")
    with pytest.raises(DicomInputError, match="--stress"):
        qp.read_study(tmp_path)


def test_aif_series_override(tmp_path):
    uid = generate_uid()
    _dual(tmp_path, "stress", study_uid=uid, aif_desc="lowres")
    acq = qp.read_study(tmp_path, aif_series="11")["stress"]
    assert acq.aif is not None
    assert acq.aif.description == "lowres"
    acq = qp.read_study(tmp_path / "stress_myo", aif_series=tmp_path / "stress_aif")["stress"]
    assert acq.aif is not None
    assert acq.aif.n_echoes == 2
    with pytest.raises(DicomInputError, match="--aif-series 'nope' matches no series"):
        qp.read_study(tmp_path, aif_series="nope")


@pytest.mark.parametrize(("mode", "source"), [
    ("acq", "AcquisitionTime"),
    ("acq_whole_trigger", "TriggerTime"),
    ("nominal", "InstanceNumber+NominalInterval"),
    ("whole_nominal", "InstanceNumber+NominalInterval"),  # whole seconds never resolve frames
])
def test_time_sources(tmp_path, mode, source):
    spec = SeriesSpec(time_mode=mode, n_slices=2, n_frames=8, rr_s=0.8)
    write(classic_series(spec), tmp_path, shuffle_seed=7)
    m = qp.read_study(tmp_path)["stress"].myocardium
    assert m.time_source == source
    truth = spec.frame_times()
    np.testing.assert_allclose(m.times_s, truth - truth.min(), atol=2e-3)
    assert m.rr_s == pytest.approx(0.8, abs=2e-3)
    # frames in time order: pixel value encodes the frame index
    np.testing.assert_array_equal(m.echoes[0, 1, 0, 0, :], 1000 * np.arange(8) + 100)


def test_missing_timing_is_an_error(tmp_path):
    write(classic_series(SeriesSpec(time_mode="none", n_slices=1, n_frames=5)), tmp_path)
    with pytest.raises(DicomInputError, match="no frame timing"):
        qp.read_study(tmp_path)


def test_missing_file_and_short_slice(tmp_path):
    files = write(classic_series(SeriesSpec(n_slices=3, n_frames=6)), tmp_path / "a")
    files[7].unlink()
    with pytest.raises(DicomInputError, match="has 5 frames, other slices 6"):
        qp.read_study(tmp_path / "a")
    files = write(classic_series(SeriesSpec(n_slices=1, n_frames=8)), tmp_path / "b")
    files[4].unlink()
    with pytest.raises(DicomInputError, match="InstanceNumber \\[5\\] missing"):
        qp.read_study(tmp_path / "b")


def test_non_dicom_file_is_skipped_with_warning(tmp_path):
    write(classic_series(SeriesSpec(n_slices=1, n_frames=5)), tmp_path)
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "IM_99999.dcm").write_bytes(b"\x00" * 300)
    study = qp.read_study(tmp_path)
    skipped = [f.message for f in study.warnings if f.code == "FILE_SKIPPED"]
    assert len(skipped) == 2
    assert any("notes.txt" in m for m in skipped)


def test_mixed_studies_and_patients(tmp_path):
    write(classic_series(SeriesSpec(n_slices=1, n_frames=5)), tmp_path / "m" / "a")
    write(classic_series(SeriesSpec(n_slices=1, n_frames=5, series_number=3,
                                    patient_id="PAT-0001")), tmp_path / "m" / "b")
    with pytest.raises(DicomInputError, match="StudyInstanceUID differs"):
        qp.read_study(tmp_path / "m")
    write(classic_series(SeriesSpec(n_slices=1, n_frames=5)), tmp_path / "p" / "stress")
    write(classic_series(SeriesSpec(n_slices=1, n_frames=5, patient_id="OTHER",
                                    description="perf rest")), tmp_path / "p" / "rest")
    with pytest.raises(DicomInputError, match="different patients") as err:
        qp.read_study(tmp_path / "p")
    assert "OTHER" not in str(err.value)
    assert "Doe" not in str(err.value)


def test_bad_pixels_raise_with_file_name(tmp_path):
    items = classic_series(SeriesSpec(n_slices=1, n_frames=5))
    items[2][1].PixelData = items[2][1].PixelData[:-10]
    write(items, tmp_path / "trunc")
    with pytest.raises(DicomInputError, match=r"IM_00003\.dcm"):
        qp.read_study(tmp_path / "trunc")
    items = classic_series(SeriesSpec(n_slices=1, n_frames=5))
    items[3][1].PixelData = np.zeros((8, 8), np.uint16).tobytes()
    write(items, tmp_path / "const")
    with pytest.raises(DicomInputError, match="constant"):
        qp.read_study(tmp_path / "const")


def test_protocol_mismatch_is_reported(tmp_path):
    uid = generate_uid()
    write(classic_series(SeriesSpec(description="perf stress", study_uid=uid, td_ms=90.0,
                                    n_slices=1, n_frames=5)), tmp_path / "s")
    write(classic_series(SeriesSpec(description="perf rest", study_uid=uid, td_ms=110.0,
                                    n_slices=1, n_frames=5, flip=15.0)), tmp_path / "r")
    study = qp.read_study(tmp_path)
    msgs = [f.message for f in study.warnings if f.code == "PROTOCOL_MISMATCH"]
    assert any("TD" in m and "90" in m and "110" in m for m in msgs)
    assert any("flip angle" in m and "12" in m and "15" in m for m in msgs)


def test_argument_errors(tmp_path):
    with pytest.raises(DicomInputError, match="does not exist"):
        qp.read_study(tmp_path / "missing")
    with pytest.raises(DicomInputError, match="hematocrit"):
        qp.read_study(tmp_path, hematocrit=42)
    with pytest.raises(QPerfusionError, match="no input"):
        qp.read_study()
    (tmp_path / "junk").write_bytes(b"hello")
    with pytest.raises(DicomInputError, match="no DICOM images"):
        qp.read_study(tmp_path)


@pytest.mark.parametrize(("text", "state"), [
    ("Perfusion STRESS", "stress"), ("adenosine perf", "stress"), ("Regadenoson_AIF", "stress"),
    ("perf_rest", "rest"), ("REST AIF", "rest"), ("Cardiac arrest study", None),
    ("stress rest", None), ("First Pass New", None),
])
def test_state_from_description(text, state):
    from qperfusion.io._series import state_from_text

    assert state_from_text(text) == state


def test_stress_and_rest_from_different_studies(tmp_path):
    write(classic_series(SeriesSpec(description="perf stress", n_slices=1, n_frames=5)),
          tmp_path / "one" / "s")
    write(classic_series(SeriesSpec(description="perf rest", n_slices=1, n_frames=5)),
          tmp_path / "one" / "r")
    with pytest.raises(DicomInputError, match="different studies"):
        qp.read_study(tmp_path / "one")
    study = qp.read_study(stress=tmp_path / "one" / "s", rest=tmp_path / "one" / "r")
    assert "STUDY_MISMATCH" in _codes(study)


def test_nan_pixels_raise(tmp_path):
    items = classic_series(SeriesSpec(n_slices=1, n_frames=5))
    for _, ds in items:
        img = np.frombuffer(ds.PixelData, np.uint16).astype(np.float32)
        del ds.PixelData
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 32, 32, 31
        del ds.PixelRepresentation
        ds.FloatPixelData = img.tobytes()
    bad = np.frombuffer(items[2][1].FloatPixelData, np.float32).copy()
    bad[3] = np.nan
    items[2][1].FloatPixelData = bad.tobytes()
    write(items, tmp_path)
    with pytest.raises(DicomInputError, match="NaN"):
        qp.read_study(tmp_path)


def test_aif_and_myocardium_sharing_one_series_uid(tmp_path):
    uid, series = generate_uid(), generate_uid()
    myo = SeriesSpec(description="perfusion", study_uid=uid, series_uid=series, n_frames=6)
    aif = SeriesSpec(description="perfusion", study_uid=uid, series_uid=series, n_frames=6,
                     n_slices=1, rows=4, cols=4, echoes_ms=(0.8, 2.0), first_instance=1000)
    write(classic_series(myo), tmp_path / "m")
    write(classic_series(aif), tmp_path / "a")
    acq = qp.read_study(tmp_path)["unspecified"]
    assert acq.myocardium.n_slices == 3
    assert acq.aif is not None
    assert acq.aif.n_echoes == 2
