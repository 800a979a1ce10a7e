"""Cohort throughput on Dask: studies per minute with 1 and 2 (or more) worker processes.

Run: ``.venv/bin/python benchmarks/cohort.py [--studies 4] [--workers 1 2] [--moco]``

A phantom study (written once, or ``--phantom DIR`` from ``qperfusion phantom DIR``) is listed
``--studies`` times in a manifest under different ids; every row runs the whole pipeline
(default: the phantom's masks, 2CXM, no motion correction — ``--model``, ``--moco`` and
``--auto-masks`` make it the full default run). For each worker count a local cluster is
started and timed on its own, then the batch runs against it into a fresh folder, so the
figure is study throughput, not start-up. The ratio to one worker is the scaling; it is close
to the worker count only when the machine has that many idle cores (the load average is
printed beside each figure).
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


def _manifest(phantom: Path, root: Path, n: int, masks: bool) -> Path:
    path = root / "manifest.csv"
    rows = ["id,stress,rest,masks"]
    m = phantom / "masks" if masks else ""
    rows += [f"s{i:03d},{phantom / 'stress'},{phantom / 'rest'},{m}" for i in range(n)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def _one(manifest: Path, root: Path, workers: int, options: RunOptions) -> dict[str, float]:
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    with start_local_cluster(workers) as cluster:
        started = time.perf_counter() - t0
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
        print(f"{args.studies} studies, model {args.model}, moco {args.moco}, masks "
              f"{'automatic' if args.auto_masks else 'phantom'}; {os.cpu_count()} cores")
        print(f"{'workers':>7} {'start s':>8} {'batch s':>8} {'studies/min':>12} "
              f"{'study s':>8} {'ratio':>6} {'load':>5}")
        base = None
        for w in args.workers:
            runs = [_one(manifest, root, w, options) for _ in range(args.repeats)]
            med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            base = base or med["per_min"]
            print(f"{w:>7d} {med['start_s']:>8.1f} {med['wall_s']:>8.1f} "
                  f"{med['per_min']:>12.2f} {med['study_s']:>8.1f} "
                  f"{med['per_min'] / base:>6.2f} {med['load']:>5.1f}", flush=True)


if __name__ == "__main__":
    main()
