"""Readout parameters from DICOM headers, vendor-neutral: the :class:`SequenceParams` of a series.

Which tags answer which question (DESIGN.md, "DICOM input"):

* readout — SequenceName / PulseSequenceName / GE private pulse-sequence name by pattern
  (:data:`READOUT_PATTERNS`), then enhanced-MR SteadyStatePulseSequence / Spoiling, then
  ScanningSequence ``GR`` with SequenceVariant ``SP`` (spoiled → FLASH) or ``SS`` (→ bSSFP);
* TD — InversionTime (ms), saturation pulse → first readout line;
* phase-encoding lines — MRAcquisitionPhaseEncodingStepsInPlane, else the phase entry of
  AcquisitionMatrix (chosen by InPlanePhaseEncodingDirection), divided by the in-plane
  acceleration (ParallelReductionFactorInPlane, GE ASSET factor (0043,1083), Siemens
  ``sPat.lAccelFactPE``; 1 when none is written);
* lines to the k-space centre — half the acquired lines for linear ordering, 0 for centric
  (RectilinearPhaseEncodeReordering), linear unless stated;
* field — MagneticFieldStrength (values above 100 are gauss), else ImagingFrequency / γ;
* agent — ContrastBolusAgent (trade names accepted), default gadobutrol.
"""

from __future__ import annotations

import math
import re
from typing import Any

from qperfusion import constants
from qperfusion.io._frames import FrameRecord
from qperfusion.io._values import fnum, fseq, get, inum, text
from qperfusion.io.model import SequenceParams
from qperfusion.qc import QCFlag

__all__ = ["READOUTS", "READOUT_PATTERNS", "normalise_agent", "normalise_readout",
           "sequence_params"]

#: Accepted readout names (and aliases a user may type) → the model's name.
READOUTS: dict[str, str] = {
    "flash": "flash", "spgr": "flash", "fgre": "flash", "gre": "flash", "tfl": "flash",
    "spoiled": "flash", "ssfp": "ssfp", "bssfp": "ssfp", "trufi": "ssfp",
    "truefisp": "ssfp", "fiesta": "ssfp", "bffe": "ssfp", "balanced": "ssfp",
}

#: Sequence-name patterns, checked in order (balanced first: "bffe" contains "ffe").
READOUT_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"tfi|trufi|true\s*fisp|fiesta|b-?ffe|b-?tfe|balanced|b?ssfp|fisp", "ssfp"),
    (r"tfl|fl[23]d|flash|fgre|fspgr|spgr|t1-?tfe|tfe|ffe|gre|turbo\s*flash|mpgr", "flash"),
)

_GAMMA_MHZ_T = 42.577478
_STANDARD_FIELDS_T = (0.55, 1.0, 1.5, 3.0, 7.0)


def normalise_readout(name: str) -> str:
    """The model's readout name for a user's ``--readout`` value; lists valid names if wrong."""
    from qperfusion.errors import DicomInputError

    key = str(name).strip().lower()
    if key not in READOUTS:
        raise DicomInputError(
            f"readout {name!r} is not known; use one of {sorted(READOUTS)} "
            "(flash = spoiled gradient echo, ssfp = balanced SSFP)")
    return READOUTS[key]


def _private(ds: Any, group: int, element: int) -> Any:
    try:
        elem = ds.get((group, element))
    except Exception:
        return None
    return None if elem is None else elem.value


def _readout(rep: FrameRecord) -> tuple[str | None, str]:
    ds = rep.ds
    names = [text(rep.value("SequenceName")), text(rep.value("PulseSequenceName")),
             text(_private(ds, 0x0019, 0x109C)), text(_private(ds, 0x0019, 0x109E))]
    for name in names:
        for pattern, readout in READOUT_PATTERNS:
            if name and re.search(pattern, name, re.IGNORECASE):
                return readout, f"sequence name {name!r}"
    steady = text(rep.value("SteadyStatePulseSequence")).upper()
    if steady == "FREE_PRECESSION":
        return "ssfp", "SteadyStatePulseSequence FREE_PRECESSION"
    spoil = text(rep.value("Spoiling")).upper()
    if spoil in ("RF", "GRADIENT", "RF_AND_GRADIENT"):
        return "flash", f"Spoiling {spoil}"
    scanning = text(rep.value("ScanningSequence")).upper().split("\\")
    variant = text(rep.value("SequenceVariant")).upper().split("\\")
    if "GR" in scanning and "SP" in variant:
        return "flash", "ScanningSequence GR + SequenceVariant SP"
    if "GR" in scanning and "SS" in variant:
        return "ssfp", "ScanningSequence GR + SequenceVariant SS"
    described = ", ".join(n for n in names if n) or "none"
    return None, (f"SequenceName {described}, ScanningSequence {'/'.join(scanning) or '-'}, "
                  f"SequenceVariant {'/'.join(variant) or '-'}")


