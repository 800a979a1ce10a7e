"""Segmental MBF with breathing vs the same study without motion (issue 6), and each vs truth.

For each seed (LAD / LCX / RCA ischemia) the whole cascade (``qperfusion.run``: MoCo,
automatic segmentation, AIF detection, 2CXM) runs on two phantom studies:

* ``motion``: ``simulate_study(seed, motion="resp")``: breathing + two abrupt frames at stress;
* ``still``: ``simulate_study(seed, motion="none")``: the same anatomy, physiology, timing *and
  noise draw*; only the positions differ (the comparison issue 6 asks for).

    python benchmarks/moco_vs_still.py [--seeds 0,1,2]

Printed per seed and state: median and max over the 16 segments of |MBF_a / MBF_b − 1|, and
each run's median |error| (signed median error) against the phantom truth.

Measured (2CXM, default pipeline; per seed 0 / 1 / 2; ~4 min for the 9 runs on the shared
2-core machine):

======================  =====================  =====================  ======================
comparison              stress median (max)    rest median (max)      note
======================  =====================  =====================  ======================
motion vs still         2.2 / 1.7 / 2.3 %      0.8 / 1.7 / 1.3 %      motion reads 1–2 %
                        (5.2 / 8.2 / 6.1)      (4.3 / 5.4 / 3.7)      lower at stress
still' vs still         2.4 / 4.3 / 2.3 %      identical              noise alone (no motion)
                        (8.2 / 14.5 / 4.3)
motion vs still'        3.3 / 5.8 / 3.5 %      0.8 / 1.7 / 1.3 %      the figure first
                        (11.9 / 13.7 / 9.4)                           reported for issue 6
======================  =====================  =====================  ======================

(``still'`` was the phantom's motion-free study before it shared the motion study's noise: it
drew the abrupt frames only with motion, so its stress noise differed; ``still`` was made by
zeroing the displacement fields. Since then ``motion="none"`` IS ``still``.)

Against the truth (median |error|, signed): stress motion 3.0 (+2.0) / 2.1 (+0.7) / 2.3 (−1.5),
still 5.8 (+5.4) / 3.7 (+2.4) / 5.3 (+1.1), still' 5.4 (+5.4) / 8.1 (+8.1) / 5.4 (+4.9); rest
motion 1.0 / 2.0 / 3.1, still 1.0 / 1.3 / 1.8.

Where the differences come from (one seed or three, on the intermediate results of these runs;
the scripts were one-off, the figures are here):

* most of the stress gap first reported (3–6 %) is the other noise draw: with the same noise it
  is 1.7–2.3 %, and two motion-free runs that differ only by their noise differ by 2.3–4.3 %.
  One term is the AIF: the detected blood-pool AIF peaks at 5.03 vs 5.22 mmol/L in two noise
  draws of seed 1 (truth 5.04), and MBF scales with 1 / AIF; over 8 noise draws its peak
  varies by 1.1 % SD (0.8 % with the phantom's own pool mask). Refitting the still' myocardium
  with the motion run's AIF brings the signed medians of motion and still' from 3.4 / 7.3 /
  6.4 % apart to 1.4 / 1.3 / 2.3 %.
* the 1–2 % that motion itself takes off stress MBF (same noise; scoring both runs on the same
  core pixels leaves it as it is: 3.2 / 1.9 / 1.8 %, so not the segmentation or border ring)
  is blood smoothed into the myocardium by resampling: in the core pixels the registered
  stress signal of the bolus frames is 1.2 % above the still images (0.7 % when registered
  with the phantom's own field), the phantom moves each frame by bilinear interpolation (a
  cubic phantom warp: +1.4 % signed error on seed 1 instead of +0.8 %), and a cubic round
  trip u then u⁻¹ of the motion-free images (two resamplings) lowers the stress signed median
  by 1.6 %. The smoother noise also weakens the noise-weighted priors of the 2CXM fit (0.2–0.5
  %). Not a MoCo residual: registering with the phantom's true field reads lower, not higher
  (−2.2 % signed on seed 1). Not the resampling kernel: quintic instead of cubic B-splines
  give the same stress difference (2.2 %, seed 0); the identity field changes nothing (cubic
  B-spline resampling interpolates).
* MoCo outlier frames (the bolus-arrival frame flagged in motion-free series) are not it:
  refitting with every frame moves the motion vs still difference by ≤ 0.4 %.
* the stress reading above the truth in the motion-free runs (+1 to +8 %) is the 2CXM fit: with
  the phantom's true AIF the motion-free stress segments still read +3.9 to +5.0 % high (seed 3
  with the phantom's masks and no MoCo, tests/workflows/test_pipeline.py: normal segments +11
  %, +8 to +10 % with the true AIF), and on the true [Gd] curves plus white noise (σ = 0.034
  mmol/L) the normal segments read +6.8 % high and the ischemic −5 % (noise-free: +0.1 / +1.2
  %): at one sample per beat Fp trades off against vp, and the noise-weighted vp prior median
  (0.06) sits below the phantom's stress vp (0.065) and above its ischemic vp (0.055). With the
  prior medians at the truth the normal bias is +1.1 %. A data-driven vp prior (slice or local
  median of a first fit) does not help: blood partial volume raises the fitted vp, and stress
  MBF falls 4–12 % low with motion.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

CASES = {0: "lad", 1: "lcx", 2: "rca"}
STATES = ("stress", "rest")


def segment_mbf(results: dict[str, Any], state: str) -> np.ndarray:
    """Segmental MBF (mL/min/g) of AHA segments 1–16 from a results.json dictionary."""
    segs = results["states"][state]["segments"]
    return np.array([segs[str(k)]["mbf_ml_min_g"] or np.nan for k in range(1, 17)], dtype=float)


def relative_difference(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Median and max over segments of |a / b − 1| (fractions)."""
    d = np.abs(a / b - 1.0)
    return float(np.nanmedian(d)), float(np.nanmax(d))


