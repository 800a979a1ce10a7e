"""A small synthetic study (ring myocardium, AHA labels, LAD defect) for the report tests."""

from __future__ import annotations

import numpy as np
import pytest

from qperfusion.analysis import StateSummary, build_results, segment_statistics
from qperfusion.qc import QCFlag
from qperfusion.report import StateImages

LAD = (1, 2, 7, 8, 13, 14)


def synthetic_state(state: str, n: int = 64):
    """Maps, labels, anatomy, AIF and segment curves of one state."""
    yy, xx = np.mgrid[:n, :n]
    cy, cx = n / 2, n / 2 + 3
    r = np.hypot(yy - cy, xx - cx)
    ang = np.degrees(np.arctan2(-(yy - cy), xx - cx)) % 360  # counter-clockwise from +x
    labels = np.zeros((3, n, n), np.uint8)
    layers = np.zeros_like(labels)
    mbf = np.full(labels.shape, np.nan)
    rng = np.random.default_rng(0 if state == "stress" else 1)
    base = 3.2 if state == "stress" else 1.1
    for z in range(3):
        rin, rout = 9 - 2 * z, 15 - 2 * z
        myo = (r >= rin) & (r < rout)
        if z < 2:
            sector = (((ang - 60) % 360) // 60).astype(int)  # 0 anterior
            seg = 1 + 6 * z + sector
        else:
            seg = 13 + (((ang - 45) % 360) // 90).astype(int)
        labels[z][r < rin] = 17
        labels[z][myo] = seg[myo]
        layers[z][myo] = np.where(r[myo] < 0.5 * (rin + rout), 1, 2)
        val = np.full((n, n), base)
        if state == "stress":
            val[np.isin(seg, LAD)] = 1.4
        mbf[z][myo] = (val + 0.15 * rng.normal(size=(n, n)))[myo]
        labels[z][(np.abs(xx - (cx - rout - 6)) < 5) & (np.abs(yy - cy) < 8)] = 18
    anatomy = 100.0 * np.exp(-((r - 5) / 8.0) ** 2)[None].repeat(3, 0)
    anatomy = anatomy + 20 * rng.random(labels.shape)
    t = np.cumsum(np.full(60, 0.8) + 0.05 * rng.random(60))
    aif = 0.25 * (t - 5).clip(0) ** 3 * np.exp(-(t - 5).clip(0) / 1.4)
    curves = {}
    for s in range(1, 17):
        flow = np.nanmedian(mbf[labels == s]) / 60
        fit = np.convolve(aif, flow * np.exp(-np.arange(60) * 0.8 / 8))[:60] * 0.8
        curves[s] = (t, fit + 0.01 * rng.normal(size=60), fit)
    maps = {"mbf_ml_min_g": mbf, "mbf_sd_ml_min_g": 0.1 * mbf, "fp_ml_min_g": 0.58 * mbf}
    images = StateImages(mbf_ml_min_g=mbf, anatomy=anatomy, labels=labels, aif_times_s=t,
                         aif_mM=aif, segment_curves=curves, slice_names=("basal", "mid", "apical"))
    return maps, labels, layers, images


@pytest.fixture(scope="session")
def study():
    """(results, images) of a stress/rest study with an LAD perfusion defect."""
    summaries, images = {}, {}
    for state in ("stress", "rest"):
        maps, labels, layers, im = synthetic_state(state)
        qc = [QCFlag("AIF_SATURATION", "warning",
                     "The AIF peak is flat over 3 frames; it may be saturated.", "aif")] \
            if state == "stress" else []
        summaries[state] = StateSummary(segment_statistics(maps, labels, layers),
                                        aif_peak_mM=float(np.nanmax(im.aif_mM)),
                                        aif_saturation_warning=state == "stress", qc=qc)
        images[state] = im
    return build_results(summaries, model="fermi"), images


@pytest.fixture(scope="session")
def rest_state():
    """``(maps, labels, layers, images)`` of a rest state alone."""
    return synthetic_state("rest")
