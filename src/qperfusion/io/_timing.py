"""Frame order and frame times of a dynamic series, and which tag they came from.

DESIGN.md: AcquisitionDateTime / AcquisitionTime when it resolves frames (fractional
seconds, every frame of a slice distinct); else TriggerTime when it increases through the
series (cumulative, as some vendors write it); else InstanceNumber order with the RR interval
from NominalInterval. Whole-second acquisition times that are still distinct
come after TriggerTime: they would put up to ±0.5 s of error on every frame.

All candidates are computed for every series; the state (stress/rest) then uses the best
source that *all* its series offer, so that AIF and myocardial times share one clock.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from qperfusion.io._frames import FrameRecord

__all__ = ["SOURCE_RANK", "TimingCandidate", "timing_candidates"]

_BIG = float("inf")

#: Preference order of time sources (lower is better).
SOURCE_RANK: dict[str, int] = {
    "AcquisitionTime": 0,
    "AcquisitionDateTime": 0,
    "FrameAcquisitionDateTime": 0,
    "TriggerTime": 1,
    "InstanceNumber+NominalInterval": 2,
    # DESIGN.md: whole seconds do not resolve frames; used only when nothing else exists
    "AcquisitionTime (whole seconds)": 3,
    "AcquisitionDateTime (whole seconds)": 3,
    "FrameAcquisitionDateTime (whole seconds)": 3,
}

_MIN_BEAT_S = 0.2   # shortest plausible interval between perfusion frames (HR 300)
_RR_RANGE_MS = (250.0, 3000.0)


@dataclass
class TimingCandidate:
    """One way of ordering and timing the frames of a series.

    Attributes
    ----------
    source : str
        Name of the tag(s) used (a key of :data:`SOURCE_RANK`).
    order : list of list of int
        Per slice, indices into that slice's frame list in time order.
    times_s : ndarray of shape (n_slices, n_frames)
        Frame times (s) on the source's own clock (not yet relative to the state's origin).
    rr_s : float
        RR interval (s) the source implies (median frame interval, or the nominal one).
    """

    source: str
    order: list[list[int]]
    times_s: np.ndarray
    rr_s: float


def _base_key(rec: FrameRecord) -> tuple[float, ...]:
    return (
        _BIG if rec.instance is None else rec.instance,
        _BIG if rec.temporal_index is None else rec.temporal_index,
        _BIG if rec.acq_s is None else rec.acq_s,
        _BIG if rec.trigger_ms is None else rec.trigger_ms,
        rec.order,
    )


def _distinct(values: np.ndarray, tol: float) -> bool:
    return values.size < 2 or bool(np.all(np.diff(values) > tol))


def _acq_candidate(slices: list[list[FrameRecord]]) -> TimingCandidate | None:
    if any(r.acq_s is None for s in slices for r in s):
        return None
    tags = {r.acq_tag for s in slices for r in s}
    if len(tags) != 1:
        return None
    raw = [np.array([r.acq_s for r in s], dtype=float) for s in slices]
    allv = np.concatenate(raw)
    if allv.max() - allv.min() > 43200.0:  # time of day without a date crossed midnight
        raw = [np.where(v < allv.max() - 43200.0, v + 86400.0, v) for v in raw]
    order = [sorted(range(len(s)), key=lambda i, s=s, v=v: (v[i], _base_key(s[i])))
             for s, v in zip(slices, raw, strict=True)]
    times = [v[o] for v, o in zip(raw, order, strict=True)]
    if not all(_distinct(t, 1e-4) for t in times):
        return None
    frac = any(r.acq_frac for s in slices for r in s)
    source = tags.pop() + ("" if frac else " (whole seconds)")
    return _candidate(source, order, times)


def _instance_consistent(slice_frames: list[FrameRecord], order: list[int]) -> bool:
    inst = [slice_frames[i].instance for i in order]
    if any(v is None for v in inst):
        return True
    return all(b > a for a, b in itertools.pairwise(inst))  # type: ignore[operator]


def _trigger_candidate(slices: list[list[FrameRecord]]) -> TimingCandidate | None:
    if any(r.trigger_ms is None for s in slices for r in s):
        return None
    order, times = [], []
    for s in slices:
        o = sorted(range(len(s)), key=lambda i, s=s: (s[i].trigger_ms, _base_key(s[i])))
        t = np.array([s[i].trigger_ms for i in o], dtype=float) / 1000.0
        # cumulative trigger times step by at least a heartbeat and follow the image numbers;
        # per-beat trigger delays (the usual meaning) do neither
        if t.size > 1 and (not _distinct(t, 1e-4) or np.median(np.diff(t)) < _MIN_BEAT_S):
            return None
        if not _instance_consistent(s, o):
            return None
        order.append(o)
        times.append(t)
    return _candidate("TriggerTime", order, times)


def nominal_rr_s(frames: list[FrameRecord]) -> float | None:
    """RR interval (s) from NominalInterval (enhanced: RRIntervalTimeNominal); None if absent.

    HeartRate is not used: DESIGN.md names NominalInterval, and a series whose only timing is
    a heart rate is better refused with a clear message than timed on a guess.
    """
    rr = [r.rr_ms for r in frames if r.rr_ms is not None
          and _RR_RANGE_MS[0] <= r.rr_ms <= _RR_RANGE_MS[1]]
    if rr:
        return float(np.median(rr)) / 1000.0
    return None


def _nominal_candidate(slices: list[list[FrameRecord]]) -> TimingCandidate | None:
    frames = [r for s in slices for r in s]
    rr = nominal_rr_s(frames)
    if rr is None:
        return None
    order, times = [], []
    for s in slices:
        if any(r.instance is None and r.temporal_index is None for r in s):
            return None  # nothing says which frame came first
        o = sorted(range(len(s)), key=lambda i, s=s: _base_key(s[i]))
        keys = [(s[i].instance, s[i].temporal_index) for i in o]
        if len(set(keys)) != len(keys):
            return None
        # per-beat trigger delay puts each slice at its own place in the RR interval
        offset = np.array([
            (s[i].trigger_ms or 0.0) / 1000.0 if (s[i].trigger_ms or 0.0) / 1000.0 < 1.5 * rr
            else 0.0 for i in o])
        order.append(o)
        times.append(np.arange(len(o)) * rr + offset)
    cand = _candidate("InstanceNumber+NominalInterval", order, times)
    cand.rr_s = rr
    return cand


def _candidate(source: str, order: list[list[int]], times: list[np.ndarray]) -> TimingCandidate:
    t = np.vstack(times)
    diffs = np.diff(t[0]) if t.shape[1] > 1 else np.array([math.nan])
    rr = float(np.median(diffs)) if diffs.size else math.nan
    return TimingCandidate(source, order, t, rr)


def timing_candidates(slices: list[list[FrameRecord]]) -> dict[str, TimingCandidate]:
    """Every usable timing of a series (first echo), keyed by source name.

    Parameters
    ----------
    slices : list of list of FrameRecord
        The frames of each slice (one echo), in any order; every slice has the same count.
    """
    out: dict[str, TimingCandidate] = {}
    for make in (_acq_candidate, _trigger_candidate, _nominal_candidate):
        cand = make(slices)
        if cand is not None:
            out[cand.source] = cand
    return out
