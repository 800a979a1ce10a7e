"""Fuzz the DICOM reader with many more cases than CI runs, and time the reader.

Usage: ``python benchmarks/fuzz_reader.py [N_CASES] [SEED0]`` (default 20 000 from seed 10 000,
so it does not repeat the CI cases). Prints how the cases ended and the median time per case;
exits non-zero on the first case that raises anything but QPerfusionError (its seed is named,
and ``dicom_fuzz.mutate(make_base(), seed)`` rebuilds it).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "io"))

from dicom_fuzz import fuzz


def main(argv: list[str]) -> int:
    n = int(argv[1]) if len(argv) > 1 else 20_000
    seed0 = int(argv[2]) if len(argv) > 2 else 10_000
    chunk = 500
    times, total = [], {}
    for start in range(seed0, seed0 + n, chunk):
        k = min(chunk, seed0 + n - start)
        t0 = time.perf_counter()
        out = fuzz(k, seed0=start)
        times.append((time.perf_counter() - t0) / k)
        for key, v in out.items():
            total[key] = total.get(key, 0) + v
    times.sort()
    print(f"cases: {n} (seeds {seed0}..{seed0 + n - 1})")
    print("outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(total.items())))
    print(f"median time per case: {1000 * times[len(times) // 2]:.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
