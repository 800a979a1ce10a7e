"""Segmentation and AIF detection accuracy and speed: phantom and the real GE series.

For each case prints myocardium / LV / RV Dice, AHA agreement (pixels both call myocardium),
endo/epi layer agreement, anterior RV insertion error (degrees) and time per slice, for the
chosen method and for a baseline (epicardium from peak enhancement and pre-contrast signal
only, without the whole-curve distance), side by side. The AIF part checks that the AIF mask
stays inside the LV pool in every frame (phantom truth + displacement fields).

GE: one static segmentation for the whole series against the manual masks (drawn on one
frame near peak enhancement; the heart does not move in this series), so the figures hold
for every frame. Also prints the Dice after the one-pixel shift that best aligns the masks
with the images (an offset of the manual masks that the RV, found independently, shows too).

Run: ``.venv/bin/python benchmarks/segmentation.py [--seeds 0 1 2] [--motion none resp
resp+moco]``
"""

from __future__ import annotations

import argparse
import contextlib
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

import qperfusion.segmentation.myocardium as myo_mod
from qperfusion import aif, segmentation
from qperfusion.errors import SegmentationError

VALIDATION = Path(__file__).resolve().parents[1].parent / "shared" / "validation"


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return float(2 * np.sum(a & b) / max(np.sum(a) + np.sum(b), 1))


@contextlib.contextmanager
def variant(name: str):
    """'method': the shipped settings; 'baseline': no whole-curve distance in the epi edge."""
    saved = (myo_mod.W_CURVE, myo_mod.W_EPI)
    if name == "baseline":
        myo_mod.W_CURVE, myo_mod.W_EPI = 0.0, (1.0, 1.0)
    try:
        yield
    finally:
        myo_mod.W_CURVE, myo_mod.W_EPI = saved


def _ang_err(a, b):
    return np.abs((np.asarray(a) - b + 180.0) % 360.0 - 180.0)


def phantom_insertion_deg() -> float:
    from qperfusion.phantom import anatomy as an

    lateral, post, along_cols, along_rows = an.plane_frame()
    a = np.deg2rad(an.ANTERIOR_INSERTION_DEG)
    d = np.cos(a) * lateral - np.sin(a) * post
    return float(np.rad2deg(np.arctan2(d @ along_rows, d @ along_cols)) % 360)


def run_phantom(seeds: list[int], motions: list[str]) -> None:
    from qperfusion.phantom import simulate_study

    ins_truth = phantom_insertion_deg()
    print("\n== phantom (144x192 px, 1.9 mm, 64 frames; +moco: qperfusion.moco first) ==")
    print(f"{'case':<24}{'variant':<10}{'myo Dice':>18}{'LV Dice':>8}{'RV Dice':>8}"
          f"{'AHA agr':>8}{'layers':>8}{'ins err deg':>18}{'s/slice':>8}")
    for motion in motions:
        use_moco = motion.endswith("+moco")
        for seed in seeds:
            study = simulate_study(seed=seed, motion=motion.removesuffix("+moco"))
            for state, st in study.states.items():
                my = st.acquisition.myocardium
                truth = st.labels
                data, outliers = my.data, None
                a = st.acquisition.aif
                aif_data = a.data[0]
                if use_moco:
                    from qperfusion import moco

                    reg = moco.register_series(my.data, pd_frames=my.pd_frames)
                    data, outliers = reg.registered, reg.outliers
                    reg_a = moco.register_series(a.data[0], pd_frames=a.pd_frames)
                    aif_data = reg_a.registered.reshape(a.data[0].shape)
                for name in ("method", "baseline"):
                    with variant(name):
                        t0 = time.perf_counter()
                        try:
                            seg = segmentation.segment_series(
                                data, my.times_s, my.affines, pd_frames=my.pd_frames,
                                outliers=outliers)
                        except SegmentationError as exc:
                            print(f"{motion}/{seed}/{state:<14}{name:<10} FAILED: {exc}")
                            continue
                        dt = (time.perf_counter() - t0) / my.n_slices
                    d_my, d_lv, d_rv, agr, lay = [], [], [], [], []
                    for k in range(truth.shape[0]):
                        tm = (truth[k] >= 1) & (truth[k] <= 16)
                        both = tm & seg.myocardium[k]
                        d_my.append(dice(seg.myocardium[k], tm))
                        d_lv.append(dice(seg.lv_pool[k], truth[k] == 17))
                        d_rv.append(dice(seg.rv_pool[k], truth[k] == 18))
                        agr.append(np.mean(seg.labels[k][both] == truth[k][both]))
                        lay.append(np.mean(seg.layers[k][both] == st.layers[k][both]))
                    err = _ang_err(seg.insertion_deg, ins_truth)
                    if min(d_rv) < 0.5:
                        print("RV per slice", [round(v, 3) for v in d_rv],
                              [int(np.sum(truth[k] == 18)) for k in range(truth.shape[0])],
                              [int(np.sum(seg.rv_pool[k])) for k in range(truth.shape[0])])
                    print(f"{motion + '/' + str(seed) + '/' + state:<24}{name:<10}"
                          f"{' '.join(f'{v:.3f}' for v in d_my):>18}{min(d_lv):>8.3f}"
                          f"{min(d_rv):>8.3f}{min(agr):>8.3f}{min(lay):>8.3f}"
                          f"{' '.join(f'{v:.0f}' for v in err):>18}{dt:>8.2f}")
                det = aif.detect_blood_pool(aif_data, a.times_s[0], pd_frames=a.pd_frames)
                yy, xx = np.nonzero(det.mask)
                # registered frames sit in the motion-free position
                u = st.aif_displacement * (0.0 if use_moco else 1.0)
                frac = []
                for k in range(u.shape[-1]):
                    inside = ndimage.map_coordinates(
                        st.aif_mask.astype(float), [yy + u[yy, xx, 0, k], xx + u[yy, xx, 1, k]],
                        order=0) > 0.5
                    frac.append(inside.mean())
                frac = np.array(frac)
                bad = np.flatnonzero(frac < 1)
                print(f"{'':<24}AIF mask {det.mask.sum()} px, confidence {det.confidence:.2f}; "
                      f"inside the LV core in {np.sum(frac == 1)}/{len(frac)} frames"
                      + (f" (worst {frac.min():.2f} at frames {bad.tolist()}, abrupt "
                         f"{st.abrupt_frames})" if bad.size else ""))