def run_case(seed: int, territory: str) -> dict[str, Any]:
    """Segmental MBF of the motion and still runs and of the truth."""
    import qperfusion as qp
    from qperfusion.phantom import simulate_study

    runs: dict[str, Any] = {}
    timing: dict[str, float] = {}
    truth = None
    for name, motion in (("motion", "resp"), ("still", "none")):
        ps = simulate_study(seed, ischemia=territory, motion=motion)
        truth = ps.truth
        t0 = time.perf_counter()
        res = qp.run(ps.study())
        timing[name] = time.perf_counter() - t0
        runs[name] = {s: segment_mbf(res.results, s) for s in STATES}
    assert truth is not None
    runs["truth"] = {s: np.array([truth["states"][s]["segments"][str(k)]["mbf_ml_min_g"]
                                  for k in range(1, 17)]) for s in STATES}
    return {"runs": runs, "timing_s": timing}


def _pct(x: float) -> str:
    return f"{100 * x:4.1f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated phantom seeds (0–2)")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    pairs = [("motion", "still")]
    print(f"{'seed':<7}{'state':<7}"
          + "".join(f"{a + ' vs ' + b:>22}" for a, b in pairs)
          + "   vs truth: median |e| (signed)")
    for seed in seeds:
        out = run_case(seed, CASES[seed])
        runs = out["runs"]
        for state in STATES:
            cells = []
            for a, b in pairs:
                med, mx = relative_difference(runs[a][state], runs[b][state])
                cells.append(f"{_pct(med)} % (max {_pct(mx)})")
            truth_cells = []
            for name in (n for n in runs if n != "truth"):
                e = runs[name][state] / runs["truth"][state] - 1
                truth_cells.append(f"{name} {_pct(np.nanmedian(np.abs(e)))} "
                                   f"({100 * np.nanmedian(e):+.1f})")
            print(f"{seed} {CASES[seed]:<5}{state:<7}" + "".join(f"{c:>22}" for c in cells)
                  + "   " + ", ".join(truth_cells), flush=True)
        print("        run time (s): " + ", ".join(
            f"{k} {v:.0f}" for k, v in out["timing_s"].items()), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
