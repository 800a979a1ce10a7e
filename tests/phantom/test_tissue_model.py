"""The ``tissue_model`` option: the myocardial curves are the chosen model of the truth."""

from __future__ import annotations

import numpy as np
import pytest

from qperfusion import phantom
from qperfusion.cli.main import main
from qperfusion.errors import QPerfusionError
from qperfusion.kinetics._btex_segments import segment_curves_batch, segment_nodes
from qperfusion.kinetics.btex import NIH_SEGMENTS, btex_conc
from qperfusion.phantom.tissue import tissue_curves

_NAMES = ("fp", "ps", "vp", "ve", "delay")


def _pixels(st, n_per_slice=6):
    """A spread of myocardial pixels of every slice (normal and ischemic segments)."""
    out = []
    for s in range(st.labels.shape[0]):
        rc = np.argwhere((st.labels[s] >= 1) & (st.labels[s] <= 16))
        for i in np.linspace(0, len(rc) - 1, n_per_slice).astype(int):
            out.append((s, *rc[i]))
    return out


@pytest.mark.parametrize("state", ["stress", "rest"])
def test_btex_phantom_pixel_is_the_20_segment_btex_of_its_truth(clean_btex, state):
    st = clean_btex.states[state]
    assert clean_btex.truth["model"] == "btex"
    assert clean_btex.truth["phantom"]["tissue_model"] == "btex"
    times = st.acquisition.myocardium.times_s
    cp = st.gd_blood_fine / (1.0 - st.acquisition.hematocrit)
    # the fine input is the blood curve the AIF image samples
    t_aif = st.acquisition.aif.times_s[0]
    np.testing.assert_allclose(np.interp(t_aif, st.fine_times_s, st.gd_blood_fine),
                               st.gd_blood_aif, atol=1e-3 * st.gd_blood_aif.max())
    mix = segment_nodes(NIH_SEGMENTS)
    for s, r, c in _pixels(st):
        p = np.array([[st.params[k][s, r, c] for k in _NAMES]])
        # evaluated straight at the frame times with a finer quadrature step (the phantom
        # computes on its 0.02 s grid and interpolates)
        want = segment_curves_batch(p, times[s], st.fine_times_s, cp, 0.02, mix)[0]
        got = st.gd_myo[s, r, c]
        np.testing.assert_allclose(got, want, atol=2e-3 * want.max())
        # and it is not the plug-flow curve: the 20 segments disperse the first pass
        plug = np.interp(times[s], st.fine_times_s,
                         btex_conc(st.fine_times_s, cp, **dict(zip(_NAMES, p[0], strict=True))))
        assert np.max(np.abs(got - plug)) > 5e-3 * want.max()


def test_plug_flow_option_is_btex_conc():
    ps = phantom.simulate_study(seed=6, ischemia="lad", motion="none", noise=False, psf=False,
                                tissue_model="btex_plug")
    st = ps.states["stress"]
    cp = st.gd_blood_fine / (1.0 - st.acquisition.hematocrit)
    times = st.acquisition.myocardium.times_s
    for s, r, c in _pixels(st, 3):
        p = {k: st.params[k][s, r, c] for k in _NAMES}
        want = np.interp(times[s], st.fine_times_s, btex_conc(st.fine_times_s, cp, **p,
                                                               step=0.02))
        np.testing.assert_allclose(st.gd_myo[s, r, c], want, atol=2e-3 * want.max())


def test_tissue_model_changes_the_tissue_curves_only(clean, clean_btex):
    for state in ("stress", "rest"):
        a, b = clean.states[state], clean_btex.states[state]
        for k in ("fp", "ps", "vp", "ve", "delay", "mbf_ml_min_g"):
            np.testing.assert_array_equal(a.params[k], b.params[k])
        np.testing.assert_array_equal(a.gd_blood_aif, b.gd_blood_aif)
        # the AIF image's LV pool (its body and RV wall hold tissue curves too)
        np.testing.assert_array_equal(a.acquisition.aif.echoes[..., a.aif_mask, :],
                                      b.acquisition.aif.echoes[..., b.aif_mask, :])
        np.testing.assert_array_equal(a.acquisition.myocardium.times_s,
                                      b.acquisition.myocardium.times_s)
        blood = a.labels >= 17
        np.testing.assert_array_equal(a.gd_myo[blood], b.gd_myo[blood])
        myo = (a.labels >= 1) & (a.labels <= 16)
        # same flow, other capillary: the BTEX first pass is sharper and higher (~+20 %)
        ratio = b.gd_myo[myo].max(axis=1) / a.gd_myo[myo].max(axis=1)
        assert 1.05 < np.median(ratio) < 1.4
    drop = ("model", "phantom")
    assert ({k: v for k, v in clean.truth.items() if k not in drop}
            == {k: v for k, v in clean_btex.truth.items() if k not in drop})
    assert clean.truth["model"] == "2cxm"
    assert clean.options["tissue_model"] == "2cxm"


def test_unknown_tissue_model_lists_the_valid_ones(tmp_path):
    with pytest.raises(QPerfusionError, match=r"'2cxm', 'btex', 'btex_plug'"):
        phantom.simulate_study(tissue_model="fermi")
    with pytest.raises(QPerfusionError, match="btex"):
        tissue_curves("tofts", np.arange(3.0), np.zeros(3), np.zeros((1, 5)))
    # write_study hands the option on (it fails before writing anything)
    with pytest.raises(QPerfusionError, match="tissue_model"):
        phantom.write_study(tmp_path / "x", tissue_model="BTEX")
    assert main(["phantom", str(tmp_path / "y"), "--tissue-model", "fermi"]) != 0
    assert not (tmp_path / "y").exists()
    assert set(phantom.TISSUE_MODELS) == {"2cxm", "btex", "btex_plug"}
