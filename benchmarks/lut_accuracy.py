"""Signal → [Gd] accuracy: conversion error vs [Gd] per readout, and the T2* effect on the AIF.

Run: ``.venv/bin/python benchmarks/lut_accuracy.py [--no-mbf]``

1. Conversion error vs [Gd] (0–8 mmol/L myocardium, 0–10 mmol/L blood) for the phantom's own
   protocols (FLASH and bSSFP myocardium, dual-echo FLASH AIF), on signals made with the shared
   forward model (exact truth, no PSF, float signals).
2. The digital phantom (no noise, no motion): myocardial error where partial volume does not
   enter, AIF error with and without the dual-echo T2* correction (peak, area).
3. The T2* effect on MBF: Fermi and 2CXM fits of the segment-mean curves of the phantom's
   myocardial core with the corrected and the uncorrected AIF, against the phantom's true MBF
   (and a fit of the true curves, which shows what the kinetic model itself recovers).
4. Speed: median time of a table build and of series_to_gd on a phantom state.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import ndimage

from qperfusion import constants, phantom, physics
from qperfusion.phantom import protocol


def _forward_ratio(seq, gd: np.ndarray, t1: float, t2: float) -> np.ndarray:
    r1, r2 = physics.relaxivity(seq.agent, seq.field_t)
    kw = dict(
        readout=seq.readout,
        tr_s=seq.tr_s,
        lines_to_center=seq.lines_to_center,
        n_rampup=seq.n_rampup,
    )
    sr = physics.readout_signal(
        1 / t1 + r1 * gd, td_s=seq.td_s, flip_deg=seq.flip_deg, r2=1 / t2 + r2 * gd, **kw
    )
    pd = physics.readout_signal(1 / t1, td_s=None, flip_deg=seq.pd_flip_deg, r2=1 / t2, **kw)
    return sr / pd


def error_vs_gd() -> None:
    print("\n== 1. LUT conversion error vs [Gd] (forward-model signals, exact truth)")
    cases = [
        ("myocardium flash", protocol.myo_sequence("flash"), "myocardium", 8.0),
        ("myocardium ssfp", protocol.myo_sequence("ssfp"), "myocardium", 8.0),
        ("AIF blood flash", protocol.aif_sequence(), "blood", 10.0),
    ]
    grid = np.array([0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 6.0, 8.0, 10.0])
    print(f"{'readout':18s} " + " ".join(f"{g:>8.2f}" for g in grid) + "   (mmol/L)")
    for name, seq, tissue, gmax in cases:
        t1 = constants.T1_NATIVE_S[tissue][1.5]
        t2 = constants.T2_NATIVE_S[tissue][1.5]
        lut = physics.build_lut(seq, t1_0_s=t1, tissue_r2_0=1 / t2)
        g = grid[grid <= gmax]
        got, _ = lut.gd_from_ratio(_forward_ratio(seq, g, t1, t2))
        rel = np.abs(got - g) / g
        sens = lut.sensitivity(g)
        print(f"{name:18s} " + " ".join(f"{r:8.1e}" for r in rel) + "   rel. error")
        print(f"{'':18s} " + " ".join(f"{s:8.3f}" for s in sens) + "   slope / slope(0)")
        # error a 1 % PD (gain) error causes, i.e. how much the readout amplifies errors
        got1, _ = lut.gd_from_ratio(1.01 * _forward_ratio(seq, g, t1, t2))
        print(
            f"{'':18s} "
            + " ".join(f"{r:8.3f}" for r in (got1 - g) / g)
            + "   rel. error from a 1 % PD error"
        )


def phantom_accuracy(fit_mbf: bool) -> None:
    print("\n== 2./3. Digital phantom (seed 3, LAD ischaemia, no noise, no motion)")
    for readout in ("flash", "ssfp"):
        study = phantom.simulate_study(
            seed=3, ischemia="lad", motion="none", readout=readout, noise=False
        )
        for state, st in study.states.items():
            series = st.acquisition.myocardium
            conv = physics.series_to_gd(series)
            truth = st.gd_myo[..., series.pd_frames :].astype(float)
            myo = (st.labels >= 1) & (st.labels <= 16)
            size = (1, 5, 5, 1)
            spread = ndimage.maximum_filter(truth, size=size) - ndimage.minimum_filter(
                truth, size=size
            )
            flat = myo & (spread.max(-1) <= 0.05 * truth.max(-1))
            err = np.abs(conv.gd[flat] - truth[flat]) / truth[flat].max(-1, keepdims=True)
            all_err = np.abs(conv.gd[myo] - truth[myo]) / truth[myo].max(-1, keepdims=True)
            print(
                f"{readout:5s} {state:6s} myocardium: flat pixels {flat.sum():4d}, max |err| "
                f"{100 * err.max():.2f} % of peak; all {myo.sum()} pixels (PSF mixing) median "
                f"{100 * np.median(all_err.max(-1)):.2f} %, max {100 * all_err.max():.1f} %"
            )
            aif_t = st.gd_blood_aif[st.acquisition.aif.pd_frames :]
            corr = physics.aif_to_gd(st.acquisition.aif, st.aif_mask)
            t = corr.times_s
            area_t = np.trapezoid(aif_t, t)
            for label, curve in (
                ("T2*-corrected", corr.gd_blood),
                ("uncorrected", corr.gd_blood_uncorrected),
            ):
                print(
                    f"      AIF {label:14s}: peak {curve.max():.3f} vs true {aif_t.max():.3f}"
                    f" ({100 * (curve.max() / aif_t.max() - 1):+.1f} %), area "
                    f"{100 * (np.trapezoid(curve, t) / area_t - 1):+.1f} %, max |err| "
                    f"{100 * np.abs(curve - aif_t).max() / aif_t.max():.2f} % of peak"
                )
            if fit_mbf and readout == "flash":
                _mbf_effect(st, conv, corr)


def _mbf_effect(st, conv, corr) -> None:
    """Segment-mean curves of the myocardial core (2 px from any border: the phantom's PSF
    mixes LV blood into the endocardial edge), fitted with the converted curves and corrected
    or uncorrected AIF, and with the true curves and AIF as the reference."""
    from qperfusion import kinetics

    series = st.acquisition.myocardium
    aif_true = st.gd_blood_aif[st.acquisition.aif.pd_frames :]
    truth = st.gd_myo[..., series.pd_frames :].astype(float)
    rows, rows_true, times, true_mbf = [], [], [], []
    for s in range(series.n_slices):
        myo = (st.labels[s] >= 1) & (st.labels[s] <= 16)
        core = ndimage.binary_erosion(myo, iterations=2)
        for seg in np.unique(st.labels[s][core]):
            sel = (st.labels[s] == seg) & core
            rows.append(np.nanmean(conv.gd[s][sel], axis=0))
            rows_true.append(truth[s][sel].mean(axis=0))
            times.append(conv.times_s[s])
            true_mbf.append(np.nanmean(st.params["mbf_ml_min_g"][s][sel]))
    true_mbf = np.array(true_mbf)
    for model in ("fermi", "2cxm"):
        out = {}
        for label, aif, curves in (
            ("corr", corr.gd_blood, rows),
            ("uncorr", corr.gd_blood_uncorrected, rows),
            ("truth", aif_true, rows_true),
        ):
            out[label] = np.array(
                [
                    kinetics.fit(
                        model,
                        row[None],
                        aif=aif,
                        times=t,
                        aif_times=corr.times_s,
                        hematocrit=st.acquisition.hematocrit,
                    ).mbf_ml_min_g[0]
                    for row, t in zip(curves, times, strict=True)
                ]
            )
        ratio = out["uncorr"] / out["corr"]
        print(
            f"      MBF {model:5s} ({len(rows)} core segments): fit of true curves/true "
            f"{np.median(out['truth'] / true_mbf):.3f}, converted+T2*-corrected AIF/true "
            f"{np.median(out['corr'] / true_mbf):.3f}, uncorrected AIF/true "
            f"{np.median(out['uncorr'] / true_mbf):.3f}; skipping T2* changes MBF by "
            f"{100 * (np.median(ratio) - 1):+.1f} % (range {100 * (ratio.min() - 1):+.1f} … "
            f"{100 * (ratio.max() - 1):+.1f} %)"
        )


def speed() -> None:
    print("\n== 4. Speed (median of 5)")
    seq = protocol.myo_sequence("flash")
    tb = []
    for _ in range(5):
        t0 = time.perf_counter()
        physics.build_lut(seq, t1_0_s=1.0)
        tb.append(time.perf_counter() - t0)
    study = phantom.simulate_study(seed=3, ischemia="lad", motion="none", noise=True)
    series = study.states["stress"].acquisition.myocardium
    tc = []
    for _ in range(5):
        t0 = time.perf_counter()
        physics.series_to_gd(series)
        tc.append(time.perf_counter() - t0)
    n = series.data.size
    print(f"build_lut (FLASH, 4001 points): {1e3 * np.median(tb):.1f} ms")
    print(
        f"series_to_gd {series.data.shape}: {np.median(tc):.2f} s "
        f"({1e9 * np.median(tc) / n:.0f} ns per pixel-frame)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-mbf", action="store_true", help="skip the kinetic fits")
    args = ap.parse_args()
    error_vs_gd()
    phantom_accuracy(fit_mbf=not args.no_mbf)
    speed()


if __name__ == "__main__":
    main()
