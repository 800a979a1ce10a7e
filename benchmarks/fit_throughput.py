"""Fit throughput and MBF accuracy per kinetic model on 60-frame myocardial curves.

Curves: 2CXM truth integrated on a 0.01 s grid (gamma-variate or Parker AIF, Hct 0.42), blood
flow 0.5–4.5 mL/min/g, PS 0.9–2.1 mL/min/mL, vp 0.04–0.08, ve 0.15–0.25, delay 0–2 s, sampled
every 1 s, σ = 0.02 mmol/L. Prints curves/s per model with N numba threads (default 2), the
same for scipy.optimize.least_squares per curve (a numpy forward model, run in this process),
their ratio, and the median |relative MBF error| and median bias against the truth. Then the
AIF-interpolation floor (noise-free 2CXM fits, linear vs cubic AIF) and the effect of the
2CXM priors.

    .venv/bin/python benchmarks/fit_throughput.py [--n 20000] [--threads 2] [--aif parker]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

HCT = 0.42


def make_curves(n: int, aif_name: str, seed: int = 0, max_delay: float = 2.0):
    from qperfusion import kinetics

    rng = np.random.default_rng(seed)
    fine = np.arange(0.0, 70.0, 0.01)
    if aif_name == "parker":
        cb = kinetics.population_aif(fine, onset=5.0)
    else:
        cb = kinetics.gamma_variate_aif(fine, onset=5.0, time_to_peak=4.0)
    mbf = rng.uniform(0.5, 4.5, n)
    truth = {
        "fp": mbf * 1.05 / 60.0 * (1.0 - HCT),
        "ps": rng.uniform(0.015, 0.035, n),
        "vp": rng.uniform(0.04, 0.08, n),
        "ve": rng.uniform(0.15, 0.25, n),
        "delay": rng.uniform(0.0, max_delay, n),
    }
    t = np.arange(0.0, 60.0, 1.0) + 0.3
    idx = np.round(t / 0.01).astype(int)
    clean = np.empty((n, t.size))
    for start in range(0, n, 2000):  # bounded memory for the 0.01 s truth
        sl = slice(start, start + 2000)
        clean[sl] = kinetics.tcxm_conc(
            fine, cb / (1 - HCT), **{k: v[sl] for k, v in truth.items()}
        )[:, idx]
    noisy = clean + rng.normal(0.0, 0.02, clean.shape)
    return t, cb[idx], clean, noisy, mbf


def accuracy(mbf_fit: np.ndarray, mbf: np.ndarray) -> tuple[float, float]:
    rel = mbf_fit / mbf - 1.0
    return float(np.nanmedian(np.abs(rel))), float(np.nanmedian(rel))


def scipy_fit(
    model: str, curves: np.ndarray, t: np.ndarray, aif_blood: np.ndarray
) -> tuple[float, np.ndarray]:
    """least_squares (trf, bounds) per curve with a numpy forward model; returns (s, mbf)."""
    from scipy.optimize import least_squares

    from qperfusion.kinetics import fermi_residue, tcxm_conc

    plasma = aif_blood / (1 - HCT)
    dt = float(t[1] - t[0])
    if model == "2cxm":

        def forward(p):
            return tcxm_conc(t, plasma, fp=p[0], ps=p[1], vp=p[2], ve=p[3], delay=p[4])

        x0 = [0.02, 0.02, 0.06, 0.2, 1.0]
        bounds = ([0, 0, 0.001, 0.001, -2], [0.2, 0.2, 1, 1, 8])
        to_mbf = 60 / 1.05 / (1 - HCT)
    else:

        def forward(p):
            r = fermi_residue(t - t[0], fb=p[0], alpha=p[1], beta=p[2])
            y = np.convolve(aif_blood, r)[: t.size] * dt
            return np.interp(t - p[3], t, y, left=0.0)

        x0 = [0.03, 0.3, 0.1, 1.0]
        bounds = ([0, 0.01, 1e-4, -2], [0.3, 5, 100, 8])
        to_mbf = 60 / 1.05
    out = np.empty(len(curves))
    t0 = time.perf_counter()
    for i, c in enumerate(curves):
        res = least_squares(lambda p, c=c: forward(p) - c, x0, bounds=bounds, method="trf")
        out[i] = res.x[0] * to_mbf
    return time.perf_counter() - t0, out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000, help="curves per timing run")
    parser.add_argument("--threads", type=int, default=2, help="numba threads")
    parser.add_argument("--aif", choices=("gamma", "parker"), default="gamma")
    parser.add_argument("--scipy-n", type=int, default=30, help="curves for the scipy baseline")
    parser.add_argument("--models", nargs="*", default=None)
    args = parser.parse_args(argv)

    import numba

    from qperfusion import kinetics

    numba.set_num_threads(args.threads)
    t, aif, clean, noisy, mbf = make_curves(args.n, args.aif)
    print(
        f"{args.n} curves x {t.size} frames, {args.aif} AIF, sigma 0.02 mmol/L, "
        f"{args.threads} threads"
    )
    print(
        f"{'model':10s} {'ours/s':>10s} {'scipy/s':>9s} {'ratio':>8s} {'med|err|':>9s} {'bias':>7s}"
    )
    for name in args.models or kinetics.MODELS:
        try:
            kinetics.fit(name, noisy[:16], aif=aif, times=t, hematocrit=HCT)  # compile / warm
            times = []
            for _ in range(3):
                t0 = time.perf_counter()
                fit = kinetics.fit(name, noisy, aif=aif, times=t, hematocrit=HCT)
                times.append(time.perf_counter() - t0)
        except Exception as exc:  # a model under construction must not stop the others
            print(f"{name:10s} failed: {type(exc).__name__}: {str(exc).splitlines()[0][:80]}")
            continue
        rate = args.n / float(np.median(times))
        err, bias = (np.nan, np.nan)
        if kinetics.get_model(name).flow_param is not None:
            err, bias = accuracy(fit.mbf_ml_min_g, mbf)
        line = f"{name:10s} {rate:10.0f}"
        if name in ("2cxm", "fermi"):
            secs, sc_mbf = scipy_fit(name, noisy[: args.scipy_n], t, aif)
            sc_rate = args.scipy_n / secs
            sc_err, sc_bias = accuracy(sc_mbf, mbf[: args.scipy_n])
            line += f" {sc_rate:9.1f} {rate / sc_rate:8.0f}"
        else:
            line += f" {'-':>9s} {'-':>8s}"
        if kinetics.get_model(name).flow_param is None:
            line += f" {'(no flow)':>9s}"
        else:
            line += f" {err:9.3f} {bias:+7.3f}"
        print(line)
        if name in ("2cxm", "fermi"):
            print(
                f"{'  scipy':10s} {'':10s} {'':9s} {'':8s} {sc_err:9.3f} {sc_bias:+7.3f}"
                f"  (same curves, first {args.scipy_n})"
            )

    m = min(args.n, 2000)
    print("\nAIF interpolation floor (noise-free 2CXM, median MBF bias):")
    for method in ("linear", "pchip", "cubic"):
        fit = kinetics.fit(
            "2cxm", clean[:m], aif=aif, times=t, hematocrit=HCT, aif_interpolation=method
        )
        err, bias = accuracy(fit.mbf_ml_min_g, mbf[:m])
        print(f"  {method:7s} bias {bias:+.4f}  med|err| {err:.4f}")
    print("\n2CXM priors (noisy curves):")
    for label, prior in (("default prior", "default"), ("no prior (plain LS)", None)):
        kw = {} if prior == "default" else {"prior": None}
        fit = kinetics.fit("2cxm", noisy[:m], aif=aif, times=t, hematocrit=HCT, **kw)
        err, bias = accuracy(fit.mbf_ml_min_g, mbf[:m])
        print(f"  {label:20s} med|err| {err:.3f}  bias {bias:+.3f}")


if __name__ == "__main__":
    main()
