"""Group image records into series, echoes and slices, and tell their roles apart.

* series — by SeriesInstanceUID, split further by image matrix (a vendor that stores the AIF
  images in the myocardial series still gives two groups);
* echoes — by EchoNumbers when they differ, else by EchoTime;
* slices — by ImagePositionPatient (0.5 mm), sorted along the slice normal
  (ImagePositionPatient · (row cosine × column cosine)); SliceLocation when geometry is absent;
* state — SeriesDescription containing stress / rest (also adeno, regadenoson, ...), else the
  folder names under the path given, else what the caller said (``stress=``/``rest=``);
* role — AIF when SeriesDescription contains "AIF", else a series with a much smaller matrix,
  two or more echoes and the same number of heartbeats as a myocardial series.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qperfusion.io._frames import FrameRecord

__all__ = ["RawSeries", "group_series", "state_from_text"]

#: Words that name the state, searched in SeriesDescription and folder names (case-insensitive).
STATE_PATTERNS: dict[str, str] = {
    "stress": r"stress|adeno|regadenoson|lexiscan|dipyrid|dobutamine",
    # "rest" but not arrest, interest, forest, crest, restore, restrict, restaurant
    "rest": r"(?<!ar)(?<!inte)(?<!fo)(?<!c)rest(?!or|ric|aur)",
}

_SLICE_TOL_MM = 0.5


def state_from_text(value: str) -> str | None:
    """"stress" / "rest" if the text names exactly one of them, else None."""
    hits = [s for s, pat in STATE_PATTERNS.items() if re.search(pat, value, re.IGNORECASE)]
    return hits[0] if len(hits) == 1 else None


@dataclass(eq=False)  # identity semantics: used as a dict key
class RawSeries:
    """The frames of one series arranged as ``grid[echo][slice] -> [FrameRecord, ...]``.

    Attributes
    ----------
    key : str
        SeriesInstanceUID (plus the matrix when one UID held two matrices).
    input_index : int
        Which of the caller's paths it came from.
    state_hint : str or None
        State named by its description or folder; None when nothing names one.
    state_why : str
        What named it.
    """

    key: str
    records: list[FrameRecord]
    input_index: int
    state_hint: str | None = None
    state_why: str = ""
    grid: list[list[list[FrameRecord]]] = field(default_factory=list)
    echo_te_ms: list[float] = field(default_factory=list)
    slice_pos_mm: list[float] = field(default_factory=list)
    normal: np.ndarray | None = None
    shares_uid: bool = False  # one SeriesInstanceUID held several matrices (AIF + myocardium)

    @property
    def description(self) -> str:
        return self.records[0].description

    @property
    def uid(self) -> str:
        return self.records[0].series_uid

    @property
    def series_number(self) -> int | None:
        return self.records[0].series_number

    @property
    def matrix(self) -> tuple[int, int]:
        return self.records[0].rows, self.records[0].cols

    @property
    def n_echoes(self) -> int:
        return len(self.grid)

    @property
    def n_slices(self) -> int:
        return len(self.grid[0]) if self.grid else 0

    @property
    def frame_counts(self) -> list[list[int]]:
        return [[len(s) for s in echo] for echo in self.grid]

    @property
    def max_frames(self) -> int:
        return max((c for e in self.frame_counts for c in e), default=0)

    @property
    def name(self) -> str:
        num = f"#{self.series_number} " if self.series_number is not None else ""
        desc = self.description or "(no SeriesDescription)"
        return f"series {num}{desc!r}"

    @property
    def has_td(self) -> bool:
        return any(r.ti_ms is not None for r in self.records)

    @property
    def folder(self) -> str:
        return str(Path(self.records[0].source).parent)


def _split_echoes(records: list[FrameRecord]) -> tuple[list[list[FrameRecord]], list[float]]:
    numbers = {r.echo_number for r in records}
    tes = {None if r.te_ms is None else round(r.te_ms, 2) for r in records}
    if len(numbers) > 1 and None not in numbers:
        keyf = lambda r: r.echo_number  # noqa: E731
    elif len(tes) > 1 and None not in tes:
        keyf = lambda r: round(r.te_ms, 2)  # noqa: E731
    else:
        te = [r.te_ms for r in records if r.te_ms is not None]
        return [records], [float(np.median(te)) if te else float("nan")]
    groups: dict[float, list[FrameRecord]] = {}
    for r in records:
        groups.setdefault(keyf(r), []).append(r)
    keys = sorted(groups)
    out = [groups[k] for k in keys]
    te_ms = []
    for g in out:
        te = [r.te_ms for r in g if r.te_ms is not None]
        te_ms.append(float(np.median(te)) if te else float("nan"))
    return out, te_ms


def _normal(records: list[FrameRecord]) -> np.ndarray | None:
    for r in records:
        if r.iop is not None:
            row, col = np.asarray(r.iop[:3]), np.asarray(r.iop[3:])
            n = np.cross(row, col)
            norm = np.linalg.norm(n)
            if norm > 1e-6:
                return n / norm
    return None


def _split_slices(records: list[FrameRecord], normal: np.ndarray | None
                  ) -> tuple[list[list[FrameRecord]], list[float]]:
    centers: list[np.ndarray] = []
    members: list[list[FrameRecord]] = []
    use_ipp = normal is not None and all(r.ipp is not None for r in records)
    for r in records:
        if use_ipp:
            p = np.asarray(r.ipp, dtype=float)
        elif r.slice_location is not None:
            p = np.array([r.slice_location, 0.0, 0.0])
        else:
            p = np.zeros(3)
        for i, c in enumerate(centers):
            if np.linalg.norm(p - c) < _SLICE_TOL_MM:
                members[i].append(r)
                break
        else:
            centers.append(p)
            members.append([r])
    pos = [float(c @ normal) if use_ipp else float(c[0]) for c in centers]  # type: ignore[operator]
    idx = sorted(range(len(centers)), key=lambda i: pos[i])
    return [members[i] for i in idx], [pos[i] for i in idx]


def group_series(records: list[FrameRecord], input_index: int, root: str | None
                 ) -> list[RawSeries]:
    """Arrange one input's records into :class:`RawSeries` (echoes × slices × frames).

    Parameters
    ----------
    records : list of FrameRecord
    input_index : int
        Index of the caller's input these came from.
    root : str or None
        The folder the user named; folder names below it may name the state.
    """
    by_key: dict[str, list[FrameRecord]] = {}
    for r in records:
        uid = r.series_uid or f"{r.description}|{r.series_number}"
        by_key.setdefault(uid, []).append(r)
    out = []
    for uid, recs in by_key.items():
        matrices = sorted({(r.rows, r.cols) for r in recs})
        for m in matrices:
            sub = [r for r in recs if (r.rows, r.cols) == m]
            key = uid if len(matrices) == 1 else f"{uid} [{m[0]}x{m[1]}]"
            out.append(_arrange(RawSeries(key=key, records=sub, input_index=input_index,
                                          shares_uid=len(matrices) > 1), root))
    return out


def _arrange(series: RawSeries, root: str | None) -> RawSeries:
    echoes, te = _split_echoes(series.records)
    series.normal = _normal(series.records)
    positions: list[float] = []
    grid = []
    for i, echo in enumerate(echoes):
        slices, pos = _split_slices(echo, series.normal)
        grid.append(slices)
        if i == 0:
            positions = pos
    series.grid = grid
    series.echo_te_ms = te
    series.slice_pos_mm = positions
    hint = state_from_text(series.description)
    if hint is not None:
        series.state_hint, series.state_why = hint, "SeriesDescription"
    elif root is not None:
        try:
            rel = Path(series.records[0].source).resolve().parent.relative_to(
                Path(root).resolve())
        except (ValueError, OSError):
            rel = None
        parts = [] if rel is None else [p for p in rel.parts if p not in (".", "")]
        for part in parts:
            hint = state_from_text(part)
            if hint is not None:
                series.state_hint, series.state_why = hint, f"folder {part!r}"
                break
    return series
