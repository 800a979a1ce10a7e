"""Overview figure of a phantom study: peak frames, AHA labels and the curves behind them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["phantom_figure"]


def phantom_figure(study: Any, path: str | Path, *, state: str = "stress") -> Path:
    """Write a PNG: the peak-enhancement frame of each slice, the AHA labels, the AIF image
    at its peak and the true blood / segment curves.

    Parameters
    ----------
    study : PhantomStudy
    path : str or Path
        Output file (``.png``); its folder is created.
    state : {"stress", "rest"}

    Returns
    -------
    Path
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from qperfusion.phantom.truth import SEGMENT_NAMES

    st = study.states[state]
    myo = st.acquisition.myocardium
    aif = st.acquisition.aif
    labels = st.labels
    is_myo = (labels >= 1) & (labels <= 16)
    k_peak = int(np.argmax(st.gd_myo[is_myo].mean(axis=0)))
    k_aif = int(np.argmax(st.gd_blood_aif))
    n_s = myo.n_slices
    fig, axes = plt.subplots(3, n_s + 1, figsize=(4.2 * (n_s + 1), 10.5), layout="constrained")
    vmax = float(np.percentile(myo.data[..., k_peak], 99.5))
    from matplotlib.colors import ListedColormap

    tab = plt.get_cmap("tab20")
    # 16 segment colours, then LV pool (red) and RV pool (blue)
    cmap = ListedColormap([tab(i) for i in range(16)] + [(0.9, 0.1, 0.1, 1), (0.1, 0.3, 0.9, 1)])
    for s in range(n_s):
        ax = axes[0, s]
        ax.imshow(myo.data[s, :, :, k_peak], cmap="gray", vmin=0, vmax=vmax)
        ax.set_title(f"{state} {st.slice_names[s]} (stack {s}), frame {k_peak}\n"
                     f"t = {myo.times_s[s, k_peak]:.2f} s (peak myocardial Gd)")
        ax = axes[1, s]
        ax.imshow(myo.data[s, :, :, myo.pd_frames - 1], cmap="gray")
        shown = np.ma.masked_equal(labels[s], 0)
        ax.imshow(shown, cmap=cmap, vmin=0.5, vmax=18.5, alpha=0.55, interpolation="nearest")
        for seg in np.unique(labels[s]):
            if 1 <= seg <= 16:
                yy, xx = np.nonzero(labels[s] == seg)
                ax.text(xx.mean(), yy.mean(), str(seg), color="white", fontsize=10,
                        ha="center", va="center", weight="bold")
        ax.set_title(f"AHA labels on the PD frame\n{st.slice_names[s]} (LV red, RV blue)")
        for a in axes[:2, s]:
            cy, cx = np.argwhere(labels[s] == 17).mean(axis=0)
            a.set_xlim(cx - 45, cx + 45)
            a.set_ylim(cy + 40, cy - 40)
            a.set_xticks([])
            a.set_yticks([])
    ax = axes[0, n_s]
    ax.imshow(aif.echoes[0, 0, :, :, k_aif], cmap="gray")
    ax.contour(st.aif_mask, levels=[0.5], colors="r", linewidths=0.8)
    ax.set_title(f"AIF image, echo 1, frame {k_aif} (LV mask red)")
    ax.set_xticks([])
    ax.set_yticks([])
    ax = axes[1, n_s]
    ax.imshow(myo.data[n_s // 2, :, :, k_peak], cmap="gray", vmin=0, vmax=vmax)
    ax.set_title("whole field of view (mid, peak)")
    ax.set_xticks([])
    ax.set_yticks([])

    ax = axes[2, 0]
    ax.plot(aif.times_s[0], st.gd_blood_aif, "k.-", label="LV blood (AIF truth)")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("[Gd] (mmol/L)")
    ax.set_title(f"AIF: peak {st.gd_blood_aif.max():.2f} mmol/L blood")
    ax.legend()
    ax = axes[2, 1]
    for s in range(n_s):
        for seg in np.unique(labels[s]):
            if 1 <= seg <= 16:
                curve = st.gd_myo[s][labels[s] == seg].mean(axis=0)
                ax.plot(myo.times_s[s], curve, lw=1,
                        color=cmap(int(seg) - 1), label=f"{seg}")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("tissue [Gd] (mmol/L)")
    ax.set_title("true segment curves")
    ax.legend(ncol=4, fontsize=7)
    ax = axes[2, 2]
    seg_keys = [str(k) for k in SEGMENT_NAMES]
    tr = study.truth
    x = np.arange(1, 17)
    ax.bar(x - 0.2, [tr["states"]["stress"]["segments"][k]["mbf_ml_min_g"] for k in seg_keys],
           0.4, label="stress MBF")
    ax.bar(x + 0.2, [tr["states"]["rest"]["segments"][k]["mbf_ml_min_g"] for k in seg_keys],
           0.4, label="rest MBF")
    ax.set_xticks(x)
    ax.set_xlabel("AHA segment")
    ax.set_ylabel("MBF (mL/min/g)")
    isch = tr["findings"]["ischemic_segments"]
    ax.set_title(f"truth; ischemic segments {isch}")
    ax.legend()
    ax = axes[2, 3] if n_s >= 3 else None
    if ax is not None:
        for s in range(n_s):
            ax.plot(myo.times_s[s], myo.data[s][labels[s] == 17].mean(axis=0), "-",
                    label=f"LV signal {st.slice_names[s]}")
        ax.plot(aif.times_s[0], aif.echoes[0, 0][st.aif_mask].mean(axis=0), "k-",
                label="AIF echo 1")
        ax.plot(aif.times_s[0], aif.echoes[1, 0][st.aif_mask].mean(axis=0), "k--",
                label="AIF echo 2")
        ax.set_xlabel("time (s)")
        ax.set_ylabel("signal (stored units)")
        ax.set_title("LV blood signal: SAX slices vs AIF")
        ax.legend(fontsize=7)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
