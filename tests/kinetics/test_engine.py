"""The engine: input checks, AIF handling, hematocrit, self-consistency of every closed form."""

from __future__ import annotations

import numpy as np
import pytest

from qperfusion import kinetics
from qperfusion.errors import FitInputError
from qperfusion.kinetics.engine import make_problem

T = np.arange(0.0, 60.0, 1.0) + 0.3
FINE = np.arange(0.0, 75.0, 0.01)
CB = kinetics.population_aif(FINE, onset=5.0)
AIF = np.interp(T, FINE, CB)

TRUTHS = {
    "fermi": {"fb": [0.02, 0.05], "alpha": [0.3, 0.8], "beta": [0.05, 0.2], "delay": [0.7, 2.1]},
    "2cxm": {
        "fp": [0.01, 0.03],
        "ps": [0.01, 0.02],
        "vp": [0.05, 0.08],
        "ve": [0.15, 0.25],
        "delay": [0.4, 1.6],
    },
    "2cum": {"fp": [0.01, 0.03], "ps": [0.002, 0.006], "vp": [0.05, 0.08], "delay": [0.4, 1.6]},
    "tofts": {"ktrans": [0.002, 0.008], "ve": [0.2, 0.4], "delay": [0.5, 3.0]},
    "etofts": {"ktrans": [0.002, 0.008], "ve": [0.2, 0.4], "vp": [0.03, 0.08], "delay": [0.5, 3.0]},
    "patlak": {"ktrans": [0.002, 0.008], "vp": [0.03, 0.08], "delay": [0.5, 3.0]},
}


@pytest.mark.parametrize("name", sorted(TRUTHS))
def test_closed_form_models_recover_their_own_curves(name):
    """Noise-free curves from the model's own predict() give back the parameters."""
    model = kinetics.get_model(name)
    truth = {k: np.array(v) for k, v in TRUTHS[name].items()}
    problem = make_problem(
        np.zeros((2, T.size)),
        aif=AIF,
        times=T,
        hematocrit=0.0,
        aif_kind=model.aif_kind,
        min_delay=-2.0,
    )
    curves = model.predict(truth, problem)
    fit = kinetics.fit(name, curves, aif=AIF, times=T, hematocrit=0.0)
    assert fit.success.all()
    for key, want in truth.items():
        np.testing.assert_allclose(
            fit.params[key], want, rtol=2e-3, atol=2e-3 if key == "delay" else 1e-6
        )


def test_hematocrit_converts_blood_to_plasma_for_plasma_models():
    fp = 0.02
    c = kinetics.tcxm_conc(FINE, CB / (1 - 0.4), fp=fp, ps=0.01, vp=0.06, ve=0.2)
    c = np.interp(T, FINE, c)[None, :]
    a = kinetics.fit("2cxm", c, aif=AIF, times=T, hematocrit=0.4)
    b = kinetics.fit("2cxm", c, aif=AIF / 0.6, times=T, hematocrit=0.0)
    np.testing.assert_allclose(a.params["fp"], b.params["fp"], rtol=1e-9)
    np.testing.assert_allclose(a.fp_ml_min_g, fp * 60 / 1.05, rtol=0.02)
    np.testing.assert_allclose(a.mbf_ml_min_g, a.fp_ml_min_g / 0.6)


def test_aif_times_resamples_an_aif_sampled_elsewhere_in_the_beat():
    c = kinetics.tcxm_conc(FINE, CB, fp=0.02, ps=0.01, vp=0.06, ve=0.2, delay=1.0)
    c = np.interp(T, FINE, c)[None, :]
    ta = T - 0.35  # AIF image acquired 350 ms earlier in each beat
    fit = kinetics.fit(
        "2cxm", c, aif=np.interp(ta, FINE, CB), times=T, aif_times=ta, hematocrit=0.0
    )
    assert fit.params["fp"][0] == pytest.approx(0.02, rel=0.02)
    assert fit.params["delay"][0] == pytest.approx(1.0, abs=0.1)


def test_fixed_delay_and_bounds_override():
    c = np.interp(T, FINE, kinetics.tcxm_conc(FINE, CB, fp=0.02, ps=0.01, vp=0.06, ve=0.2))[None, :]
    fit = kinetics.fit(
        "2cxm", c, aif=AIF, times=T, hematocrit=0.0, fit_delay=False, bounds={"vp": (0.0, 0.05)}
    )
    assert fit.params["delay"][0] == 0.0
    assert fit.params["vp"][0] <= 0.05


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"times": T[::-1]}, "strictly increasing"),
        ({"aif": AIF[:-1]}, "aif_times"),
        ({"aif": np.where(T > 10, np.nan, AIF)}, "NaN"),
        ({"hematocrit": 1.2}, "hematocrit"),
        ({"bounds": {"nope": (0, 1)}}, "does not have"),
        ({"aif_interpolation": "quintic"}, "cubic"),
    ],
)
def test_bad_input_raises_with_a_message(kwargs, match):
    args = {"aif": AIF, "times": T, "hematocrit": 0.42, **kwargs}
    with pytest.raises(FitInputError, match=match):
        kinetics.fit("2cxm", np.zeros((2, T.size)), **args)


def test_unknown_model_lists_the_valid_ones():
    with pytest.raises(FitInputError, match="fermi"):
        kinetics.fit("fermy", np.zeros((1, T.size)), aif=AIF, times=T)


