"""Discrete Bloch recursion of saturation-recovery and proton-density readouts.

The signal of a perfusion image is the transverse magnetisation when the k-space centre line is
read. Each heartbeat: a saturation pulse (Mz → 0), recovery for the saturation delay ``TD``,
then a train of readout pulses every ``TR``; the first *acquired* line is read at ``TD`` and the
centre line ``lines_to_center`` pulses later. Ramp-up (catalysation) pulses, used by bSSFP,
are played just before the first acquired line. Proton-density (PD) frames have no saturation
pulse (the magnetisation starts fully relaxed) and a low flip angle.

Pulse train, with ``E1 = exp(-TR·R1)``, ``E2 = exp(-TR·R2)``:

* FLASH with ideal spoiling: ``Mz⁺ = Mz⁻·cos α``, signal ``Mz⁻·sin α``, then
  ``Mz⁻(next) = M0 + (Mz⁺ − M0)·E1`` (transverse magnetisation destroyed).
* bSSFP, on resonance, RF phase alternating (±α): full rotation of (My, Mz) about x, then
  ``My ← My·E2`` and the same longitudinal recovery; signal ``|My⁺|·exp(−TE·R2)``, TE = TR/2.

References
----------
Haase A. Snapshot FLASH MRI. MRM 1990;15:8-21. doi:10.1002/mrm.1910150103
Kellman P, Hansen MS, Nielles-Vallespin S, et al. Myocardial perfusion cardiovascular magnetic
resonance: optimized dual sequence and reconstruction for quantification. JCMR 2017;19:43.
doi:10.1186/s12968-017-0355-5
Scheffler K. On the transient phase of balanced SSFP sequences. MRM 2003;49:781-783.
doi:10.1002/mrm.10421
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "READOUTS",
    "center_line_index",
    "flash_steady_state_mz",
    "rampup_flip_angles",
    "readout_signal",
]

Readout = Literal["flash", "ssfp"]
READOUTS: tuple[str, ...] = ("flash", "ssfp")
ORDERINGS: tuple[str, ...] = ("linear", "centric")


def center_line_index(n_pe_lines: int, ordering: str = "linear") -> int:
    """Number of acquired lines read before the k-space centre line.

    Parameters
    ----------
    n_pe_lines : int
        Phase-encoding lines acquired per image (after in-plane acceleration).
    ordering : {"linear", "centric"}
        Linear reads the centre half way through; centric reads it first.

    Returns
    -------
    int
        0-based index of the centre line in the acquired train.
    """
    if ordering not in ORDERINGS:
        raise ValueError(f"ordering {ordering!r} is not one of {ORDERINGS}")
    if n_pe_lines < 1:
        raise ValueError(f"n_pe_lines must be >= 1, got {n_pe_lines}")
    return 0 if ordering == "centric" else int(n_pe_lines) // 2


def rampup_flip_angles(flip_deg: float, n_rampup: int) -> np.ndarray:
    """Linear ramp of ``n_rampup`` catalysation flip angles (deg) up to ``flip_deg``.

    Pulse ``k`` (1-based) has ``k/(n_rampup+1)·flip_deg``.
    """
    k = np.arange(1, int(n_rampup) + 1, dtype=float)
    return k / (n_rampup + 1.0) * float(flip_deg)


def flash_steady_state_mz(r1: ArrayLike, *, tr_s: float, flip_deg: float) -> np.ndarray:
    """Longitudinal steady state Mz⁻/M0 of an ideally spoiled FLASH train.

    ``Mss = (1 − E1) / (1 − E1·cos α)``; the SPGR steady-state signal is ``Mss·sin α``.

    Parameters
    ----------
    r1 : array_like
        Longitudinal relaxation rate (1/s).
    tr_s : float
        Repetition time (s).
    flip_deg : float
        Flip angle (degrees).
    """
    e1 = np.exp(-float(tr_s) * np.asarray(r1, dtype=float))
    return (1.0 - e1) / (1.0 - e1 * np.cos(np.deg2rad(flip_deg)))


def readout_signal(
    r1: ArrayLike,
    *,
    readout: Readout,
    td_s: float | None,
    tr_s: float,
    flip_deg: float,
    lines_to_center: int,
    n_rampup: int = 0,
    r2: ArrayLike | None = None,
    m0: ArrayLike = 1.0,
) -> np.ndarray:
    """Signal at the k-space centre line of a saturation-recovery (or PD) readout.

    Parameters
    ----------
    r1 : array_like
        Longitudinal relaxation rate R1 (1/s), any shape.
    readout : {"flash", "ssfp"}
        Ideally spoiled FLASH or balanced SSFP (on resonance, alternating RF phase).
    td_s : float or None
        Saturation delay (s): saturation pulse → first acquired line. ``None`` means no
        saturation pulse (a PD frame: the magnetisation starts fully relaxed, Mz = M0).
    tr_s : float
        Repetition time between readout pulses (s).
    flip_deg : float
        Readout flip angle (degrees).
    lines_to_center : int
        Acquired lines read before the centre line (see :func:`center_line_index`).
    n_rampup : int, optional
        Catalysation pulses (linear flip ramp) just before the first acquired line.
    r2 : array_like, optional
        Transverse relaxation rate R2 (1/s), needed for ``"ssfp"`` (broadcast with ``r1``).
    m0 : array_like, optional
        Equilibrium magnetisation (signal scale), broadcast with ``r1``.

    Returns
    -------
    ndarray
        Magnitude signal, shape of ``broadcast(r1, r2, m0)``, in units of ``m0``.
    """
    if readout not in READOUTS:
        raise ValueError(f"readout {readout!r} is not one of {READOUTS}")
    if tr_s <= 0 or lines_to_center < 0 or n_rampup < 0:
        raise ValueError(
            f"need tr_s > 0, lines_to_center >= 0, n_rampup >= 0; got {tr_s}, "
            f"{lines_to_center}, {n_rampup}"
        )
    r1 = np.asarray(r1, dtype=float)
    r2_arr = np.zeros_like(r1) if r2 is None else np.asarray(r2, dtype=float)
    if readout == "ssfp" and r2 is None:
        raise ValueError("readout 'ssfp' needs r2 (1/s): bSSFP signal depends on T2")
    r1, r2_arr, m0_arr = np.broadcast_arrays(r1, r2_arr, np.asarray(m0, dtype=float))

    flips = np.deg2rad(
        np.concatenate(
            [rampup_flip_angles(flip_deg, n_rampup), np.full(lines_to_center + 1, flip_deg)]
        )
    )
    # Time from the saturation pulse to the first played pulse (ramp-up included).
    if td_s is None:
        mz = m0_arr.copy()
    else:
        t_first = float(td_s) - n_rampup * float(tr_s)
        if t_first < 0:
            raise ValueError(
                f"saturation delay {td_s} s is shorter than the {n_rampup} ramp-up pulses "
                f"x TR {tr_s} s"
            )
        mz = m0_arr * (1.0 - np.exp(-t_first * r1))

    e1 = np.exp(-float(tr_s) * r1)
    if readout == "flash":
        for alpha in flips[:-1]:
            mz = m0_arr + (mz * np.cos(alpha) - m0_arr) * e1
        return mz * np.sin(flips[-1])

    e2 = np.exp(-float(tr_s) * r2_arr)
    my = np.zeros_like(mz)
    sign = 1.0
    for alpha in flips:
        a = sign * alpha
        my, mz = my * np.cos(a) + mz * np.sin(a), -my * np.sin(a) + mz * np.cos(a)
        signal = np.abs(my) * np.sqrt(e2)  # echo at TE = TR/2
        my = my * e2
        mz = m0_arr + (mz - m0_arr) * e1
        sign = -sign
    return signal
