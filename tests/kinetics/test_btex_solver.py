"""BTEX forward solver: grid convergence, agreement with the PDEs, analytic limits."""

from __future__ import annotations

import numpy as np
import pytest

from qperfusion.kinetics._btex_pde import btex_conc_pde
from qperfusion.kinetics.btex import btex_conc

# a first-pass plasma AIF: gamma-variate bolus with recirculation, 0.5 s frames over 30 s
T = np.arange(60) * 0.5
AIF = 6.0 * ((T - 8.0).clip(0) / 2.5) ** 3 * np.exp(-(T - 8.0).clip(0) / 1.2) / 2.0 + 0.3 * (
    1 - np.exp(-(T - 14.0).clip(0) / 4.0)
)

CASES = [  # fp, ps (mL/s/mL), vp, ve, delay (s): stress, rest, high exchange, slow flow
    (3.6 / 60, 1.5 / 60, 0.05, 0.20, 1.0),
    (1.0 / 60, 1.0 / 60, 0.04, 0.25, 0.3),
    (5.0 / 60, 3.0 / 60, 0.10, 0.10, 2.0),
    (0.5 / 60, 0.2 / 60, 0.02, 0.40, 0.0),
]


def _curve(case: tuple[float, ...], step: float | None = None) -> np.ndarray:
    fp, ps, vp, ve, delay = case
    return btex_conc(T, AIF, fp=fp, ps=ps, vp=vp, ve=ve, delay=delay, step=step)


@pytest.mark.parametrize("case", CASES)
def test_halving_the_grid_changes_curves_below_half_a_percent(case: tuple[float, ...]) -> None:
    default = _curve(case)
    half = _curve(case, step=0.25)
    fine = _curve(case, step=0.5 / 32)
    peak = fine.max()
    assert np.max(np.abs(default - half)) / peak < 5e-3
    assert np.max(np.abs(default - fine)) / peak < 5e-3
    # second order: halving the step shrinks the error about fourfold
    err_h = np.max(np.abs(_curve(case, step=0.2) - fine))
    err_h2 = np.max(np.abs(_curve(case, step=0.1) - fine))
    assert err_h2 < 0.4 * err_h + 1e-9 * peak


@pytest.mark.parametrize("case", CASES)
def test_matches_lagrangian_solution_of_the_pdes(case: tuple[float, ...]) -> None:
    fp, ps, vp, ve, delay = case
    pde = btex_conc_pde(T, AIF, fp=fp, ps=ps, vp=vp, ve=ve, delay=delay, n_cells=100)
    fast = _curve(case, step=0.5 / 16)
    assert np.max(np.abs(fast - pde)) / pde.max() < 1e-3


def test_no_exchange_is_a_pure_delay_line() -> None:
    # PS = 0: tissue holds the plasma that entered during the last transit time Tc = vp/Fp
    fp, vp, delay = 2.0 / 60, 0.06, 0.7
    t_fine = np.linspace(0, 30, 3001)
    aif = np.interp(t_fine, T, AIF)
    curve = btex_conc(t_fine, aif, fp=fp, ps=0.0, vp=vp, ve=0.2, delay=delay)
    tc = vp / fp
    cumulative = np.concatenate([[0.0], np.cumsum(0.5 * (aif[1:] + aif[:-1]) * np.diff(t_fine))])
    expected = fp * (
        np.interp(t_fine - delay, t_fine, cumulative, left=0.0)
        - np.interp(t_fine - delay - tc, t_fine, cumulative, left=0.0)
    )
    np.testing.assert_allclose(curve, expected, atol=1e-9)


def test_constant_infusion_fills_both_spaces() -> None:
    # steady state of a held input: Ct → (vp + ve) · Cin
    t = np.linspace(0, 600, 1201)
    step_input = np.where(t > 1.0, 1.0, 0.0)
    curve = btex_conc(t, step_input, fp=1.0 / 60, ps=1.0 / 60, vp=0.05, ve=0.2)
    assert curve[-1] == pytest.approx(0.25, rel=1e-4)


def test_shapes_broadcast_over_parameters() -> None:
    fp = np.array([1.0, 2.0, 3.0]) / 60
    out = btex_conc(T, AIF, fp=fp[:, None], ps=np.array([0.01, 0.02]), vp=0.05, ve=0.2)
    assert out.shape == (3, 2, T.size)
    single = btex_conc(T, AIF, fp=fp[2], ps=0.02, vp=0.05, ve=0.2)
    np.testing.assert_allclose(out[2, 1], single)


# ---------------------------------------------------------------------------------------------
# N-segment capillary (NIH's BTEX20 grid): Gamma mixture of plug-flow curves


def _segments_mol(case: tuple[float, ...], n_seg: int, h: float = 0.05) -> np.ndarray:
    """Upwind method of lines on ``n_seg`` segments (no axial diffusion), exact in time for a
    piecewise-linear input: each segment a well-mixed plasma space with its own ISF."""
    from scipy.linalg import expm

    fp, ps, vp, ve, delay = case
    n = n_seg
    a = np.zeros((2 * n + 2, 2 * n + 2))
    rate = fp * n / vp  # segment plasma turnover (1/s)
    for i in range(n):
        a[i, i] = -rate - ps / vp
        a[i, n + i] = ps / vp
        a[n + i, i] = ps / ve
        a[n + i, n + i] = -ps / ve
        if i > 0:
            a[i, i - 1] = rate
    a[0, 2 * n] = rate  # inflow: the input is c + s·(t − t_k) over a step
    a[2 * n, 2 * n + 1] = 1.0
    step = expm(a * h)
    tf = np.arange(0.0, T[-1] + h / 2, h)
    cin = np.interp(tf - delay, T, AIF, left=0.0)
    x = np.zeros(2 * n)
    cout = np.zeros(tf.size)
    for k in range(tf.size - 1):
        z = np.concatenate([x, [cin[k], (cin[k + 1] - cin[k]) / h]])
        x = (step @ z)[: 2 * n]
        cout[k + 1] = x[n - 1]
    g = fp * (cin - cout)
    q = np.concatenate([[0.0], np.cumsum(0.5 * (g[1:] + g[:-1]) * h)])
    return np.interp(T, tf, q)


def _segments(case: tuple[float, ...], n_seg: int) -> np.ndarray:
    from qperfusion.kinetics._btex_segments import segment_curves_batch, segment_nodes

    params = np.array([case], dtype=float)
    return segment_curves_batch(params, T, T, AIF, 0.5 / 16, segment_nodes(n_seg))[0]


@pytest.mark.parametrize("case", CASES)
def test_twenty_segments_match_the_method_of_lines(case: tuple[float, ...]) -> None:
    mol = _segments_mol(case, 20)
    # measured ≤ 5e-5 of the peak with the default 8 quadrature nodes
    assert np.max(np.abs(_segments(case, 20) - mol)) / mol.max() < 2e-4
    # and the segment grid matters: plug flow differs by 0.6–1.4 % of the peak
    assert np.max(np.abs(_curve(case, step=0.5 / 16) - mol)) / mol.max() > 5e-3


@pytest.mark.parametrize("case", CASES)
def test_many_segments_tend_to_plug_flow(case: tuple[float, ...]) -> None:
    plug = _curve(case, step=0.5 / 16)
    # the segment grid's error is first order in 1/N (measured 0.6–1.4 % of the peak at N = 20)
    err = [np.max(np.abs(_segments(case, n) - plug)) / plug.max() for n in (20, 80, 320)]
    assert err[2] < 1.5e-3
    assert 3.0 < err[0] / err[1] < 5.0
    assert 3.0 < err[1] / err[2] < 5.0
