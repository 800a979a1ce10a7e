"""Fermi fit: the fast kernel (``_fermi_fast``) against the shared LM kernel, side by side.

Curves (60 frames, 1 s, sigma 0.02 mmol/L): 2CXM truth as in fit_throughput.py (gamma-variate
AIF), and Fermi truth (Fb 0.6-3.4 mL/min/g, alpha 0.05-0.8 1/s, shoulder 0.5-6 s, delay 0-2 s)
convolved on a 0.01 s grid with a population AIF. Prints

* curves/s of both fits on the same problem, interleaved (new, old, new, old, ...) with the
  medians of the runs and the median of the per-run ratios (the machine is shared: absolute
  rates drift, the ratio much less), and the load average before and after;
* MBF agreement of the new fit with the old (median |difference|, median difference, 95th
  percentile), the RSS ratio, and both against a careful fit (old kernel, 200 iterations);
* MBF error against the truth for both fits;
* with ``--cold``: the numba compile time of a cold cache (a fresh NUMBA_CACHE_DIR in a
  subprocess, so nobody's cache is touched).

    .venv/bin/python benchmarks/fermi_throughput.py [--n 20000] [--n-old 2000] [--runs 5]

Measured 2026-11-24, session 3 (2 threads, 2-core machine, load average 0.8-0.9; medians of
5 interleaved runs) after the vectorised residue divisions, the whole-vector dot products, the
end-term pass over the nodes and the start basis to 0.3 %:

    2CXM curves   new 112,475/s (kinetics.fit 107,123/s), old LM 4,048/s, ratio 27.8; MBF new
                  vs old med|d| 0.00028, median +0.00002; RSS new/old median 0.99988
    Fermi curves  new 117,431/s (kinetics.fit 113,743/s), old LM 12,120/s, ratio 9.7; MBF new vs
                  old med|d| 0.00010, median +0.00001; RSS new/old median 0.9999996;
                  vs truth med|err| 0.0352 bias +0.0018 (first 2,000: new 0.0351 +0.0027,
                  old LM 0.0349 +0.0027)
    cold compile  fast fit 24.6 s (16.3 s before the fast kernel), predict 2.3 s

Session 2 (load average 1.7-1.9): 2CXM curves 92,388/s, Fermi curves 95,495/s, the same MBF.

fit_throughput.py --compare f0b14ff --models fermi --rounds 5 (the end of session 2; 20,000
curves, 2 threads, alternating processes): 110,945 vs 91,833 curves/s wall (ratio 1.21, CPU
time 1.20); with --jitter 0.1 (uneven sample times, the general path): 86,477 vs 67,545
(ratio 1.27, CPU time 1.29).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from fit_throughput import HCT, make_curves

TO_ML_MIN_G = 60.0 / 1.05


def fermi_curves(n: int, seed: int = 1, sigma: float = 0.02):
    """Fermi tissue curves from a 0.01 s convolution; returns t, blood AIF, noisy, fb."""
    from scipy.signal import fftconvolve

    from qperfusion import kinetics

    rng = np.random.default_rng(seed)
    dt = 0.01
    fine = np.arange(0.0, 70.0, dt)
    cb = kinetics.population_aif(fine, onset=5.0)
    fb = rng.uniform(0.01, 0.06, n)
    alpha = np.exp(rng.uniform(np.log(0.05), np.log(0.8), n))
    beta = np.exp(-alpha * rng.uniform(0.5, 6.0, n))
    delay = rng.uniform(0.0, 2.0, n)
    t = np.arange(0.0, 60.0, 1.0) + 0.3
    noisy = np.empty((n, t.size))
    for start in range(0, n, 1000):  # bounded memory for the 0.01 s truth
        sl = slice(start, start + 1000)
        tt = fine[None, :] - delay[sl, None]
        with np.errstate(over="ignore"):
            r = (
                fb[sl, None]
                * (1 + beta[sl, None])
                / (1 + beta[sl, None] * np.exp(alpha[sl, None] * tt))
            )
        r[tt < 0] = 0.0
        full = fftconvolve(r, cb[None, :], axes=1)[:, : fine.size] * dt
        noisy[sl] = np.stack([np.interp(t, fine, row) for row in full])
    noisy += rng.normal(0.0, sigma, noisy.shape)
    return t, np.interp(t, fine, cb), noisy, fb


def load() -> str:
    return "load average " + ", ".join(f"{v:.2f}" for v in os.getloadavg())


def cold_compile() -> None:
    """Time the first fast and the first shared-kernel Fermi fit with an empty numba cache."""
    code = (
        "import time; t0 = time.perf_counter(); import numpy as np; "
        "from qperfusion import kinetics; "
        "from qperfusion.kinetics.engine import make_problem; "
        "from qperfusion.kinetics._parametric import ParametricModel; "
        "t = np.arange(60.) + .3; a = kinetics.population_aif(t, onset=5.); "
        "c = np.convolve(a, np.exp(-t / 10))[:60] * 0.02; c = np.tile(c, (8, 1)); "
        "m = kinetics.get_model('fermi'); "
        "pb = make_problem(c, aif=a, times=t, hematocrit=.42, aif_kind='blood', min_delay=-2); "
        "t1 = time.perf_counter(); m.fit_batch(pb, dict(m.default_bounds)); "
        "t2 = time.perf_counter(); m.predict({k: np.ones(2) for k in m.param_names}, pb); "
        "t3 = time.perf_counter(); ParametricModel.fit_batch(m, pb, dict(m.default_bounds)); "
        "t4 = time.perf_counter(); "
        "print(f'  fast fit {t2 - t1:.1f} s + predict {t3 - t2:.1f} s; "
        "shared LM kernel (old) {t4 - t3:.1f} s; imports {t1 - t0:.1f} s')"
    )
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
    print("cold numba compile (empty cache):")
    print(out.stdout.rstrip())


def compare(label: str, t, aif, curves, mbf_true, args) -> None:
    from qperfusion import kinetics
    from qperfusion.kinetics._parametric import ParametricModel
    from qperfusion.kinetics.engine import make_problem

    model = kinetics.get_model("fermi")
    bounds = dict(model.default_bounds)
    pb = make_problem(curves, aif=aif, times=t, hematocrit=HCT, aif_kind="blood", min_delay=-2)
    n_old = min(args.n_old, curves.shape[0])
    pb_old = pb.with_curves(curves[:n_old])
    model.fit_batch(pb.with_curves(curves[:16]), bounds)  # compile / warm
    ParametricModel.fit_batch(model, pb.with_curves(curves[:16]), bounds)
    print(f"\n{label}: {curves.shape[0]} curves (old kernel: first {n_old}), {load()}")
    new_rates, old_rates, ratios = [], [], []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        new = model.fit_batch(pb, bounds)
        rn = curves.shape[0] / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        old = ParametricModel.fit_batch(model, pb_old, bounds)
        ro = n_old / (time.perf_counter() - t0)
        new_rates.append(rn)
        old_rates.append(ro)
        ratios.append(rn / ro)
    t0 = time.perf_counter()
    kinetics.fit("fermi", curves, aif=aif, times=t, hematocrit=HCT)
    engine_rate = curves.shape[0] / (time.perf_counter() - t0)
    print(
        f"  curves/s  new {np.median(new_rates):9.0f}  old {np.median(old_rates):7.0f}  "
        f"ratio {np.median(ratios):6.1f}  (medians of {args.runs} interleaved runs; ratios "
        f"{', '.join(f'{r:.1f}' for r in ratios)})"
    )
    print(f"  new through kinetics.fit (engine included): {engine_rate:9.0f} curves/s; {load()}")

    n_ref = min(args.n_ref, n_old)
    ref = ParametricModel.fit_batch(model, pb.with_curves(curves[:n_ref]), bounds, max_iter=200)
    fb_new, fb_old, fb_ref = new.params[:n_old, 0], old.params[:, 0], ref.params[:, 0]
    d = fb_new / fb_old - 1
    ratio = new.rss[:n_old] / old.rss
    print(
        f"  new vs old MBF: med|d| {np.median(np.abs(d)):.5f}  median {np.median(d):+.5f}  "
        f"p95|d| {np.percentile(np.abs(d), 95):.4f}   RSS new/old median {np.median(ratio):.7f}, "
        f"better by >1e-6: {np.mean(ratio < 1 - 1e-6):.3f}, worse: {np.mean(ratio > 1 + 1e-6):.3f}"
    )
    for name, fb, rss in (
        ("new", fb_new[:n_ref], new.rss[:n_ref]),
        ("old", fb_old[:n_ref], old.rss[:n_ref]),
    ):
        dd = fb / fb_ref - 1
        print(
            f"  {name} vs careful (old kernel, 200 iterations, {n_ref} curves): "
            f"med|d| {np.median(np.abs(dd)):.5f}  median {np.median(dd):+.5f}  RSS ratio "
            f"median {np.median(rss / ref.rss):.7f}"
        )
    for name, fb, truth in (
        (f"new ({curves.shape[0]})", new.params[:, 0], mbf_true),
        (f"new (first {n_old})", fb_new, mbf_true[:n_old]),
        (f"old (first {n_old})", fb_old, mbf_true[:n_old]),
    ):
        rel = fb * TO_ML_MIN_G / truth - 1
        print(
            f"  {name} MBF vs truth: med|err| {np.median(np.abs(rel)):.4f}  "
            f"bias {np.median(rel):+.4f}"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000, help="curves for the fast fit")
    parser.add_argument("--n-old", type=int, default=2000, help="curves for the old kernel")
    parser.add_argument("--n-ref", type=int, default=1000, help="curves for the careful fit")
    parser.add_argument("--runs", type=int, default=5, help="interleaved timing runs")
    parser.add_argument("--threads", type=int, default=2, help="numba threads")
    parser.add_argument("--cold", action="store_true", help="also time a cold numba compile")
    args = parser.parse_args(argv)

    import numba

    numba.set_num_threads(args.threads)
    print(f"{args.threads} numba threads; {load()}")
    if args.cold:
        cold_compile()
    t, aif, _, noisy, mbf = make_curves(args.n, "gamma")
    compare("2CXM-generated curves", t, aif, noisy, mbf, args)
    t, aif, noisy, fb = fermi_curves(args.n)
    compare("Fermi-generated curves", t, aif, noisy, fb * TO_ML_MIN_G, args)


if __name__ == "__main__":
    main()
