"""BTEX solver accuracy: grid convergence of the closed-form solver and agreement with the PDEs.

For four parameter sets (stress, rest, high exchange, slow flow) on 0.5 s frames, prints the
largest difference (relative to the curve peak) between the solver at quadrature step h and a
32× finer step, the observed order, the change when the default step is halved, and the
difference to the Lagrangian PDE solver at 50…400 cells.

Run: ``.venv/bin/python benchmarks/btex_convergence.py``
"""

from __future__ import annotations

import time

import numpy as np

from qperfusion.kinetics._btex_pde import btex_conc_pde
from qperfusion.kinetics.btex import btex_conc

T = np.arange(60) * 0.5
_U = (T - 8.0).clip(0)
AIF = (24.0 * (_U / 2.5) ** 3 * np.exp(-_U / 1.2) + 0.3 * (1 - np.exp(-(T - 14.0).clip(0) / 4))) / (
    1 - 0.42
)
CASES = {
    "stress": (3.6 / 60, 1.5 / 60, 0.05, 0.20, 1.0),
    "rest": (1.0 / 60, 1.0 / 60, 0.04, 0.25, 0.3),
    "high PS": (5.0 / 60, 3.0 / 60, 0.10, 0.10, 2.0),
    "slow": (0.5 / 60, 0.2 / 60, 0.02, 0.40, 0.0),
}


def main() -> None:
    steps = (1.0, 0.5, 0.25, 0.125)
    print("max |C_h − C_fine| / peak (fine = 0.5/32 s); 'halved' = |C_0.5 − C_0.25| / peak")
    print(f"{'case':8s} " + " ".join(f"h={h:<6}" for h in steps) + "  order  halved   "
          + " ".join(f"PDE n={n:<4}" for n in (50, 100, 200, 400)))
    for name, (fp, ps, vp, ve, delay) in CASES.items():
        kw = {"fp": fp, "ps": ps, "vp": vp, "ve": ve, "delay": delay}
        fine = btex_conc(T, AIF, step=0.5 / 32, **kw)
        peak = fine.max()
        errs = [np.max(np.abs(btex_conc(T, AIF, step=h, **kw) - fine)) / peak for h in steps]
        order = np.log2(errs[1] / errs[2])
        halved = np.max(np.abs(btex_conc(T, AIF, step=0.5, **kw)
                               - btex_conc(T, AIF, step=0.25, **kw))) / peak
        pde = [np.max(np.abs(btex_conc_pde(T, AIF, n_cells=n, **kw) - fine)) / peak
               for n in (50, 100, 200, 400)]
        row = " ".join(f"{e:8.1e}" for e in errs)
        row += f"  {order:5.2f}  {halved:7.1e}  " + " ".join(f"{e:10.1e}" for e in pde)
        print(f"{name:8s} {row}")
    params = np.tile([[3.6 / 60, 1.5 / 60, 0.05, 0.2, 1.0]], (20000, 1)).T
    btex_conc(T, AIF, fp=params[0, :2], ps=params[1, :2], vp=params[2, :2], ve=params[3, :2])
    t0 = time.perf_counter()
    btex_conc(T, AIF, fp=params[0], ps=params[1], vp=params[2], ve=params[3], delay=params[4])
    print(f"forward solver: {(time.perf_counter() - t0) / 20000 * 1e6:.1f} µs per 60-frame curve "
          "(default step, wall, shared machine)")


if __name__ == "__main__":
    main()
