"""Signal physics: Bloch simulation of the readouts, relaxation, signal → gadolinium.

Entry points of the pipeline:

* :func:`series_to_gd` — myocardial series (all slices) → :class:`GdSeries` (SR frames only,
  mmol/L), PD-normalised, look-up table of the series' own readout, baseline removed;
* :func:`aif_to_gd` — AIF series + LV-pool mask → :class:`AifCurve` (blood mmol/L, SR frames
  only), dual-echo T2*-corrected, with peak / saturation / drift / landmark QC;
* :func:`build_lut` → :class:`LookUpTable` (``gd_from_ratio``), :func:`blood_to_plasma`.
"""

from qperfusion.physics.aif import AifCurve, aif_to_gd
from qperfusion.physics.bloch import (
    READOUTS,
    center_line_index,
    flash_steady_state_mz,
    rampup_flip_angles,
    readout_signal,
)
from qperfusion.physics.bolus import BolusLandmarks, bolus_landmarks, detrend_baseline
from qperfusion.physics.conversion import TISSUES, GdSeries, blood_to_plasma, series_to_gd
from qperfusion.physics.lut import (
    REFERENCES,
    LookUpTable,
    build_lut,
    native_relaxation_s,
    spgr_steady_state_sequence,
)
from qperfusion.physics.normalise import (
    PD_FILTERS,
    noise_sigma_from_pd,
    rician_debias,
    smoothed_pd,
)
from qperfusion.physics.relaxation import agent_name, r1_from_gd, relaxivity, t2star_decay
from qperfusion.physics.t2star import denoise_r2star, r2star_from_echoes, t2star_correct

__all__ = [
    "PD_FILTERS",
    "READOUTS",
    "REFERENCES",
    "TISSUES",
    "AifCurve",
    "BolusLandmarks",
    "GdSeries",
    "LookUpTable",
    "agent_name",
    "aif_to_gd",
    "blood_to_plasma",
    "bolus_landmarks",
    "build_lut",
    "center_line_index",
    "denoise_r2star",
    "detrend_baseline",
    "flash_steady_state_mz",
    "native_relaxation_s",
    "noise_sigma_from_pd",
    "r1_from_gd",
    "r2star_from_echoes",
    "rampup_flip_angles",
    "readout_signal",
    "relaxivity",
    "rician_debias",
    "series_to_gd",
    "smoothed_pd",
    "spgr_steady_state_sequence",
    "t2star_correct",
    "t2star_decay",
]
