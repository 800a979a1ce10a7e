"""The simulated scanner protocol: grids and readouts of the AIF and myocardial series.

Values follow the dual-sequence protocol of Kellman P et al., JCMR 2017;19:43,
doi:10.1186/s12968-017-0355-5 (1.5 T; FLASH TR 2.5 ms, TE 1.1 ms, 12°, TD ~90 ms; bSSFP 50°,
TR 2.7 ms; AIF: low-resolution dual-echo FLASH, TE 0.8/1.9 ms, short TD) and
Gatehouse PD et al., JMRI 2004;20:39, doi:10.1002/jmri.20054 (AIF prepulse delay).

Myocardial images: 144 rows × 192 columns, 1.9 mm pixels, 8 mm slices 11 mm apart; phase
encoding along the columns (``COL``, the 144-pixel direction) with 96 phase-encoding steps
(67 % phase resolution) and in-plane acceleration 3 → 32 acquired lines, linear order, so the
centre is the 17th line (``lines_to_center`` 16). AIF: 48 × 64, 5.7 mm pixels, 10 mm slice,
48 steps, acceleration 3 → 16 lines (centre after 8).
"""

from __future__ import annotations

from qperfusion.io.model import SequenceParams
from qperfusion.phantom.anatomy import Grid

__all__ = [
    "ACCELERATION",
    "AIF_GRID",
    "MYO_GRID",
    "N_BEATS",
    "N_PD",
    "PE_STEPS",
    "READOUT_CHOICES",
    "SLICE_SPACING_MM",
    "aif_sequence",
    "myo_sequence",
]

MYO_GRID = Grid(rows=144, cols=192, pixel_mm=1.9, thickness_mm=8.0)
AIF_GRID = Grid(rows=48, cols=64, pixel_mm=5.7, thickness_mm=10.0)
SLICE_SPACING_MM = 11.0
#: Phase-encoding steps written to AcquisitionMatrix (before acceleration), per series.
PE_STEPS = {"myocardium": 96, "aif": 48}
#: In-plane (GRAPPA-like) acceleration, per series.
ACCELERATION = {"myocardium": 3, "aif": 3}
#: Leading proton-density frames of both series.
N_PD = 3
#: Heartbeats per state (= frames of every series).
N_BEATS = 64
READOUT_CHOICES: tuple[str, ...] = ("flash", "ssfp")


def myo_sequence(readout: str) -> SequenceParams:
    """Readout of the myocardial slices (``"flash"`` or ``"ssfp"``)."""
    lines = PE_STEPS["myocardium"] // ACCELERATION["myocardium"]
    if readout == "flash":
        return SequenceParams(
            readout="flash", td_s=0.090, tr_s=0.0025, te_s=(0.0011,), flip_deg=12.0,
            pd_flip_deg=5.0, n_pe_lines=lines, lines_to_center=lines // 2, ordering="linear",
            n_rampup=0, field_t=1.5, agent="gadobutrol",
        )
    if readout == "ssfp":
        return SequenceParams(
            readout="ssfp", td_s=0.090, tr_s=0.0027, te_s=(0.00135,), flip_deg=50.0,
            pd_flip_deg=5.0, n_pe_lines=lines, lines_to_center=lines // 2, ordering="linear",
            n_rampup=5, field_t=1.5, agent="gadobutrol",
        )
    raise ValueError(f"readout {readout!r} is not one of {READOUT_CHOICES}")


def aif_sequence() -> SequenceParams:
    """The dual-echo, short-TD FLASH readout of the AIF image."""
    lines = PE_STEPS["aif"] // ACCELERATION["aif"]
    return SequenceParams(
        readout="flash", td_s=0.006, tr_s=0.0026, te_s=(0.0008, 0.0019), flip_deg=8.0,
        pd_flip_deg=5.0, n_pe_lines=lines, lines_to_center=lines // 2, ordering="linear",
        n_rampup=0, field_t=1.5, agent="gadobutrol",
    )