def _phase_steps(rep: FrameRecord) -> tuple[int | None, str]:
    steps = inum(rep.value("MRAcquisitionPhaseEncodingStepsInPlane", "MRFOVGeometrySequence"))
    if steps and steps > 0:
        return steps, "MRAcquisitionPhaseEncodingStepsInPlane"
    direction = text(rep.value("InPlanePhaseEncodingDirection", "MRFOVGeometrySequence"))
    matrix = fseq(rep.value("AcquisitionMatrix"))
    if matrix is not None and len(matrix) == 4:
        phase = [int(matrix[3]), int(matrix[2])]
        if direction.upper() == "COL":
            phase.reverse()
        for value in phase:
            if value > 0:
                return value, "AcquisitionMatrix"
    # no acquisition matrix: the image matrix along the phase direction (upper bound)
    n = rep.cols if direction.upper() == "ROW" else rep.rows
    return (n or None), "image matrix (no AcquisitionMatrix)"


def _acceleration(rep: FrameRecord) -> tuple[float, str]:
    value = fnum(rep.value("ParallelReductionFactorInPlane", "MRModifierSequence"))
    if value and value >= 1:
        return value, "ParallelReductionFactorInPlane"
    asset = fseq(_private(rep.ds, 0x0043, 0x1083))  # GE ASSET R factors, e.g. 0.5\1
    if asset and 0 < asset[0] <= 1:
        return 1.0 / asset[0], "GE ASSET factor (0043,1083)"
    for element in (0x1020, 0x1120):  # Siemens CSA series header holds the protocol text
        raw = _private(rep.ds, 0x0029, element)
        if isinstance(raw, bytes):
            m = re.search(rb"sPat\.lAccelFactPE\s*=\s*(\d+)", raw)
            if m and int(m.group(1)) >= 1:
                return float(int(m.group(1))), "Siemens sPat.lAccelFactPE"
    return 1.0, ""


def _field(rep: FrameRecord, flags: list[QCFlag], where: str) -> float:
    value = fnum(rep.value("MagneticFieldStrength"))
    if value is not None and value > 100:
        return value / 10000.0  # older GE write gauss
    if value is not None and value > 0:
        return value
    freq = fnum(rep.value("ImagingFrequency"))
    if freq is not None and freq > 0:
        while freq > 1000:  # some writers store Hz or 10·Hz
            freq /= 1000.0 if freq > 1e6 else 10.0
        field = freq / _GAMMA_MHZ_T
        nearest = min(_STANDARD_FIELDS_T, key=lambda f: abs(f - field))
        if abs(nearest - field) < 0.1 * nearest:
            flags.append(QCFlag("FIELD_FROM_FREQUENCY", "info",
                                f"{where}: MagneticFieldStrength missing; {nearest} T from "
                                f"ImagingFrequency {freq:.2f} MHz", "io"))
            return nearest
    flags.append(QCFlag("FIELD_MISSING", "warning",
                        f"{where}: MagneticFieldStrength and ImagingFrequency missing; "
                        "assuming 1.5 T", "io"))
    return 1.5


def normalise_agent(value: str) -> str | None:
    """Generic agent name for a ContrastBolusAgent text (trade names accepted), None if unknown."""
    known = getattr(constants, "RELAXIVITY_PLASMA", {})
    aliases = getattr(constants, "AGENT_ALIASES", {})
    key = value.strip().lower()
    for word in [key, *re.split(r"[\s/,;()\\]+", key)]:
        if word in known:
            return word
        if word in aliases:
            return aliases[word]
    return None


