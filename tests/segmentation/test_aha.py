"""AHA sector convention, insertion orientation and slice levels against hand-worked truth."""

from __future__ import annotations

import numpy as np
import pytest

from qperfusion.segmentation.aha import (
    aha_sector,
    anteriority,
    insertion_points,
    orient_insertions,
    slice_levels,
)


@pytest.mark.parametrize(
    ("theta", "basal", "mid", "apical"),
    [
        (0.0, 2, 8, 13), (14.9, 2, 8, 13), (15.0, 2, 8, 14), (59.9, 2, 8, 14),
        (60.0, 3, 9, 14), (104.9, 3, 9, 14), (105.0, 3, 9, 15), (120.0, 4, 10, 15),
        (180.0, 5, 11, 15), (195.0, 5, 11, 16), (240.0, 6, 12, 16), (285.0, 6, 12, 13),
        (300.0, 1, 7, 13), (359.9, 1, 7, 13), (360.0, 2, 8, 13), (-30.0, 1, 7, 13),
    ],
)
def test_sectors_follow_the_convention(theta, basal, mid, apical):
    assert aha_sector(np.array([theta]), "basal")[0] == basal
    assert aha_sector(np.array([theta]), "mid")[0] == mid
    assert aha_sector(np.array([theta]), "apical")[0] == apical


def test_unknown_level_lists_the_valid_ones():
    with pytest.raises(ValueError, match="basal, mid, apical"):
        aha_sector(np.zeros(1), "equatorial")


def _affine(col, row):
    a = np.eye(4)
    a[:3, 0], a[:3, 1] = col, row
    a[:3, 2] = np.cross(col, row)
    return a


def test_anteriority_uses_the_patient_frame():
    # rows run towards the patient's back (+y): "up" in the image (phi = 270 deg) is anterior
    a = _affine((1, 0, 0), (0, 1, 0))
    assert anteriority(np.deg2rad(270.0), a) == pytest.approx(1.0)
    assert anteriority(np.deg2rad(90.0), a) == pytest.approx(-1.0)
    # flipped rows: now "down" is anterior
    b = _affine((1, 0, 0), (0, -1, 0))
    assert anteriority(np.deg2rad(90.0), b) == pytest.approx(1.0)


@pytest.mark.parametrize(("row_y", "ant_deg", "sense"), [(1, 240.0, -1), (-1, 120.0, 1)])
def test_orientation_picks_the_anterior_end_and_the_septal_sense(row_y, ant_deg, sense):
    a = _affine((1, 0, 0), (0, row_y, 0))
    phi_ant, s = orient_insertions((np.deg2rad(120.0), np.deg2rad(240.0)), a)
    assert np.rad2deg(phi_ant) == pytest.approx(ant_deg)
    assert s == sense


def test_insertion_points_are_the_ends_of_the_rv_arc():
    ny = nx = 80
    c = (40.0, 40.0)
    yy, xx = np.mgrid[0:ny, 0:nx]
    r = np.hypot(yy - c[0], xx - c[1])
    phi = np.mod(np.degrees(np.arctan2(yy - c[0], xx - c[1])), 360)
    rv = (r > 15) & (r < 24) & (phi > 100) & (phi < 230)
    angles = np.arange(180) * (2 * np.pi / 180)
    arc = insertion_points(angles, np.full(180, 15.0), c, rv, reach_px=3.0)
    assert arc is not None
    assert np.rad2deg(arc[0]) == pytest.approx(100.0, abs=3.0)
    assert np.rad2deg(arc[1]) == pytest.approx(230.0, abs=3.0)
    assert insertion_points(angles, np.full(180, 15.0), c, np.zeros_like(rv), reach_px=3) is None


def test_slice_levels_from_geometry():
    # basal end = larger LV cavity, whichever end of the stack it is
    assert slice_levels(np.array([0.0, -10, -20]), np.array([300, 200, 90])) == [
        "basal", "mid", "apical"]
    assert slice_levels(np.array([0.0, -10, -20]), np.array([90, 200, 300])) == [
        "apical", "mid", "basal"]
    assert slice_levels(np.array([5.0, -5, 15]), np.array([200, 90, 300])) == [
        "mid", "apical", "basal"]
    assert slice_levels(np.array([3.0]), np.array([100])) == ["mid"]
    assert slice_levels(np.array([0.0, 10]), np.array([100, 50])) == ["basal", "mid"]
