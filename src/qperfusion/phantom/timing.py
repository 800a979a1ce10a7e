"""Heartbeats and per-image acquisition times of the dual-sequence protocol.

Each heartbeat (R wave at ``r_wave_s[k]``), after a short trigger delay: saturation of the AIF
slice, its readout (TD_aif, then the lines), then for each myocardial slice in order a
saturation pulse, the delay TD and the readout. The time stamp of an image is the moment its
k-space centre line is read (``sat + TD + lines_to_center·TR``), which is when the contrast
the image shows is sampled. RR intervals vary from beat to beat (AR(1) jitter; sinus
arrhythmia ~3–5 %), and never fall below the length of the acquisition block.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qperfusion.io.model import SequenceParams

__all__ = ["HEART_RATES_BPM", "BeatTiming", "beat_timing"]

#: state -> (mean heart rate (bpm), RR jitter SD (fraction)). Vasodilator stress raises the
#: heart rate by roughly 20–40 bpm; the stress rate is kept just above the length of this
#: protocol's acquisition block (AIF + 3 slices ≈ 0.56 s), as a scanner would require.
HEART_RATES_BPM: dict[str, tuple[float, float]] = {"stress": (98.0, 0.03), "rest": (64.0, 0.04)}

_TRIGGER_DELAY_S = 0.008  # R wave → first saturation pulse
_SPOILER_S = 0.002  # end of a readout → next saturation pulse


@dataclass
class BeatTiming:
    """Times (s, from the first image of the state) of one state's acquisitions.

    Attributes
    ----------
    r_wave_s : ndarray of shape (n_beats,)
        R-wave times.
    rr_s : ndarray of shape (n_beats,)
        RR interval of each beat.
    aif_sat_s, aif_center_s : ndarray of shape (n_beats,)
        Saturation pulse and k-space centre time of the AIF image.
    myo_sat_s, myo_center_s : ndarray of shape (n_slices, n_beats)
        Same for each myocardial slice (acquisition order = slice order given).
    """

    r_wave_s: np.ndarray
    rr_s: np.ndarray
    aif_sat_s: np.ndarray
    aif_center_s: np.ndarray
    myo_sat_s: np.ndarray
    myo_center_s: np.ndarray


def _readout_s(seq: SequenceParams) -> float:
    return seq.td_s + seq.n_pe_lines * seq.tr_s


def beat_timing(
    state: str,
    *,
    n_beats: int,
    aif_seq: SequenceParams,
    myo_seq: SequenceParams,
    n_slices: int,
    rng: np.random.Generator,
) -> BeatTiming:
    """Draw the heartbeats of a state and place every image in them.

    Parameters
    ----------
    state : {"stress", "rest"}
    n_beats : int
        Heartbeats (= frames per series).
    aif_seq, myo_seq : SequenceParams
        The two readouts (TD, TR, lines, lines to centre).
    n_slices : int
        Myocardial slices, acquired one after the other in each beat.
    rng : numpy.random.Generator
    """
    hr, sd = HEART_RATES_BPM[state]
    rr_mean = 60.0 / hr
    block = (_TRIGGER_DELAY_S + _readout_s(aif_seq)
             + n_slices * (_SPOILER_S + _readout_s(myo_seq)))
    # AR(1) beat-to-beat jitter (slow drift + beat noise)
    e = np.empty(n_beats)
    e[0] = rng.standard_normal()
    for k in range(1, n_beats):
        e[k] = 0.7 * e[k - 1] + np.sqrt(1 - 0.49) * rng.standard_normal()
    rr = np.maximum(rr_mean * (1.0 + sd * e), block + 0.015)
    r_wave = np.concatenate([[0.0], np.cumsum(rr[:-1])])
    aif_sat = r_wave + _TRIGGER_DELAY_S
    aif_center = aif_sat + aif_seq.td_s + aif_seq.lines_to_center * aif_seq.tr_s
    myo_sat = np.empty((n_slices, n_beats))
    start = aif_sat + _readout_s(aif_seq) + _SPOILER_S
    for s in range(n_slices):
        myo_sat[s] = start
        start = start + _readout_s(myo_seq) + _SPOILER_S
    myo_center = myo_sat + myo_seq.td_s + myo_seq.lines_to_center * myo_seq.tr_s
    t0 = aif_center[0]

    def clock(t: np.ndarray) -> np.ndarray:
        # DICOM times carry microseconds: keep exactly what the files will say
        return np.round(t - t0, 6)

    return BeatTiming(clock(r_wave), rr, clock(aif_sat), clock(aif_center), clock(myo_sat),
                      clock(myo_center))
