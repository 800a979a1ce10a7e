"""Side-by-side accuracy and speed against peer packages on identical curves.

dcmri (Apache-2.0) is run in its own virtual environment (``--install`` creates it with pip;
osipy is tried as well, it needs Python ≥ 3.12). The peer fits use the peer's own forward
model (``dcmri.conc_tissue``, kinetics "2CX", blood AIF with hematocrit) with
``scipy.optimize.curve_fit`` per curve, which is how ``dcmri.Tissue.train`` fits. Our numbers
come from ``kinetics.fit("2cxm", ...)`` in this process, with 1 and 2 numba threads.

Curves: as benchmarks/fit_throughput.py, bolus delay 0 (the peer model has none; ours still
fits one).

    .venv/bin/python benchmarks/peers.py --install          # once: build the peer venv
    .venv/bin/python benchmarks/peers.py [--n-peer 100] [--venv PATH]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fit_throughput import HCT, accuracy, make_curves

DEFAULT_VENV = Path.home() / ".cache" / "qperfusion" / "peers-venv"

PEER_SCRIPT = r"""
import json, sys, time
import numpy as np
from scipy.optimize import curve_fit
import dcmri as dc
from importlib.metadata import version

d = np.load(sys.argv[1])
t, ca, curves, hct = d["t"], d["aif"], d["curves"], float(d["hct"])
tt = t - t[0]

def model(_, fb, ps, vb, vi):
    return dc.conc_tissue(ca, t=tt, kinetics="2CX", H=hct, vb=vb, vi=vi, Fb=fb, PS=ps)

mbf = []
t0 = time.perf_counter()
for c in curves:
    try:
        p, _ = curve_fit(model, tt, c, p0=[0.03, 0.02, 0.1, 0.2],
                         bounds=([0, 0, 0.001, 0.001], [0.4, 0.2, 1, 1]))
        mbf.append(p[0] * 60 / 1.05)
    except Exception:
        mbf.append(float("nan"))
secs = time.perf_counter() - t0
print(json.dumps({"version": version("dcmri"), "secs": secs, "mbf": mbf}))
"""


def install(venv: Path) -> None:
    venv.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, "dcmri"], check=True)
    osipy = subprocess.run([*pip, "osipy"], capture_output=True, text=True)
    if osipy.returncode != 0:
        print("osipy not installed (it needs Python >= 3.12); comparing with dcmri only")
    print(f"peer venv ready: {venv}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--install", action="store_true", help="create the peer venv first")
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV)
    parser.add_argument("--n", type=int, default=4000, help="curves for our fits")
    parser.add_argument("--n-peer", type=int, default=100, help="curves for the peer fits")
    parser.add_argument("--aif", choices=("gamma", "parker"), default="gamma")
    args = parser.parse_args(argv)
    if args.install:
        install(args.venv)
    python = args.venv / "bin" / "python"
    if not python.exists():
        sys.exit(f"no peer venv at {args.venv}; run with --install first")

    import numba

    from qperfusion import kinetics

    t, aif, _, noisy, mbf = make_curves(args.n, args.aif, seed=1, max_delay=0.0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "curves.npz"
        np.savez(data, t=t, aif=aif, curves=noisy[: args.n_peer], hct=HCT)
        out = subprocess.run(
            [str(python), "-c", PEER_SCRIPT, str(data)], capture_output=True, text=True
        )
    if out.returncode != 0:
        sys.exit(f"peer run failed:\n{out.stderr[-2000:]}")
    peer = json.loads(out.stdout.strip().splitlines()[-1])
    err, bias = accuracy(np.array(peer["mbf"], dtype=float), mbf[: args.n_peer])
    rows.append((f"dcmri {peer['version']} (1 core)", args.n_peer / peer["secs"], err, bias))
    for threads in (1, 2):
        numba.set_num_threads(threads)
        kinetics.fit("2cxm", noisy[:16], aif=aif, times=t, hematocrit=HCT)
        t0 = time.perf_counter()
        fit = kinetics.fit("2cxm", noisy, aif=aif, times=t, hematocrit=HCT)
        rate = args.n / (time.perf_counter() - t0)
        e_all, b_all = accuracy(fit.mbf_ml_min_g, mbf)
        e_sub, b_sub = accuracy(fit.mbf_ml_min_g[: args.n_peer], mbf[: args.n_peer])
        rows.append((f"qperfusion 2cxm ({threads} thr)", rate, e_all, b_all))
    print(f"2CXM on identical curves ({args.aif} AIF, 1 s sampling, sigma 0.02 mmol/L, no delay)")
    print(f"{'tool':28s} {'curves/s':>10s} {'med|err|':>9s} {'bias':>7s}")
    for name, rate, e, b in rows:
        print(f"{name:28s} {rate:10.1f} {e:9.3f} {b:+7.3f}")
    print(
        f"(qperfusion on the peer's {args.n_peer} curves: med|err| {e_sub:.3f}, bias {b_sub:+.3f})"
    )


if __name__ == "__main__":
    main()
