"""The phantom cascade: anatomy → physiology → [Gd](t) → Bloch signal → motion → PSF → noise.

Everything is computed in memory; :mod:`qperfusion.phantom.dicom` writes it out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.ndimage import gaussian_filter

from qperfusion import constants
from qperfusion.errors import QPerfusionError
from qperfusion.io.model import Acquisition, PerfusionSeries, SequenceParams
from qperfusion.phantom import anatomy as an
from qperfusion.phantom import curves, physiology, protocol, timing
from qperfusion.phantom import motion as motion_fields
from qperfusion.phantom.tissue import TISSUE_MODELS, tissue_curves
from qperfusion.physics.bloch import readout_signal
from qperfusion.physics.relaxation import relaxivity, t2star_decay

__all__ = ["DEFAULT_SNR", "PhantomState", "PhantomStudy", "simulate_study"]

#: Default SNR: normal myocardium at peak stress enhancement / noise SD (typical of 1.5 T
#: first-pass perfusion, ~15–30).
DEFAULT_SNR = 25.0
#: The AIF image (larger voxels) has this times the myocardial SNR at the LV blood peak.
AIF_SNR_FACTOR = 2.0
#: Fine time step (s) of the kinetic simulation, before sampling at the frame times.
FINE_DT_S = 0.02
#: Gaussian point-spread function SD (pixels): limited phase-encoding resolution + partial volume.
PSF_SIGMA_PX = 0.6
#: Largest stored value (12-bit scanner images).
MAX_STORED = 4095
_TARGET_MAX = 2200.0
STATES = ("stress", "rest")
_BLOOD = (an.T_LV, an.T_RV, an.T_AORTA)


@dataclass
class PhantomState:
    """One simulated state (stress or rest): the images and the truth behind them.

    Slices are in the stack order a reader returns (ascending position along the DICOM slice
    normal = apical, mid, basal; see :attr:`slice_names`).

    Attributes
    ----------
    acquisition : Acquisition
        What a perfect DICOM reader returns (``headers`` empty).
    gd_myo : ndarray of shape (n_slices, ny, nx, T)
        True [Gd] (mmol/L) of every pixel at its frame time, motion-free, no PSF: tissue
        concentration in the myocardium and body, blood concentration in the blood pools.
    gd_blood_aif : ndarray of shape (T_aif,)
        True LV blood [Gd] (mmol/L) at the AIF frame times.
    aif_mask : ndarray of shape (ny_a, nx_a), bool
        LV pool of the AIF image (pixels wholly inside the cavity), motion-free position.
    labels : ndarray of shape (n_slices, ny, nx), uint8
        1–16 AHA, 17 LV pool, 18 RV pool, 0 else; motion-free position.
    layers : ndarray of shape (n_slices, ny, nx), uint8
        1 endocardial, 2 epicardial half, 0 else.
    displacement : ndarray of shape (n_slices, ny, nx, 2, T), float32
        (dy, dx) px with ``observed_t(p) = static_t(p + u_t(p))``; zeros without motion.
    aif_displacement : ndarray of shape (ny_a, nx_a, 2, T_aif), float32
    abrupt_frames : list of int
        Frames with abrupt motion (stress only).
    params : dict of str to ndarray of shape (n_slices, ny, nx)
        ``fp``, ``ps`` (mL/s/mL), ``vp``, ``ve``, ``delay`` (s), ``mbf_ml_min_g``,
        ``fp_ml_min_g``; NaN outside the myocardium.
    truth : dict
        The ``results.json`` ``states.<state>`` entry.
    slice_names : list of str
        Level of each slice (``"apical"``, ``"mid"``, ``"basal"``).
    r_wave_s : ndarray of shape (T,)
        R-wave times (s) on the same clock as the frame times.
    trigger_time_ms : dict of str to ndarray
        R wave → saturation pulse (ms) of every image: ``"myocardium"`` (n_slices, T) and
        ``"aif"`` (T,) (DICOM TriggerTime).
    noise_sd : dict of str to float
        Gaussian noise SD (stored units) per series (``"myocardium"``, ``"aif"``).
    fine_times_s : ndarray of shape (T_fine,)
        The fine time grid (s, step :data:`FINE_DT_S`) the tissue kinetics run on.
    gd_blood_fine : ndarray of shape (T_fine,)
        True LV blood [Gd] (mmol/L) on that grid: the input (÷ (1 − Hct) = plasma) every
        myocardial curve was computed from.
    """

    acquisition: Acquisition
    gd_myo: np.ndarray
    gd_blood_aif: np.ndarray
    aif_mask: np.ndarray
    labels: np.ndarray
    layers: np.ndarray
    displacement: np.ndarray
    aif_displacement: np.ndarray
    abrupt_frames: list[int]
    params: dict[str, np.ndarray]
    truth: dict[str, Any]
    slice_names: list[str]
    r_wave_s: np.ndarray
    trigger_time_ms: dict[str, np.ndarray] = field(default_factory=dict)
    noise_sd: dict[str, float] = field(default_factory=dict)
    fine_times_s: np.ndarray = field(default_factory=lambda: np.empty(0))
    gd_blood_fine: np.ndarray = field(default_factory=lambda: np.empty(0))


@dataclass
class PhantomStudy:
    """A simulated stress + rest study.

    Attributes
    ----------
    states : dict of str to PhantomState
        ``"stress"`` and ``"rest"``.
    truth : dict
        The full truth in the ``results.json`` shape (states, mpr, findings).
    options : dict
        The options it was simulated with (seed, ischemia, motion, snr, readout, noise).
    """

    states: dict[str, PhantomState]
    truth: dict[str, Any]
    options: dict[str, Any]

    def study(self) -> Any:
        """The two acquisitions as a :class:`qperfusion.io.model.Study`."""
        from qperfusion.io.model import Study

        return Study(
            acquisitions={s: st.acquisition for s, st in self.states.items()},
            patient=dict(PATIENT),
            source="qperfusion.phantom",
        )


#: The fake patient written to the DICOM headers (so anonymisation can be tested).
PATIENT: dict[str, str] = {
    "name": "PHANTOM^PERFUSION",
    "id": "QPF-0001",
    "birth_date": "19580314",
    "sex": "M",
}
PATIENT_WEIGHT_KG = 80.0
DOSE_MMOL_PER_KG = 0.05


def _stack_order() -> list[int]:
    """Indices into ``anatomy.LEVELS`` sorted by ascending position along the slice normal."""
    # normal = −LONG_AXIS, level offset along +LONG_AXIS: position = −offset
    return sorted(range(len(an.LEVELS)), key=lambda i: -an.LEVELS[i].offset_mm)


def _interp_rows(t_fine: np.ndarray, curves_fine: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Linear interpolation of many curves sharing ``t_fine`` at times ``t``."""
    idx = np.clip(np.searchsorted(t_fine, t) - 1, 0, t_fine.size - 2)
    w = (t - t_fine[idx]) / (t_fine[idx + 1] - t_fine[idx])
    return curves_fine[..., idx] * (1 - w) + curves_fine[..., idx + 1] * w


