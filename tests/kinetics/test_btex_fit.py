"""BTEX fit through the engine: parameter recovery, units of MBF, bad pixels, SD calibration,
and the real NIH stress/rest patches (validation data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qperfusion import kinetics
from qperfusion.constants import MYOCARDIAL_DENSITY_G_ML
from qperfusion.errors import FitInputError
from qperfusion.kinetics.btex import BTEXModel, btex_conc

HCT = 0.42
T = np.arange(60) * 0.5
_U = (T - 8.0).clip(0)
BLOOD_AIF = 24.0 * (_U / 2.5) ** 3 * np.exp(-_U / 1.2) + 0.3 * (1 - np.exp(-(T - 14.0).clip(0) / 4))
PLASMA_AIF = BLOOD_AIF / (1 - HCT)


def _truth(n: int, seed: int) -> dict[str, np.ndarray]:
    """Parameters inside the default (NIH grid) bounds."""
    rng = np.random.default_rng(seed)
    return {
        "fp": rng.uniform(0.8, 5.0, n) / 60,
        "ps": rng.uniform(0.5, 2.5, n) / 60,
        "vp": rng.uniform(0.045, 0.095, n),
        "ve": rng.uniform(0.12, 0.4, n),
        "delay": rng.uniform(0.0, 2.0, n),
    }


def _fit(curves: np.ndarray, **kw):
    return kinetics.fit(
        "btex", curves, aif=BLOOD_AIF, times=T, hematocrit=HCT, aif_interpolation="linear", **kw
    )


def test_recovers_noise_free_parameters() -> None:
    truth = _truth(40, seed=1)
    fit = _fit(btex_conc(T, PLASMA_AIF, **truth))
    assert fit.success.all()
    for name in ("fp", "ps", "vp", "ve", "delay"):
        err = np.abs(fit.params[name] - truth[name]) / np.abs(truth[name]).clip(0.05)
        # the table search + multi-start refinement finds the global minimum for nearly all
        assert np.median(err) < 1e-3, name
        assert np.mean(err < 0.02) >= 0.9, name
    misfit = np.max(np.abs(fit.predict() - btex_conc(T, PLASMA_AIF, **truth)), axis=1)
    assert np.mean(misfit < 1e-3) >= 0.9


def test_mbf_is_blood_flow_per_gram_and_fp_is_plasma_flow() -> None:
    truth = {k: v[:3] for k, v in _truth(3, seed=2).items()}
    fit = _fit(btex_conc(T, PLASMA_AIF, **truth))
    per_gram = 60.0 / MYOCARDIAL_DENSITY_G_ML
    np.testing.assert_allclose(fit.fp_ml_min_g, fit.params["fp"] * per_gram)
    np.testing.assert_allclose(fit.mbf_ml_min_g, fit.params["fp"] / (1 - HCT) * per_gram)


def test_bad_pixel_gives_nan_and_leaves_the_others_alone() -> None:
    truth = {k: v[:4] for k, v in _truth(4, seed=3).items()}
    curves = btex_conc(T, PLASMA_AIF, **truth)
    curves[1, 10] = np.nan
    fit = _fit(curves)
    assert fit.success.tolist() == [True, False, True, True]
    assert np.isnan(fit.params["fp"][1])
    assert np.isnan(fit.sd["fp"][1])
    alone = _fit(curves[[0, 2, 3]])
    np.testing.assert_allclose(fit.params["fp"][[0, 2, 3]], alone.params["fp"], rtol=1e-12)


def test_sd_from_the_jacobian_matches_the_scatter_of_repeated_fits() -> None:
    # a well-conditioned case (delay fixed): the reported SD must match the empirical spread
    rng = np.random.default_rng(4)
    case = {"fp": 2.0 / 60, "ps": 1.2 / 60, "vp": 0.05, "ve": 0.2, "delay": 0.8}
    clean = btex_conc(T, PLASMA_AIF, **case)
    noisy = clean + rng.normal(0.0, 0.005, (300, T.size))
    fit = _fit(noisy, bounds={"delay": (0.8, 0.8)})
    assert fit.success.mean() > 0.98
    ok = fit.success
    ratio = np.median(fit.sd["fp"][ok]) / np.std(fit.params["fp"][ok])
    assert 0.6 < ratio < 1.6
    assert abs(np.median(fit.params["fp"][ok]) / case["fp"] - 1) < 0.05


def test_recovers_parameters_of_the_segmented_capillary() -> None:
    from qperfusion.kinetics._btex_segments import segment_curves_batch, segment_nodes

    truth = _truth(12, seed=5)
    params = np.stack([truth[k] for k in ("fp", "ps", "vp", "ve", "delay")], axis=-1)
    curves = segment_curves_batch(params, T, T, PLASMA_AIF, 0.5, segment_nodes(20))
    fit = _fit(curves, segments=20)
    assert fit.success.all()
    err = np.abs(fit.params["fp"] / truth["fp"] - 1)
    assert np.median(err) < 1e-3
    assert np.mean(err < 0.02) >= 0.8
    # predict() uses the segmented model the curves were fitted with
    assert np.median(np.max(np.abs(fit.predict() - curves), axis=1)) < 1e-3
    # the plug-flow fit of the same curves reads Fp low
    plug = _fit(curves)
    assert np.median(plug.params["fp"] / truth["fp"]) < 0.97


def test_bad_segments_option_raises() -> None:
    curves = btex_conc(T, PLASMA_AIF, fp=0.03, ps=0.02, vp=0.05, ve=0.2)[None]
    with pytest.raises(FitInputError, match="segments"):
        _fit(curves, segments=0)
    with pytest.raises(FitInputError, match="segments"):
        _fit(curves, segments=2.5)


def test_nih_inputs_follow_nih_conventions() -> None:
    from qperfusion.kinetics.btex import nih_inputs

    curves = btex_conc(T, PLASMA_AIF, fp=0.03, ps=0.02, vp=0.05, ve=0.2)[None] + 0.1
    aif = BLOOD_AIF + 0.2
    before = (curves.copy(), aif.copy())
    tissue, cin, t = nih_inputs(curves, aif, T, 17)
    assert tissue.shape == (1, T.size - 17)
    assert cin.shape == t.shape == (T.size - 17,)
    np.testing.assert_array_equal(t, T[17:])
    # pre-bolus mean removed from both; the AIF also loses its value at the first kept frame
    np.testing.assert_allclose(tissue, curves[:, 17:] - curves[:, :17].mean())
    np.testing.assert_allclose(cin, BLOOD_AIF[17:] - BLOOD_AIF[17])
    np.testing.assert_array_equal(curves, before[0])  # inputs untouched
    np.testing.assert_array_equal(aif, before[1])
    for foot in (0, T.size - 2):
        with pytest.raises(FitInputError, match="foot"):
            nih_inputs(curves, aif, T, foot)


def test_unknown_option_lists_the_valid_ones() -> None:
    curves = btex_conc(T, PLASMA_AIF, fp=0.03, ps=0.02, vp=0.05, ve=0.2)[None]
    with pytest.raises(FitInputError, match="n_starts"):
        _fit(curves, n_start=2)


# ---------------------------------------------------------------------------------------------
# Real data: NIH QPerf stress patch with the published BTEX map (Xue et al., MRM 2020)

RING = np.load(Path(__file__).parents[1] / "data" / "nih_stress_ring_mask.npy")


def _load(path):
    """Curves (rows, cols, T), blood AIF (T,) and times (s) of a patch, with the pre-bolus
    baselines removed as NIH's pipeline does (mean of the frames before the AIF foot)."""
    from scipy.io import loadmat

    mat = loadmat(path)
    data = np.asarray(mat["data"], dtype=float)
    aif = np.asarray(mat["aif"], dtype=float).ravel()
    foot = int(mat["foot"][0, 0])
    data = data - data[..., :foot].mean(axis=-1, keepdims=True)
    aif = aif - aif[:foot].mean()
    return data, aif, 0.5 * np.arange(aif.size)


