"""The output contract of DESIGN.md, written atomically."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from qperfusion.io.parametric_map import read_parametric_map
from qperfusion.workflows import outputs

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def written(pipeline_result, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run") / "OUT"
    pipeline_result.write(out)
    return out


def test_output_folder_has_every_part_of_the_contract(written: Path):
    for name in outputs.OUTPUT_FILES:
        assert (written / name).exists(), name
    res = json.loads((written / "results.json").read_text())
    assert set(res) >= {"qperfusion_version", "model", "states", "mpr", "findings"}
    for st in res["states"].values():
        assert set(st) >= {"global_mbf_ml_min_g", "segments", "aif", "qc"}
        assert sorted(st["segments"], key=int) == [str(k) for k in range(1, 17)]
        assert set(st["aif"]) >= {"peak_mM", "saturation_warning"}
    assert set(res["findings"]) >= {"classification", "ischemic_segments"}
    rows = (written / "segments.csv").read_text().splitlines()
    assert len(rows) > 2 * 16
    assert (written / "figures" / "bullseye.png").stat().st_size > 1000
    html = (written / "report.html").read_text()
    assert "<img" in html
    assert "http://" not in html
    assert "https://" not in html


def test_label_image_is_in_the_myocardial_grid_with_dicom_geometry(written: Path, pipeline_result):
    sr = pipeline_result.states["stress"]
    img = nib.load(written / "maps" / "stress_labels.nii.gz")
    data = np.asarray(img.dataobj)
    myo = sr.acquisition.myocardium
    assert data.shape == (myo.matrix[1], myo.matrix[0], myo.n_slices)  # (column, row, slice)
    np.testing.assert_array_equal(data.transpose(2, 1, 0), sr.segmentation.labels)
    assert set(np.unique(data)) <= set(range(19))
    # voxel (0, 0, 0) sits at the first slice's ImagePositionPatient (LPS → RAS)
    ipp = np.array(myo.headers[0].ImagePositionPatient, dtype=float)
    np.testing.assert_allclose(img.affine[:3, 3], ipp * [-1, -1, 1], atol=1e-3)


def test_parametric_maps_equal_the_nifti_maps(written: Path, pipeline_result):
    for state, sr in pipeline_result.states.items():
        nifti = np.asarray(nib.load(written / "maps" / f"{state}_mbf_ml_min_g.nii.gz").dataobj)
        pm = read_parametric_map(written / "maps" / f"{state}_mbf_ml_min_g.dcm",
                                 sr.acquisition.myocardium.headers)
        np.testing.assert_allclose(pm, nifti.transpose(2, 1, 0), rtol=1e-6, equal_nan=True)


def test_provenance_records_inputs_options_and_timing(written: Path, pipeline_result):
    prov = json.loads((written / "provenance.json").read_text())
    n_files = sum(len(s.source_files) for a in pipeline_result.study.acquisitions.values()
                  for s in (a.myocardium, a.aif) if s is not None)
    assert prov["inputs"]["n_files"] == n_files
    assert prov["options"]["model"] == "2cxm"
    assert prov["timing_s"]["total"] > 0


def test_a_failed_write_leaves_the_previous_output_untouched(written: Path, pipeline_result,
                                                             monkeypatch: pytest.MonkeyPatch):
    before = (written / "results.json").read_bytes()

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(outputs, "_figures", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        pipeline_result.write(written)
    assert (written / "results.json").read_bytes() == before
    assert not [p for p in written.parent.iterdir() if ".partial-" in p.name]


def test_anonymized_outputs_hold_no_patient_identifiers(pipeline_result, tmp_path: Path):
    import pydicom

    out = pipeline_result.write(tmp_path / "anon", anonymize=True)
    source = pydicom.dcmread(pipeline_result.study["stress"].myocardium.source_files[0])
    secrets = [str(source.PatientName), str(source.PatientID), str(source.PatientBirthDate)]
    assert all(secrets)
    for path in out.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for secret in secrets:
                assert secret.encode() not in data, (path, secret)