def _signal(
    tissue: np.ndarray,
    coil: np.ndarray,
    gd: np.ndarray,
    seq: SequenceParams,
    n_pd: int,
    echo_te: float,
) -> np.ndarray:
    """Noise-free magnitude signal (ny, nx, T) of one plane for one echo."""
    names = an.TISSUES
    pd = np.array([physiology.TISSUE_PROPS[n][0] for n in names])[tissue]
    t1 = np.array([physiology.TISSUE_PROPS[n][1] for n in names])[tissue]
    t2 = np.array([physiology.TISSUE_PROPS[n][2] for n in names])[tissue]
    r1_gd, r2_gd = relaxivity(seq.agent, seq.field_t)
    m0 = (pd * coil)[..., None]
    r1 = 1.0 / t1[..., None] + r1_gd * gd
    r2 = 1.0 / t2[..., None] + r2_gd * gd
    out = np.empty(gd.shape)
    common = dict(readout=seq.readout, tr_s=seq.tr_s, lines_to_center=seq.lines_to_center,
                  n_rampup=seq.n_rampup)
    out[..., :n_pd] = readout_signal(r1[..., :n_pd], td_s=None, flip_deg=seq.pd_flip_deg,
                                     r2=r2[..., :n_pd], m0=m0, **common)
    out[..., n_pd:] = readout_signal(r1[..., n_pd:], td_s=seq.td_s, flip_deg=seq.flip_deg,
                                     r2=r2[..., n_pd:], m0=m0, **common)
    if seq.readout == "flash":
        # gradient-echo T2* loss of blood (Gd-dependent); other tissues' constant T2*
        # factor is folded into their proton density
        blood = np.isin(tissue, _BLOOD)[..., None]
        r2s = (1.0 / constants.T2STAR_BLOOD_NATIVE_S[1.5]
               + constants.R2STAR_RELAXIVITY_BLOOD[1.5] * gd)
        out = np.where(blood, out * t2star_decay(echo_te, r2s), out)
    return out


