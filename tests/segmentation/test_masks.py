"""User masks (NIfTI label image, JSON contours, arrays) override the automatic result."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest

from qperfusion import segmentation
from qperfusion.errors import SegmentationError
from tests.segmentation.rings import ANTERIOR_INSERTION_DEG, make_rings

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


@pytest.fixture(scope="module")
def rings():
    return make_rings(3, n_frames=12)


def _simple(r):
    lab = np.zeros(r.lv.shape, dtype=np.uint8)
    lab[r.lv], lab[r.myo], lab[r.rv] = 1, 2, 3
    return lab


def _angle_err(a, b):
    return np.abs((np.asarray(a) - b + 180) % 360 - 180)


def test_lv_myo_rv_array_gives_the_truth_sectors(rings):
    seg = segmentation.labels_from_masks(_simple(rings), rings.affines)
    assert seg.source == "array"
    assert seg.levels == rings.levels
    assert np.all(_angle_err(seg.insertion_deg, ANTERIOR_INSERTION_DEG) <= 5)
    my = rings.myo
    assert np.mean(seg.labels[my] == rings.aha[my]) >= 0.97
    np.testing.assert_array_equal(seg.labels == 17, rings.lv)
    np.testing.assert_array_equal(seg.labels == 18, rings.rv)


def test_nifti_aha_labels_are_kept_and_layers_computed(rings, tmp_path):
    lab = rings.aha.copy()
    lab[rings.lv], lab[rings.rv] = 17, 18
    path = tmp_path / "labels.nii.gz"
    aff = LPS_TO_RAS @ rings.affines[0]
    nib.save(nib.Nifti1Image(np.transpose(lab, (2, 1, 0)), aff), str(path))
    seg = segmentation.labels_from_masks(path)  # affines from the file
    assert seg.source == "nifti"
    np.testing.assert_array_equal(seg.labels, lab)
    assert seg.levels == rings.levels
    assert np.all((seg.layers > 0) == rings.myo)
    # endo half is the inner half: on a ring of 4.5 px, radius below r_endo + 2.25
    yy, xx = np.mgrid[0:64, 0:64]
    r = np.hypot(yy - 31.3, xx - 33.6)
    inner = rings.myo[1] & (r < 9.0 + 1.5)
    outer = rings.myo[1] & (r > 9.0 + 3.0)
    assert np.mean(seg.layers[1][inner] == 1) > 0.95
    assert np.mean(seg.layers[1][outer] == 2) > 0.95


def test_nifti_simple_style_matches_the_array(rings, tmp_path):
    path = tmp_path / "m.nii"
    nib.save(nib.Nifti1Image(np.transpose(_simple(rings), (2, 1, 0)),
                             LPS_TO_RAS @ rings.affines[0]), str(path))
    a = segmentation.labels_from_masks(path, rings.affines)
    b = segmentation.labels_from_masks(_simple(rings), rings.affines)
    np.testing.assert_array_equal(a.labels, b.labels)


def test_json_contours(rings, tmp_path):
    c = (31.3, 33.6)
    ang = np.linspace(0, 2 * np.pi, 72, endpoint=False)

    def circle(rad):
        return np.c_[c[1] + rad * np.cos(ang), c[0] + rad * np.sin(ang)].tolist()

    arc = np.deg2rad(np.linspace(120, 240, 40))
    rv = np.r_[np.c_[c[1] + 13.5 * np.cos(arc), c[0] + 13.5 * np.sin(arc)],
               np.c_[c[1] + 21 * np.cos(arc[::-1]), c[0] + 21 * np.sin(arc[::-1])]]
    doc = {"shape": [1, 64, 64],
           "slices": [{"slice": 0, "endo": circle(9.0), "epi": circle(13.5),
                       "rv": rv.tolist()}]}
    path = tmp_path / "contours.json"
    path.write_text(json.dumps(doc))
    seg = segmentation.labels_from_masks(path, rings.affines[1:2])
    assert seg.source == "json"
    assert seg.levels == ["mid"]
    assert _angle_err(seg.insertion_deg[0], 240.0) <= 5
    my = rings.myo[1] & seg.myocardium[0]
    assert np.mean(seg.labels[0][my] == rings.aha[1][my]) >= 0.95
    # an explicit anterior insertion point wins
    doc["slices"][0]["anterior_insertion"] = [c[1] + 13.5 * np.cos(np.deg2rad(200)),
                                              c[0] + 13.5 * np.sin(np.deg2rad(200))]
    path.write_text(json.dumps(doc))
    seg2 = segmentation.labels_from_masks(path, rings.affines[1:2])
    assert _angle_err(seg2.insertion_deg[0], 200.0) <= 2


def test_bad_masks_raise_with_what_to_do(rings, tmp_path):
    with pytest.raises(SegmentationError, match="valid: auto, aha, lv_myo_rv"):
        segmentation.labels_from_masks(_simple(rings), rings.affines, style="pretty")
    with pytest.raises(SegmentationError, match="not found"):
        segmentation.labels_from_masks(tmp_path / "none.nii.gz")
    bad = tmp_path / "x.txt"
    bad.write_text("1")
    with pytest.raises(SegmentationError, match="unknown format"):
        segmentation.labels_from_masks(bad)
    with pytest.raises(SegmentationError, match="no myocardium"):
        segmentation.labels_from_masks(np.zeros((1, 8, 8), np.uint8), rings.affines[:1])
    with pytest.raises(SegmentationError, match="not labels"):
        segmentation.labels_from_masks(np.full((1, 8, 8), 40), rings.affines[:1])
    no_rv = _simple(rings)
    no_rv[no_rv == 3] = 0
    with pytest.raises(SegmentationError, match="RV"):
        segmentation.labels_from_masks(no_rv, rings.affines)


def test_roundtrip_through_the_label_writer(rings, tmp_path):
    from qperfusion.io.nifti_out import write_labels_nifti

    seg = segmentation.labels_from_masks(_simple(rings), rings.affines)
    path = write_labels_nifti(tmp_path / "stress_labels.nii.gz", seg.labels, rings.affines)
    back = segmentation.labels_from_masks(path)
    np.testing.assert_array_equal(back.labels, seg.labels)
    np.testing.assert_array_equal(back.layers, seg.layers)
    assert back.levels == seg.levels
