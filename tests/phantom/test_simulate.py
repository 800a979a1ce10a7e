"""The simulator: determinism, timing, signal physics, noise and motion against their truth."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.transform import warp

from qperfusion import constants, phantom
from qperfusion.errors import QPerfusionError
from qperfusion.kinetics.tcxm import tcxm_conc
from qperfusion.phantom import protocol, timing
from qperfusion.physics.bloch import readout_signal
from qperfusion.physics.relaxation import relaxivity


def test_same_seed_same_study(study):
    again = phantom.simulate_study(seed=0)
    for state in ("stress", "rest"):
        a, b = study.states[state], again.states[state]
        np.testing.assert_array_equal(a.acquisition.myocardium.echoes,
                                      b.acquisition.myocardium.echoes)
        np.testing.assert_array_equal(a.acquisition.aif.echoes, b.acquisition.aif.echoes)
        np.testing.assert_array_equal(a.acquisition.myocardium.times_s,
                                      b.acquisition.myocardium.times_s)
    assert again.truth == study.truth


def test_seed_changes_the_heartbeats():
    seq = protocol.myo_sequence("flash"), protocol.aif_sequence()
    rr = [timing.beat_timing("stress", n_beats=64, aif_seq=seq[1], myo_seq=seq[0], n_slices=3,
                             rng=np.random.default_rng(s)).rr_s for s in (0, 1)]
    assert not np.allclose(rr[0], rr[1])


def test_bad_options_list_the_valid_ones():
    with pytest.raises(QPerfusionError, match="lad"):
        phantom.simulate_study(ischemia="lda")
    with pytest.raises(QPerfusionError, match="ssfp"):
        phantom.simulate_study(readout="epi")
    with pytest.raises(QPerfusionError, match="snr"):
        phantom.simulate_study(snr=0)


@pytest.mark.parametrize(("state", "rr_range"), [("stress", (0.55, 0.70)), ("rest", (0.85, 1.05))])
def test_timing_is_real_and_uneven(study, state, rr_range):
    st = study.states[state]
    myo, aif = st.acquisition.myocardium, st.acquisition.aif
    assert myo.n_frames == aif.n_frames == protocol.N_BEATS
    assert myo.pd_frames == aif.pd_frames == 3
    assert rr_range[0] < myo.rr_s < rr_range[1]
    rr = np.diff(st.r_wave_s)
    assert rr.std() > 0.005  # heart-rate jitter
    assert aif.times_s[0, 0] == 0.0
    assert np.all(np.diff(myo.times_s, axis=1) > 0)
    # within each beat: AIF, then basal, mid, apical (stack order is apical, mid, basal)
    assert np.all(aif.times_s[0] < myo.times_s[2])
    assert np.all(myo.times_s[2] < myo.times_s[1])
    assert np.all(myo.times_s[1] < myo.times_s[0])
    # every image of a beat lies within that beat
    assert np.all(myo.times_s[0] < st.r_wave_s + rr.max())
    assert np.all(st.trigger_time_ms["myocardium"] > st.trigger_time_ms["aif"])


def test_bolus_arrives_after_baseline_beats(study):
    for st in study.states.values():
        gd = st.gd_blood_aif
        first = int(np.argmax(gd > 0.05 * gd.max()))
        assert 3 + 5 <= first <= 3 + 10
        peak = int(np.argmax(gd))
        # recirculation: a second local maximum after the first pass
        tail = gd[peak:]
        assert np.any((tail[1:-1] > tail[:-2]) & (tail[1:-1] > tail[2:]))


@pytest.mark.parametrize("state", ["stress", "rest"])
def test_tissue_truth_is_the_2cxm_of_the_plasma_aif(clean, state):
    st = clean.states[state]
    myo = st.acquisition.myocardium
    t_aif = st.acquisition.aif.times_s[0]
    cp = st.gd_blood_aif / (1 - 0.42)
    for s in range(3):
        lab = st.labels[s]
        # LV blood in the myocardial slices is the AIF blood curve at that slice's times
        lv = st.gd_myo[s][lab == 17][0]
        np.testing.assert_allclose(lv, np.interp(myo.times_s[s], t_aif, st.gd_blood_aif),
                                   atol=0.05 * st.gd_blood_aif.max())
        r, c = np.argwhere((lab >= 1) & (lab <= 16))[7]
        p = {k: st.params[k][s, r, c] for k in ("fp", "ps", "vp", "ve", "delay")}
        # the 2CXM on the coarse AIF samples differs from the fine-grid truth only by sampling
        coarse = tcxm_conc(t_aif, cp, **p)
        want = np.interp(myo.times_s[s], t_aif, coarse)
        got = st.gd_myo[s, r, c]
        assert np.max(np.abs(got - want)) < 0.06 * got.max()


def test_aif_signal_follows_the_bloch_model_and_t2star(clean):
    st = clean.states["stress"]
    aif = st.acquisition.aif
    seq = aif.sequence
    gd = st.gd_blood_aif
    s1 = aif.echoes[0, 0][st.aif_mask].mean(axis=0)
    s2 = aif.echoes[1, 0][st.aif_mask].mean(axis=0)
    r1, _ = relaxivity("gadobutrol", 1.5)
    r2s = 1 / constants.T2STAR_BLOOD_NATIVE_S[1.5] + constants.R2STAR_RELAXIVITY_BLOOD[1.5] * gd
    ok = s2 > 200  # 12-bit quantisation matters below that
    np.testing.assert_allclose((s2 / s1)[ok], np.exp(-(seq.te_s[1] - seq.te_s[0]) * r2s[ok]),
                               rtol=0.01)
    R1 = 1 / constants.T1_NATIVE_S["blood"][1.5] + r1 * gd
    sr = readout_signal(R1, readout="flash", td_s=seq.td_s, tr_s=seq.tr_s,
                        flip_deg=seq.flip_deg, lines_to_center=seq.lines_to_center)
    pd = readout_signal(R1[0], readout="flash", td_s=None, tr_s=seq.tr_s,
                        flip_deg=seq.pd_flip_deg, lines_to_center=seq.lines_to_center)
    want = sr / pd * np.exp(-seq.te_s[0] * (r2s - r2s[0]))
    got = s1 / s1[:3].mean()
    sel = np.arange(gd.size) >= 3
    sel &= s1 > 200
    np.testing.assert_allclose(got[sel], want[sel], rtol=0.01)
    # the saturation of the myocardial-slice LV signal (long TD) is real: its peak/baseline
    # ratio is far below the AIF image's
    lv = st.acquisition.myocardium.data[1][st.labels[1] == 17].mean(axis=0)
    assert lv.max() / lv[3:6].mean() < 0.5 * s1.max() / s1[3:6].mean()


def test_myocardial_signal_follows_the_bloch_model(clean):
    st = clean.states["rest"]
    myo = st.acquisition.myocardium
    seq = myo.sequence
    r1, _ = relaxivity("gadobutrol", 1.5)
    sel = (st.labels >= 1) & (st.labels <= 16)
    gd = st.gd_myo[sel]
    sig = myo.data[sel]
    R1 = 1 / constants.T1_NATIVE_S["myocardium"][1.5] + r1 * gd
    sr = readout_signal(R1, readout="flash", td_s=seq.td_s, tr_s=seq.tr_s,
                        flip_deg=seq.flip_deg, lines_to_center=seq.lines_to_center)
    pd = readout_signal(R1[:, :1], readout="flash", td_s=None, tr_s=seq.tr_s,
                        flip_deg=seq.pd_flip_deg, lines_to_center=seq.lines_to_center)
    ratio = sig[:, 3:] / sig[:, :3].mean(axis=1, keepdims=True)
    want = (sr / pd)[:, 3:]
    # 12-bit integers: ±0.5 in the SR value and ~±0.3 in the PD mean
    tol = 0.6 / sig[:, :3].mean(axis=1, keepdims=True) * (1 + want)
    assert np.all(np.abs(ratio - want) <= tol)


def test_ssfp_readout_is_declared_and_simulated():
    ps = phantom.simulate_study(seed=2, motion="none", noise=False, psf=False, readout="ssfp")
    st = ps.states["stress"]
    seq = st.acquisition.myocardium.sequence
    assert seq.readout == "ssfp"
    assert seq.n_rampup == 5
    assert seq.flip_deg == 50
    sel = (st.labels >= 1) & (st.labels <= 16)
    r1, r2 = relaxivity("gadobutrol", 1.5)
    gd = st.gd_myo[sel]
    kw = dict(readout="ssfp", tr_s=seq.tr_s, lines_to_center=seq.lines_to_center,
              n_rampup=seq.n_rampup)
    R1 = 1 / constants.T1_NATIVE_S["myocardium"][1.5] + r1 * gd
    R2 = 1 / constants.T2_NATIVE_S["myocardium"][1.5] + r2 * gd
    sr = readout_signal(R1, r2=R2, td_s=seq.td_s, flip_deg=seq.flip_deg, **kw)
    pd = readout_signal(R1[:, :1], r2=R2[:, :1], td_s=None, flip_deg=seq.pd_flip_deg, **kw)
    sig = st.acquisition.myocardium.data[sel]
    pd_sig = sig[:, :3].mean(axis=1, keepdims=True)
    want = (sr / pd)[:, 3:]
    tol = 0.6 / pd_sig * (1 + want)
    assert np.all(np.abs(sig[:, 3:] / pd_sig - want) <= tol)


def test_noise_is_rician_at_the_requested_snr(study):
    st = study.states["rest"]
    sd = st.noise_sd["myocardium"]
    img = st.acquisition.myocardium.data[..., 10:]
    air = (st.gd_myo[..., 0] == 0) & (np.abs(st.acquisition.myocardium.data[..., 0]) < 5 * sd)
    # Rayleigh background: mean = σ·√(π/2)
    assert img[air].mean() == pytest.approx(sd * np.sqrt(np.pi / 2), rel=0.1)
    stress = study.states["stress"]
    myo = np.isin(stress.labels, [3, 4, 5, 6, 9, 10, 11, 12, 15, 16])
    k = int(np.argmax(stress.gd_myo[myo].mean(axis=0)))
    # the signal itself at the peak is snr·σ (mean over many pixels; motion moves a few)
    assert stress.acquisition.myocardium.data[..., k][myo].mean() / sd == pytest.approx(
        phantom.DEFAULT_SNR, rel=0.15)


def test_displacement_follows_the_warp_convention(clean, moving_clean):
    static, moving = clean.states["stress"], moving_clean.states["stress"]
    assert not np.any(static.displacement)
    assert static.abrupt_frames == []
    assert len(moving.abrupt_frames) == 2
    assert moving_clean.states["rest"].abrupt_frames == []
    u = moving.displacement
    heart = static.labels > 0
    mag = np.hypot(u[:, :, :, 0], u[:, :, :, 1])[heart.nonzero()]
    normal_frames = [k for k in range(u.shape[-1]) if k not in moving.abrupt_frames]
    assert 2.0 < mag[:, normal_frames].max() < 8.0  # breathing: a few pixels in-plane
    assert mag[:, moving.abrupt_frames].min() > 3.0
    rows, cols = np.indices(static.labels.shape[1:])
    for s in range(3):
        for k in (5, *moving.abrupt_frames, 40):
            coords = np.stack([rows + u[s, :, :, 0, k], cols + u[s, :, :, 1, k]])
            img = static.acquisition.myocardium.data[s, :, :, k]
            want = warp(img, coords, order=1, mode="edge", preserve_range=True)
            got = moving.acquisition.myocardium.data[s, :, :, k]
            assert np.abs(got - want).max() <= 1.0  # integer storage after the warp
    assert moving.aif_displacement.shape == (*moving.aif_mask.shape, 2, protocol.N_BEATS)