def _blur(img: np.ndarray, sigma_px: float) -> np.ndarray:
    return gaussian_filter(img, sigma=(sigma_px, sigma_px, 0)) if sigma_px > 0 else img


def _rician(signal: np.ndarray, sd: float, rng: np.random.Generator) -> np.ndarray:
    if sd <= 0:
        return signal
    re = signal.astype(np.float32) + sd * rng.standard_normal(signal.shape, dtype=np.float32)
    im = sd * rng.standard_normal(signal.shape, dtype=np.float32)
    return np.hypot(re, im)


def _store(x: np.ndarray) -> np.ndarray:
    """Scanner integers (as a reader returns them, float32)."""
    return np.clip(np.rint(x), 0, MAX_STORED).astype(np.float32)


def _blood_pool_curves(t: np.ndarray, state: str, onset: float, shape: curves.BolusShape):
    """LV, RV and aorta blood [Gd] (mmol/L) at ``t``."""
    lv = curves.blood_curve(t, onset_s=onset, shape=shape)
    rv_shape = curves.BolusShape(shape.peak_mmol_l * 1.35, shape.alpha, shape.t_peak_s * 0.75,
                                 shape.recirc_fraction, shape.recirc_delay_s,
                                 shape.recirc_t_peak_s, shape.plateau_mmol_l)
    rv_lead = 1.6 if state == "stress" else 2.4  # pulmonary transit RV → LV (s)
    rv = curves.blood_curve(t, onset_s=onset - rv_lead, shape=rv_shape)
    ao = curves.blood_curve(t, onset_s=onset + 0.4, shape=shape)
    return lv, rv, ao