def test_curve_shape_must_match_times():
    with pytest.raises(FitInputError, match="shape"):
        kinetics.fit("fermi", np.zeros((3, T.size + 1)), aif=AIF, times=T)


def test_per_curve_prior_medians_and_noise_sd_follow_the_curves():
    """A prior median per curve pins each curve's PS to its own value, also with a bad row
    in the batch (the engine drops it and the per-curve options must follow)."""
    rng = np.random.default_rng(11)
    t = np.arange(0.0, 60.0, 1.0)
    aif = kinetics.gamma_variate_aif(t, onset=5.0, time_to_peak=4.0)
    ps = np.array([0.01, 0.02, 0.03, 0.04, 0.05, 0.015])
    curves = kinetics.tcxm_conc(t, aif, fp=0.015, ps=ps, vp=0.06, ve=0.2, delay=0.5)
    curves = curves + rng.normal(0.0, 0.02, curves.shape)
    curves[2, 5] = np.nan
    pinned = kinetics.fit("2cxm", curves, aif=aif, times=t, hematocrit=0.0,
                          prior={"ps": (ps, 0.01)}, noise_sd=np.full(ps.size, 1.0))
    ok = np.arange(ps.size) != 2
    assert not pinned.success[2]
    assert np.allclose(pinned.params["ps"][ok], ps[ok], rtol=0.05)
    # a negligible noise SD switches the prior off: the same as no prior
    free = kinetics.fit("2cxm", curves, aif=aif, times=t, hematocrit=0.0, prior=None)
    faint = kinetics.fit("2cxm", curves, aif=aif, times=t, hematocrit=0.0,
                         prior={"ps": (ps, 0.01)}, noise_sd=1e-12)
    assert np.allclose(faint.params["fp"][ok], free.params["fp"][ok], rtol=1e-3)
    with pytest.raises(FitInputError, match="noise_sd"):
        kinetics.fit("2cxm", curves[ok], aif=aif, times=t, hematocrit=0.0, noise_sd=np.ones(3))


@pytest.mark.parametrize(
    "p",
    [
        (0.02, 0.01, 0.06, 0.2, 1.3),  # typical myocardium
        (0.005, 0.03, 0.02, 0.4, 0.1),  # exchange faster than flow
        (0.1, 0.001, 0.1, 0.2, 2.7),  # almost no exchange
        (0.01, 0.02, 0.001, 0.001, -1.5),  # tiny volumes: stiff rates, negative delay
        (0.1, 0.0, 0.1, 0.2, 2.7),  # PS at its bound 0 (one-sided difference there)
    ],
)
def test_analytic_2cxm_jacobian_matches_finite_differences(p):
    """The kernel's analytic 2CXM Jacobian (k-derivatives carried by the convolution
    recursion, chain rule through K± and A±, derivative of the cubic read for the delay)
    equals differences of its own forward model."""
    from qperfusion.kinetics import _kernels

    problem = make_problem(
        np.zeros((1, T.size)), aif=AIF, times=T, hematocrit=0.0, aif_kind="plasma", min_delay=-2.0
    )
    a, h = problem.fine_aif, problem.fine_dt
    t_rel = T - problem.fine_t0
    basis = _kernels._aif_basis(a)
    p = np.array(p)
    m = np.empty(T.size)
    jac = np.empty((5, T.size))
    ok = _kernels._tcxm_model_jac(
        p, t_rel, basis, h, np.ones(5, bool), np.empty((a.size, 4)), m, jac
    )
    assert ok

    def model(q):
        out = np.empty(T.size)
        _kernels._evaluate(_kernels.MODEL_2CXM, q, t_rel, a, basis, h, np.empty(a.size),
                           np.empty(a.size), out)  # fmt: skip
        return out

    np.testing.assert_allclose(m, model(p), rtol=0, atol=1e-14)
    for k in range(5):
        eps = 1e-5 if k == 4 else 1e-6 * max(abs(p[k]), 1e-3)
        hi, lo = p.copy(), p.copy()
        hi[k] += eps
        lo[k] -= eps
        if lo[k] < (0.0 if k == 1 else -np.inf):  # at a bound: forward difference
            lo[k] = p[k]
            fd = (model(hi) - model(lo)) / eps
        else:
            fd = (model(hi) - model(lo)) / (2 * eps)
        scale = np.abs(fd).max() + 1e-12
        np.testing.assert_allclose(jac[k], fd, rtol=0, atol=1e-5 * scale, err_msg=f"param {k}")


def test_psi_moments_match_quadrature_on_both_sides_of_the_series_switch():
    """ψ_m(x) = ∫_0^1 exp(−x(1 − s)) s^m ds from the series (x < 2) and the recursion."""
    from scipy.integrate import quad

    from qperfusion.kinetics import _kernels

    for x in (0.0, 1e-4, 0.3, 1.999, 2.0, 7.5, 60.0):
        got = _kernels._psi5(x)
        for mm in range(5):
            want = quad(lambda s, mm=mm, x=x: np.exp(-x * (1 - s)) * s**mm, 0.0, 1.0, epsabs=0,
                        epsrel=1e-13)[0]  # fmt: skip
            assert got[mm] == pytest.approx(want, rel=1e-11, abs=1e-15), (x, mm)
