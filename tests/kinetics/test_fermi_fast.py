"""The fast Fermi fit: its pieces against the shared kernel, and the fit against known truths."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import fftconvolve

from qperfusion import kinetics
from qperfusion.errors import FitInputError
from qperfusion.kinetics import _fermi_fast as ff
from qperfusion.kinetics import _kernels
from qperfusion.kinetics._kernels_ids import MODEL_FERMI
from qperfusion.kinetics._parametric import ParametricModel
from qperfusion.kinetics.engine import make_problem

T = np.arange(0.0, 60.0, 1.0) + 0.3
TRUTH_DT = 0.01  # s, grid of the reference convolution
FINE = np.arange(0.0, 70.0, TRUTH_DT)
CB = kinetics.population_aif(FINE, onset=5.0)
AIF = np.interp(T, FINE, CB)
HCT = 0.42


def fermi_truth_curves(n: int, seed: int, sigma: float) -> tuple[np.ndarray, dict]:
    """Fermi tissue curves convolved on a 0.01 s grid, sampled at T, plus noise (mmol/L)."""
    rng = np.random.default_rng(seed)
    truth = {
        "fb": rng.uniform(0.01, 0.06, n),
        "alpha": np.exp(rng.uniform(np.log(0.05), np.log(0.8), n)),
        "delay": rng.uniform(0.0, 2.0, n),
    }
    # the shoulder at 0.5–6 s after the bolus arrives
    truth["beta"] = np.exp(-truth["alpha"] * rng.uniform(0.5, 6.0, n))
    residue = np.stack(
        [
            kinetics.fermi_residue(FINE - d, fb=f, alpha=a, beta=b)
            for f, a, b, d in zip(
                truth["fb"], truth["alpha"], truth["beta"], truth["delay"], strict=True
            )
        ]
    )
    full = fftconvolve(residue, CB[None, :], axes=1)[:, : FINE.size] * TRUTH_DT
    clean = np.stack([np.interp(T, FINE, row) for row in full])
    return clean + rng.normal(0.0, sigma, clean.shape), truth


def problem(curves: np.ndarray):
    return make_problem(curves, aif=AIF, times=T, hematocrit=HCT, aif_kind="blood", min_delay=-2)


def test_read_weights_reproduce_the_kernel_read():
    rng = np.random.default_rng(1)
    g = 124
    y = rng.random(g)
    iq = np.empty(T.size, dtype=np.int64)
    wv = np.empty((4, T.size))
    wd = np.empty((4, T.size))
    got = np.empty(T.size)
    want = np.empty(T.size)
    up = np.empty(T.size)
    down = np.empty(T.size)
    for delay in (-2.0, -0.37, 0.0, 0.3, 1.77, 8.0, 70.0, -70.0):
        ff._read_weights(T, delay, 0.5, g, iq, wv, wd)
        ff._read(y, iq, wv, 1.0, got)
        _kernels._sample(y, T, delay, 0.5, want)
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)
        # the derivative weights: a central difference of the kernel's read, away from the
        # grid ends where the read has a kink (the cubic is C¹ only, so a difference across a
        # node errs by ~step × the jump of the 2nd derivative: ~1e-6 here)
        ff._read(y, iq, wd, 1.0, got)
        _kernels._sample(y, T, delay + 1e-6, 0.5, up)
        _kernels._sample(y, T, delay - 1e-6, 0.5, down)
        u = (T - delay) / 0.5
        inner = (np.abs(u) > 1e-3) & (np.abs(u - (g - 1)) > 1e-3)
        np.testing.assert_allclose(got[inner], ((up - down) / 2e-6)[inner], rtol=1e-5, atol=1e-5)


def test_predict_of_nan_parameters_is_nan():
    model = kinetics.get_model("fermi")
    params = {k: np.array([np.nan, 1.0]) for k in model.param_names}
    out = model.predict(params, problem(np.zeros((2, T.size))))
    assert np.all(np.isnan(out[0]))
    assert np.all(np.isfinite(out[1]))


def test_analytic_jacobian_matches_finite_differences():
    pb = problem(np.zeros((1, T.size)))
    a = np.ascontiguousarray(pb.fine_aif[::2])
    h = 2 * pb.fine_dt
    arev = a[::-1].copy()
    m0 = int(np.argmax(a != 0))
    w = ff._work(a.size, T.size)

    def model(x):
        out = np.empty(T.size)
        ff._value(x, T - pb.fine_t0, arev, m0, h, w.r, w.y, w.iq, w.wv, w.wd, out)
        return x[0] * out

    for x in ([0.02, np.log(0.3), np.log(0.05), 0.8], [0.04, np.log(0.06), np.log(80.0), 1.3]):
        x = np.array(x)
        ff._value(x, T - pb.fine_t0, arev, m0, h, w.r, w.y, w.iq, w.wv, w.wd, w.m)
        ff._jacobian(x, w.y, w.m, arev, m0, h, w.r, w.ra, w.rb, w.ya, w.yb, w.iq, w.wv, w.wd, w.jac)
        for k, eps in enumerate((1e-6, 1e-5, 1e-5, 1e-5)):
            dx = np.zeros(4)
            dx[k] = eps
            fd = (model(x + dx) - model(x - dx)) / (2 * eps)
            np.testing.assert_allclose(w.jac[k], fd, rtol=1e-4, atol=1e-6 * np.abs(fd).max())


def test_predict_is_the_shared_kernels_fermi_model():
    model = kinetics.get_model("fermi")
    params = {
        "fb": np.array([0.01, 0.03, 0.05]),
        "alpha": np.array([0.05, 0.4, 3.0]),
        "beta": np.array([90.0, 0.05, 1e-3]),
        "delay": np.array([-1.2, 0.7, 2.4]),
    }
    pb = problem(np.zeros((3, T.size)))
    got = model.predict(params, pb)
    p = np.stack([params[k] for k in model.param_names], axis=1)
    p[:, 2] = np.log(p[:, 2])  # the shared kernel takes ln β
    want = np.empty_like(got)
    a = np.ascontiguousarray(pb.fine_aif[::2])
    _kernels.predict_batch(MODEL_FERMI, p, T - pb.fine_t0, a, 2 * pb.fine_dt, want)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-13)


def test_recovers_noise_free_fermi_curves():
    curves, truth = fermi_truth_curves(150, seed=2, sigma=0.0)
    fit = kinetics.fit("fermi", curves, aif=AIF, times=T, hematocrit=HCT)
    assert fit.success.all()
    rel = fit.params["fb"] / truth["fb"] - 1
    # the 0.5 s trapezoidal model against a 0.01 s convolution: a ~0.4 % floor
    assert abs(np.median(rel)) < 0.01
    assert np.median(np.abs(rel)) < 0.01
    assert np.median(np.abs(fit.params["delay"] - truth["delay"])) < 0.05


def test_recovers_noisy_fermi_curves_without_bias_and_with_calibrated_sds():
    curves, truth = fermi_truth_curves(400, seed=3, sigma=0.02)
    fit = kinetics.fit("fermi", curves, aif=AIF, times=T, hematocrit=HCT)
    assert fit.success.all()
    rel = fit.params["fb"] / truth["fb"] - 1
    assert abs(np.median(rel)) < 0.015  # measured +0.3 %
    assert np.median(np.abs(rel)) < 0.06  # measured 3.2 %
    z = (fit.params["fb"] - truth["fb"]) / fit.sd["fb"]
    robust_sd = 1.4826 * np.median(np.abs(z - np.median(z)))
    assert 0.7 < robust_sd < 1.4  # measured 0.97


def test_agrees_with_the_shared_lm_on_2cxm_curves():
    rng = np.random.default_rng(4)
    n = 80
    fp = rng.uniform(0.5, 4.5, n) * 1.05 / 60 * (1 - HCT)
    clean = kinetics.tcxm_conc(
        FINE, CB / (1 - HCT), fp=fp, ps=0.02, vp=0.06, ve=0.2, delay=rng.uniform(0, 2, n)
    )
    curves = np.stack([np.interp(T, FINE, row) for row in clean])
    curves += rng.normal(0.0, 0.02, curves.shape)
    model = kinetics.get_model("fermi")
    pb = problem(curves)
    new = model.fit_batch(pb, dict(model.default_bounds))
    old = ParametricModel.fit_batch(model, pb, dict(model.default_bounds))
    assert new.success.all()
    d = new.params[:, 0] / old.params[:, 0] - 1
    assert np.median(np.abs(d)) < 0.01
    assert abs(np.median(d)) < 0.005
    assert np.median(new.rss / old.rss) <= 1.0 + 1e-5


def test_fixed_delay_and_fixed_alpha_are_kept():
    curves, _ = fermi_truth_curves(4, seed=5, sigma=0.005)
    fit = kinetics.fit(
        "fermi",
        curves,
        aif=AIF,
        times=T,
        hematocrit=HCT,
        fit_delay=False,
        delay=0.9,
        bounds={"alpha": (0.3, 0.3)},
    )
    assert fit.success.all()
    np.testing.assert_array_equal(fit.params["delay"], 0.9)
    np.testing.assert_allclose(fit.params["alpha"], 0.3, rtol=1e-12)
    assert np.all(fit.sd["delay"] == 0)
    assert np.all(fit.sd["alpha"] == 0)
    assert np.all(np.isfinite(fit.sd["fb"]))


def test_a_prior_runs_the_shared_kernel():
    curves, _ = fermi_truth_curves(6, seed=6, sigma=0.02)
    model = kinetics.get_model("fermi")
    pb = problem(curves)
    prior = {"alpha": (0.3, 0.5)}
    got = model.fit_batch(pb, dict(model.default_bounds), prior=prior)
    want = ParametricModel.fit_batch(model, pb, dict(model.default_bounds), prior=prior)
    np.testing.assert_array_equal(got.params, want.params)


def test_zero_lower_bounds_still_fit():
    curves, truth = fermi_truth_curves(20, seed=7, sigma=0.0)
    fit = kinetics.fit(
        "fermi",
        curves,
        aif=AIF,
        times=T,
        hematocrit=HCT,
        bounds={"alpha": (0.0, 5.0), "beta": (0.0, 100.0)},
    )
    assert fit.success.all()
    rel = fit.params["fb"] / truth["fb"] - 1
    assert np.median(np.abs(rel)) < 0.01


@pytest.mark.parametrize("bad", [{"alpha": (0.0, 0.0)}, {"beta": (-1.0, -0.5)}])
def test_non_positive_alpha_or_beta_bounds_raise(bad):
    with pytest.raises(FitInputError, match="must be > 0"):
        kinetics.fit("fermi", np.zeros((2, T.size)), aif=AIF, times=T, bounds=bad)


def fine_aif(baseline: float):
    """The fast fit's inputs: the fine AIF (every 2nd node, plus ``baseline``, mmol/L), its step,
    the reversed AIF in float64 and zero-padded float32, and its first non-zero node."""
    pb = problem(np.zeros((1, T.size)))
    a = np.ascontiguousarray(pb.fine_aif[::2]) + baseline
    arev = a[::-1].copy()
    arev32 = np.concatenate([arev, np.zeros(ff._PAD)]).astype(np.float32)
    return pb, a, 2 * pb.fine_dt, arev, arev32, int(np.argmax(a != 0))


# an AIF that is 0 at the grid start, and one that is not (its trapezoid end terms count)
@pytest.mark.parametrize("baseline", [0.0, 0.3])
def test_uniform_sampling_shortcut_is_the_general_model_and_jacobian(baseline):
    # samples a whole number of fine steps apart: convolution and read as one dot product with
    # the AIF read through the cubic; the same model and Jacobian as the general path,
    # including samples before the grid, at its end and past it (to ~1e-7 of the curve's
    # scale: those dot products run in float32)
    pb, a, h, arev, arev32, m0 = fine_aif(baseline)
    t_rel = T - pb.fine_t0
    step = ff._uniform_step(t_rel, h)
    assert step == 2
    assert ff._uniform_step(t_rel + np.linspace(0, 0.01, T.size), h) == 0
    w = ff._work(a.size, T.size)
    wu = ff._work(a.size, T.size, step)
    for x in (
        [0.02, np.log(0.3), np.log(0.05), 0.8],
        [0.04, np.log(0.06), np.log(80.0), -1.7],
        [0.03, np.log(2.0), np.log(1e-3), 7.9],
        [0.03, np.log(0.5), np.log(1.0), -9.6],
        [0.03, np.log(0.5), np.log(1.0), -10.3],
        [0.03, np.log(0.5), np.log(1.0), 30.2],
    ):
        x = np.array(x)
        ff._value(x, t_rel, arev, m0, h, w.r, w.y, w.iq, w.wv, w.wd, w.m)
        ff._jacobian(x, w.y, w.m, arev, m0, h, w.r, w.ra, w.rb, w.ya, w.yb, w.iq, w.wv, w.wd, w.jac)
        ff._value_u(x, t_rel, step, arev, arev32, m0, h, wu.r, wu.bd, wu.cw, wu.m)
        ff._jacobian_u(x, wu.m, t_rel, step, arev, m0, h, wu.r, wu.ra, wu.rb, wu.bd, wu.cw, wu.jac)
        np.testing.assert_allclose(wu.m, w.m, rtol=0, atol=1e-6 * np.abs(w.m).max())
        for k in range(4):
            scale = np.abs(w.jac[k]).max()
            np.testing.assert_allclose(wu.jac[k], w.jac[k], rtol=0, atol=1e-6 * scale)


@pytest.mark.parametrize("baseline", [0.0, 0.3])
def test_general_path_in_float32_is_the_float64_model_and_jacobian(baseline):
    # the fit's path for uneven sample times convolves in float32 over whole vector lanes
    # (zero padding instead of tail loops): the float64 model and Jacobian to ~1e-7 of their
    # scale (the ln β column, a difference of nearly equal terms, to ~1e-6), for delays that
    # put samples before the grid, inside it and past its end
    pb, a, h, arev, arev32, m0 = fine_aif(baseline)
    rng = np.random.default_rng(3)
    t_rel = T - pb.fine_t0 + np.concatenate([[0.0], np.cumsum(rng.uniform(-0.1, 0.1, T.size - 1))])
    assert ff._uniform_step(t_rel, h) == 0
    w = ff._work(a.size, T.size)
    w32 = ff._work(a.size, T.size)
    for x in (
        [0.02, np.log(0.3), np.log(0.05), 0.8],
        [0.04, np.log(0.06), np.log(80.0), -1.7],
        [0.03, np.log(2.0), np.log(1e-3), 7.9],
        [0.03, np.log(0.5), np.log(1.0), -10.3],
        [0.03, np.log(0.5), np.log(1.0), 30.2],
    ):
        x = np.array(x)
        ff._value(x, t_rel, arev, m0, h, w.r, w.y, w.iq, w.wv, w.wd, w.m)
        ff._jacobian(x, w.y, w.m, arev, m0, h, w.r, w.ra, w.rb, w.ya, w.yb, w.iq, w.wv, w.wd, w.jac)
        ff._val(x, t_rel, 0, arev, arev32, m0, h, w32.r, w32.y, w32.iq, w32.wv, w32.wd, w32.bd,
                w32.cw, w32.m)  # fmt: skip
        ff._jac(x, w32.y, w32.m, t_rel, 0, arev, arev32, m0, h, w32.r, w32.ra, w32.rb, w32.ya,
                w32.yb, w32.iq, w32.wv, w32.wd, w32.bd, w32.cw, w32.jac)  # fmt: skip
        assert not np.array_equal(w32.m, w.m)  # float32 indeed
        np.testing.assert_allclose(w32.m, w.m, rtol=0, atol=1e-6 * np.abs(w.m).max())
        for k in range(4):
            scale = np.abs(w.jac[k]).max()
            np.testing.assert_allclose(w32.jac[k], w.jac[k], rtol=0, atol=3e-6 * scale)
