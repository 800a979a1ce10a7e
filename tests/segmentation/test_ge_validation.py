"""Real GE 1.5 T series against its manual masks (GoldStandard.mat).

The segmentation is one static label image for the whole series; the manual masks were
drawn on one frame near peak enhancement. The heart does not move in this series (phase
correlation of every frame with frame 40: shifts below 0.5 pixel), so the comparison holds
for every frame.
"""

from __future__ import annotations

import numpy as np
import pytest

from qperfusion import aif, segmentation
from tests.segmentation.rings import dice

pytestmark = pytest.mark.validation


def _read_ge(root):
    """The GE series through the project's own reader, plus the manual masks."""
    import qperfusion as qp

    scipy_io = pytest.importorskip("scipy.io")
    folder = root / "ge_firstpass"
    if not folder.is_dir():
        pytest.skip("ge_firstpass not present")
    (acq,) = qp.read_study(folder / "dicom").acquisitions.values()
    myo = acq.myocardium
    gold = scipy_io.loadmat(folder / "GoldStandard.mat")
    masks = {k: gold[k] > 0 for k in ("SXmask", "DXmask", "MyoMask")}
    return myo.data[0], myo.times_s[0], myo.affines[0], masks


@pytest.fixture(scope="module")
def ge(validation_dir):
    return _read_ge(validation_dir)


def test_ge_myocardium_and_lv_dice(ge):
    img, t, a, m = ge
    seg = segmentation.segment_series(img[None], t, a[None])
    assert dice(seg.myocardium[0], m["MyoMask"]) >= 0.80
    assert dice(seg.lv_pool[0], m["SXmask"]) >= 0.90
    assert dice(seg.rv_pool[0], m["DXmask"]) >= 0.85
    assert seg.levels == ["mid"]
    # insertion point agrees with the one the same geometry finds on the manual masks
    lab = m["SXmask"] * 1 + (m["MyoMask"] & ~m["SXmask"]) * 2
    lab = lab + (m["DXmask"] & (lab == 0)) * 3
    ref = segmentation.labels_from_masks(lab[None], a[None])
    err = abs((seg.insertion_deg[0] - ref.insertion_deg[0] + 180) % 360 - 180)
    assert err <= 10.0
    both = ref.myocardium[0] & seg.myocardium[0]
    assert np.mean(seg.labels[0][both] == ref.labels[0][both]) >= 0.9


def test_ge_aif_from_the_lv_pool_of_the_myocardial_series(ge):
    img, t, _, m = ge
    det = aif.detect_blood_pool(img, t)
    assert det.mask.sum() >= 50
    assert np.all(_dilate(m["SXmask"])[det.mask])
    assert np.mean(m["SXmask"][det.mask]) >= 0.98
    assert det.confidence >= 0.5
    assert det.lv_arrival_s > det.rv_arrival_s
    assert not det.flags  # the every-frame consistency test found the core, no fallback
    curve = aif.aif_curve(img, det.mask)
    truth = img[m["SXmask"]].mean(axis=0)
    assert np.corrcoef(curve, truth)[0, 1] > 0.99


def _dilate(mask):
    from scipy import ndimage

    return ndimage.binary_dilation(mask)