def _agent(rep: FrameRecord, flags: list[QCFlag], where: str) -> str:
    default = getattr(constants, "DEFAULT_AGENT", "gadobutrol")
    value = text(rep.value("ContrastBolusAgent"))
    if not value:
        seq = get(rep.ds, "ContrastBolusAgentSequence")
        try:
            value = text(get(seq[0], "CodeMeaning")) if seq else ""
        except Exception:
            value = ""
    if not value:
        flags.append(QCFlag("AGENT_DEFAULT", "info",
                            f"{where}: ContrastBolusAgent not given; assuming {default}", "io"))
        return default
    agent = normalise_agent(value)
    if agent is None:
        flags.append(QCFlag("AGENT_UNKNOWN", "warning",
                            f"{where}: ContrastBolusAgent {value!r} not recognised; using "
                            f"{default} relaxivity", "io"))
        return default
    return agent


def _median(values: list[float | None]) -> float:
    vals = sorted(v for v in values if v is not None)
    if not vals:
        return float("nan")
    n = len(vals)
    return vals[n // 2] if n % 2 else 0.5 * (vals[n // 2 - 1] + vals[n // 2])


def sequence_params(
    rep: FrameRecord,
    frames: list[FrameRecord],
    *,
    te_ms: list[float],
    pd_flip_deg: float,
    readout: str | None,
    default_readout: str,
    where: str,
    flags: list[QCFlag],
) -> SequenceParams:
    """The readout parameters of one series.

    Parameters
    ----------
    rep : FrameRecord
        A saturation-recovery frame (not PD) whose header stands for the series.
    frames : list of FrameRecord
        The series' saturation-recovery frames (their median TD/TR/flip is used).
    te_ms : list of float
        Echo time of each echo (ms).
    pd_flip_deg : float
        Flip angle of the PD frames (deg), NaN when there are none.
    readout : {"flash", "ssfp"} or None
        User override; None reads it from the headers.
    default_readout : str
        Used (with a warning) when the headers do not say.
    where : str
        Series name for messages.
    flags : list of QCFlag
        Findings are appended here.
    """
    if readout is None:
        found, why = _readout(rep)
        if found is None:
            flags.append(QCFlag("READOUT_UNKNOWN", "warning",
                                f"{where}: readout not recognised ({why}); assuming "
                                f"{default_readout.upper()} — pass --readout flash|ssfp to set it",
                                "io"))
            found = default_readout
        readout = found
    td_ms = _median([f.ti_ms for f in frames])
    tr_ms = _median([f.tr_ms for f in frames])
    flip = _median([f.flip_deg for f in frames])
    for value, tag in ((td_ms, "InversionTime (saturation delay TD)"),
                       (tr_ms, "RepetitionTime"), (flip, "FlipAngle")):
        if math.isnan(value):
            flags.append(QCFlag("SEQUENCE_TAG_MISSING", "warning",
                                f"{where}: {tag} missing; signal-to-Gd conversion needs it — "
                                "give it in a NIfTI sidecar or fix the export", "io"))
    steps, steps_tag = _phase_steps(rep)
    accel, accel_tag = _acceleration(rep)
    if not accel_tag:
        flags.append(QCFlag("ACCELERATION_ASSUMED", "info",
                            f"{where}: no in-plane acceleration tag; assuming none (R = 1)",
                            "io"))
    if steps_tag.startswith("image matrix"):
        flags.append(QCFlag("PHASE_STEPS_ASSUMED", "warning",
                            f"{where}: no AcquisitionMatrix; phase-encoding lines taken from the "
                            f"image matrix ({steps})", "io"))
    if readout == "ssfp":
        flags.append(QCFlag("RAMPUP_ASSUMED", "info",
                            f"{where}: no DICOM tag gives the bSSFP ramp-up (catalysation) "
                            "pulses; assuming 0", "io"))
    n_lines = max(1, math.ceil((steps or 1) / accel - 1e-9))
    reorder = text(rep.value("RectilinearPhaseEncodeReordering")).upper()
    ordering = "centric" if "CENTRIC" in reorder else "linear"
    lines_to_center = 0 if ordering == "centric" else n_lines // 2
    return SequenceParams(
        readout=readout,  # type: ignore[arg-type]
        td_s=td_ms / 1000.0,
        tr_s=tr_ms / 1000.0,
        te_s=tuple(t / 1000.0 for t in te_ms),
        flip_deg=flip,
        pd_flip_deg=pd_flip_deg,
        n_pe_lines=n_lines,
        lines_to_center=lines_to_center,
        ordering=ordering,  # type: ignore[arg-type]
        n_rampup=0,
        field_t=_field(rep, flags, where),
        agent=_agent(rep, flags, where),
    )
