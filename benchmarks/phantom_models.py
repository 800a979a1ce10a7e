"""Whole-cascade accuracy of each kinetic model on a phantom whose curves a chosen model made.

For each case (seed 0 LAD, 1 LCX, 2 RCA; breathing) the phantom is simulated in memory with
``tissue_model`` (default ``"btex"``: NIH's 20-segment BTEX), then run fully automatically
(``qperfusion.run(ps.study(), options=RunOptions(model=...))``: MoCo, segmentation, AIF
detection) once per fit configuration:

* ``btex-nih`` — BTEX with NIH's configuration: ``bounds=NIH_BOUNDS, segments=NIH_SEGMENTS``
  (:mod:`qperfusion.kinetics.btex`). The pipeline cannot pass model options, so this script
  hands them to ``kinetics.fit`` inside :func:`qperfusion.workflows.fitting.fit_myocardium`
  by wrapping the module it calls (:func:`_model_options`); everything else is the pipeline's.
  NIH's input preparation (:func:`~qperfusion.kinetics.btex.nih_inputs`, AIF from its foot)
  is not applied: the phantom's baselines are already zero.
* ``btex`` — BTEX with the product's defaults (plug flow, default bounds);
* ``2cxm``, ``fermi`` — the registry models as the pipeline runs them.

Printed per configuration: segmental stress and rest MBF |error| (median over the 3 studies of
each study's median, max over all segments), the signed median error, the same for MPR,
whether ``findings.ischemic_segments`` equals the truth territory, and the fit time per state
(median of the studies). Each run is also appended to ``--out`` (JSON lines) as it finishes.

    python benchmarks/phantom_models.py [--tissue-model btex] [--fits btex-nih btex 2cxm fermi]
                                        [--seeds 0 1 2] [--out phantom_models.jsonl]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import numpy as np

CASES = {0: "lad", 1: "lcx", 2: "rca"}


def _configs() -> dict[str, tuple[str, dict[str, Any]]]:
    from qperfusion.kinetics.btex import NIH_BOUNDS, NIH_SEGMENTS

    return {
        "btex-nih": ("btex", {"bounds": NIH_BOUNDS, "segments": NIH_SEGMENTS}),
        "btex": ("btex", {}),
        "2cxm": ("2cxm", {}),
        "fermi": ("fermi", {}),
    }


@contextlib.contextmanager
def _model_options(model: str, extra: dict[str, Any]) -> Iterator[None]:
    """Make the pipeline's ``kinetics.fit`` calls for ``model`` carry ``extra`` keywords."""
    from qperfusion import kinetics
    from qperfusion.workflows import fitting

    if not extra:
        yield
        return

    def fit(name: str, curves: Any, **kw: Any) -> Any:
        return kinetics.fit(name, curves, **(extra if name == model else {}), **kw)

    saved = fitting.kinetics
    fitting.kinetics = SimpleNamespace(fit=fit)  # type: ignore[assignment]
    try:
        yield
    finally:
        fitting.kinetics = saved


def _errors(results: dict[str, Any], truth: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for state in ("stress", "rest"):
        t_seg, g_seg = truth["states"][state]["segments"], results["states"][state]["segments"]
        out[state] = {k: (g_seg[k]["mbf_ml_min_g"] or np.nan) / v["mbf_ml_min_g"] - 1
                      for k, v in t_seg.items()}
    out["mpr"] = {k: (results["mpr"]["segments"].get(k) or np.nan) / v - 1
                  for k, v in truth["mpr"]["segments"].items()}
    return out


def _summary(errs: dict[str, float]) -> tuple[float, float, float]:
    e = np.array(list(errs.values()), dtype=float)
    return (float(np.nanmedian(np.abs(e))), float(np.nanmax(np.abs(e))),
            float(np.nanmedian(e)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tissue-model", default="btex")
    parser.add_argument("--fits", nargs="+", default=["btex-nih", "btex", "2cxm", "fermi"])
    parser.add_argument("--seeds", nargs="+", type=int, default=sorted(CASES))
    parser.add_argument("--motion", default="resp", choices=["none", "resp"])
    parser.add_argument("--out", default=None, help="append one JSON line per run")
    args = parser.parse_args(argv)

    import qperfusion as qp
    from qperfusion.phantom import simulate_study
    from qperfusion.workflows.options import RunOptions

    configs = _configs()
    unknown = sorted(set(args.fits) - set(configs))
    if unknown:
        parser.error(f"unknown fit(s) {unknown}; valid: {list(configs)}")
    rows: dict[str, list[dict[str, Any]]] = {f: [] for f in args.fits}
    for seed in args.seeds:
        territory = CASES[seed]
        t0 = time.perf_counter()
        ps = simulate_study(seed, ischemia=territory, motion=args.motion,
                            tissue_model=args.tissue_model)
        print(f"seed {seed} {territory}: phantom ({args.tissue_model}) "
              f"{time.perf_counter() - t0:.1f} s", flush=True)
        for name in args.fits:
            model, extra = configs[name]
            t0 = time.perf_counter()
            with _model_options(model, extra):
                res = qp.run(ps.study(), options=RunOptions(model=model))
            seconds = time.perf_counter() - t0
            errs = _errors(res.results, ps.truth)
            row = {
                "tissue_model": args.tissue_model, "fit": name, "seed": seed,
                "territory": territory, "motion": args.motion, "errors": errs,
                "ischemic": res.results["findings"]["ischemic_segments"],
                "ischemic_truth": ps.truth["findings"]["ischemic_segments"],
                "fit_s": {s: res.timing_s.get(f"{s}.fit", np.nan) for s in ("stress", "rest")},
                "total_s": seconds,
            }
            rows[name].append(row)
            if args.out:
                with open(args.out, "a") as fh:
                    fh.write(json.dumps(row) + "\n")
            print(f"  {name:<9}" + "".join(
                "  {} {:.1f}%/{:.1f}% ({:+.1f}%)".format(
                    k, *(100 * v for v in _summary(errs[k]))) for k in ("stress", "rest", "mpr"))
                + f"  ischemic {row['ischemic'] == row['ischemic_truth']}"
                f" fit {row['fit_s']['stress']:.1f}/{row['fit_s']['rest']:.1f} s"
                f" total {seconds:.0f} s", flush=True)

    print(f"\nphantom tissue model {args.tissue_model}, motion {args.motion}, seeds {args.seeds}; "
          "|error| median (of study medians) / max, signed median")
    for name, rs in rows.items():
        if not rs:
            continue
        cells = []
        for k in ("stress", "rest", "mpr"):
            s = np.array([_summary(r["errors"][k]) for r in rs])
            cells.append(f"{k} {100 * np.median(s[:, 0]):4.1f} / {100 * np.max(s[:, 1]):5.1f}"
                         f" ({100 * np.median(s[:, 2]):+5.1f})")
        hits = sum(r["ischemic"] == r["ischemic_truth"] for r in rs)
        fit_s = np.median([[r["fit_s"]["stress"], r["fit_s"]["rest"]] for r in rs], axis=0)
        print(f"  {name:<9} " + "  ".join(cells)
              + f"  ischemic exact {hits}/{len(rs)}  fit {fit_s[0]:.1f}/{fit_s[1]:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