def _simulate_state(
    state: str,
    *,
    seed: int,
    ischemia: str,
    motion_kind: str,
    readout: str,
    hematocrit: float,
    planes: list[an.PlaneAnatomy],
    aif_plane: an.PlaneAnatomy,
    order: list[int],
    psf_sigma_px: float,
    tissue_model: str,
) -> tuple[dict[str, Any], np.random.Generator]:
    """Noise-free signals and truth of one state (noise is added by the caller)."""
    rng = np.random.default_rng([seed, STATES.index(state)])
    myo_seq = protocol.myo_sequence(readout)
    aif_seq = protocol.aif_sequence()
    n_t = protocol.N_BEATS
    n_pd = protocol.N_PD
    tim = timing.beat_timing(state, n_beats=n_t, aif_seq=aif_seq, myo_seq=myo_seq,
                             n_slices=len(an.LEVELS), rng=rng)
    # bolus arrives after 5–8 saturation-recovery baseline beats
    n_base = int(rng.integers(5, 9))
    onset = tim.r_wave_s[n_pd + n_base] + rng.uniform(0.0, 0.5) * tim.rr_s[n_pd + n_base]
    shape = curves.bolus_shape(state, rng)

    t_end = float(tim.myo_center_s.max()) + 1.0
    t_fine = np.arange(0.0, t_end + FINE_DT_S, FINE_DT_S)
    lv_f, rv_f, ao_f = _blood_pool_curves(t_fine, state, onset, shape)
    cp_f = lv_f / (1.0 - hematocrit)

    # ---- myocardial slices (stack order) -----------------------------------------------
    labels = np.stack([planes[i].labels for i in order])
    layers = np.stack([planes[i].layers for i in order])
    depth = np.stack([planes[i].depth for i in order])
    tissue = np.stack([planes[i].tissue for i in order])
    params = physiology.parameter_maps(labels, depth, state=state, ischemia=ischemia,
                                       hematocrit=hematocrit, rng=rng)
    myo = (labels >= 1) & (labels <= 16)
    normal = physiology.flow_settings(state, False)
    to_int = constants.MYOCARDIAL_DENSITY_G_ML / constants.SECONDS_PER_MINUTE
    fb_mean = 0.5 * (normal.fb_endo_ml_min_g + normal.fb_epi_ml_min_g)
    extra = np.array([
        # RV free wall: normal myocardium; body (skeletal muscle): slow, small uptake
        [fb_mean * (1 - hematocrit) * to_int, normal.ps_ml_min_g * to_int, normal.vp,
         normal.ve, normal.delay_s],
        [0.01, 0.002, 0.03, 0.12, 1.0],
    ])
    # one kinetic curve per distinct parameter set (flow is quantised in parameter_maps), all
    # in one call: the cost is the time loop, not the number of curves
    keys = np.stack([params[k][myo] for k in ("fp", "ps", "vp", "ve", "delay")], axis=1)
    uniq, inverse = np.unique(np.concatenate([keys, extra]), axis=0, return_inverse=True)
    fine_uniq = tissue_curves(tissue_model, t_fine, cp_f, uniq)
    inverse = inverse.ravel()
    fine_myo = fine_uniq[inverse[: len(keys)]]
    fine_rvwall, fine_body = fine_uniq[inverse[len(keys)]], fine_uniq[inverse[len(keys) + 1]]
    static_curves = {an.T_LV: lv_f, an.T_RV: rv_f, an.T_AORTA: ao_f, an.T_RVWALL: fine_rvwall,
                     an.T_BODY: fine_body}

    times = tim.myo_center_s[order]  # (n_slices, T) in stack order
    n_s = len(order)
    ny, nx = labels.shape[1:]
    gd = np.zeros((n_s, ny, nx, n_t))
    myo_idx = np.cumsum(myo.ravel()).reshape(myo.shape) - 1
    for s in range(n_s):
        for cls, fine in static_curves.items():
            sel = tissue[s] == cls
            gd[s][sel] = _interp_rows(t_fine, fine, times[s])
        sel = myo[s]
        gd[s][sel] = _interp_rows(t_fine, fine_myo[myo_idx[s][sel]], times[s])

    # ---- AIF ------------------------------------------------------------------------------
    t_aif = tim.aif_center_s
    gd_aif = np.zeros((*aif_plane.tissue.shape, n_t))
    for cls, fine in static_curves.items():
        sel = aif_plane.tissue == cls
        gd_aif[sel] = _interp_rows(t_fine, fine, t_aif)
    gd_blood_aif = _interp_rows(t_fine, lv_f, t_aif)

    # ---- motion ---------------------------------------------------------------------------
    _, _, row_dir, col_dir = an.plane_frame()
    inferior, anterior = np.array([0.0, 0.0, -1.0]), np.array([0.0, -1.0, 0.0])
    inplane = np.array([[inferior @ col_dir, inferior @ row_dir],
                        [anterior @ col_dir, anterior @ row_dir]])
    abrupt_mm: dict[int, np.ndarray] = {}
    if state == "stress":
        # drawn whatever the motion option, so that motion="none" consumes the random stream
        # alike and gets the SAME noise as the motion study of its seed: a motion-free twin
        # that differs in motion only (a different noise draw moved stress MBF by 2-4 %)
        frames = rng.choice(np.arange(n_pd + n_base + 4, n_t - 3), size=2, replace=False)
        for f in sorted(int(k) for k in frames):
            ang = rng.uniform(0, 2 * np.pi)
            shift = rng.uniform(10.0, 15.0) * np.array([np.sin(ang), np.cos(ang)])
            if motion_kind != "none":
                abrupt_mm[f] = shift
    breath_seed = int(rng.integers(2**31))
    disp = np.stack([
        motion_fields.displacement_fields(
            times[s], planes[order[s]].lateral_mm, planes[order[s]].anterior_mm, state=state,
            motion=motion_kind, pixel_mm=protocol.MYO_GRID.pixel_mm, inplane_dir=inplane,
            abrupt={k: v / protocol.MYO_GRID.pixel_mm for k, v in abrupt_mm.items()},
            rng_seed=breath_seed)
        for s in range(n_s)
    ])
    disp_aif = motion_fields.displacement_fields(
        t_aif, aif_plane.lateral_mm, aif_plane.anterior_mm, state=state, motion=motion_kind,
        pixel_mm=protocol.AIF_GRID.pixel_mm, inplane_dir=inplane,
        abrupt={k: v / protocol.AIF_GRID.pixel_mm for k, v in abrupt_mm.items()},
        rng_seed=breath_seed)

    # ---- signals --------------------------------------------------------------------------
    # the scanner scale and the noise reference come from the motion-free images, so that
    # the motion changes nothing but the positions
    myo_sig = np.empty_like(gd)
    body = tissue != an.T_AIR
    ref = {"myo_p999": 0.0, "aif_max": 0.0}
    normal_myo = (labels >= 1) & (labels <= 16)
    if ischemia != "none":
        normal_myo &= ~np.isin(labels, physiology.TERRITORIES[ischemia])
    k_peak = int(np.argmax(gd[normal_myo].mean(axis=0)))
    peak_vals = []
    for s in range(n_s):
        raw = _signal(tissue[s], planes[order[s]].coil, gd[s], myo_seq, n_pd, myo_seq.te_s[0])
        static = _blur(raw, psf_sigma_px)
        ref["myo_p999"] = max(ref["myo_p999"], float(np.percentile(static[body[s]], 99.9)))
        peak_vals.append(static[..., k_peak][normal_myo[s]])
        moved = np.any(disp[s])
        myo_sig[s] = _blur(motion_fields.warp_series(raw, disp[s]), psf_sigma_px) if moved \
            else static
    ref["myo_peak"] = float(np.concatenate(peak_vals).mean())
    aif_sig = np.empty((2, *gd_aif.shape))
    for e, te in enumerate(aif_seq.te_s):
        img = _signal(aif_plane.tissue, aif_plane.coil, gd_aif, aif_seq, n_pd, te)
        if e == 0:
            static = _blur(img, psf_sigma_px)
            ref["aif_max"] = float(static.max())
            ref["aif_peak"] = float(static[aif_plane.lv_core].mean(axis=0).max())
        aif_sig[e] = _blur(motion_fields.warp_series(img, disp_aif), psf_sigma_px)

    return {
        "state": state, "tim": tim, "times": times, "labels": labels, "layers": layers,
        "tissue": tissue, "params": params, "gd": gd.astype(np.float32), "gd_aif": gd_aif,
        "gd_blood_aif": gd_blood_aif, "myo_sig": myo_sig, "aif_sig": aif_sig, "disp": disp,
        "disp_aif": disp_aif, "abrupt": sorted(abrupt_mm), "myo_seq": myo_seq,
        "aif_seq": aif_seq, "onset": onset, "ref": ref, "t_fine": t_fine, "lv_fine": lv_f,
    }, rng


