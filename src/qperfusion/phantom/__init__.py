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

Other public names: :func:`write_simulated` (write an already simulated study),
:func:`phantom_figure`, :meth:`PhantomStudy.study` (an :class:`~qperfusion.io.model.Study`),
``simulate_study(..., psf=False)`` (no point-spread blur: every pixel follows its own truth).

What is simulated (details and sources in each module):

* anatomy (:mod:`~qperfusion.phantom.anatomy`): oblique short-axis planes (long axis to the
  patient's left-anterior-inferior, in-plane rotation 14°), LV (cavity radius 24/21/14 mm,
  wall 10/10/8.5 mm basal/mid/apical), RV crescent between insertions 120° apart, lungs,
  spine, descending aorta, chest wall with a fat rim; AHA labels (convention in
  :mod:`~qperfusion.phantom.anatomy`) and endo/epi halves; six-element surface-coil shading.
  Stress and rest share the same motion-free anatomy and position.
* physiology (:mod:`~qperfusion.phantom.physiology`, sources there): blood flow (MBF,
  mL/min/g) stress normal 4.1 endo → 3.9 epi, ischemic 1.2 endo → 1.6 epi; rest 1.2 → 1.1
  everywhere; smooth ±5 % heterogeneity; PS 1.3 (stress) / 1.0 mL/min/g; vp 0.065 / 0.055;
  ve 0.20; bolus delay 0.6 s (stress) / 0.8 s (rest), 1.2 s behind the stenosis at stress;
  Hct 0.42. Fp = MBF·(1 − Hct): normal stress Fp 2.3 mL/min/g (> 2.0), MPR ≈ 3.4 normal,
  ≈ 1.2 ischemic. Tissue curves (:mod:`~qperfusion.phantom.tissue`, option
  ``tissue_model``): the 2CXM (:func:`qperfusion.kinetics.tcxm.tcxm_conc`, default) or NIH's
  20-segment BTEX (``"btex"``; ``"btex_plug"`` plug flow) with the plasma AIF on a 0.02 s
  grid, sampled at each image's k-space-centre time; the truth is the same physiology.
* blood (:mod:`~qperfusion.phantom.curves`): LV peak ≈ 5 mmol/L (stress) / 6 mmol/L (rest)
  blood, gamma-variate first pass + recirculation + plateau, arriving after 5–8 baseline
  beats; RV 1.6–2.4 s earlier and higher, aorta 0.4 s later.
* protocol (:mod:`~qperfusion.phantom.protocol`, :mod:`~qperfusion.phantom.timing`): 64 beats,
  3 PD frames (5°) then saturation recovery; stress ~98 bpm, rest ~64 bpm with AR(1) jitter;
  per beat the AIF image (dual-echo FLASH, 48×64, 5.7 mm, TD 6 ms, TE 0.8/1.9 ms, 8°) then
  basal, mid, apical (144×192, 1.9 mm, 8 mm slices 11 mm apart; FLASH TD 90 ms, TR 2.5 ms,
  TE 1.1 ms, 12° or bSSFP 50°, TR 2.7 ms, 5 ramp-up pulses; 32 lines, centre after 16).
* signal: :func:`qperfusion.physics.bloch.readout_signal`, blood T2* loss per echo
  (FLASH), Gaussian PSF (σ 0.6 px), Rician noise (``snr`` = normal myocardium at peak
  stress enhancement / noise SD; the AIF image has twice that at its LV peak), 12-bit
  integers as a scanner stores them.
* motion (:mod:`~qperfusion.phantom.motion`): in-plane, non-rigid respiratory motion (heart
  excursion 13 mm stress / 9 mm rest) and two abrupt frames (10–15 mm) at stress.

Generation time: ~5–8 s per study in memory, ~10–15 s written with the figure on the
project machine (``benchmarks/phantom_time.py``).

Known simplifications: no through-plane motion, no cardiac contraction (all images are
end-diastolic), no dark-rim or B1 effects, T2* only for blood in FLASH images, no papillary
muscles or trabeculation.
"""

from __future__ import annotations

from qperfusion._lazy import lazy_exports

_LAZY: dict[str, str] = {
    "DEFAULT_SNR": "qperfusion.phantom.simulate",
    "ISCHEMIA": "qperfusion.phantom.physiology",
    "MOTIONS": "qperfusion.phantom.motion",
    "PhantomState": "qperfusion.phantom.simulate",
    "PhantomStudy": "qperfusion.phantom.simulate",
    "READOUT_CHOICES": "qperfusion.phantom.protocol",
    "TERRITORIES": "qperfusion.phantom.physiology",
    "TISSUE_MODELS": "qperfusion.phantom.tissue",
    "simulate_study": "qperfusion.phantom.simulate",
    "write_simulated": "qperfusion.phantom.write",
    "write_study": "qperfusion.phantom.write",
    "phantom_figure": "qperfusion.phantom.figure",
}

__all__ = sorted(_LAZY)


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
