"""BTEX fit throughput: batched table search + numba LM vs scipy least_squares per curve.

Synthetic 60-frame curves (0.5 s frames, a first-pass AIF with recirculation), stress-like
parameters and Gaussian noise; both fitters use the same forward solver and bounds, and the
scipy baseline starts from the same nearest table entry (so only the refinement differs).
Prints medians of repeated runs, curves/s, the ratio, and the Fp error against the truth; also
the opt-in 20-segment capillary (``segments=20``) on its own curves (an eighth as many).

Run: ``.venv/bin/python benchmarks/btex_throughput.py [--curves 4000] [--threads 2]``
"""

from __future__ import annotations

import argparse
import time

import numba
import numpy as np
from scipy.optimize import least_squares

from qperfusion.kinetics._btex_segments import segment_curves_batch, segment_nodes
from qperfusion.kinetics._btex_solver import _MAX_TERMS, aif_grid, aif_integral, btex_curve
from qperfusion.kinetics._btex_table import table_start
from qperfusion.kinetics.base import FitProblem
from qperfusion.kinetics.btex import NIH_SEGMENTS, BTEXModel, btex_conc, default_step

HCT = 0.42


def synthetic(
    n: int, noise: float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Times, plasma AIF (peak ≈ 6 mmol/L), noisy curves (n, 60) and the true parameters."""
    rng = np.random.default_rng(seed)
    t = np.arange(60) * 0.5
    u = (t - 8.0).clip(0)
    blood = 24.0 * (u / 2.5) ** 3 * np.exp(-u / 1.2) + 0.3 * (1 - np.exp(-(t - 14.0).clip(0) / 4.0))
    plasma = blood / (1 - HCT)
    truth = np.stack(
        [
            rng.uniform(1.0, 5.0, n) / 60,
            rng.uniform(0.5, 2.5, n) / 60,
            rng.uniform(0.03, 0.09, n),
            rng.uniform(0.1, 0.4, n),
            rng.uniform(0.0, 2.0, n),
        ],
        axis=-1,
    )
    clean = btex_conc(t, plasma, fp=truth[:, 0], ps=truth[:, 1], vp=truth[:, 2], ve=truth[:, 3],
                      delay=truth[:, 4])
    curves = clean + rng.normal(0.0, noise, clean.shape)
    return t, plasma, np.ascontiguousarray(curves), truth


def fit_numba(
    model: BTEXModel, problem: FitProblem, n_starts: int, segments: int | None = None
) -> np.ndarray:
    return model.fit_batch(
        problem, model.default_bounds, n_starts=n_starts, segments=segments
    ).params


def fit_scipy(problem: FitProblem, n: int) -> np.ndarray:
    b = BTEXModel.default_bounds
    names = ("fp", "ps", "vp", "ve", "delay")
    lo = np.array([b[k][0] for k in names])
    hi = np.array([b[k][1] for k in names])
    scale = np.array([1 / 60, 1 / 60, 0.1, 0.1, 1.0])
    t = problem.times
    h = default_step(t)
    starts = table_start(problem.curves[:n], t, t, problem.aif, h, lo, hi, 1)[:, 0]
    # the compiled single-curve solver, called directly: no per-call Python overhead beyond
    # least_squares' own
    aif = problem.aif
    acum = aif_integral(t, aif)
    grid = aif_grid(t, aif, acum, h)
    w, q, surv, f = (np.empty(grid.size + 1), np.empty(grid.size + 1), np.empty(_MAX_TERMS),
                     np.empty(t.size))
    out = np.empty((n, 5))
    for i in range(n):
        y = problem.curves[i]

        def resid(x: np.ndarray, y: np.ndarray = y) -> np.ndarray:
            p = x * scale
            btex_curve(p[0], p[1], p[2], p[3], p[4], t, t, aif, acum, grid, h, f, w, q, surv)
            return f - y

        res = least_squares(resid, starts[i] / scale, bounds=(lo / scale, hi / scale))
        out[i] = res.x * scale
    return out


def median_time(fn, repeats: int) -> tuple[float, float]:
    """Median wall time and median CPU time (all threads) of ``fn`` over ``repeats`` runs (s).

    On a shared machine the wall time depends on the load; CPU seconds per curve do much less,
    so ``2 / cpu`` is the rate two idle cores would give.
    """
    wall, cpu = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return float(np.median(wall)), float(np.median(cpu))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--curves", type=int, default=4000)
    parser.add_argument("--scipy-curves", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--noise", type=float, default=0.01, help="mmol/L (peak tissue ~0.4)")
    args = parser.parse_args()
    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))

    t, plasma, curves, truth = synthetic(args.curves, args.noise)
    problem = FitProblem(curves, t, plasma, float(t[0]), 0.5, plasma, HCT, "plasma")
    model = BTEXModel()
    fit_numba(model, problem.with_curves(curves[:8]), 1)  # compile / load the numba cache

    print(f"{args.curves} curves × {t.size} frames, noise {args.noise} mmol/L, "
          f"{numba.get_num_threads()} threads, median of {args.repeats}")
    print("  (curves/s wall | curves per CPU-second | Fp error vs truth)")
    rates = {}
    for k in (1, 3):
        wall, cpu = median_time(lambda k=k: fit_numba(model, problem, k), args.repeats)
        p = fit_numba(model, problem, k)
        err = np.abs(p[:, 0] / truth[:, 0] - 1)
        rates[k] = args.curves / cpu
        print(f"  qperfusion btex, table + LM, n_starts={k}: {args.curves / wall:7.0f} /s wall | "
              f"{args.curves / cpu:7.0f} /CPU-s | |Fp err| median {np.median(err):.3f}, "
              f"90th pct {np.percentile(err, 90):.3f}")
    # the opt-in 20-segment capillary (NIH's BTEX20 grid), fitted to its own curves
    mix = segment_nodes(NIH_SEGMENTS)
    seg_curves = segment_curves_batch(truth, t, t, plasma, default_step(t), mix)
    seg_curves = seg_curves + np.random.default_rng(1).normal(0.0, args.noise, seg_curves.shape)
    n_seg = max(args.curves // 8, 8)
    seg_problem = problem.with_curves(np.ascontiguousarray(seg_curves[:n_seg]))
    fit_numba(model, seg_problem.with_curves(seg_curves[:8]), 3, NIH_SEGMENTS)
    wall, cpu = median_time(lambda: fit_numba(model, seg_problem, 3, NIH_SEGMENTS), args.repeats)
    p = fit_numba(model, seg_problem, 3, NIH_SEGMENTS)
    err = np.abs(p[:, 0] / truth[:n_seg, 0] - 1)
    print(f"  qperfusion btex, segments={NIH_SEGMENTS}, n_starts=3 ({n_seg} curves): "
          f"{n_seg / wall:7.0f} /s wall | {n_seg / cpu:7.0f} /CPU-s | |Fp err| median "
          f"{np.median(err):.3f}, 90th pct {np.percentile(err, 90):.3f}")
    m = args.scipy_curves
    wall, cpu = median_time(lambda: fit_scipy(problem, m), max(1, args.repeats // 2))
    p = fit_scipy(problem, m)
    err = np.abs(p[:, 0] / truth[:m, 0] - 1)
    scipy_rate = m / cpu
    print(f"  scipy least_squares per curve, same start: {m / wall:7.0f} /s wall | "
          f"{scipy_rate:7.0f} /CPU-s | |Fp err| median {np.median(err):.3f}, "
          f"90th pct {np.percentile(err, 90):.3f}")
    for k, r in rates.items():
        print(f"  ratio per CPU-second, n_starts={k} / scipy: {r / scipy_rate:.0f}×")


if __name__ == "__main__":
    main()