@pytest.fixture(scope="module")
def nih_stress(validation_dir):
    folder = validation_dir / "qperf_nih"
    data, aif, t = _load(folder / "perf_data_stress.mat")
    # the published map is stored left-right flipped with respect to the data arrays (its
    # within-ring correlation with peak enhancement is 0.72 flipped, ~0 as stored); the ring
    # mask is kept in the data orientation
    reference = np.load(folder / "stress_mbf_reference.npy")[:, ::-1]
    fit = kinetics.fit("btex", data[RING], aif=aif, times=t, hematocrit=HCT)
    fermi = kinetics.fit("fermi", data[RING], aif=aif, times=t, hematocrit=HCT)
    return fit, reference[RING], fermi


def _rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(np.argsort(np.argsort(a)), np.argsort(np.argsort(b)))[0, 1])


@pytest.mark.validation
def test_nih_stress_ring_fits_and_ranks_like_the_published_map(nih_stress) -> None:
    fit, reference, _ = nih_stress
    assert fit.success.mean() > 0.95
    fp_ml_min_ml = fit.params["fp"] * 60.0
    assert 1.0 < np.median(fp_ml_min_ml) < 6.0
    # measured 0.77 (0.56 with vp ≥ 0.01 and raw baselines); Pearson 0.48 (Fp), 0.67 with
    # Fp/(1 − Hct) clipped at 6 as the map is
    assert _rank_correlation(fp_ml_min_ml, reference) > 0.7
    # vp ≥ 0.02 keeps the fit off the Fp → ∞ branch (11 % of these pixels with vp ≥ 0.01)
    assert np.mean(fit.params["fp"] >= 0.99 * BTEXModel.default_bounds["fp"][1]) < 0.05


