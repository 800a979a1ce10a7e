"""Cohort throughput on Dask: studies per minute with 1 and 2 (or more) worker processes.

Run: ``.venv/bin/python benchmarks/cohort.py [--studies 4] [--workers 1 2] [--moco]``

A phantom study (written once, or ``--phantom DIR`` from ``qperfusion phantom DIR``) is listed
``--studies`` times in a manifest under different ids; every row runs the whole pipeline
(default: the phantom's masks, 2CXM, no motion correction — ``--model``, ``--moco`` and
``--auto-masks`` make it the full default run). For each worker count a local cluster is
started and timed on its own, warmed by one study per worker (imports, numba cache loads;
``--no-warmup`` skips it), then the batch runs against it into a fresh folder, so the figure
is steady study throughput, not start-up. Worker counts are interleaved ``--repeats`` times
(a shared machine's load drifts) and medians printed. The ratio to one worker is the
scaling; it is close to the worker count only when the machine has that many idle cores (the
load average is printed beside each figure).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from qperfusion.workflows import RunOptions
from qperfusion.workflows.cohort import run_batch, start_local_cluster


def _manifest(phantom: Path, root: Path, n: int, masks: bool, name: str = "manifest") -> Path:
    path = root / f"{name}.csv"
    rows = ["id,stress,rest,masks"]
    m = phantom / "masks" if masks else ""
    rows += [f"s{i:03d},{phantom / 'stress'},{phantom / 'rest'},{m}" for i in range(n)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def _one(manifest: Path, warmup: Path | None, root: Path, workers: int,
         options: RunOptions) -> dict[str, float]:
    t0 = time.perf_counter()
    with start_local_cluster(workers) as cluster:
        started = time.perf_counter() - t0
        if warmup is not None:  # one study per worker: imports, numba cache loads
            run_batch(warmup, Path(tempfile.mkdtemp(prefix="warm-", dir=root)),
                      options=options, scheduler=cluster.scheduler_address)
        load = os.getloadavg()[0]
        out = Path(tempfile.mkdtemp(prefix=f"w{workers}-", dir=root))
        t1 = time.perf_counter()
        outcomes = run_batch(manifest, out, options=options,
                             scheduler=cluster.scheduler_address)
        wall = time.perf_counter() - t1
    failed = [o for o in outcomes if o.status != "done"]
    if failed:
        raise SystemExit(f"{len(failed)} studies did not run: {failed[0].error}")
    return {"start_s": started, "wall_s": wall, "per_min": 60 * len(outcomes) / wall,
            "study_s": statistics.median(o.seconds for o in outcomes), "load": load}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--studies", type=int, default=4, help="rows in the manifest")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeats", type=int, default=1, help="batches per worker count (median)")
    ap.add_argument("--phantom", type=Path, help="an existing phantom folder")
    ap.add_argument("--model", default="2cxm")
    ap.add_argument("--moco", action="store_true", help="with motion correction")
    ap.add_argument("--auto-masks", action="store_true",
                    help="automatic segmentation instead of the phantom's masks")
    ap.add_argument("--no-warmup", action="store_true",
                    help="time the first study of each fresh worker too (imports, numba)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="qp-cohort-bench-") as tmp:
        root = Path(tmp)
        phantom = args.phantom
        if phantom is None:
            from qperfusion.phantom import write_study

            phantom = root / "phantom"
            t0 = time.perf_counter()
            write_study(phantom, seed=3, ischemia="lcx", motion="resp" if args.moco else "none")
            print(f"phantom written in {time.perf_counter() - t0:.1f} s")
        manifest = _manifest(phantom.resolve(), root, args.studies, not args.auto_masks)
        options = RunOptions(model=args.model, moco=args.moco)
        warm = {w: None if args.no_warmup else
                _manifest(phantom.resolve(), root, w, not args.auto_masks, f"warm{w}")
                for w in args.workers}
        print(f"{args.studies} studies, model {args.model}, moco {args.moco}, masks "
              f"{'automatic' if args.auto_masks else 'phantom'}; {os.cpu_count()} cores")
        # interleaved (1, 2, 1, 2, ...): a shared machine's load drifts; medians per count
        runs: dict[int, list[dict[str, float]]] = {w: [] for w in args.workers}
        for _ in range(args.repeats):
            for w in args.workers:
                runs[w].append(_one(manifest, warm[w], root, w, options))
                r = runs[w][-1]
                print(f"  run: {w} workers {r['per_min']:.2f} studies/min "
                      f"(load {r['load']:.1f})", flush=True)
        med = {w: {k: statistics.median(r[k] for r in rs) for k in rs[0]}
               for w, rs in runs.items()}
        base = med[min(med)]["per_min"]
        print(f"{'workers':>7} {'start s':>8} {'batch s':>8} {'studies/min':>12} "
              f"{'study s':>8} {'ratio':>6} {'load':>5}")
        for w, m in med.items():
            print(f"{w:>7d} {m['start_s']:>8.1f} {m['wall_s']:>8.1f} {m['per_min']:>12.2f} "
                  f"{m['study_s']:>8.1f} {m['per_min'] / base:>6.2f} {m['load']:>5.1f}")


if __name__ == "__main__":
    main()
