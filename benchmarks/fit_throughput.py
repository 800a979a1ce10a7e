"""Fit throughput and MBF accuracy per kinetic model on 60-frame myocardial curves.

Curves: 2CXM truth integrated on a 0.01 s grid (gamma-variate or Parker AIF, Hct 0.42), blood
flow 0.5–4.5 mL/min/g, PS 0.9–2.1 mL/min/mL, vp 0.04–0.08, ve 0.15–0.25, delay 0–2 s, sampled
every 1 s, σ = 0.02 mmol/L. Prints curves/s per model with N numba threads (default 2), the
same for scipy.optimize.least_squares per curve (a numpy forward model, run in this process),
their ratio, and the median |relative MBF error| and median bias against the truth. Then the
AIF-interpolation floor (noise-free 2CXM fits, linear vs cubic AIF) and the effect of the
2CXM priors.

``--compare REF`` times the first model (2cxm) against git revision REF instead (its ``src/``
extracted by ``git archive`` into the temp folder): child processes alternate between the two
trees, 3 timed fits each after a warm-up, and it prints wall and CPU-time rates and their
ratios, since the shared machine's speed drifts between runs.

    .venv/bin/python benchmarks/fit_throughput.py [--n 20000] [--threads 2] [--aif parker]
    .venv/bin/python benchmarks/fit_throughput.py --compare 3b8eaae [--rounds 3] [--jitter 0.1]

Measured (2026-11-24, 2 shared cores, load average 3–4.5 from other users; 20,000 curves,
2 threads, medians of 3 alternating rounds) for the 2CXM kernel rework (analytic Jacobian,
shared AIF basis, one multiply-add per recursion step, vectorised template search, stop on
the predicted decrease) against 3b8eaae, the forward-difference kernel:

    2cxm   new 26,559 curves/s wall, 80,000 per CPU-second × 2 threads
           old  6,502 curves/s wall, 15,800 per CPU-second × 2 threads
           ratio 4.1 wall, 5.1 CPU time; med|MBF err| 0.0728 vs 0.0727, bias +0.0060 both
    AIF floor, noise-free cubic: bias +0.0009 (unchanged)

Fermi, --compare f0b14ff --models fermi --rounds 5 (session 3 against the end of session 2,
load average 0.7-1.0): 110,945 vs 91,833 curves/s wall (ratio 1.21); with --jitter 0.1 (sample
intervals 1 s ± 0.1 s, as heartbeats: the fit's general path) 86,477 vs 67,545 (ratio 1.27).

On an idle machine the old kernel gave 15,544 curves/s wall (its CPU-time rate), so the new
one is expected near 80,000 there. Single thread, CPU µs per curve new/old: 2cxm 24/126,
2cum 50/111, tofts 20/35, etofts 30/55, patlak 33/55.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HCT = 0.42


def make_curves(
    n: int, aif_name: str, seed: int = 0, max_delay: float = 2.0, jitter: float = 0.0
):
    """Noise-free and noisy 2CXM curves; ``jitter`` (s): each interval between samples is
    1 s ± up to that much (uniform, to 0.01 s), as heartbeats are; 0: every 1 s."""
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
    beats = np.ones(59)
    if jitter > 0:  # its own generator: the same curves' parameters with and without jitter
        beats += np.round(np.random.default_rng(seed + 1).uniform(-jitter, jitter, 59), 2)
    t = np.concatenate([[0.3], 0.3 + np.cumsum(beats)])
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


def time_child(model: str, n: int, threads: int, aif_name: str, jitter: float) -> dict:
    """Time one model in this process (3 runs after a warm-up): wall and CPU seconds, accuracy."""
    import numba

    from qperfusion import kinetics

    numba.set_num_threads(threads)
    t, aif, _, noisy, mbf = make_curves(n, aif_name, jitter=jitter)
    kinetics.fit(model, noisy[:16], aif=aif, times=t, hematocrit=HCT)
    wall, cpu = [], []
    for _ in range(3):
        w0, c0 = time.perf_counter(), time.process_time()
        fit = kinetics.fit(model, noisy, aif=aif, times=t, hematocrit=HCT)
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    err, bias = accuracy(fit.mbf_ml_min_g, mbf)
    return {"wall": wall, "cpu": cpu, "err": err, "bias": bias}


def baseline_source(ref: str) -> Path:
    """``src/`` of git revision ``ref`` in a temporary folder (kept: its numba cache is reused)."""
    root = Path(__file__).resolve().parents[1]
    sha = subprocess.run(
        ["git", "rev-parse", "--short", ref], cwd=root, capture_output=True, text=True, check=True
    ).stdout.strip()
    dest = Path(tempfile.gettempdir()) / f"qperfusion-src-{sha}"
    if not (dest / "src" / "qperfusion").is_dir():
        dest.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "archive", sha, "src"], cwd=root, capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest / "src"


def compare(ref: str, args: argparse.Namespace) -> None:
    """This tree against revision ``ref``, alternating child processes (the machine is shared
    and its speed drifts): medians of the per-child median rates, and of the per-round ratios."""
    here = Path(__file__).resolve().parents[1] / "src"
    base = baseline_source(ref)
    model = (args.models or ["2cxm"])[0]
    print(f"{model}: this tree vs {ref} ({base}), {args.n} curves, {args.threads} threads")
    rates: dict[str, list[float]] = {"new": [], "old": []}
    cpu_rates: dict[str, list[float]] = {"new": [], "old": []}
    sides = (("new", here), ("old", base))
    for r in range(args.rounds):
        for label, src in sides[::-1] if r % 2 else sides:  # alternate which goes first
            env = {**os.environ, "PYTHONPATH": str(src)}
            cmd = [sys.executable, __file__, "--child", model, "--n", str(args.n),
                   "--threads", str(args.threads), "--aif", args.aif,
                   "--jitter", str(args.jitter)]  # fmt: skip
            out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
            res = json.loads(out.stdout.strip().splitlines()[-1])
            rates[label].append(args.n / statistics.median(res["wall"]))
            # CPU time per thread: less sensitive to other users of the machine
            cpu_rates[label].append(args.n * args.threads / statistics.median(res["cpu"]))
            print(
                f"  round {r} {label}: {rates[label][-1]:8.0f} curves/s wall, "
                f"{cpu_rates[label][-1]:8.0f} per CPU-s x threads, med|err| {res['err']:.4f} "
                f"bias {res['bias']:+.4f}  load {os.getloadavg()[0]:.2f}"
            )
    ratio = [a / b for a, b in zip(rates["new"], rates["old"], strict=True)]
    cpu_ratio = [a / b for a, b in zip(cpu_rates["new"], cpu_rates["old"], strict=True)]
    print(
        f"median wall rate new {statistics.median(rates['new']):.0f}, old "
        f"{statistics.median(rates['old']):.0f} curves/s; ratio {statistics.median(ratio):.2f} "
        f"(CPU-time ratio {statistics.median(cpu_ratio):.2f})"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000, help="curves per timing run")
    parser.add_argument("--threads", type=int, default=2, help="numba threads")
    parser.add_argument("--aif", choices=("gamma", "parker"), default="gamma")
    parser.add_argument(
        "--jitter", type=float, default=0.0, help="s: sample intervals 1 s ± up to this"
    )
    parser.add_argument("--scipy-n", type=int, default=30, help="curves for the scipy baseline")
    parser.add_argument("--models", nargs="*", default=None)
    parser.add_argument(
        "--compare", metavar="REF", help="time the first model (2cxm) against git revision REF"
    )
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of --compare")
    parser.add_argument("--child", metavar="MODEL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(time_child(args.child, args.n, args.threads, args.aif, args.jitter)))
        return
    if args.compare:
        compare(args.compare, args)
        return

    import numba

    from qperfusion import kinetics

    numba.set_num_threads(args.threads)
    t, aif, clean, noisy, mbf = make_curves(args.n, args.aif, jitter=args.jitter)
    print(
        f"{args.n} curves x {t.size} frames, {args.aif} AIF, sigma 0.02 mmol/L, "
        f"{args.threads} threads" + (f", intervals 1 s ± {args.jitter} s" if args.jitter else "")
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
