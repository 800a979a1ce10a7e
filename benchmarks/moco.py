"""Motion correction: accuracy against the truth displacement, and speed, per method.

1. Synthetic moving series (:mod:`qperfusion.moco._synthetic`, 144 x 192, 60 frames, smooth
   non-rigid breathing, one gasp, one through-plane cough): every registration method in
   ``moco.METHODS`` (our batched demons, scikit-image iLK and TV-L1), each run inside the same
   model-based scheme. Prints median time per frame over repeats, the ratio to the slowest,
   residual displacement in the myocardium (median / p95, px) and the frames flagged.
2. The digital phantom (:func:`qperfusion.phantom.simulate_study`, stress and rest, 3 slices
   of 144 x 192 + the 48 x 64 AIF series, 64 frames each): default method only. Residual in
   the myocardium (all frames, and the frames kept for fitting), abrupt frames flagged or
   corrected, segment curves vs the truth [Gd] before/after, time per frame and per study.

Residual: with truth ``observed_t(p) = static_t(p + u_t(p))`` and our
``registered_t(p) = observed_t(p + d_t(p))``, the residual is ``|d(p) + u(p + d(p))|`` at the
myocardial pixels of the static geometry (:func:`qperfusion.moco.residual_displacement`).

Run: ``.venv/bin/python benchmarks/moco.py [--repeats 3] [--no-phantom] [--methods demons ilk]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from qperfusion import moco
from qperfusion.moco._synthetic import synthetic_series


def _timed(fn, repeats: int):
    """Median wall time (s) over repeats, median CPU time of this process (s), last result.

    The CPU time is printed too because the wall time on a shared machine mostly measures
    the other users; on an idle machine the two agree (numba kernels are single-threaded).
    """
    times, cpus, out = [], [], None
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        times.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    _timed.cpu = float(np.median(cpus))  # type: ignore[attr-defined]
    return float(np.median(times)), out


def synthetic_benchmark(methods: list[str], repeats: int) -> None:
    s = synthetic_series()
    T = s.images.shape[-1]
    keep = np.ones(T, dtype=bool)
    keep[s.through_plane_frames] = False  # no in-plane truth there
    before = np.linalg.norm(np.moveaxis(s.displacement, -1, 0)[keep][:, s.myocardium], axis=-1)
    moco.register_series(s.images[..., :12], pd_frames=3)  # compile the kernels first
    print(f"synthetic {s.images.shape[:2]} x {T} frames; motion in myocardium before: "
          f"median {np.median(before):.2f} px, p95 {np.percentile(before, 95):.2f} px")
    print(f"  truth: jump frames {s.jump_frames}, through-plane frames "
          f"{s.through_plane_frames}")
    rows = []
    for name in methods:
        t, res = _timed(lambda n=name: moco.register_series(s.images, pd_frames=s.pd_frames,
                                                            method=n), repeats)
        r = moco.residual_displacement(res.displacement[0], s.displacement)
        myo = r[s.myocardium][:, keep]
        jump = [float(np.median(r[s.myocardium][:, k])) for k in s.jump_frames]
        rows.append((name, t / T, _timed.cpu / T, np.median(myo), np.percentile(myo, 95),
                     np.nonzero(res.outliers[0])[0].tolist(), jump))
    slowest = max(r[2] for r in rows)
    print(f"  {'method':8s} {'wall s/fr':>9s} {'cpu s/fr':>9s} {'x faster':>9s} "
          f"{'median px':>10s} {'p95 px':>8s}  outliers   jump-frame residual px")
    for name, tpf, cpf, med, p95, out, jump in rows:
        print(f"  {name:8s} {tpf:9.4f} {cpf:9.4f} {slowest / cpf:9.1f} {med:10.3f} {p95:8.3f}  "
              f"{out!s:10s} {np.round(jump, 2).tolist()}")
    print("  (x faster: CPU time of the slowest method / this one's)")


def _segment_curve_corr(images, gd, labels, pd: int):
    """Median and worst (over AHA segments) Pearson r of mean SR signal vs mean truth [Gd]."""
    rs = []
    for s in range(images.shape[0]):
        for seg in np.unique(labels[s]):
            if not 1 <= seg <= 16:
                continue
            m = labels[s] == seg
            a, b = images[s][m].mean(axis=0)[pd:], gd[s][m].mean(axis=0)[pd:]
            rs.append(np.corrcoef(a, b)[0, 1])
    return float(np.median(rs)), float(np.min(rs))


def phantom_benchmark(repeats: int) -> None:
    from qperfusion import phantom

    ps = phantom.simulate_study(seed=0, motion="resp")
    total_study = total_cpu = 0.0
    for state in ("stress", "rest"):
        st = ps.states[state]
        ser = st.acquisition.myocardium
        img = ser.data.astype(np.float32)
        S, _, _, T = img.shape
        t, res = _timed(lambda i=img, p=ser.pd_frames: moco.register_series(i, pd_frames=p),
                        repeats)
        total_study += t
        total_cpu += _timed.cpu
        r = moco.residual_displacement(res.displacement, st.displacement)  # (S, ny, nx, T)
        myo = (st.labels >= 1) & (st.labels <= 16)
        all_r = np.concatenate([r[s][myo[s]].ravel() for s in range(S)])
        kept = np.concatenate([r[s][myo[s]][:, ~res.outliers[s]].ravel() for s in range(S)])
        sr = np.concatenate([r[s][myo[s]][:, ser.pd_frames:].ravel() for s in range(S)])
        pd = np.concatenate([r[s][myo[s]][:, :ser.pd_frames].ravel() for s in range(S)])
        before = np.concatenate([np.linalg.norm(st.displacement[s][myo[s]], axis=1).ravel()
                                 for s in range(S)])
        print(f"phantom {state}: {S} slices {img.shape[1:3]} x {T} frames, wall "
              f"{t:.2f} s = {t / (S * T):.4f} s/frame, CPU {_timed.cpu / (S * T):.4f} s/frame;"
              f" boxes {res.boxes}")
        print(f"  myocardium before: median {np.median(before):.2f} px, p95 "
              f"{np.percentile(before, 95):.2f} px")
        contrast = (np.arange(T) < ser.pd_frames) | (st.gd_blood_aif > 0.05)
        ck = np.concatenate([r[s][myo[s]][:, contrast & ~res.outliers[s]].ravel()
                             for s in range(S)])
        for label, x in (("after, all frames", all_r), ("after, frames kept", kept),
                         ("after, PD+contrast", ck),
                         ("after, SR frames", sr), ("after, PD frames", pd)):
            print(f"  {label:19s}: median {np.median(x):.3f} px, p95 "
                  f"{np.percentile(x, 95):.3f} px")
        for s in range(S):
            print(f"  slice {s}: outliers {np.nonzero(res.outliers[s])[0].tolist()}")
        for k in st.abrupt_frames:
            med = [float(np.median(r[s][myo[s]][:, k])) for s in range(S)]
            flagged = [bool(res.outliers[s, k]) for s in range(S)]
            print(f"  abrupt frame {k}: residual per slice {np.round(med, 2).tolist()} px, "
                  f"flagged {flagged}")
        print(f"  QC flags: {[f.code for f in res.flags]}")
        c0 = _segment_curve_corr(img, st.gd_myo, st.labels, ser.pd_frames)
        c1 = _segment_curve_corr(res.registered, st.gd_myo, st.labels, ser.pd_frames)
        print(f"  segment curve vs truth [Gd], Pearson r median/min: before {c0[0]:.4f}/"
              f"{c0[1]:.4f}, after {c1[0]:.4f}/{c1[1]:.4f}")
        aif = st.acquisition.aif
        if aif is not None:
            a = aif.echoes[0].astype(np.float32)
            ta, ra = _timed(lambda x=a, p=aif.pd_frames: moco.register_series(x, pd_frames=p),
                            repeats)
            total_study += ta
            total_cpu += _timed.cpu
            rr = moco.residual_displacement(ra.displacement[0], st.aif_displacement)
            m = st.aif_mask
            b = np.linalg.norm(st.aif_displacement[m], axis=1)
            print(f"  AIF {a.shape[1:3]}: {ta:.2f} s, box {ra.boxes[0]}; LV blood pool before "
                  f"median {np.median(b):.2f}/p95 {np.percentile(b, 95):.2f} px, after "
                  f"{np.median(rr[m]):.3f}/{np.percentile(rr[m], 95):.3f} px; outliers "
                  f"{np.nonzero(ra.outliers[0])[0].tolist()}")
    print(f"whole study (stress + rest, myocardial + AIF series): wall {total_study:.2f} s, "
          f"CPU {total_cpu:.2f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--methods", nargs="+", default=sorted(moco.METHODS))
    ap.add_argument("--no-phantom", action="store_true")
    ap.add_argument("--no-synthetic", action="store_true")
    args = ap.parse_args()
    if not args.no_synthetic:
        synthetic_benchmark(args.methods, args.repeats)
    if not args.no_phantom:
        phantom_benchmark(args.repeats)


if __name__ == "__main__":
    main()
