"""Forward models against independent truths: ODE integration, analytic solutions, Parker."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from qperfusion.kinetics import fermi_residue, population_aif, tcxm_conc
from qperfusion.kinetics._expconv import exp_conv
from qperfusion.kinetics.aifs import PARKER_2006, gamma_variate_aif, interpolate_aif
from qperfusion.kinetics.patlak import patlak_conc
from qperfusion.kinetics.tcum import tcum_conc
from qperfusion.kinetics.tofts import etofts_conc, tofts_conc


def _ode_2cxm(t, aif, fp, ps, vp, ve):
    def rhs(tt, x):
        ca = np.interp(tt, t, aif)
        cp, ce = x
        return [(fp * (ca - cp) + ps * (ce - cp)) / vp, ps * (cp - ce) / ve]

    sol = solve_ivp(rhs, (t[0], t[-1]), [0.0, 0.0], t_eval=t, rtol=1e-10, atol=1e-13, max_step=0.02)
    return vp * sol.y[0] + ve * sol.y[1]


@pytest.mark.parametrize(
    ("fp", "ps", "vp", "ve"),
    [(0.03, 0.01, 0.05, 0.2), (0.005, 0.0005, 0.1, 0.3), (0.06, 0.0, 0.04, 0.2)],
)
def test_tcxm_matches_ode_integration(fp, ps, vp, ve):
    t = np.arange(0.0, 40.0, 0.01)
    aif = gamma_variate_aif(t, onset=3.0)
    got = tcxm_conc(t, aif, fp=fp, ps=ps, vp=vp, ve=ve)
    want = _ode_2cxm(t, aif, fp, ps, vp, ve)
    assert np.max(np.abs(got - want)) < 1e-6 * np.max(want) + 1e-9


def test_tcxm_uneven_grid_is_exact_for_piecewise_linear_input():
    fine = np.arange(0.0, 30.0, 0.005)
    rng = np.random.default_rng(3)
    t = np.sort(np.concatenate([[0.0], rng.uniform(0.0, 30.0, 40)]))
    aif = gamma_variate_aif(t, onset=2.0)
    coarse = tcxm_conc(t, aif, fp=0.02, ps=0.01, vp=0.05, ve=0.2)
    dense = tcxm_conc(fine, np.interp(fine, t, aif), fp=0.02, ps=0.01, vp=0.05, ve=0.2)
    on_t = np.interp(t, fine, dense)
    assert np.max(np.abs(coarse - on_t)) < 2e-4 * np.max(dense)


def test_delay_shifts_the_curve_and_broadcasts():
    t = np.arange(0.0, 40.0, 0.01)
    aif = gamma_variate_aif(t, onset=3.0)
    base = tcxm_conc(t, aif, fp=0.02, ps=0.01, vp=0.05, ve=0.2)
    got = tcxm_conc(
        t, aif, fp=np.array([0.02, 0.02]), ps=0.01, vp=0.05, ve=0.2, delay=np.array([0.0, 1.5])
    )
    assert got.shape == (2, t.size)
    np.testing.assert_allclose(got[0], base)
    np.testing.assert_allclose(got[1], np.interp(t - 1.5, t, base, left=0.0), atol=1e-6)


def test_tofts_and_patlak_analytic_for_a_step_input():
    t = np.linspace(0.0, 60.0, 241)
    step = np.ones_like(t)
    ktrans, ve, vp = 0.004, 0.3, 0.05
    kep = ktrans / ve
    np.testing.assert_allclose(
        tofts_conc(t, step, ktrans=ktrans, ve=ve), ve * (1 - np.exp(-kep * t)), atol=1e-12
    )
    np.testing.assert_allclose(
        etofts_conc(t, step, ktrans=ktrans, ve=ve, vp=vp),
        vp + ve * (1 - np.exp(-kep * t)),
        atol=1e-12,
    )
    np.testing.assert_allclose(
        patlak_conc(t, step, ktrans=ktrans, vp=vp), vp + ktrans * t, atol=1e-12
    )


def test_tcum_is_tcxm_with_infinite_interstitium():
    t = np.arange(0.0, 40.0, 0.05)
    aif = gamma_variate_aif(t, onset=3.0)
    got = tcum_conc(t, aif, fp=0.02, ps=0.004, vp=0.06)
    want = tcxm_conc(t, aif, fp=0.02, ps=0.004, vp=0.06, ve=1e6)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9)


def test_exp_conv_small_and_large_rates():
    t = np.linspace(0.0, 10.0, 101)
    a = t.copy()  # ramp: ∫0^t e^{-k(t-s)} s ds = t/k - (1 - e^{-kt})/k²
    for k in (1e-7, 0.3, 50.0):
        want = t / k - (-np.expm1(-k * t)) / k**2 if k > 1e-3 else t**2 / 2
        np.testing.assert_allclose(exp_conv(t, a, np.array(k)), want, rtol=1e-6, atol=1e-9)


def test_fermi_residue_is_flow_at_zero_and_decreasing():
    t = np.linspace(0.0, 30.0, 301)
    r = fermi_residue(t, fb=0.03, alpha=0.4, beta=0.05)
    assert r[0] == pytest.approx(0.03)
    assert np.all(np.diff(r) <= 0)
    assert fermi_residue(np.array([-1.0]), fb=0.03, alpha=0.4, beta=0.05)[0] == 0.0


@pytest.mark.validation
def test_parker_constants_and_curve_match_the_reference(validation_dir):
    ref = json.loads((validation_dir / "parker2006_aif.json").read_text())
    for key, value in PARKER_2006.items():
        assert ref[key] == value
    tm = np.array([0.1, 0.17046, 0.4, 2.0])
    p = PARKER_2006
    want = sum(
        p[f"A{n}"]
        / (p[f"sigma{n}"] * np.sqrt(2 * np.pi))
        * np.exp(-((tm - p[f"T{n}"]) ** 2) / (2 * p[f"sigma{n}"] ** 2))
        for n in (1, 2)
    ) + p["alpha"] * np.exp(-p["beta"] * tm) / (1 + np.exp(-p["s"] * (tm - p["tau"])))
    np.testing.assert_allclose(population_aif(tm * 60.0), want, rtol=1e-12)
    np.testing.assert_allclose(
        population_aif(tm * 60.0 + 5.0, onset=5.0, hematocrit=0.4), want / 0.6, rtol=1e-12
    )


def test_cubic_aif_interpolation_beats_linear_on_a_smooth_bolus():
    fine = np.arange(0.0, 60.0, 0.01)
    truth = population_aif(fine, onset=5.0)
    t = np.arange(0.0, 60.0, 1.0)
    samples = population_aif(t, onset=5.0)
    err = {
        m: np.abs(interpolate_aif(t, samples, fine, method=m) - truth).sum()
        for m in ("linear", "cubic")
    }
    assert err["cubic"] < 0.5 * err["linear"]
