"""Wall time, peak memory and time per stage of one stress + rest study, DICOM to outputs.

Each repeat runs in a fresh process (so peak RSS is the study's own and numba's on-disk cache
is what a user's second run sees); the first repeat also includes JIT compilation when the
cache is cold. Prints medians over the repeats and each stage's share.

    python benchmarks/end_to_end.py [--repeats 3] [--model 2cxm] [--seed 0]

Goal (issue 8): ≤ 20 s and ≤ 2 GB on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
import qperfusion as qp
t0 = time.perf_counter()
study = qp.read_study(stress=sys.argv[1] + "/stress", rest=sys.argv[1] + "/rest")
t_read = time.perf_counter() - t0
result = qp.run(study, model=sys.argv[3])
t_run = time.perf_counter() - t0 - t_read
result.write(sys.argv[2])
t_all = time.perf_counter() - t0
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"read_s": t_read, "pipeline_s": t_run, "write_s": t_all - t_read - t_run,
                  "total_s": t_all, "peak_mb": peak_mb, "stages": result.timing_s}))
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    from qperfusion.workflows.options import DEFAULT_MODEL

    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from qperfusion.phantom import write_study

    with tempfile.TemporaryDirectory() as tmp:
        study_dir = Path(tmp) / "study"
        write_study(study_dir, seed=args.seed, ischemia="lad", motion="resp")
        runs = []
        for i in range(args.repeats):
            out = subprocess.run(
                [sys.executable, "-c", CHILD, str(study_dir), str(Path(tmp) / f"out{i}"),
                 args.model], check=True, capture_output=True, text=True,
            )
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(f"repeat {i + 1}: total {runs[-1]['total_s']:.1f} s, "
                  f"peak {runs[-1]['peak_mb']:.0f} MB", flush=True)

    def med(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    print(f"\nmodel {args.model}, {args.repeats} repeats (medians)")
    for key in ("read_s", "pipeline_s", "write_s", "total_s"):
        print(f"  {key:<11} {med(key):7.2f} s")
    print(f"  peak RSS    {med('peak_mb'):7.0f} MB")
    stages = sorted({k for r in runs for k in r["stages"] if k != "total"})
    total = med("pipeline_s")
    print("  per stage (median s, share of the pipeline):")
    for k in stages:
        v = statistics.median(r["stages"].get(k, 0.0) for r in runs)
        print(f"    {k:<24} {v:7.2f}  {100 * v / total:5.1f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
