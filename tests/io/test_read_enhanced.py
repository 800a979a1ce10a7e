"""Enhanced (multi-frame) MR reads the same as the classic files of the same acquisition."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.uid import generate_uid

import qperfusion as qp

from .dicom_factory import SeriesSpec, classic_series, enhanced_series, pixel_value, to_bytes, write


def _pair(tmp_path, **kw):
    spec = SeriesSpec(rr_s=(0.8, 0.7, 0.9, 0.85) * 2, n_frames=8, **kw)
    write(classic_series(spec), tmp_path / "classic")
    (tmp_path / "enhanced").mkdir()
    (tmp_path / "enhanced" / "multiframe.dcm").write_bytes(to_bytes(enhanced_series(spec)))
    return spec


def test_enhanced_equals_classic(tmp_path):
    spec = _pair(tmp_path, slope=0.5, intercept=10.0, accel=2.0)
    a = qp.read_study(tmp_path / "classic")["stress"].myocardium
    b = qp.read_study(tmp_path / "enhanced")["stress"].myocardium
    assert b.time_source == "FrameAcquisitionDateTime"
    assert a.echoes.shape == b.echoes.shape == (1, 3, 8, 8, 8)
    np.testing.assert_array_equal(a.echoes, b.echoes)
    np.testing.assert_allclose(a.times_s, b.times_s, atol=1e-5)
    np.testing.assert_allclose(a.affines, b.affines)
    np.testing.assert_allclose(a.slice_positions_mm, b.slice_positions_mm)
    assert a.pd_frames == b.pd_frames == 2
    assert a.sequence == b.sequence
    assert b.sequence.n_pe_lines == 48
    np.testing.assert_array_equal(b.echoes[0, 2, :, :, 5], pixel_value(spec, 0, 2, 5) * 0.5 + 10)
    assert b.source_files == [str(tmp_path / "enhanced" / "multiframe.dcm")]


def test_enhanced_dual_echo_aif(tmp_path):
    uid = generate_uid()
    myo = SeriesSpec(description="perf rest", study_uid=uid, n_frames=6)
    aif = SeriesSpec(description="rest AIF", study_uid=uid, n_frames=6, n_slices=1, rows=4,
                     cols=4, echoes_ms=(0.7, 1.9), series_number=11)
    for name, spec in (("myo.dcm", myo), ("aif.dcm", aif)):
        (tmp_path / name).write_bytes(to_bytes(enhanced_series(spec)))
    acq = qp.read_study(tmp_path)["rest"]
    assert acq.aif is not None
    assert acq.aif.echoes.shape == (2, 1, 4, 4, 6)
    assert acq.aif.sequence.te_s == pytest.approx((0.0007, 0.0019))
    np.testing.assert_array_equal(acq.aif.echoes[1, 0, :, :, 3], pixel_value(aif, 1, 0, 3))


def test_enhanced_truncated_pixels(tmp_path):
    ds = enhanced_series(SeriesSpec(n_frames=5, n_slices=1))
    ds.PixelData = ds.PixelData[: len(ds.PixelData) // 2]
    (tmp_path / "mf.dcm").write_bytes(to_bytes(ds))
    with pytest.raises(qp.QPerfusionError, match=r"mf\.dcm"):
        qp.read_study(tmp_path)
