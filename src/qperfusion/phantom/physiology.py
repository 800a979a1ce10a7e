"""Physiological values of the phantom, each with its source, and the per-pixel parameter maps.

Flow values are chosen so that the default classification (DESIGN.md: abnormal MPR < 1.5;
borderline MPR < 2.0 or stress Fp < 2.0 mL/min/g) labels the ischemic territory clearly
abnormal and every other segment clearly normal. Arithmetic: Fp = Fb·(1 − Hct), so a normal
stress Fp ≥ 2.0 mL/min/g needs a blood flow Fb ≥ 2.0/0.58 = 3.45 mL/min/g; the phantom uses a
normal stress Fb of 4.0 (Fp 2.32, 16 % above the threshold) and a rest Fb of 1.15 (MPR ≈ 3.5).

Sources
-------
* Normal stress/rest MBF and MPR: PET consensus, stress 2.5–4.5 and rest 0.6–1.3 mL/min/g, MPR
  3–4 (Kajander S et al., Circ Cardiovasc Imaging 2011;4:678, doi:10.1161/CIRCIMAGING.110.960732;
  Murthy VL et al., J Nucl Med 2018;59:273, doi:10.2967/jnumed.117.201368). CMR dual-sequence
  values in the same range (Kellman P et al., JCMR 2017;19:43, doi:10.1186/s12968-017-0355-5;
  Hsu LY et al., JACC CVI 2018;11:697, doi:10.1016/j.jcmg.2017.06.019, whose maps report Fp).
* Ischemic stress flow 1.2–1.6 mL/min/g with a subendocardial predominance and preserved rest
  flow: Hsu 2018 (above); Chiribiri A et al., JACC CVI 2013;6:600, doi:10.1016/j.jcmg.2012.09.019
  (endo/epi gradient in stenosed territories). Normal transmural endo/epi ratio ~1.1 at rest,
  ~1.05 at stress (Duncker DJ & Bache RJ, Physiol Rev 2008;88:1009,
  doi:10.1152/physrev.00045.2006).
* PS, vp, ve: 2CXM/BTEX fits of first-pass CMR: PS ~1–1.5 mL/min/g, vp ~0.05–0.07, ve ~0.2
  (Jerosch-Herold M, JCMR 2010;12:57, doi:10.1186/1532-429X-12-57; Kellman 2017; ECV of normal
  myocardium ≈ vp + ve ≈ 0.25–0.27: Haaf P et al., JCMR 2016;18:89,
  doi:10.1186/s12968-016-0308-4). Stress raises blood volume (~10–20 %) and PS (recruitment).
* Hematocrit 0.42 and density 1.05 g/mL: :mod:`qperfusion.constants`.
* Bolus delay AIF → myocardium 0.5–1.5 s, longer behind a stenosis (Kroll K et al., Am J
  Physiol 1996;271:H1643, doi:10.1152/ajpheart.1996.271.4.H1643).
* Tissue relaxation: myocardium and blood from :mod:`qperfusion.constants`; skeletal muscle
  T1 ≈ 1.0 s, fat T1 ≈ 0.26 s, marrow ≈ 0.55 s at 1.5 T (Stanisz GJ et al., MRM 2005;54:507,
  doi:10.1002/mrm.20605; de Bazelaire C et al., Radiology 2004;230:652,
  doi:10.1148/radiol.2303021331).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qperfusion import constants

__all__ = [
    "ISCHEMIA",
    "TERRITORIES",
    "TISSUE_PROPS",
    "FlowSettings",
    "flow_settings",
    "parameter_maps",
]

#: Coronary territories by AHA segment (Cerqueira et al., Circulation 2002;105:539).
TERRITORIES: dict[str, tuple[int, ...]] = {
    "lad": (1, 2, 7, 8, 13, 14),
    "rca": (3, 4, 9, 10, 15),
    "lcx": (5, 6, 11, 12, 16),
}
#: Valid ``ischemia`` options: none or one coronary territory.
ISCHEMIA: tuple[str, ...] = ("none", *TERRITORIES)

#: tissue name -> (relative proton density, T1 (s) at 1.5 T, T2 (s) at 1.5 T).
TISSUE_PROPS: dict[str, tuple[float, float, float]] = {
    "air": (0.0, 1.0, 0.05),
    "body": (0.75, 1.00, 0.045),
    "lung": (0.12, 1.20, 0.04),
    "myocardium": (0.80, constants.T1_NATIVE_S["myocardium"][1.5],
                   constants.T2_NATIVE_S["myocardium"][1.5]),
    "lv_blood": (0.90, constants.T1_NATIVE_S["blood"][1.5], constants.T2_NATIVE_S["blood"][1.5]),
    "rv_blood": (0.90, constants.T1_NATIVE_S["blood"][1.5], constants.T2_NATIVE_S["blood"][1.5]),
    "rv_wall": (0.80, constants.T1_NATIVE_S["myocardium"][1.5],
                constants.T2_NATIVE_S["myocardium"][1.5]),
    "aorta": (0.90, constants.T1_NATIVE_S["blood"][1.5], constants.T2_NATIVE_S["blood"][1.5]),
    "fat": (0.90, 0.26, 0.08),
    "spine": (0.60, 0.55, 0.05),
}


@dataclass(frozen=True)
class FlowSettings:
    """Blood flow (mL/min/g) at the endocardium and epicardium, and the other 2CXM values.

    ``ps_ml_min_g`` in mL/min/g; ``vp``, ``ve`` fractions; ``delay_s`` bolus delay (s).
    """

    fb_endo_ml_min_g: float
    fb_epi_ml_min_g: float
    ps_ml_min_g: float
    vp: float
    ve: float
    delay_s: float


#: (state, territory kind) -> settings. "normal" everywhere but the ischemic territory.
_FLOWS: dict[tuple[str, str], FlowSettings] = {
    ("stress", "normal"): FlowSettings(4.1, 3.9, 1.3, 0.065, 0.20, 0.6),
    ("stress", "ischemic"): FlowSettings(1.2, 1.6, 1.0, 0.055, 0.20, 1.2),
    ("rest", "normal"): FlowSettings(1.2, 1.1, 1.0, 0.055, 0.20, 0.8),
    ("rest", "ischemic"): FlowSettings(1.2, 1.1, 1.0, 0.055, 0.20, 1.0),
}


def flow_settings(state: str, ischemic: bool) -> FlowSettings:
    """The :class:`FlowSettings` of a state (``"stress"``/``"rest"``) and territory."""
    return _FLOWS[(state, "ischemic" if ischemic else "normal")]


def parameter_maps(
    labels: np.ndarray,
    depth: np.ndarray,
    *,
    state: str,
    ischemia: str,
    hematocrit: float,
    rng: np.random.Generator,
    heterogeneity_cv: float = 0.05,
) -> dict[str, np.ndarray]:
    """Per-pixel 2CXM parameters of the myocardium.

    Parameters
    ----------
    labels : ndarray of shape (n_slices, ny, nx), uint8
        AHA labels (1–16 myocardium).
    depth : ndarray of shape (n_slices, ny, nx)
        Fractional wall depth (0 endocardium → 1 epicardium), NaN outside the myocardium.
    state : {"stress", "rest"}
    ischemia : {"none", "lad", "lcx", "rca"}
    hematocrit : float
    rng : numpy.random.Generator
        Draws the smooth flow heterogeneity (log-normal, ``heterogeneity_cv``).

    Returns
    -------
    dict of str to ndarray of shape (n_slices, ny, nx)
        ``fp``, ``ps`` (mL/s/mL), ``vp``, ``ve`` (fractions), ``delay`` (s),
        ``mbf_ml_min_g`` (blood flow) and ``fp_ml_min_g``; NaN outside the myocardium.
    """
    from scipy.ndimage import gaussian_filter

    myo = (labels >= 1) & (labels <= 16)
    isch_segments = np.array(TERRITORIES.get(ischemia, ()), dtype=int)
    is_isch = myo & np.isin(labels, isch_segments)
    out = {k: np.full(labels.shape, np.nan) for k in ("fb", "ps", "vp", "ve", "delay")}
    d = np.where(myo, depth, 0.0)
    for flag in (False, True):
        sel = myo & (is_isch == flag)
        s = flow_settings(state, flag)
        out["fb"][sel] = s.fb_endo_ml_min_g + (s.fb_epi_ml_min_g - s.fb_endo_ml_min_g) * d[sel]
        out["ps"][sel] = s.ps_ml_min_g
        out["vp"][sel] = s.vp
        out["ve"][sel] = s.ve
        out["delay"][sel] = s.delay_s
    # smooth log-normal heterogeneity (a few mm correlation), so segments have a real SD
    field = gaussian_filter(rng.standard_normal(labels.shape), sigma=(0, 2.5, 2.5))
    field /= max(field[myo].std(), 1e-12) if myo.any() else 1.0
    # quantised to 0.01 mL/min/g so the simulator computes one curve per distinct value
    out["fb"] = np.round(out["fb"] * np.exp(heterogeneity_cv * field), 2)
    to_internal = constants.MYOCARDIAL_DENSITY_G_ML / constants.SECONDS_PER_MINUTE
    fp = out["fb"] * (1.0 - hematocrit) * to_internal
    return {
        "fp": fp,
        "ps": out["ps"] * to_internal,
        "vp": out["vp"],
        "ve": out["ve"],
        "delay": out["delay"],
        "mbf_ml_min_g": out["fb"],
        "fp_ml_min_g": out["fb"] * (1.0 - hematocrit),
    }
