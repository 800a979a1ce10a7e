"""Fuzz the DICOM reader with many more cases than CI runs, and time the reader.

Usage: ``python benchmarks/fuzz_reader.py [N_CASES] [SEED0]`` (default 20 000 from seed 10 000,
so it does not repeat the CI cases). Prints how the cases ended and the median time per case;
exits non-zero on the first case that raises anything but QPerfusionError (its seed is named,
and ``dicom_fuzz.mutate(make_base(), seed)`` rebuilds it).

``python benchmarks/fuzz_reader.py --speed`` instead times ``read_study`` on a phantom study
(2 states × (64 frames × 3 slices + 64 × 2 echoes AIF) = 640 files) against a baseline that
only parses every file once with pydicom and decodes its pixels (the floor for any reader).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root

from tests.io.dicom_fuzz import fuzz


def speed(repeats: int = 5) -> int:
    import tempfile

    import numpy as np
    import pydicom

    import qperfusion as qp
    from qperfusion import phantom

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "study"
        phantom.write_study(out, seed=0)
        files = sorted(p for p in out.rglob("*.dcm"))

        def baseline() -> None:
            for f in files:
                np.asarray(pydicom.dcmread(f).pixel_array)

        rows = []
        for name, fn in (("baseline (dcmread + pixels)", baseline),
                         ("read_study", lambda: qp.read_study(out))):
            fn()  # warm the file cache
            t = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                fn()
                t.append(time.perf_counter() - t0)
            rows.append((name, float(np.median(t))))
    base = rows[0][1]
    print(f"{len(files)} files, median of {repeats}")
    for name, med in rows:
        print(f"  {name:30s} {med:6.2f} s  {len(files) / med:7.0f} files/s  x{med / base:.2f}")
    return 0


def main(argv: list[str]) -> int:
    if len(argv) > 1 and argv[1] == "--speed":
        return speed()
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