@pytest.fixture(scope="module")
def nih_like(validation_dir):
    """The stress ring fitted with NIH's published conventions: their inputs (pre-bolus mean
    removed, frames from ``foot`` on, the table AIF minus its first value), their table grid
    as bounds on the plasma-AIF parameters and their 20-segment capillary grid; the flow in
    their convention (blood-AIF flow = Fp/(1 − Hct) per mL of tissue)."""
    from scipy.io import loadmat

    from qperfusion.kinetics.btex import NIH_BOUNDS, NIH_SEGMENTS, nih_inputs

    folder = validation_dir / "qperf_nih"
    mat = loadmat(folder / "perf_data_stress.mat")
    aif = np.asarray(mat["aif"], dtype=float).ravel()
    curves, cin, t = nih_inputs(np.asarray(mat["data"], dtype=float)[RING], aif,
                                0.5 * np.arange(aif.size), int(mat["foot"][0, 0]))
    reference = np.load(folder / "stress_mbf_reference.npy")[:, ::-1][RING]
    fit = kinetics.fit("btex", curves, aif=cin, times=t, hematocrit=HCT,
                       bounds=NIH_BOUNDS, segments=NIH_SEGMENTS)
    return fit, reference


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(np.clip(a, 0, 6), np.clip(b, 0, 6))[0, 1])


@pytest.mark.validation
def test_nih_stress_median_within_5_percent_of_the_published_map(nih_like) -> None:
    fit, reference = nih_like
    assert fit.success.all()
    flow = fit.params["fp"] * 60.0 / (1 - HCT)  # NIH's map is blood-AIF flow per mL
    # measured 3.25 vs 3.32 (ratio 0.978); plug flow 0.94, NIH's bounds on the blood-AIF
    # parameters 1.31, the product's defaults 0.89 (benchmarks/btex_nih.py)
    assert np.median(flow) == pytest.approx(np.median(reference), rel=0.05)
    # measured Pearson 0.83, Spearman 0.84 (product defaults 0.43, 0.62)
    assert _pearson(flow, reference) > 0.80
    assert _rank_correlation(flow, reference) > 0.80
    # the map has no pixel near its 6 mL/min/g ceiling; neither has this fit
    assert np.mean(flow >= 0.99 * 6.0 / (1 - HCT)) < 0.02


@pytest.mark.validation
def test_nih_map_is_blood_aif_flow_not_plasma_flow(nih_like) -> None:
    # the same fit read as plasma flow Fp (or as per-gram mbf_ml_min_g) misses the map
    fit, reference = nih_like
    ratio_fp = np.median(fit.fp_ml_min_g * MYOCARDIAL_DENSITY_G_ML) / np.median(reference)
    ratio_mbf = np.median(fit.mbf_ml_min_g) / np.median(reference)
    assert ratio_fp < 0.6  # measured 0.57
    assert 0.9 < ratio_mbf < 0.95  # measured 0.93: NIH applies no tissue density


@pytest.mark.validation
def test_nih_stress_blood_flow_agrees_with_fermi_deconvolution(nih_stress) -> None:
    # a shape-agnostic check on real data: the initial height of the impulse response (Fermi,
    # blood AIF) is blood flow, so BTEX's Fp/(1 − Hct) must land on it (measured 2.96 vs 3.19)
    fit, _, fermi = nih_stress
    blood = np.median(fit.params["fp"]) / (1 - HCT)
    assert blood == pytest.approx(np.median(fermi.params["fb"]), rel=0.1)


@pytest.mark.validation
def test_nih_rest_patch_gives_a_plausible_rest_flow(validation_dir) -> None:
    data, aif, t = _load(validation_dir / "qperf_nih" / "perf_data.mat")
    # ring drawn around the blood pool of the peak-enhancement map (no published map here); its
    # endocardial edge holds LV blood: those pixels peak with the AIF at ~3× the ring's median
    # enhancement and fit as Fp at its bound, delay 0, vp ≈ 0.1. Keep the myocardial ones.
    ring = np.load(Path(__file__).parents[1] / "data" / "nih_rest_ring_mask.npy")
    curves = data[ring]
    peak = curves.max(axis=1)
    curves = curves[peak < 2.0 * np.median(peak)]  # drops 25 %
    fit = kinetics.fit("btex", curves, aif=aif, times=t, hematocrit=HCT)
    assert fit.success.mean() > 0.95
    # measured 0.60 mL/min/mL (blood 1.03; Fermi blood flow 0.94 on the same pixels); 16 % of
    # them still reach the Fp bound (34 % of the whole ring)
    assert 0.4 < np.median(fit.params["fp"] * 60.0) < 1.0
    assert np.mean(fit.params["fp"] >= 0.99 * BTEXModel.default_bounds["fp"][1]) < 0.25


def test_btex20_is_btex_with_nih_segments() -> None:
    from qperfusion.kinetics.btex import NIH_SEGMENTS

    truth = {k: v[:6] for k, v in _truth(6, seed=4).items()}
    curves = btex_conc(T, PLASMA_AIF, **truth)
    by_option = _fit(curves, segments=NIH_SEGMENTS)
    by_name = kinetics.fit("btex20", curves, aif=BLOOD_AIF, times=T, hematocrit=HCT,
                           aif_interpolation="linear")
    np.testing.assert_allclose(by_name.mbf_ml_min_g, by_option.mbf_ml_min_g, rtol=1e-12)
    np.testing.assert_allclose(by_name.predict(), by_option.predict(), rtol=1e-12, atol=1e-12)
