"""The state fit of the cascade (``workflows.fitting``): KL denoising + empirical PS prior.

Truth: 2CXM curves (integrated on a 0.01 s grid) of one slice of 400 pixels, sampled once per
second, σ = 0.03 mmol/L (the phantom's converted myocardium), a gamma-variate AIF (Hct 0.42),
at rest (MBF ≈ 1.1 mL/min/g, PS 1.0 mL/min/g, vp 0.055) and stress (MBF ≈ 3.9, PS 1.3,
vp 0.065) with pixel heterogeneity. The segment statistic is the median over pixels.
Measured (seeds 3, 4): rest −3.2/−2.4 % (plain per-pixel fit with the literature priors:
−8.8/−8.1 %), stress +5.6/+5.4 % (plain: +3.0/+2.6 %). Goals: rest within ±4 % and ≥ 4 points
better than the plain fit; stress within ±7 %.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from qperfusion import kinetics
from qperfusion.workflows.fitting import denoise_curves, fit_myocardium, noise_sd

HCT = 0.42
N = 400
ML_MIN_G = 60.0 / 1.05  # mL/s/mL → mL/min/g

STATES = {
    "rest": {"mbf": 1.1, "ps": 1.0, "vp": 0.055, "delay": 0.8},
    "stress": {"mbf": 3.9, "ps": 1.3, "vp": 0.065, "delay": 0.6},
}


def _slice(state: str, seed: int = 3):
    rng = np.random.default_rng(seed)
    p = STATES[state]
    fine = np.arange(0.0, 70.0, 0.01)
    cb = kinetics.gamma_variate_aif(fine, onset=5.0, time_to_peak=4.0)
    mbf = p["mbf"] * rng.uniform(0.9, 1.1, N)
    truth = kinetics.tcxm_conc(
        fine, cb / (1.0 - HCT), fp=mbf / ML_MIN_G * (1.0 - HCT),
        ps=p["ps"] / ML_MIN_G * rng.uniform(0.9, 1.1, N), vp=p["vp"] * rng.uniform(0.9, 1.1, N),
        ve=0.2 * rng.uniform(0.9, 1.1, N), delay=p["delay"] + rng.uniform(-0.1, 0.1, N),
    )
    t = np.arange(0.0, 60.0, 1.0) + 0.3
    idx = np.round(t / 0.01).astype(int)
    gd = truth[:, idx] + rng.normal(0.0, 0.03, (N, t.size))
    aif = SimpleNamespace(gd_blood=cb[idx], times_s=fine[idx])
    return gd.reshape(1, 20, 20, t.size), fine[idx][None], aif, mbf


@pytest.mark.parametrize("state", ["rest", "stress"])
def test_state_fit_is_unbiased_where_the_plain_fit_is_not(state):
    gd, times, aif, mbf = _slice(state)
    mask = np.ones(gd.shape[:3], dtype=bool)
    sf = fit_myocardium(gd, times, mask, aif, model="2cxm", hematocrit=HCT)
    est = sf.maps["mbf_ml_min_g"][mask]
    assert np.mean(sf.maps["success"][mask]) > 0.98
    bias = np.median(est) / np.mean(mbf) - 1.0
    assert abs(bias) <= (0.04 if state == "rest" else 0.07)
    # the residual is against the measured curves: about the noise SD
    assert np.nanmedian(sf.maps["residual_mM"][mask]) == pytest.approx(0.03, rel=0.2)
    if state == "rest":
        plain = kinetics.fit("2cxm", gd.reshape(N, -1), aif=aif.gd_blood, aif_times=aif.times_s,
                             times=times[0], hematocrit=HCT)
        assert np.median(plain.mbf_ml_min_g) / np.mean(mbf) - 1.0 < bias - 0.04


def test_denoising_keeps_the_signal_and_cuts_the_noise():
    gd, _, _, _ = _slice("rest")
    curves = gd.reshape(N, -1)
    den, rank = denoise_curves(curves)
    assert 1 <= rank <= 10
    assert np.median(noise_sd(curves)) == pytest.approx(0.03, rel=0.15)
    resid = den - curves
    assert np.std(resid) == pytest.approx(0.03, rel=0.15)  # what is removed is the noise
    assert np.all(np.isfinite(den))
