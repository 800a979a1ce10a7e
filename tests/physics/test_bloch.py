"""The readout forward models against closed-form truths."""

from __future__ import annotations

import numpy as np
import pytest

from qperfusion.physics import (
    center_line_index,
    flash_steady_state_mz,
    r1_from_gd,
    readout_signal,
    relaxivity,
    t2star_decay,
)

R1_GRID = 1.0 / np.array([0.1, 0.3, 1.0, 1.55, 3.0])


@pytest.mark.parametrize("n", [0, 1, 5, 24, 60])
def test_flash_recursion_matches_closed_form_approach_to_steady_state(n: int) -> None:
    # Mz⁻(n) = Mss + (Mz0 − Mss)·(E1·cos α)^n, signal = Mz⁻(n)·sin α
    td, tr, flip = 0.09, 0.0025, 12.0
    e1 = np.exp(-tr * R1_GRID)
    mss = flash_steady_state_mz(R1_GRID, tr_s=tr, flip_deg=flip)
    mz0 = 1.0 - np.exp(-td * R1_GRID)
    expected = (mss + (mz0 - mss) * (e1 * np.cos(np.deg2rad(flip))) ** n) * np.sin(np.deg2rad(flip))
    got = readout_signal(
        R1_GRID, readout="flash", td_s=td, tr_s=tr, flip_deg=flip, lines_to_center=n
    )
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_flash_long_train_reaches_spgr_steady_state() -> None:
    tr, flip = 0.005, 15.0
    got = readout_signal(
        R1_GRID, readout="flash", td_s=0.0, tr_s=tr, flip_deg=flip, lines_to_center=5000
    )
    ss = flash_steady_state_mz(R1_GRID, tr_s=tr, flip_deg=flip) * np.sin(np.deg2rad(flip))
    np.testing.assert_allclose(got, ss, rtol=1e-9)


def test_ssfp_long_train_reaches_freeman_hill_steady_state() -> None:
    # On-resonance, alternating-phase bSSFP: M⊥ = M0(1−E1)sinα / (1 − (E1−E2)cosα − E1E2),
    # read at TE = TR/2.
    tr, flip = 0.003, 50.0
    r1 = R1_GRID
    r2 = np.full_like(r1, 1 / 0.05)
    e1, e2 = np.exp(-tr * r1), np.exp(-tr * r2)
    a = np.deg2rad(flip)
    expected = (1 - e1) * np.sin(a) / (1 - (e1 - e2) * np.cos(a) - e1 * e2) * np.sqrt(e2)
    got = readout_signal(
        r1,
        readout="ssfp",
        td_s=0.1,
        tr_s=tr,
        flip_deg=flip,
        lines_to_center=4000,
        r2=r2,
        n_rampup=10,
    )
    np.testing.assert_allclose(got, expected, rtol=1e-6)


@pytest.mark.parametrize("readout", ["flash", "ssfp"])
@pytest.mark.parametrize("ordering", ["linear", "centric"])
def test_saturation_recovery_signal_increases_with_gd(readout: str, ordering: str) -> None:
    gd = np.linspace(0.0, 10.0, 401)
    r1_rel, r2_rel = relaxivity("gadobutrol", 1.5)
    r1 = r1_from_gd(gd, r1_0=1 / 1.0, relaxivity_r1=r1_rel)
    r2 = 1 / 0.05 + r2_rel * gd
    flip = 12.0 if readout == "flash" else 50.0
    s = readout_signal(
        r1,
        readout=readout,
        td_s=0.1,
        tr_s=0.0025,
        flip_deg=flip,
        r2=r2,
        lines_to_center=center_line_index(72, ordering),
        n_rampup=5 if readout == "ssfp" else 0,
    )
    assert np.all(np.diff(s) > 0)


def test_pd_frame_is_m0_sin_alpha_at_first_line() -> None:
    m0 = np.array([10.0, 200.0, 3000.0])
    s = readout_signal(
        1.0, readout="flash", td_s=None, tr_s=0.0025, flip_deg=5.0, lines_to_center=0, m0=m0
    )
    np.testing.assert_allclose(s, m0 * np.sin(np.deg2rad(5.0)), rtol=1e-12)


def test_pd_frame_is_the_long_saturation_delay_limit() -> None:
    kw = dict(readout="flash", tr_s=0.0025, flip_deg=5.0, lines_to_center=36)
    pd = readout_signal(R1_GRID, td_s=None, **kw)
    sr = readout_signal(R1_GRID, td_s=200.0, **kw)
    np.testing.assert_allclose(sr, pd, rtol=1e-12)


def test_t2star_decay_between_two_echoes_gives_back_r2star() -> None:
    r2s = np.array([10.0, 80.0, 400.0])
    s1, s2 = 100 * t2star_decay(0.0012, r2s), 100 * t2star_decay(0.0025, r2s)
    np.testing.assert_allclose(np.log(s1 / s2) / (0.0025 - 0.0012), r2s, rtol=1e-12)


def test_bad_arguments_say_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="readout"):
        readout_signal(1.0, readout="epi", td_s=0.1, tr_s=0.002, flip_deg=10, lines_to_center=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="r2"):
        readout_signal(1.0, readout="ssfp", td_s=0.1, tr_s=0.002, flip_deg=50, lines_to_center=3)
    with pytest.raises(ValueError, match="ramp-up"):
        readout_signal(
            1.0, readout="flash", td_s=0.001, tr_s=0.002, flip_deg=10, lines_to_center=3, n_rampup=5
        )
    with pytest.raises(ValueError, match="ordering"):
        center_line_index(64, "spiral")
