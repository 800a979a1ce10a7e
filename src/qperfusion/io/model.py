"""The data model every stage shares: Study → Acquisition (stress/rest) → PerfusionSeries.

Arrays keep time on the last axis. Images are stored as ``(n_slices, ny, nx, n_frames)``
where ``ny`` is the DICOM row index and ``nx`` the column index; the AIF series adds a
leading echo axis in :attr:`PerfusionSeries.echoes`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from qperfusion.qc import QCFlag

__all__ = [
    "STATES",
    "Acquisition",
    "PerfusionSeries",
    "SequenceParams",
    "State",
    "Study",
]

State = Literal["stress", "rest", "unspecified"]
STATES: tuple[State, ...] = ("stress", "rest", "unspecified")


@dataclass(frozen=True)
class SequenceParams:
    """Readout parameters needed to simulate the signal (and to build the look-up table).

    Attributes
    ----------
    readout : {"flash", "ssfp"}
        Spoiled gradient echo or balanced SSFP readout after the saturation pulse.
    td_s : float
        Saturation delay TD (s): saturation pulse → first readout line (DICOM InversionTime).
    tr_s : float
        Repetition time (s) between readout pulses.
    te_s : tuple of float
        Echo time(s) (s); two for the dual-echo AIF series.
    flip_deg : float
        Readout flip angle (degrees) of the saturation-recovery frames.
    pd_flip_deg : float
        Flip angle (degrees) of the proton-density frames (no saturation); NaN if none.
    n_pe_lines : int
        Phase-encoding lines actually acquired per image (after in-plane acceleration).
    lines_to_center : int
        Readout pulses before the k-space centre line (0-based: the centre line is pulse
        number ``lines_to_center`` counting from 0, after any ramp-up pulses).
    ordering : {"linear", "centric"}
        Phase-encoding order.
    n_rampup : int
        Ramp-up (dummy) pulses before the first acquired line (bSSFP catalysation).
    field_t : float
        Main field strength (T).
    agent : str
        Contrast agent, lower-case generic name (e.g. ``"gadobutrol"``).
    """

    readout: Literal["flash", "ssfp"]
    td_s: float
    tr_s: float
    te_s: tuple[float, ...]
    flip_deg: float
    pd_flip_deg: float
    n_pe_lines: int
    lines_to_center: int
    ordering: Literal["linear", "centric"] = "linear"
    n_rampup: int = 0
    field_t: float = 1.5
    agent: str = "gadobutrol"


@dataclass
class PerfusionSeries:
    """One dynamic series: the myocardial slices or the AIF image, all frames.

    Attributes
    ----------
    echoes : ndarray of shape (n_echoes, n_slices, ny, nx, n_frames)
        Magnitude images (scanner units, float32). ``n_echoes`` is 1 for the myocardial series.
    times_s : ndarray of shape (n_slices, n_frames)
        Acquisition time (s) of every frame of every slice, relative to the first frame of the
        state (stress or rest). Uneven: heartbeats are not evenly spaced.
    pd_frames : int
        Number of leading proton-density frames (no saturation, low flip angle).
    sequence : SequenceParams
        Readout parameters.
    affines : ndarray of shape (n_slices, 4, 4)
        Maps (column, row, 0, 1) voxel indices to patient coordinates (mm, DICOM LPS).
    time_source : str
        Which tag gave the frame times (``"AcquisitionTime"``, ``"TriggerTime"``,
        ``"InstanceNumber+NominalInterval"``, ``"sidecar"``, ...).
    rr_s : float
        Median RR interval (s).
    description : str
        SeriesDescription (or a name for NIfTI input).
    series_uid : str
        SeriesInstanceUID ("" when not from DICOM).
    slice_positions_mm : ndarray of shape (n_slices,)
        Position of each slice along the slice normal (mm), ascending order of the stack.
    headers : list
        One pydicom Dataset per slice (the first frame's, pixel data removed), kept to
        reference the source in DICOM outputs; empty for NIfTI input.
    source_files : list of str
        Every file the series was read from (for provenance hashing).
    """

    echoes: np.ndarray
    times_s: np.ndarray
    pd_frames: int
    sequence: SequenceParams
    affines: np.ndarray
    time_source: str = "unknown"
    rr_s: float = float("nan")
    description: str = ""
    series_uid: str = ""
    slice_positions_mm: np.ndarray = field(default_factory=lambda: np.zeros(0))
    headers: list[Any] = field(default_factory=list)
    source_files: list[str] = field(default_factory=list)

    @property
    def data(self) -> np.ndarray:
        """First-echo images, shape (n_slices, ny, nx, n_frames)."""
        return self.echoes[0]

    @property
    def n_echoes(self) -> int:
        return int(self.echoes.shape[0])

    @property
    def n_slices(self) -> int:
        return int(self.echoes.shape[1])

    @property
    def n_frames(self) -> int:
        return int(self.echoes.shape[-1])

    @property
    def matrix(self) -> tuple[int, int]:
        """(rows, columns) of one image."""
        return int(self.echoes.shape[2]), int(self.echoes.shape[3])

    @property
    def pixel_spacing_mm(self) -> tuple[float, float]:
        """(row spacing, column spacing) in mm, from the first slice's affine."""
        a = self.affines[0]
        return float(np.linalg.norm(a[:3, 1])), float(np.linalg.norm(a[:3, 0]))


@dataclass
class Acquisition:
    """One perfusion state (stress or rest): AIF series + myocardial series.

    Attributes
    ----------
    state : {"stress", "rest", "unspecified"}
    myocardium : PerfusionSeries
        The short-axis slices (typically 3: basal, mid, apical).
    aif : PerfusionSeries or None
        The low-resolution dual-echo AIF series; None when the study has none (the AIF then
        comes from the LV blood pool of the myocardial series, with a saturation warning).
    hematocrit : float
        Blood hematocrit (fraction).
    warnings : list of QCFlag
        What the reader noticed (time source fallbacks, protocol oddities, ...).
    """

    state: State
    myocardium: PerfusionSeries
    aif: PerfusionSeries | None = None
    hematocrit: float = 0.42
    warnings: list[QCFlag] = field(default_factory=list)


@dataclass
class Study:
    """A perfusion study: one or two states plus the warnings found while reading.

    Attributes
    ----------
    acquisitions : dict of str to Acquisition
        Keyed by state (``"stress"``, ``"rest"`` or ``"unspecified"``).
    warnings : list of QCFlag
        Study-level findings (e.g. stress/rest protocol mismatch).
    patient : dict
        Patient identifiers (name, ID, birth date). Never logged; dropped by ``--anonymize``.
    source : str
        The path(s) the study was read from.
    """

    acquisitions: dict[str, Acquisition]
    warnings: list[QCFlag] = field(default_factory=list)
    patient: dict[str, str] = field(default_factory=dict)
    source: str = ""

    @property
    def states(self) -> list[str]:
        return [s for s in STATES if s in self.acquisitions]

    def __getitem__(self, state: str) -> Acquisition:
        return self.acquisitions[state]
