"""NIfTI map/label writers: round trip of values and of the DICOM geometry."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest

from qperfusion.errors import QPerfusionError
from qperfusion.io.nifti_out import (
    nifti_affine,
    read_map_nifti,
    slice_spacing_flag,
    write_labels_nifti,
    write_map_nifti,
    write_state_maps,
)


def oblique_affines(n_slices=3, gap_mm=(10.0, 10.0), spacing=(1.5, 1.25)):
    """Per-slice (col, row, 0, 1) -> LPS affines of a double-oblique short-axis stack."""
    rng = np.random.default_rng(3)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    row_cos, col_cos, normal = q[:, 0], q[:, 1], np.cross(q[:, 0], q[:, 1])
    origin = np.array([-80.0, 40.0, 12.0])
    out = np.zeros((n_slices, 4, 4))
    pos = np.concatenate([[0.0], np.cumsum(gap_mm[: n_slices - 1])])
    for k in range(n_slices):
        out[k, :3, 0] = row_cos * spacing[1]  # +column index moves along the row direction
        out[k, :3, 1] = col_cos * spacing[0]  # +row index moves down the column direction
        out[k, :3, 3] = origin + pos[k] * normal
        out[k, 3, 3] = 1.0
    return out


def test_map_round_trip_values_and_world_coordinates(tmp_path):
    aff = oblique_affines()
    rng = np.random.default_rng(0)
    vol = rng.uniform(0.5, 4.0, (3, 12, 16)).astype(np.float32)
    vol[:, :2] = np.nan
    p = write_map_nifti(tmp_path / "stress_mbf_ml_min_g.nii.gz", vol, aff, description="MBF")
    img = nib.load(p)
    assert img.shape == (16, 12, 3)  # (column, row, slice)
    assert img.get_data_dtype() == np.float32
    back, ras = read_map_nifti(p)
    np.testing.assert_array_equal(back, vol)
    # every voxel lands where DICOM puts it: RAS = diag(-1,-1,1) LPS
    for k, j, i in [(0, 0, 0), (1, 5, 7), (2, 11, 15)]:
        lps = aff[k] @ np.array([i, j, 0.0, 1.0])
        ras_expected = lps * np.array([-1, -1, 1, 1])
        np.testing.assert_allclose(ras @ np.array([i, j, k, 1.0]), ras_expected, atol=1e-6)
        np.testing.assert_allclose(img.get_fdata()[i, j, k], vol[k, j, i])
    assert nib.aff2axcodes(img.affine)  # valid affine
    ext = json.loads(img.header.extensions[0].get_content())
    np.testing.assert_allclose(ext["qperfusion"]["slice_affines_lps"], aff)


def test_labels_uint8_intent_label(tmp_path):
    aff = oblique_affines()
    labels = np.zeros((3, 12, 16), np.uint8)
    labels[0, 3:5, 3:9] = 1
    labels[1, 6:8, 2:5] = 17
    labels[2, 1:2, 1:3] = 18
    p = write_labels_nifti(tmp_path / "stress_labels.nii.gz", labels, aff)
    img = nib.load(p)
    assert img.get_data_dtype() == np.uint8
    assert img.header.get_intent()[0] == "label"
    np.testing.assert_array_equal(np.asarray(img.dataobj).transpose(2, 1, 0), labels)
    with pytest.raises(QPerfusionError, match="0–18"):
        write_labels_nifti(tmp_path / "x.nii.gz", labels.astype(int) - 1, aff)


def test_uneven_slices_misfit_and_flag():
    even = oblique_affines(gap_mm=(10.0, 10.0))
    uneven = oblique_affines(gap_mm=(8.0, 14.0))
    assert nifti_affine(even)[1] == pytest.approx(0.0, abs=1e-9)
    assert nifti_affine(uneven)[1] == pytest.approx(3.0)  # mid slice 3 mm off the mean step
    assert slice_spacing_flag(even) == []
    assert slice_spacing_flag(uneven)[0].code == "NIFTI_UNEVEN_SLICES"


def test_single_slice_uses_normal_times_thickness():
    aff = oblique_affines(n_slices=1)
    a, misfit = nifti_affine(aff, slice_thickness_mm=8.0)
    assert misfit == 0.0
    assert np.linalg.norm(a[:3, 2]) == pytest.approx(8.0)
    assert np.dot(a[:3, 2], a[:3, 0]) == pytest.approx(0.0, abs=1e-9)


def test_state_maps_and_shape_errors(tmp_path):
    aff = oblique_affines()
    vol = np.ones((3, 12, 16))
    out = write_state_maps(tmp_path / "maps", "rest", {"mbf_ml_min_g": vol},
                           aff, labels=np.zeros((3, 12, 16), np.uint8))
    assert sorted(p.name for p in out.values()) == ["rest_labels.nii.gz",
                                                    "rest_mbf_ml_min_g.nii.gz"]
    with pytest.raises(QPerfusionError, match="affines"):
        write_map_nifti(tmp_path / "y.nii.gz", vol, aff[:2])
