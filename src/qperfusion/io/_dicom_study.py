"""Build a :class:`~qperfusion.io.model.Study` from DICOM: roles, states, timing, pixels.

Read in two passes: headers only (``stop_before_pixels``) to find and arrange the series,
then each needed file's pixel data once.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qperfusion.errors import DicomInputError
from qperfusion.io._frames import FrameRecord
from qperfusion.io._pixels import PixelJob, load_pixels, slice_affine
from qperfusion.io._scan import Source, scan
from qperfusion.io._sequence import sequence_params
from qperfusion.io._series import RawSeries, group_series
from qperfusion.io._timing import SOURCE_RANK, TimingCandidate, timing_candidates
from qperfusion.io.model import STATES, Acquisition, PerfusionSeries, Study
from qperfusion.qc import QCFlag

__all__ = ["AifSpec", "StudyInput", "build_study"]

log = logging.getLogger("qperfusion.io")

_MIN_DYNAMIC_FRAMES = 3     # fewer frames per slice: a localizer, not a dynamic series
_AIF_AREA_RATIO = 0.5       # "much smaller matrix": at most half the pixels of the myocardium
_GAP_FACTOR = 1.8           # a frame interval this many times the median is a missed beat

AifSpec = str | dict[str, str] | None


@dataclass
class StudyInput:
    """One path the user gave: its files, the state it stands for, and its role."""

    sources: list[Source]
    label: str
    root: str | None = None
    state: str | None = None
    role: str | None = None  # "aif" for an --aif-series folder


@dataclass
class _Selected:
    series: RawSeries
    role: str
    timing: TimingCandidate | None = None
    orders: list[list[list[int]]] = field(default_factory=list)


def _flag(flags: list[QCFlag], code: str, message: str, severity: str = "warning") -> None:
    flags.append(QCFlag(code, severity, message, "io"))  # type: ignore[arg-type]


def _is_aif_text(s: RawSeries) -> bool:
    return "aif" in s.description.lower()


def _matches(s: RawSeries, spec: str) -> bool:
    spec = spec.strip()
    return (spec == s.uid or spec == s.key or spec == str(s.series_number)
            or spec.lower() == s.description.lower())


def _listing(series: list[RawSeries]) -> str:
    return "; ".join(
        f"{s.name} {s.matrix[0]}x{s.matrix[1]}, {s.n_slices} slice(s), {s.max_frames} frames, "
        f"{s.n_echoes} echo(es)" for s in series) or "none"


def _check_patients(series: list[RawSeries]) -> None:
    seen: dict[str, tuple[str, str]] = {}
    for s in series:
        r = s.records[0]
        for kind, value in (("PatientID", r.patient_id), ("PatientName", r.patient_name)):
            if not value:
                continue
            if kind in seen and seen[kind][0] != value:
                raise DicomInputError(
                    f"{seen[kind][1]} and {r.source} belong to different patients ({kind} "
                    "differs): give one patient's study per folder")
            seen.setdefault(kind, (value, r.source))


def _check_study(series: list[RawSeries], state: str) -> None:
    uids = {}
    for s in series:
        uid = s.records[0].study_uid
        if uid:
            uids.setdefault(uid, s.records[0].source)
    if len(uids) > 1:
        files = list(uids.values())
        raise DicomInputError(
            f"{state}: perfusion series from {len(uids)} different studies "
            f"(StudyInstanceUID differs: {files[0]} vs {files[1]}); give one study per folder "
            "or pass --stress/--rest folders")


def _check_across_states(by_state: dict[str, list[RawSeries]], inputs: list[StudyInput],
                         flags: list[QCFlag]) -> None:
    """Stress and rest from different studies: an error within one folder, else a warning."""
    first: dict[str, RawSeries] = {}
    for group in by_state.values():
        for s in group:
            uid = s.records[0].study_uid
            if uid:
                first.setdefault(uid, s)
    if len(first) < 2:
        return
    a, b = list(first.values())[:2]
    if a.input_index == b.input_index:
        raise DicomInputError(
            f"{a.records[0].source} and {b.records[0].source} come from different studies "
            "(StudyInstanceUID differs) in one folder; give one study per folder, or the "
            "states as --stress DIR --rest DIR")
    _flag(flags, "STUDY_MISMATCH", "stress and rest come from different studies "
          "(StudyInstanceUID differs): check they belong to the same examination")


def _check_complete(s: RawSeries) -> None:
    counts = s.frame_counts
    flat = [c for e in counts for c in e]
    if len(set(flat)) > 1:
        expected = max(flat)
        for e, echo in enumerate(counts):
            for i, c in enumerate(echo):
                if c != expected:
                    pos = s.slice_pos_mm[i] if i < len(s.slice_pos_mm) else float("nan")
                    missing = _missing_instances(s)
                    hint = f" (missing InstanceNumber {missing})" if missing else ""
                    raise DicomInputError(
                        f"{s.name} in {s.folder}: slice {i + 1} at {pos:.1f} mm"
                        f"{f', echo {e + 1}' if s.n_echoes > 1 else ''} has {c} frames, other "
                        f"slices {expected}{hint}: files are missing — copy the complete series")
    missing = _missing_instances(s)
    if missing:
        raise DicomInputError(
            f"{s.name} in {s.folder}: InstanceNumber {missing} missing between "
            f"{min(r.instance for r in s.records)} and {max(r.instance for r in s.records)}: "  # type: ignore[type-var]
            "files are missing — copy the complete series")


def _missing_instances(s: RawSeries) -> list[int]:
    """Interior gaps in a classic series' InstanceNumber (each file numbered once)."""
    if s.shares_uid or any(r.frame is not None or r.instance is None for r in s.records):
        return []  # numbers shared with another matrix (or none per file): gaps mean nothing
    inst = sorted(r.instance for r in s.records)  # type: ignore[type-var]
    if len(set(inst)) != len(inst) or len(inst) < 3:
        return []
    # a few holes in an otherwise continuous numbering are lost files; many mean the
    # vendor numbers in steps (or another series shares the numbers): not our business
    n_gaps = inst[-1] - inst[0] + 1 - len(inst)
    if not 0 < n_gaps <= max(1, len(inst) // 10):
        return []
    present = set(inst)
    return [i for i in range(inst[0], inst[-1] + 1) if i not in present]


def _pick_myocardium(cands: list[RawSeries], state: str, flags: list[QCFlag]) -> RawSeries:
    pool = cands
    with_td = [s for s in pool if s.has_td]
    if with_td and len(with_td) < len(pool):
        pool = with_td  # saturation-recovery series carry the saturation delay; cines do not
    original = [s for s in pool if not s.records[0].derived]
    if original and len(original) < len(pool):
        pool = original
    perf = [s for s in pool if any(w in s.description.lower() for w in ("perf", "first", "fpp"))]
    if perf and len(perf) < len(pool):
        pool = perf
    if len(pool) > 1:
        where = "" if state == "unspecified" else f"{state}: "
        raise DicomInputError(
            f"{where}{len(pool)} perfusion series and nothing tells them apart ({_listing(pool)}); "
            "name stress/rest in SeriesDescription or give them as --stress DIR --rest DIR "
            "(one series per folder)")
    for s in cands:
        if s is not pool[0]:
            _flag(flags, "SERIES_IGNORED", f"{state}: {s.name} ignored (not the perfusion "
                  f"series: {s.n_slices} slice(s), {s.max_frames} frames)", "info")
    return pool[0]


def _structural_aif(cands: list[RawSeries]) -> list[RawSeries]:
    """Dual-echo series with a much smaller matrix and as many heartbeats as a larger one."""
    out = []
    for s in cands:
        area = s.matrix[0] * s.matrix[1]
        if s.n_echoes < 2:
            continue
        for other in cands:
            if other is s:
                continue
            if (area <= _AIF_AREA_RATIO * other.matrix[0] * other.matrix[1]
                    and other.max_frames == s.max_frames):
                out.append(s)
                break
    return out


def _choose_timing(sel: list[_Selected], state: str, flags: list[QCFlag]) -> None:
    per = []
    for item in sel:
        cands = timing_candidates(item.series.grid[0])
        if not cands:
            r = item.series.records[0]
            raise DicomInputError(
                f"{item.series.name} in {item.series.folder}: no frame timing — AcquisitionTime "
                "does not resolve frames, TriggerTime does not increase, and NominalInterval "
                f"(250–3000 ms) is missing (e.g. {r.source}); fix the export or give frame times "
                "in a NIfTI + JSON sidecar (FrameTimes)")
        per.append(cands)
    common = set.intersection(*(set(c) for c in per))
    if common:
        best = min(common, key=lambda k: SOURCE_RANK[k])
        chosen = [c[best] for c in per]
    else:
        chosen = [min(c.values(), key=lambda t: SOURCE_RANK[t.source]) for c in per]
        _flag(flags, "TIME_SOURCE_MIXED",
              f"{state}: series have no time source in common ("
              + ", ".join(f"{i.series.name}: {t.source}" for i, t in zip(sel, chosen, strict=True))
              + "); AIF and myocardial times may be offset")
    for item, cand in zip(sel, chosen, strict=True):
        item.timing = cand
        orders = [cand.order]
        for e in range(1, item.series.n_echoes):
            other = timing_candidates(item.series.grid[e]).get(cand.source)
            orders.append(other.order if other is not None else cand.order)
        item.orders = orders
        if SOURCE_RANK[cand.source] > 0:
            msg = {
                1: "AcquisitionTime does not resolve frames; frame times from cumulative "
                   "TriggerTime",
                2: f"no per-frame time stamp; frame times from image order × RR "
                   f"({cand.rr_s:.3f} s from NominalInterval) — heart-rate changes "
                   "are not captured",
                3: "AcquisitionTime has whole seconds only (±0.5 s per frame), TriggerTime "
                   "does not increase and NominalInterval is missing; frame times "
                   "from whole-second AcquisitionTime",
            }[SOURCE_RANK[cand.source]]
            _flag(flags, "TIME_SOURCE_FALLBACK", f"{state}: {item.series.name}: {msg}",
                  "info" if SOURCE_RANK[cand.source] == 1 else "warning")


def _pd_frames(item: _Selected) -> tuple[int, float, list[FrameRecord], list[int]]:
    """Leading frames with a lower flip angle than the rest.

    Returns the PD count, their flip angle (deg), the saturation-recovery frames and the
    PD count of each slice.
    """
    s = item.series
    counts, flips = [], []
    sr: list[FrameRecord] = []
    for frames, order in zip(s.grid[0], item.orders[0], strict=True):
        fa = [frames[i].flip_deg for i in order]
        known = [f for f in fa if f is not None]
        main = float(np.median(known)) if known else math.nan
        n = 0
        while n < len(fa) and fa[n] is not None and fa[n] < main - 0.5:  # type: ignore[operator]
            n += 1
        if n >= len(fa) // 2:  # "the rest" must be the majority
            n = 0
        counts.append(n)
        flips.extend(fa[:n])
        sr.extend(frames[i] for i in order[n:])
    n_pd = max(set(counts), key=counts.count)
    pd_flip = float(np.median([f for f in flips if f is not None])) if n_pd else math.nan
    return n_pd, pd_flip, sr, counts


def _build_series(item: _Selected, origin: float, readout: str | None, state: str,
                  flags: list[QCFlag], jobs: list[PixelJob]) -> PerfusionSeries:
    s = item.series
    where = f"{state} {item.role} {s.name}"
    n_pd, pd_flip, sr, counts = _pd_frames(item)
    if len(set(counts)) > 1:
        _flag(flags, "PD_FRAMES_UNEVEN", f"{where}: PD frames per slice differ {counts}; "
              f"using {n_pd}")
    rep = sr[0] if sr else s.records[0]
    seq = sequence_params(
        rep, sr or s.records, te_ms=s.echo_te_ms, pd_flip_deg=pd_flip,
        readout=readout if item.role == "myocardium" else None,
        default_readout="flash", where=where, flags=flags)
    assert item.timing is not None
    times = item.timing.times_s - origin
    n_echo, n_slice, n_frame = s.n_echoes, s.n_slices, times.shape[1]
    rows, cols = s.matrix
    echoes = np.zeros((n_echo, n_slice, rows, cols, n_frame), dtype=np.float32)
    for e in range(n_echo):
        for i in range(n_slice):
            frames = s.grid[e][i]
            for t, k in enumerate(item.orders[e][i]):
                jobs.append((echoes, e, i, t, frames[k]))
    pos = np.asarray(s.slice_pos_mm, dtype=float)
    step = float(np.median(np.diff(pos))) if n_slice > 1 else (
        _thickness(s.records[0]) or 1.0)
    affines = np.zeros((n_slice, 4, 4))
    geometry_ok = True
    headers = []
    for i in range(n_slice):
        first = s.grid[0][i][item.orders[0][i][0]]
        affines[i], ok = slice_affine(first, step)
        geometry_ok &= ok
        headers.append(first.ds)
    if not geometry_ok:
        _flag(flags, "GEOMETRY_MISSING", f"{where}: ImagePositionPatient/Orientation or "
              "PixelSpacing missing; using an identity orientation and 1 mm pixels")
    rr = item.timing.rr_s
    d = np.diff(times[0])
    if d.size and np.any(d > _GAP_FACTOR * np.median(d)):
        gaps = np.flatnonzero(d > _GAP_FACTOR * np.median(d))
        _flag(flags, "FRAME_GAP", f"{where}: {gaps.size} frame interval(s) longer than "
              f"{_GAP_FACTOR}×RR (after frame(s) {(gaps + 1).tolist()[:5]}): missed triggers or "
              "arrhythmia; the real times are used")
    return PerfusionSeries(
        echoes=echoes,
        times_s=times,
        pd_frames=n_pd,
        sequence=seq,
        affines=affines,
        time_source=item.timing.source,
        rr_s=float(rr),
        description=s.description,
        series_uid=s.uid,
        slice_positions_mm=pos,
        headers=headers,
        source_files=sorted({r.source for r in s.records}),
    )


def _thickness(rec: FrameRecord) -> float | None:
    from qperfusion.io._values import fnum

    v = fnum(rec.value("SliceThickness", "PixelMeasuresSequence"))
    return v if v and v > 0 else None


def _assign_states(series: list[RawSeries], inputs: list[StudyInput], flags: list[QCFlag]
                   ) -> dict[RawSeries, str]:
    out = {}
    for s in series:
        forced = inputs[s.input_index].state
        if forced is not None:
            if s.state_hint is not None and s.state_hint != forced:
                _flag(flags, "STATE_CONFLICT", f"{s.name} is in the {forced} input but its "
                      f"{s.state_why} says {s.state_hint}; using {forced}")
            out[s] = forced
        else:
            out[s] = s.state_hint or "unspecified"
    return out


def _first_time(s: RawSeries) -> float:
    t = [r.acq_s for r in s.records if r.acq_s is not None]
    return min(t) if t else math.inf


def build_study(inputs: list[StudyInput], *, aif_series: AifSpec = None,
                readout: str | None = None, hematocrit: float = 0.42) -> Study:
    """Scan, arrange and read the inputs into a :class:`Study` (see ``read_study``)."""
    flags: list[QCFlag] = []
    all_series: list[RawSeries] = []
    sources: dict[str, Source] = {}
    for idx, inp in enumerate(inputs):
        for src in inp.sources:
            sources[src[0] if isinstance(src, tuple) else src] = src
        res = scan(inp.sources)
        for name, why in res.skipped:
            _flag(flags, "FILE_SKIPPED", f"{name}: {why}; skipped")
        if not res.records:
            raise DicomInputError(
                f"no DICOM images under {inp.label} ({res.n_files} file(s), {len(res.skipped)} "
                "not DICOM): point at the folder that holds the perfusion series")
        all_series.extend(group_series(res.records, idx, inp.root))

    dynamic = [s for s in all_series if s.max_frames >= _MIN_DYNAMIC_FRAMES]
    if not dynamic:
        raise DicomInputError(
            f"no dynamic series (≥ {_MIN_DYNAMIC_FRAMES} frames per slice) in "
            f"{', '.join(i.label for i in inputs)}; found {_listing(all_series)}")
    states = _assign_states(dynamic, inputs, flags)

    # AIF series: an explicit choice, then the description, then the structure
    explicit: dict[RawSeries, str] = {}
    aif_input = [i for i, inp in enumerate(inputs) if inp.role == "aif"]
    if aif_input:
        for s in dynamic:
            if s.input_index in aif_input:
                explicit[s] = states[s]
    elif aif_series is not None:
        specs = aif_series if isinstance(aif_series, dict) else {"*": aif_series}
        for st, spec in specs.items():
            hits = [s for s in dynamic if _matches(s, spec) and st in ("*", states[s])]
            if not hits:
                raise DicomInputError(
                    f"--aif-series {spec!r} matches no series (by SeriesInstanceUID, "
                    f"SeriesNumber or SeriesDescription); found: {_listing(dynamic)}")
            for s in hits:
                explicit[s] = states[s]

    _check_patients(dynamic)
    labelled = [st for st in ("stress", "rest") if st in states.values()]
    by_state: dict[str, list[RawSeries]] = {}
    for s in dynamic:
        by_state.setdefault(states[s], []).append(s)
    # unlabelled AIF series join the labelled state acquired closest in time / series number
    if labelled and "unspecified" in by_state:
        for s in list(by_state["unspecified"]):
            if s in explicit or _is_aif_text(s):
                def dist(st: str, s: RawSeries = s) -> float:
                    others = [o for o in by_state[st] if o not in explicit]
                    if not others:
                        return math.inf
                    dt = min(abs(_first_time(o) - _first_time(s)) for o in others)
                    if math.isfinite(dt):
                        return dt
                    return min(abs((o.series_number or 0) - (s.series_number or 0))
                               for o in others)
                target = min(labelled, key=dist)
                by_state["unspecified"].remove(s)
                by_state[target].append(s)
                if s in explicit:
                    explicit[s] = target
        if not by_state["unspecified"]:
            del by_state["unspecified"]
        else:
            for s in by_state.pop("unspecified"):
                _flag(flags, "SERIES_IGNORED", f"{s.name}: dynamic series with no stress/rest "
                      "in its description or folder, beside labelled ones; ignored", "info")

    _check_across_states(by_state, inputs, flags)
    acquisitions: dict[str, Acquisition] = {}
    jobs: list[PixelJob] = []
    patient: dict[str, str] = {}
    for state in STATES:
        cands = by_state.get(state)
        if not cands:
            continue
        sflags: list[QCFlag] = []
        _check_study(cands, state)
        aifs = [s for s in cands if s in explicit]
        if not aifs and not explicit:
            aifs = [s for s in cands if _is_aif_text(s)]
        rest = [s for s in cands if s not in aifs]
        if not aifs and not explicit:
            aifs = _structural_aif(rest)
            rest = [s for s in rest if s not in aifs]
        if not rest:
            raise DicomInputError(
                f"{state}: only AIF series found ({_listing(aifs)}); the myocardial perfusion "
                "series is missing — point at the folder that holds it")
        myo = _pick_myocardium(rest, state, sflags)
        if len(aifs) > 1:
            same = [a for a in aifs if a.max_frames == myo.max_frames]
            if len(same) != 1:
                raise DicomInputError(
                    f"{state}: {len(aifs)} AIF series ({_listing(aifs)}); choose one with "
                    "--aif-series SERIES_NUMBER|UID")
            aifs = same
        aif = aifs[0] if aifs else None
        if aif is None:
            if explicit:
                _flag(sflags, "AIF_SERIES_MISSING", f"{state}: --aif-series matched no series "
                      "of this state; the AIF will come from the LV blood pool of the "
                      "myocardial series (may saturate)")
            else:
                _flag(sflags, "AIF_SERIES_MISSING",
                      f"{state}: no AIF series (no SeriesDescription with 'AIF', no smaller "
                      "dual-echo series with the same number of heartbeats); the AIF will come "
                      "from the LV blood pool of the myocardial series (may saturate) — to use a "
                      "dual-sequence AIF, pass --aif-series FOLDER|SERIES_NUMBER|UID")
        sel = [_Selected(myo, "myocardium")] + ([_Selected(aif, "aif")] if aif else [])
        for item in sel:
            _check_complete(item.series)
        _choose_timing(sel, state, sflags)
        origin = min(float(item.timing.times_s.min()) for item in sel)  # type: ignore[union-attr]
        myo_ps = _build_series(sel[0], origin, readout, state, sflags, jobs)
        aif_ps = _build_series(sel[1], origin, None, state, sflags, jobs) if aif else None
        if aif_ps is not None and aif_ps.n_frames != myo_ps.n_frames:
            _flag(sflags, "AIF_FRAMES_DIFFER", f"{state}: AIF series has {aif_ps.n_frames} "
                  f"frames, myocardium {myo_ps.n_frames}")
        acquisitions[state] = Acquisition(state=state, myocardium=myo_ps, aif=aif_ps,  # type: ignore[arg-type]
                                          hematocrit=hematocrit, warnings=sflags)
        if not patient:
            r = myo.records[0]
            from qperfusion.io._values import get, text

            patient = {"name": r.patient_name, "id": r.patient_id,
                       "birth_date": text(get(r.ds, "PatientBirthDate"))}
        log.info("%s: myocardium %d slice(s) x %d frames (%s), AIF %s", state,
                 myo_ps.n_slices, myo_ps.n_frames, myo_ps.time_source,
                 "none" if aif_ps is None else f"{aif_ps.n_echoes} echo(es)")
    load_pixels(jobs, sources)
    return Study(acquisitions=acquisitions, warnings=flags, patient=patient,
                 source=", ".join(str(Path(i.label)) for i in inputs))
