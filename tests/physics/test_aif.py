"""AIF series → blood [Gd]: dual-echo T2* correction, landmarks and QC against known curves."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from qperfusion.physics import (
    aif_to_gd,
    bolus_landmarks,
    denoise_r2star,
    detrend_baseline,
    r2star_from_echoes,
    t2star_correct,
    t2star_decay,
)

from .synthetic import AIF_FLASH, MYO_FLASH, aif_series, frame_times, gamma_bolus

N_PD = 3


def _truth(peak: float = 6.0, n: int = 60) -> tuple[np.ndarray, np.ndarray]:
    t = frame_times(n + N_PD)[0, N_PD:]
    return t, gamma_bolus(t - t[0], t0=6.0, peak=peak)


def test_t2star_corrected_aif_within_two_percent_and_uncorrected_about_ten_percent_low() -> None:
    t, gd = _truth()
    series, mask = aif_series(gd)
    aif = aif_to_gd(series, mask)
    assert aif.t2star_corrected
    np.testing.assert_array_equal(aif.times_s, t)
    assert np.max(np.abs(aif.gd_blood - gd)) < 0.02 * gd.max()
    assert aif.peak_mM == pytest.approx(gd.max(), rel=0.02)
    raw = aif_to_gd(series, mask, t2star_correction=False)
    assert not raw.t2star_corrected
    np.testing.assert_allclose(raw.gd_blood, aif.gd_blood_uncorrected)
    loss = 1 - raw.peak_mM / gd.max()
    assert 0.05 < loss < 0.15  # Kellman 2017: ~10 % AIF under-estimate without correction
    # R2* is back: native 1/T2* + r2*·[Gd], within the smoothing of the denoiser.
    assert aif.r2star_0 == pytest.approx(10.0, rel=1e-6)
    peak = int(np.argmax(gd))
    assert aif.r2star[peak] == pytest.approx(10.0 + 13.0 * gd[peak], rel=0.05)


def test_landmarks_of_the_aif() -> None:
    t, gd = _truth()
    # add a recirculation bump so there is a valley
    gd = gd + gamma_bolus(t - t[0], t0=18.0, peak=1.2, tmax=3.0)
    series, mask = aif_series(gd)
    aif = aif_to_gd(series, mask)
    first = int(np.argmax(gd > 0))
    assert first - 3 <= aif.arrival_index < first
    assert aif.peak_index == int(np.argmax(gd))
    assert aif.valley_index is not None
    assert aif.peak_index < aif.valley_index < int(np.argmax(np.where(t - t[0] > 18.0, gd, 0)))
    assert not aif.saturation_warning
    assert aif.flags == []


def test_single_echo_aif_is_flagged_not_corrected() -> None:
    _, gd = _truth()
    series, mask = aif_series(gd)
    one = dataclasses.replace(
        series,
        echoes=series.echoes[:1],
        sequence=dataclasses.replace(series.sequence, te_s=series.sequence.te_s[:1]),
    )
    aif = aif_to_gd(one, mask)
    assert not aif.t2star_corrected
    assert np.isnan(aif.r2star).all()
    assert "AIF_NO_T2STAR" in [f.code for f in aif.flags]


def test_saturation_warning_for_a_long_td_readout_and_error_when_clamped() -> None:
    _, gd = _truth(peak=5.0)
    slow = dataclasses.replace(MYO_FLASH, te_s=AIF_FLASH.te_s)  # TD 100 ms: non-linear at 5 mM
    series, mask = aif_series(gd, seq=slow)
    aif = aif_to_gd(series, mask)
    assert aif.saturation_warning
    assert aif.linearity_at_peak < 0.3
    assert [f.severity for f in aif.flags if f.code == "AIF_SATURATION"] == ["warning"]
    assert aif.peak_mM == pytest.approx(5.0, rel=0.02)  # still right without noise

    series, mask = aif_series(gd)
    clamped = aif_to_gd(series, mask, gd_max_mM=3.0)
    assert clamped.saturation_warning
    assert clamped.out_of_range[clamped.peak_index]
    assert [f.severity for f in clamped.flags if f.code == "AIF_SATURATION"] == ["error"]


def test_baseline_drift_is_measured_and_flagged() -> None:
    _, gd = _truth()
    series, mask = aif_series(gd)
    times = series.times_s[0]
    drifted = dataclasses.replace(series, echoes=series.echoes * (1 + 0.05 * times))
    aif = aif_to_gd(drifted, mask)
    assert aif.drift_mM_per_s > 0
    # a clear drift on noise-free frames is a warning, not a "may drift" note
    assert [f.severity for f in aif.flags if f.code == "AIF_BASELINE_DRIFT"] == ["warning"]
    assert abs(aif_to_gd(series, mask).drift_mM_per_s) < 1e-3


def test_noise_alone_is_not_reported_as_a_drift_warning() -> None:
    rng = np.random.default_rng(3)
    _, gd = _truth()
    series, mask = aif_series(gd)
    warned = 0
    for _ in range(20):
        noisy = dataclasses.replace(
            series, echoes=series.echoes * (1 + rng.normal(0, 0.01, series.echoes.shape[-1]))
        )
        flags = aif_to_gd(noisy, mask).flags
        warned += any(f.code == "AIF_BASELINE_DRIFT" and f.severity == "warning" for f in flags)
    assert warned <= 1


def test_detrend_removes_a_linear_drift_fitted_on_the_baseline() -> None:
    t = np.linspace(0, 30, 31)
    clean = np.where(t > 10, 3.0, 0.0)
    got, coef = detrend_baseline(clean + 0.1 + 0.02 * t, t, n_baseline=10, order=1)
    np.testing.assert_allclose(got, clean, atol=1e-12)
    np.testing.assert_allclose(coef, [0.02, 0.1], atol=1e-12)


def test_bolus_landmarks_reject_short_curves() -> None:
    with pytest.raises(ValueError, match="3 frames"):
        bolus_landmarks([1.0, 2.0])


def test_r2star_from_two_echoes_and_correction() -> None:
    r2s = np.array([10.0, 50.0, 90.0])
    s1, s2 = 500 * t2star_decay(0.0008, r2s), 500 * t2star_decay(0.0019, r2s)
    np.testing.assert_allclose(r2star_from_echoes(s1, s2, te1_s=0.0008, te2_s=0.0019), r2s)
    assert np.isnan(r2star_from_echoes(0.0, 1.0, te1_s=0.001, te2_s=0.002))
    np.testing.assert_allclose(t2star_correct(s1, r2s - 10.0, te1_s=0.0008), s1[0])
    with pytest.raises(ValueError, match="te2_s > te1_s"):
        r2star_from_echoes(s1, s2, te1_s=0.002, te2_s=0.001)


def test_r2star_denoising_keeps_a_constant_and_fills_gaps() -> None:
    x = np.full(20, 42.0)
    x[7] = np.nan
    np.testing.assert_allclose(denoise_r2star(x, weights=np.linspace(1, 2, 20)), 42.0)
    rng = np.random.default_rng(0)
    noisy = 42.0 + rng.standard_normal(2000)
    assert np.std(denoise_r2star(noisy, sigma_frames=2.0)) < 0.5 * np.std(noisy)


def test_bad_aif_inputs_say_what_to_do() -> None:
    _, gd = _truth()
    series, mask = aif_series(gd)
    with pytest.raises(ValueError, match="empty"):
        aif_to_gd(series, np.zeros_like(mask))
    with pytest.raises(ValueError, match="mask shape"):
        aif_to_gd(series, mask[:4])


def test_aif_without_pd_frames_is_normalised_to_its_baseline() -> None:
    _, gd = _truth()
    series, mask = aif_series(gd)
    no_pd = dataclasses.replace(
        series, echoes=series.echoes[..., N_PD:], times_s=series.times_s[:, N_PD:], pd_frames=0
    )
    aif = aif_to_gd(no_pd, mask)
    assert aif.lut.reference == "baseline"
    assert np.max(np.abs(aif.gd_blood - gd)) < 0.02 * gd.max()


def test_lv_pool_aif_from_a_myocardial_slice_is_checked_for_saturation() -> None:
    _, gd = _truth(peak=4.0)
    slow = dataclasses.replace(MYO_FLASH, te_s=(0.0011,))
    series, mask = aif_series(gd, seq=slow)
    two = dataclasses.replace(
        series,
        echoes=np.concatenate([np.zeros_like(series.echoes), series.echoes], axis=1),
        times_s=np.vstack([series.times_s, series.times_s + 0.3]),
    )
    aif = aif_to_gd(two, mask, slice_index=1)
    np.testing.assert_array_equal(aif.times_s, series.times_s[0, N_PD:] + 0.3)
    # no second echo: the T2* loss, amplified by the flat table, pulls the peak well down
    assert aif.peak_mM < 0.95 * 4.0
    assert aif.saturation_warning
    assert {"AIF_SATURATION", "AIF_NO_T2STAR"} <= {f.code for f in aif.flags}
    with pytest.raises(ValueError, match="slice_index"):
        aif_to_gd(two, mask, slice_index=2)
