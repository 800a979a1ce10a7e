"""Myocardial series → [Gd]: truth recovery on series made with the shared forward model."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from qperfusion.physics import (
    blood_to_plasma,
    noise_sigma_from_pd,
    readout_signal,
    rician_debias,
    series_to_gd,
    smoothed_pd,
)

from .synthetic import MYO_FLASH, MYO_SSFP, myo_series

N_BASE = 8


def _ramp_truth(n_slices: int = 2, ny: int = 12, nx: int = 41, n_sr: int = 30) -> np.ndarray:
    """Every pixel column holds a different plateau, 0 … 8 mmol/L, after N_BASE frames."""
    level = np.linspace(0.0, 8.0, nx)
    on = np.arange(n_sr) >= N_BASE
    return np.broadcast_to(level[:, None] * on, (n_slices, ny, nx, n_sr)).copy()


def _coil_and_tissue_m0(shape: tuple[int, int, int]) -> np.ndarray:
    """Smooth coil shading × a 10 % proton-density step (blood | myocardium) along y."""
    _, ny, nx = shape
    yy, xx = np.mgrid[0:ny, 0:nx]
    coil = 1.0 / (1.0 + ((xx - 20.0) ** 2 + (yy + 40.0) ** 2) / 58.0**2)  # chest-wall coil
    tissue = np.where(yy < ny // 2, 0.9, 0.8)
    return np.broadcast_to(1000.0 * coil * tissue, shape)


@pytest.mark.parametrize("seq", [MYO_FLASH, MYO_SSFP], ids=["flash", "ssfp"])
def test_myocardium_recovered_within_one_percent_over_0_to_8_mM(seq) -> None:
    gd = _ramp_truth()
    series = myo_series(seq, gd, m0=_coil_and_tissue_m0(gd.shape[:3]))
    conv = series_to_gd(series)
    assert conv.gd.shape == gd.shape
    np.testing.assert_array_equal(conv.times_s, series.times_s[:, series.pd_frames :])
    assert N_BASE - 3 <= conv.n_baseline <= N_BASE  # the foot errs early, never late
    assert not conv.out_of_range.any()
    assert conv.flags == []
    # The 3 × 3 median needs a neighbour on every side: the image border is not tissue.
    inner = (slice(None), slice(1, -1), slice(1, -1))
    np.testing.assert_allclose(conv.gd[inner], gd[inner], rtol=0.01, atol=1e-4)


def test_t1_map_gives_one_table_per_native_t1() -> None:
    seq = MYO_FLASH
    rng = np.random.default_rng(3)
    gd = _ramp_truth(n_slices=1, ny=6, nx=9)
    t1 = rng.uniform(0.8, 1.4, size=gd.shape[:3])
    r1_rel, _ = (5.2, 6.1)
    kw = dict(readout="flash", tr_s=seq.tr_s, lines_to_center=seq.lines_to_center)
    sr = readout_signal(1 / t1[..., None] + r1_rel * gd, td_s=seq.td_s, flip_deg=seq.flip_deg, **kw)
    pd = readout_signal(1 / t1[..., None] + 0 * gd[..., :3], td_s=None, flip_deg=5.0, **kw)
    series = myo_series(seq, gd)
    series.echoes = np.concatenate([pd, sr], axis=-1)[None] * 500.0
    conv = series_to_gd(series, t1_0_s=t1, pd_filter="none")
    np.testing.assert_allclose(conv.gd, gd, rtol=0.01, atol=2e-3)
    # The literature default instead of the map is wrong by more than the tolerance.
    wrong = series_to_gd(series, pd_filter="none", baseline_correction=False)
    assert np.nanmax(np.abs(wrong.gd - gd)) > 0.05


def test_mask_leaves_nan_outside_and_no_pd_frames_falls_back_to_baseline() -> None:
    gd = _ramp_truth(n_slices=1, ny=4, nx=5)
    series = myo_series(MYO_FLASH, gd)
    mask = np.zeros(gd.shape[:3], bool)
    mask[0, 1:3, 1:4] = True
    conv = series_to_gd(series, mask=mask)
    assert np.isnan(conv.gd[~mask]).all()
    np.testing.assert_allclose(conv.gd[mask], gd[mask], rtol=0.01, atol=1e-4)

    no_pd = dataclasses.replace(
        series, echoes=series.echoes[..., 3:], pd_frames=0, times_s=series.times_s[:, 3:]
    )
    conv = series_to_gd(no_pd)
    assert [f.code for f in conv.flags] == ["NO_PD_FRAMES"]
    np.testing.assert_allclose(conv.gd, gd, rtol=0.01, atol=1e-4)


def test_out_of_range_is_flagged() -> None:
    gd = _ramp_truth(n_slices=1, ny=2, nx=5)
    conv = series_to_gd(myo_series(MYO_FLASH, gd), gd_max_mM=5.0)
    assert conv.out_of_range[..., -1].any()
    assert np.nanmax(conv.gd) == pytest.approx(5.0, abs=1e-6)
    assert "GD_OUT_OF_RANGE" in [f.code for f in conv.flags]


def test_rician_bias_is_removed_from_the_signal() -> None:
    rng = np.random.default_rng(0)
    a, sigma = 8.0, 2.0  # SNR 4: a dark pre-contrast SR pixel
    m = np.abs(a + sigma * rng.standard_normal(200_000) + 1j * sigma * rng.standard_normal(200_000))
    assert np.mean(m) > 1.025 * a
    assert np.mean(rician_debias(m, sigma) ** 2) == pytest.approx(a * a, rel=0.01)
    pd = 100.0 + sigma * rng.standard_normal((1, 64, 64, 3))
    assert noise_sigma_from_pd(pd) == pytest.approx(sigma, rel=0.05)
    assert np.isnan(noise_sigma_from_pd(pd[..., :1]))


def test_median_pd_filter_keeps_tissue_boundaries() -> None:
    m0 = _coil_and_tissue_m0((1, 20, 20))[..., None] * np.ones(3)
    inner = (slice(None), slice(1, -1), slice(1, -1))
    np.testing.assert_allclose(smoothed_pd(m0)[inner], m0[..., 0][inner], rtol=2e-3)
    assert np.max(np.abs(smoothed_pd(m0, method="gaussian") / m0[..., 0] - 1)) > 0.01
    with pytest.raises(ValueError, match="median"):
        smoothed_pd(m0, method="bilateral")


def test_blood_to_plasma_and_bad_inputs() -> None:
    np.testing.assert_allclose(blood_to_plasma([0.0, 5.8], 0.42), [0.0, 10.0])
    with pytest.raises(ValueError, match="hematocrit"):
        blood_to_plasma(1.0, 42)
    series = myo_series(MYO_FLASH, _ramp_truth(n_slices=1, ny=2, nx=3))
    with pytest.raises(ValueError, match="seconds"):
        series_to_gd(series, t1_0_s=1000.0)
    with pytest.raises(ValueError, match="mask shape"):
        series_to_gd(series, mask=np.ones((2, 2), bool))
    with pytest.raises(ValueError, match="tissue"):
        series_to_gd(series, tissue="liver")
