"""Which flow of each kinetic model reads on the scale of the NIH BTEX maps (real data).

The stress-flow threshold of the classification (2.0 mL/min/g) comes from the NIH BTEX work,
whose maps were validated against PET. Each registry model with a flow is fitted (its default
settings, as the pipeline fits them) to the myocardial ring of the real NIH stress patch
(validation/qperf_nih, ring tests/data/nih_stress_ring_mask.npy, pre-bolus baselines removed,
Hct 0.42) and its pixel-median blood flow and plasma flow, per mL of tissue as NIH reports
them, are divided by the published map's ring median. The flow whose ratio is nearer 1 is the
model's ``threshold_flow`` (kinetics/base.py), which ``Thresholds(flow="auto")`` uses.

    .venv/bin/python benchmarks/flow_scale.py [--validation /work/shared/validation]

Measured (442 ring pixels, map median 3.32 mL/min/mL; blood-flow ratio / plasma-flow ratio,
Pearson of blood flow with the map): fermi 0.97 / 0.56, r 0.76; btex (NIH grid bounds) 0.88 /
0.51, r 0.80; btex20 (NIH's 20 segments) 0.92 / 0.53, r 0.81; modelfree 0.86 / 0.50, r 0.70;
2cum 1.20 / 0.70, r 0.73; 2cxm 1.58 / 0.91, r 0.76.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from scipy.stats import pearsonr

from btex_nih import load  # this folder's NIH .mat reader (a script run from benchmarks/)
from qperfusion import kinetics
from qperfusion.constants import MYOCARDIAL_DENSITY_G_ML
from qperfusion.kinetics.registry import get_model

HCT = 0.42
RING = Path(__file__).parents[1] / "tests" / "data" / "nih_stress_ring_mask.npy"


def nih_stress(folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Ring curves (n, T) and blood AIF (T,) with pre-bolus baselines removed, times (s), and
    the published map's values on the ring (mL/min/mL)."""
    data, aif, t, foot = load(folder / "perf_data_stress.mat")
    ring = np.load(RING)
    curves = data[ring] - data[ring][:, :foot].mean(axis=1, keepdims=True)
    # the published map is stored left-right flipped with respect to the data arrays
    reference = np.load(folder / "stress_mbf_reference.npy")[:, ::-1][ring]
    return curves, aif - aif[:foot].mean(), t, reference


def flow_ratios(model: str, curves: np.ndarray, aif: np.ndarray, t: np.ndarray,
                reference: np.ndarray) -> dict[str, float]:
    """Pixel-median blood and plasma flow per mL over the map's ring median; Pearson r."""
    fit = kinetics.fit(model, curves, aif=aif, times=t, hematocrit=HCT)
    per_ml = {k: getattr(fit, f"{k}_ml_min_g") * MYOCARDIAL_DENSITY_G_ML for k in ("mbf", "fp")}
    ok = np.isfinite(per_ml["mbf"])
    return {
        "mbf": float(np.median(per_ml["mbf"][ok]) / np.median(reference)),
        "fp": float(np.median(per_ml["fp"][ok]) / np.median(reference)),
        "pearson": float(pearsonr(np.clip(per_ml["mbf"][ok], 0, 6), reference[ok])[0]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--validation", type=Path, default=Path("/work/shared/validation"))
    args = parser.parse_args()
    data = nih_stress(args.validation / "qperf_nih")
    print(f"{'model':<10}{'blood/map':>10}{'plasma/map':>11}{'Pearson':>9}  threshold_flow")
    for name in kinetics.MODELS:
        if get_model(name).flow_param is None:
            continue
        r = flow_ratios(name, *data)
        print(f"{name:<10}{r['mbf']:10.2f}{r['fp']:11.2f}{r['pearson']:9.2f}  "
              f"{get_model(name).threshold_flow}", flush=True)


if __name__ == "__main__":
    main()