def _series(echoes, times, seq, affines, positions, description, uid) -> PerfusionSeries:
    return PerfusionSeries(
        echoes=echoes, times_s=times, pd_frames=protocol.N_PD, sequence=seq, affines=affines,
        time_source="AcquisitionTime", rr_s=float(np.median(np.diff(times[0]))),
        description=description, series_uid=uid, slice_positions_mm=positions,
    )


def simulate_study(
    seed: int = 0,
    *,
    ischemia: str = "lad",
    motion: str = "resp",
    snr: float = DEFAULT_SNR,
    readout: str = "flash",
    noise: bool = True,
    hematocrit: float = constants.DEFAULT_HEMATOCRIT,
    psf: bool = True,
    tissue_model: str = "2cxm",
) -> PhantomStudy:
    """Simulate a stress + rest dual-sequence perfusion study in memory (no disk).

    Parameters
    ----------
    seed : int
        Everything random (heart rate, bolus, heterogeneity, breathing, noise) follows it.
    ischemia : {"none", "lad", "lcx", "rca"}
        Coronary territory with reduced stress flow.
    motion : {"none", "resp"}
        Respiratory motion in both states plus two abrupt frames at stress.
    snr : float
        Normal myocardium at peak stress enhancement / noise SD.
    readout : {"flash", "ssfp"}
        Myocardial readout (the AIF image is always dual-echo FLASH).
    noise : bool
        Rician noise on (the images are still stored as integers when off).
    hematocrit : float
        Blood hematocrit (fraction).
    psf : bool
        Blur with the point-spread function (partial volume at tissue borders). ``False``
        gives images in which every pixel's signal follows its own true [Gd] exactly (a
        check of signal → [Gd] conversion pixel by pixel).
    tissue_model : {"2cxm", "btex", "btex_plug"}
        Kinetic model that makes the myocardial (and RV wall, body) tissue curves from the
        same physiology (:mod:`qperfusion.phantom.tissue`): ``"btex"`` is NIH's 20-segment
        BTEX. The truth (blood flow ``Fp / (1 − Hct)``) does not depend on it.

    Returns
    -------
    PhantomStudy
    """
    from qperfusion.phantom import truth as truth_mod

    _check_option("ischemia", ischemia, physiology.ISCHEMIA)
    _check_option("motion", motion, motion_fields.MOTIONS)
    _check_option("readout", readout, protocol.READOUT_CHOICES)
    _check_option("tissue_model", tissue_model, tuple(TISSUE_MODELS))
    if not np.isfinite(snr) or snr <= 0:
        raise QPerfusionError(f"snr must be a positive number, got {snr}")
    order = _stack_order()
    planes = [an.draw_plane(lv, protocol.MYO_GRID) for lv in an.LEVELS]
    aif_plane = an.draw_plane(an.LEVELS[0], protocol.AIF_GRID, shift_mm=3.0)
    raw: dict[str, dict[str, Any]] = {}
    rngs = {}
    for state in STATES:
        raw[state], rngs[state] = _simulate_state(
            state, seed=seed, ischemia=ischemia, motion_kind=motion, readout=readout,
            hematocrit=hematocrit, planes=planes, aif_plane=aif_plane, order=order,
            psf_sigma_px=PSF_SIGMA_PX if psf else 0.0, tissue_model=tissue_model)

    # scanner scaling and noise level fixed by the stress acquisition, shared with rest
    ref = raw["stress"]["ref"]
    scale_myo = _TARGET_MAX / ref["myo_p999"]
    scale_aif = _TARGET_MAX / ref["aif_max"]
    sd_myo = scale_myo * ref["myo_peak"] / snr if noise else 0.0
    sd_aif = scale_aif * ref["aif_peak"] / (AIF_SNR_FACTOR * snr) if noise else 0.0
    core = aif_plane.lv_core

    states: dict[str, PhantomState] = {}
    for state in STATES:
        r = raw[state]
        rng = rngs[state]
        myo_img = _store(_rician(scale_myo * r["myo_sig"], sd_myo, rng))
        aif_img = _store(_rician(scale_aif * r["aif_sig"], sd_aif, rng))
        affines = np.stack([planes[i].affine for i in order])
        # third column: the normal times the slice step, as a reader builds it
        affines[:, :3, 2] = -an.LONG_AXIS * protocol.SLICE_SPACING_MM
        pos_mm = np.array([affines[s, :3, 3] @ (-an.LONG_AXIS) for s in range(len(order))])
        myo_series = _series(myo_img[None], r["times"], r["myo_seq"], affines, pos_mm,
                             f"{state}_perf_SAX", series_uid(seed, state, "myocardium"))
        aif_pos = np.array([aif_plane.affine[:3, 3] @ (-an.LONG_AXIS)])
        aif_series = _series(aif_img[:, None], r["tim"].aif_center_s[None], r["aif_seq"],
                             aif_plane.affine[None], aif_pos, f"{state}_perf_AIF",
                             series_uid(seed, state, "aif"))
        acq = Acquisition(state=state, myocardium=myo_series, aif=aif_series,
                          hematocrit=hematocrit)
        states[state] = PhantomState(
            acquisition=acq,
            gd_myo=r["gd"],
            gd_blood_aif=r["gd_blood_aif"],
            aif_mask=core.copy(),
            labels=r["labels"],
            layers=r["layers"],
            displacement=r["disp"],
            aif_displacement=r["disp_aif"],
            abrupt_frames=list(r["abrupt"]),
            params=r["params"],
            truth={},
            slice_names=[an.LEVELS[i].name for i in order],
            r_wave_s=r["tim"].r_wave_s,
            trigger_time_ms={
                "myocardium": 1e3 * (r["tim"].myo_sat_s[order] - r["tim"].r_wave_s),
                "aif": 1e3 * (r["tim"].aif_sat_s - r["tim"].r_wave_s),
            },
            noise_sd={"myocardium": float(sd_myo), "aif": float(sd_aif)},
            fine_times_s=r["t_fine"],
            gd_blood_fine=r["lv_fine"],
        )
    options = {"seed": seed, "ischemia": ischemia, "motion": motion, "snr": float(snr),
               "readout": readout, "noise": bool(noise), "hematocrit": float(hematocrit),
               "psf": bool(psf), "tissue_model": tissue_model}
    full_truth = truth_mod.study_truth(states, options)
    for state in STATES:
        states[state].truth = full_truth["states"][state]
    return PhantomStudy(states=states, truth=full_truth, options=options)


def series_uid(seed: int, state: str, kind: str) -> str:
    """The SeriesInstanceUID the DICOM writer gives a series (deterministic per seed)."""
    from pydicom.uid import generate_uid

    return generate_uid(entropy_srcs=["qperfusion-phantom", str(seed), state, kind, "series"])


def _check_option(name: str, value: str, valid: tuple[str, ...]) -> None:
    if value not in valid:
        raise QPerfusionError(f"{name} {value!r} is not one of {list(valid)}")
