"""Physical and physiological constants, each with its source.

Units follow the package convention: seconds, mmol/L, mL/s/mL, fractions, L/mmol/s.
"""

from __future__ import annotations

__all__ = [
    "DEFAULT_HEMATOCRIT",
    "MYOCARDIAL_DENSITY_G_ML",
    "SECONDS_PER_MINUTE",
]

#: Myocardial tissue density (g/mL). Vinnakota & Bassingthwaighte, Am J Physiol Heart
#: 2004;286:H1742, doi:10.1152/ajpheart.00478.2003 (1.053 g/mL, rounded as in DESIGN.md).
MYOCARDIAL_DENSITY_G_ML = 1.05

#: Default large-vessel hematocrit (fraction) when the user gives none; the value the NIH
#: inline perfusion mapping assumes (Kellman et al., JCMR 2017;19:43,
#: doi:10.1186/s12968-017-0355-5).
DEFAULT_HEMATOCRIT = 0.42

SECONDS_PER_MINUTE = 60.0

# --- Contrast-agent relaxivities -------------------------------------------------------------
#: (r1, r2) in L/mmol/s, human plasma at 37 °C, per generic agent name and field (T).
#: Rohrer M, Bauer H, Mintorovitch J, Requardt M, Weinmann HJ. Comparison of magnetic
#: properties of MRI contrast media solutions at different magnetic field strengths.
#: Invest Radiol 2005;40:715-724, doi:10.1097/01.rli.0000184756.66360.d3 (Table 3, plasma).
RELAXIVITY_PLASMA: dict[str, dict[float, tuple[float, float]]] = {
    "gadobutrol": {1.5: (5.2, 6.1), 3.0: (5.0, 7.1)},
    "gadoterate": {1.5: (3.6, 4.3), 3.0: (3.5, 4.9)},
    "gadopentetate": {1.5: (4.1, 4.6), 3.0: (3.7, 5.2)},
    "gadobenate": {1.5: (6.3, 8.7), 3.0: (5.5, 11.0)},
    "gadoteridol": {1.5: (4.1, 5.0), 3.0: (3.7, 5.7)},
    "gadodiamide": {1.5: (4.3, 5.2), 3.0: (4.0, 5.6)},
}

#: Trade and alternative names seen in ContrastBolusAgent, mapped to the generic name.
AGENT_ALIASES: dict[str, str] = {
    "gadovist": "gadobutrol",
    "gadavist": "gadobutrol",
    "gd-bt-do3a": "gadobutrol",
    "dotarem": "gadoterate",
    "clariscan": "gadoterate",
    "gd-dota": "gadoterate",
    "magnevist": "gadopentetate",
    "gd-dtpa": "gadopentetate",
    "multihance": "gadobenate",
    "gd-bopta": "gadobenate",
    "prohance": "gadoteridol",
    "gd-hp-do3a": "gadoteridol",
    "omniscan": "gadodiamide",
    "gd-dtpa-bma": "gadodiamide",
}

#: Default contrast agent when ContrastBolusAgent is empty (DESIGN.md).
DEFAULT_AGENT = "gadobutrol"

# --- Native relaxation times -------------------------------------------------------------------
#: Native T1 (s) per tissue and field (T). Kellman P, Hansen MS. T1-mapping in the heart:
#: accuracy and precision. JCMR 2014;16:2, doi:10.1186/1532-429X-16-2 (myocardium ~1.0 s and
#: blood ~1.55 s at 1.5 T; ~1.2 s and ~1.8 s at 3 T).
T1_NATIVE_S: dict[str, dict[float, float]] = {
    "myocardium": {1.5: 1.00, 3.0: 1.20},
    "blood": {1.5: 1.55, 3.0: 1.80},
}

#: Native T2 (s) per tissue and field. Myocardium: Giri S et al., JCMR 2009;11:56,
#: doi:10.1186/1532-429X-11-56 (~52 ms at 1.5 T); 3 T ~45 ms (von Knobelsdorff-Brenkenhoff F
#: et al., JCMR 2013;15:53, doi:10.1186/1532-429X-15-53). Arterial blood ~250 ms at 1.5 T and
#: ~ 200 ms at 3 T (Stanisz GJ et al., MRM 2005;54:507, doi:10.1002/mrm.20605).
T2_NATIVE_S: dict[str, dict[float, float]] = {
    "myocardium": {1.5: 0.052, 3.0: 0.045},
    "blood": {1.5: 0.25, 3.0: 0.20},
}

#: Transverse relaxivity r2* (L/mmol/s) of gadolinium in the LV blood pool, which drives the
#: signal loss of the AIF at its peak. Chosen so that ~6 mmol/L at TE 1.3 ms loses ~10% of
#: signal: the AIF under-estimate that Kellman et al. JCMR 2017;19:43 report as ~10% MBF
#: over-estimation without T2* correction. Approximate; used by the phantom.
R2STAR_RELAXIVITY_BLOOD = {1.5: 13.0, 3.0: 26.0}

#: Native blood T2* (s), 1.5 T and 3 T (oxygenated arterial blood; order of magnitude).
T2STAR_BLOOD_NATIVE_S = {1.5: 0.10, 3.0: 0.05}

# --- AIF quality control ------------------------------------------------------------------
#: AIF peak (blood, mmol/L) above which a non-linear conversion is flagged as saturation. Seed
#: value of the issue (about 3 mmol/L); the dual-sequence AIF of Kellman et al. JCMR 2017;19:43
#: is designed to stay linear well above it, a myocardial-series LV pool is not.
AIF_SATURATION_PEAK_MM = 3.0

#: Slope of the look-up table at the AIF peak, relative to its slope at 0, below which the
#: conversion counts as non-linear. 0.3: the short-TD dual-sequence AIF readout (TD 6 ms,
#: centre line 8 × 2.6 ms later) stays above it up to ~8.5 mmol/L, whereas an LV-pool AIF from
#: the myocardial series (TD 90 ms) falls to ~0.13 at 3 mmol/L.
AIF_LINEARITY_MIN = 0.3

#: Baseline drift of the AIF (mmol/L over the whole series, from a line through the
#: pre-bolus frames) above which a warning is raised.
AIF_DRIFT_WARN_MM = 0.2
