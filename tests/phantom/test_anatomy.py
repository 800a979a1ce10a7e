"""Anatomy and geometry: the AHA convention and a plausible short-axis orientation.

The AHA angles are recomputed here from the label image alone (LV centre, the RV's angular
extent = the insertion points, the anterior one chosen by patient coordinates), so the test
checks the phantom against the convention, not against its own code.
"""

from __future__ import annotations

import numpy as np
import pytest

BASAL = {2: (0, 60), 3: (60, 120), 4: (120, 180), 5: (180, 240), 6: (240, 300), 1: (300, 360)}
APICAL = {14: (15, 105), 15: (105, 195), 16: (195, 285), 13: (285, 375)}


def _patient(affine: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Patient LPS (mm) of pixel (row, col) arrays → (..., 3)."""
    return (affine[:3, 0] * np.asarray(cols)[..., None] + affine[:3, 1] * np.asarray(rows)[
        ..., None] + affine[:3, 3])


def _theta_from_labels(labels: np.ndarray, affine: np.ndarray) -> tuple[np.ndarray, dict]:
    """θ (deg) of every pixel, from the LV centre and the RV's angular extent."""
    lv = np.argwhere(labels == 17).mean(axis=0)
    rv_pix = np.argwhere(labels == 18)
    rv_c = rv_pix.mean(axis=0)
    rows, cols = np.indices(labels.shape)
    ang = np.degrees(np.arctan2(rows - lv[0], cols - lv[1]))
    a_rv = np.degrees(np.arctan2(rv_c[0] - lv[0], rv_c[1] - lv[1]))
    rel = (np.degrees(np.arctan2(rv_pix[:, 0] - lv[0], rv_pix[:, 1] - lv[1])) - a_rv + 180) % 360
    ends = [a_rv + rel.min() - 180, a_rv + rel.max() - 180]
    # the anterior insertion is the one nearer the patient's anterior (LPS -y)
    r = 30.0
    pts = [_patient(affine, lv[0] + r * np.sin(np.radians(a)), lv[1] + r * np.cos(np.radians(a)))
           for a in ends]
    ant, inf = (ends[0], ends[1]) if pts[0][1] < pts[1][1] else (ends[1], ends[0])
    for sign in (1.0, -1.0):
        theta = (sign * (ang - ant)) % 360
        if (sign * (a_rv - ant)) % 360 < (sign * (inf - ant)) % 360:
            return theta, {"ant": ant, "inf": inf, "span": (sign * (inf - ant)) % 360}
    raise AssertionError("RV centre is not between the insertions")


@pytest.mark.parametrize("state", ["stress", "rest"])
def test_labels_follow_the_aha_convention_from_the_insertion_points(clean, state):
    st = clean.states[state]
    for s, name in enumerate(st.slice_names):
        lab = st.labels[s]
        theta, ins = _theta_from_labels(lab, st.acquisition.myocardium.affines[s])
        assert 110 < ins["span"] < 130  # the septum spans ~120° between the insertions
        table = APICAL if name == "apical" else {
            k + (6 if name == "mid" else 0): v for k, v in BASAL.items()}
        checked = 0
        for seg, (lo, hi) in table.items():
            t = theta[lab == seg]
            t = np.where(t < lo, t + 360, t)
            # the insertions found from a discrete RV tip are a few degrees off: keep 8° away
            inner = (t > lo + 8) & (t < hi - 8)
            assert inner.sum() > 0.5 * t.size
            assert np.all((t[inner] >= lo) & (t[inner] < hi)), (name, seg)
            checked += int(inner.sum())
        assert checked > 150


def test_short_axis_orientation_is_anatomical(clean):
    st = clean.states["stress"]
    myo = st.acquisition.myocardium
    assert st.slice_names == ["apical", "mid", "basal"]
    assert np.all(np.diff(myo.slice_positions_mm) > 0)
    centres = {}
    for s, name in enumerate(st.slice_names):
        r, c = np.argwhere(st.labels[s] == 17).mean(axis=0)
        centres[name] = _patient(myo.affines[s], r, c)
    long_axis = centres["apical"] - centres["basal"]
    # base → apex points to the patient's left (+x), anterior (−y) and inferior (−z)
    assert long_axis[0] > 0
    assert long_axis[1] < 0
    assert long_axis[2] < 0
    # slice normal (row × column direction) is along the long axis; planes 11 mm apart
    normal = np.cross(myo.affines[0][:3, 0], myo.affines[0][:3, 1])
    normal /= np.linalg.norm(normal)
    assert abs(abs(normal @ long_axis) / np.linalg.norm(long_axis) - 1) < 1e-3
    assert np.linalg.norm(long_axis) == pytest.approx(22.0, abs=0.1)
    mid = st.slice_names.index("mid")
    aff = myo.affines[mid]

    def centroid(mask):
        r, c = np.argwhere(mask).mean(axis=0)
        return _patient(aff, r, c)

    lab = st.labels[mid]
    lv = centroid(lab == 17)
    assert centroid(lab == 18)[0] < lv[0]  # RV to the patient's right
    assert centroid((lab == 11) | (lab == 12))[0] > lv[0]  # lateral wall to the left
    assert centroid(lab == 7)[1] < centroid(lab == 10)[1]  # anterior in front of inferior
    # displayed as a standard view: anterior wall in the upper half of the image
    assert np.argwhere(lab == 7)[:, 0].mean() < np.argwhere(lab == 10)[:, 0].mean()
    # the apical cavity is the smallest
    areas = [(st.labels[s] == 17).sum() for s in range(3)]
    assert areas[0] < areas[1] < areas[2]


def test_layers_split_each_ray_in_halves(clean):
    st = clean.states["rest"]
    myo = (st.labels >= 1) & (st.labels <= 16)
    assert np.array_equal(st.layers > 0, myo)
    for s in range(3):
        lv = np.argwhere(st.labels[s] == 17).mean(axis=0)
        rows, cols = np.indices(st.labels[s].shape)
        r = np.hypot(rows - lv[0], cols - lv[1])
        endo, epi = st.layers[s] == 1, st.layers[s] == 2
        assert abs(endo.sum() - epi.sum()) < 0.35 * myo[s].sum()  # inner ring is smaller
        assert r[endo].mean() < r[epi].mean()


def test_aif_mask_is_inside_the_lv_of_the_aif_image(clean):
    st = clean.states["stress"]
    aif = st.acquisition.aif
    mask = st.aif_mask
    assert mask.shape == aif.matrix
    assert mask.dtype == bool
    assert 10 < mask.sum() < 60
    # the LV pool is the brightest blood at the AIF peak (noise-free, no motion)
    k = int(np.argmax(st.gd_blood_aif))
    img = aif.echoes[0, 0, :, :, k]
    assert img[mask].min() > np.percentile(img, 98)
