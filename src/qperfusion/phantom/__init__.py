"""Digital perfusion phantom: a stress/rest dual-sequence study with ground truth.

A product feature (like ``dipy.sims``), not a test helper: it lets anyone check the whole
cascade, from DICOM to segmental MBF, against a known truth.

In-memory API (stable)::

    from qperfusion import phantom
    ps = phantom.simulate_study(seed=0, ischemia="lad", motion="resp", snr=25.0,
                                readout="flash", noise=True)       # fast, no disk
    st = ps.states["stress"]          # PhantomState (also ps.states["rest"])
    st.acquisition                    # io.model.Acquisition: what a perfect reader returns
    st.gd_myo                         # (n_slices, ny, nx, T) true [Gd] mmol/L, motion-free
    st.gd_blood_aif, st.aif_mask      # (T_aif,) true LV blood [Gd]; (ny_a, nx_a) bool
    st.labels, st.layers              # (n_slices, ny, nx) uint8; 1–16 AHA, 17 LV, 18 RV
    st.displacement                   # (n_slices, ny, nx, 2, T) px (dy, dx), warp convention
    st.aif_displacement               # (ny_a, nx_a, 2, T_aif)
    st.abrupt_frames                  # frames with abrupt motion (stress only)
    st.params                         # per-pixel fp, ps, vp, ve, delay, mbf_ml_min_g, fp_ml_min_g
    st.truth                          # results.json "states.<state>" entry
    ps.truth                          # full truth.json (results.json shape: mpr, findings)
    phantom.write_study("out/", seed=0, ischemia="lad", figure=True)   # DICOM + masks + truth

Slices come in the order a DICOM reader returns them: ascending position along the slice
normal (row × column direction). In a standard short-axis view (anterior up, RV on the left)
that normal points from apex to base, so the stack is **apical, mid, basal**
(``PhantomState.slice_names``); images of one beat are acquired AIF, basal, mid, apical.

What is simulated (details and sources in each module):

* anatomy (:mod:`~qperfusion.phantom.anatomy`): oblique short-axis planes, LV, RV crescent,
  myocardial ring, lungs, spine, aorta, chest wall and fat; AHA labels and endo/epi halves;
  surface-coil shading;
* physiology (:mod:`~qperfusion.phantom.physiology`): per-pixel 2CXM parameters (stress MBF
  4.0 normal / 1.2–1.6 ischemic with endo < epi; rest 1.1–1.2 everywhere; PS, vp, ve,
  bolus delay); tissue curves from :func:`qperfusion.kinetics.tcxm.tcxm_conc` with the plasma
  AIF on a 0.02 s grid, sampled at each image's k-space-centre time;
* blood curves (:mod:`~qperfusion.phantom.curves`): gamma-variate first pass, recirculation,
  plateau; RV earlier, aorta later;
* timing (:mod:`~qperfusion.phantom.timing`): heartbeats with jitter (stress ~98 bpm, rest
  ~64 bpm), 3 PD frames then saturation recovery, 64 beats;
* signal: :func:`qperfusion.physics.bloch.readout_signal` (FLASH or bSSFP, PD frames at 5°),
  blood T2* loss per echo, Gaussian PSF (0.6 px), Rician noise (``snr`` = normal myocardium
  at peak stress enhancement / noise SD), 12-bit integers;
* motion (:mod:`~qperfusion.phantom.motion`): in-plane respiratory motion (non-rigid) and two
  abrupt frames at stress.

Known simplifications: no through-plane motion, no cardiac contraction (images are all
end-diastolic), no dark-rim or B1 effects, T2* only for blood in FLASH images.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY: dict[str, str] = {
    "DEFAULT_SNR": "qperfusion.phantom.simulate",
    "ISCHEMIA": "qperfusion.phantom.physiology",
    "MOTIONS": "qperfusion.phantom.motion",
    "PhantomState": "qperfusion.phantom.simulate",
    "PhantomStudy": "qperfusion.phantom.simulate",
    "READOUT_CHOICES": "qperfusion.phantom.protocol",
    "TERRITORIES": "qperfusion.phantom.physiology",
    "simulate_study": "qperfusion.phantom.simulate",
    "write_simulated": "qperfusion.phantom.write",
    "write_study": "qperfusion.phantom.write",
    "phantom_figure": "qperfusion.phantom.figure",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'qperfusion.phantom' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(__all__)
