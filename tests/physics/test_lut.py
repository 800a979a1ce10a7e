"""The signal → [Gd] look-up table against the forward model and closed-form limits."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from qperfusion.io.model import SequenceParams
from qperfusion.physics import (
    build_lut,
    flash_steady_state_mz,
    readout_signal,
    spgr_steady_state_sequence,
)
from tests.physics.synthetic import MYO_FLASH

R1_REL, R2_REL = 5.2, 6.1
T1_MYO, T2_MYO = 1.0, 0.052

FLASH = MYO_FLASH


def _measured_ratio(seq: SequenceParams, gd: np.ndarray) -> np.ndarray:
    """SR signal / PD signal of the same voxel, straight from the forward model."""
    kw = dict(
        readout=seq.readout,
        tr_s=seq.tr_s,
        lines_to_center=seq.lines_to_center,
        n_rampup=seq.n_rampup,
    )
    sr = readout_signal(
        1 / T1_MYO + R1_REL * gd,
        td_s=seq.td_s,
        flip_deg=seq.flip_deg,
        r2=1 / T2_MYO + R2_REL * gd,
        m0=730.0,
        **kw,
    )
    pd = readout_signal(
        1 / T1_MYO, td_s=None, flip_deg=seq.pd_flip_deg, r2=1 / T2_MYO, m0=730.0, **kw
    )
    return sr / pd


@pytest.mark.parametrize(
    "change",
    [
        {},
        {"ordering": "centric", "lines_to_center": 0},
        {"readout": "ssfp", "flip_deg": 50.0, "n_rampup": 5, "tr_s": 0.0026},
        {
            "readout": "ssfp",
            "flip_deg": 45.0,
            "ordering": "centric",
            "lines_to_center": 0,
            "n_rampup": 10,
        },
        {"td_s": 0.02, "lines_to_center": 12, "flip_deg": 8.0},
    ],
)
def test_table_inverts_the_forward_model(change: dict) -> None:
    seq = dataclasses.replace(FLASH, **change)
    lut = build_lut(seq, t1_0_s=T1_MYO, tissue_r2_0=1 / T2_MYO, relaxivity=(R1_REL, R2_REL))
    # Centric bSSFP turns over (T2 loss) near 9 mmol/L; the table stops there.
    assert lut.gd_valid_max_mM >= 8.0
    gd = np.linspace(0.0, min(12.0, lut.gd_valid_max_mM), 241)
    got, oor = lut.gd_from_ratio(_measured_ratio(seq, gd))
    assert not oor.any()
    np.testing.assert_allclose(got, gd, atol=1e-6)


def test_small_flip_angle_limit_is_pure_saturation_recovery() -> None:
    # α → 0: the readout does not disturb Mz, so ratio = 1 − exp(−(TD + n·TR)·R1) exactly,
    # and Gd = (−ln(1 − ratio)/t_eff − R1₀)/r1.
    seq = dataclasses.replace(FLASH, flip_deg=1e-3, pd_flip_deg=1e-3)
    t_eff = seq.td_s + seq.lines_to_center * seq.tr_s
    lut = build_lut(seq, t1_0_s=T1_MYO, relaxivity=(R1_REL, R2_REL))
    gd = np.linspace(0.0, 8.0, 81)
    ratio = 1 - np.exp(-t_eff * (1 / T1_MYO + R1_REL * gd))
    np.testing.assert_allclose(lut.ratio_from_gd(gd), ratio, rtol=1e-6)
    got, _ = lut.gd_from_ratio(ratio)
    np.testing.assert_allclose(got, gd, rtol=1e-5, atol=1e-6)


def test_long_saturation_delay_loses_all_gd_sensitivity() -> None:
    # TD → ∞: the SR frame becomes a PD frame, ratio → 1 whatever the Gd; the table says so.
    seq = dataclasses.replace(FLASH, flip_deg=5.0, lines_to_center=0)
    ratios = [
        build_lut(seq, t1_0_s=T1_MYO, relaxivity=(R1_REL, R2_REL), gd_max_mM=8.0).ratio_from_gd(0.0)
        for seq in (dataclasses.replace(seq, td_s=td) for td in (0.1, 1.0, 3.0))
    ]
    np.testing.assert_allclose(ratios, 1 - np.exp(-np.array([0.1, 1.0, 3.0])), rtol=1e-6)
    with pytest.raises(ValueError, match="does not increase with Gd"):
        build_lut(dataclasses.replace(seq, td_s=200.0), t1_0_s=T1_MYO, relaxivity=(R1_REL, R2_REL))


def test_spgr_steady_state_special_case_matches_closed_form() -> None:
    seq = spgr_steady_state_sequence(tr_s=0.003, flip_deg=20.0)
    lut = build_lut(seq, t1_0_s=1.4, relaxivity=(4.5, 0.0), reference="baseline")
    gd = np.array([0.0, 0.5, 2.0, 7.0])
    r1 = 1 / 1.4 + 4.5 * gd
    ss = flash_steady_state_mz(r1, tr_s=0.003, flip_deg=20.0)
    np.testing.assert_allclose(lut.ratio_from_gd(gd), ss / ss[0], rtol=1e-9)


def test_out_of_range_is_clamped_and_flagged_not_wrapped() -> None:
    lut = build_lut(FLASH, t1_0_s=T1_MYO, relaxivity=(R1_REL, R2_REL), gd_max_mM=10.0)
    lo, hi = lut.ratio_range
    gd, oor = lut.gd_from_ratio(np.array([hi * 1.5, hi, 0.5 * (lo + hi), lo * 0.5, np.nan]))
    assert gd[0] == pytest.approx(10.0)
    assert gd[1] == pytest.approx(10.0)
    assert gd[3] == pytest.approx(lut.gd_mM[0])
    assert np.isnan(gd[4])
    np.testing.assert_array_equal(oor, [True, False, False, True, False])


def test_non_monotonic_table_is_cut_where_the_signal_turns_over() -> None:
    # bSSFP with a large r2: past some Gd the T2 loss wins and the signal falls again.
    seq = dataclasses.replace(FLASH, readout="ssfp", flip_deg=60.0, n_rampup=5)
    lut = build_lut(seq, t1_0_s=T1_MYO, tissue_r2_0=20.0, relaxivity=(R1_REL, 150.0))
    assert not lut.monotonic
    assert 0 < lut.gd_valid_max_mM < 20.0
    peak = np.argmax(lut.ratio)
    assert lut.gd_mM[peak] == pytest.approx(lut.gd_valid_max_mM)
    _, oor = lut.gd_from_ratio(np.array([lut.ratio.max() * 1.01]))
    assert oor.all()


def test_sensitivity_falls_as_the_signal_saturates() -> None:
    lut = build_lut(FLASH, t1_0_s=T1_MYO, relaxivity=(R1_REL, R2_REL))
    s = lut.sensitivity(np.array([0.0, 1.0, 4.0, 8.0]))
    assert s[0] == pytest.approx(1.0)
    assert np.all(np.diff(s) < 0)


def test_bad_options_say_what_to_do() -> None:
    with pytest.raises(ValueError, match="PD flip angle"):
        build_lut(dataclasses.replace(FLASH, pd_flip_deg=float("nan")), t1_0_s=1.0)
    with pytest.raises(ValueError, match="reference"):
        build_lut(FLASH, t1_0_s=1.0, reference="air")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="t1_0_s"):
        build_lut(FLASH, t1_0_s=-1.0)