def _read_ge(folder: Path):
    """The GE series through the project's own reader, plus the manual masks."""
    import scipy.io

    import qperfusion as qp

    (acq,) = qp.read_study(folder / "dicom").acquisitions.values()
    myo = acq.myocardium
    gold = scipy.io.loadmat(folder / "GoldStandard.mat")
    masks = {k: gold[k] > 0 for k in ("SXmask", "DXmask", "MyoMask")}
    return myo.data[0], myo.times_s[0], myo.affines[0], masks


def run_ge() -> None:
    folder = VALIDATION / "ge_firstpass"
    if not folder.is_dir():
        print(f"\n(GE series not found at {folder}; skipped)")
        return
    img, t, a, m = _read_ge(folder)
    lab = m["SXmask"] * 1 + (m["MyoMask"] & ~m["SXmask"]) * 2
    lab = lab + (m["DXmask"] & (lab == 0)) * 3
    ref = segmentation.labels_from_masks(lab[None], a[None])
    print("\n== GE 1.5 T, 256x256 px, 1.41 mm, 79 frames, manual masks ==")
    print(f"{'variant':<10}{'myo Dice':>9}{'LV Dice':>8}{'RV Dice':>8}{'AHA agr':>8}"
          f"{'ins err':>8}{'s/slice':>8}   Dice after best 1-px shift of the masks")
    for name in ("method", "baseline"):
        with variant(name):
            times = []
            for _ in range(3):
                t0 = time.perf_counter()
                seg = segmentation.segment_series(img[None], t, a[None])
                times.append(time.perf_counter() - t0)
        s_my, s_lv, s_rv = seg.myocardium[0], seg.lv_pool[0], seg.rv_pool[0]
        both = s_my & ref.myocardium[0]
        best = max(
            ((dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)),
            key=lambda s: dice(s_my, np.roll(m["MyoMask"], s, (0, 1)))
            + dice(s_lv, np.roll(m["SXmask"], s, (0, 1))),
        )
        shifted = (dice(s_my, np.roll(m["MyoMask"], best, (0, 1))),
                   dice(s_lv, np.roll(m["SXmask"], best, (0, 1))),
                   dice(s_rv, np.roll(m["DXmask"], best, (0, 1))))
        print(f"{name:<10}{dice(s_my, m['MyoMask']):>9.3f}{dice(s_lv, m['SXmask']):>8.3f}"
              f"{dice(s_rv, m['DXmask']):>8.3f}"
              f"{np.mean(seg.labels[0][both] == ref.labels[0][both]):>8.3f}"
              f"{_ang_err(seg.insertion_deg[0], ref.insertion_deg[0]):>8.1f}"
              f"{np.median(times):>8.2f}   shift (row, col) {best}: myo {shifted[0]:.3f} "
              f"LV {shifted[1]:.3f} RV {shifted[2]:.3f}")
    det = aif.detect_blood_pool(img, t)
    print(f"AIF from the myocardial series: {det.mask.sum()} px, "
          f"{np.mean(m['SXmask'][det.mask]) * 100:.1f} % inside SXmask, confidence "
          f"{det.confidence:.2f}; RV arrives {det.lv_arrival_s - det.rv_arrival_s:.1f} s "
          "before LV")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--motion", nargs="+", default=["none", "resp", "resp+moco"],
                   help="none, resp (no correction) or resp+moco (qperfusion.moco first)")
    p.add_argument("--no-phantom", action="store_true")
    args = p.parse_args()
    run_ge()
    if not args.no_phantom:
        run_phantom(args.seeds, args.motion)


if __name__ == "__main__":
    main()
