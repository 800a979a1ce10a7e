"""The cohort manifest: ``id,stress,rest[,masks,model,hematocrit]``, one row per study."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from qperfusion.errors import QPerfusionError

__all__ = ["OPTIONAL_COLUMNS", "REQUIRED_COLUMNS", "StudySpec", "read_manifest"]

REQUIRED_COLUMNS: tuple[str, ...] = ("id", "stress", "rest")
OPTIONAL_COLUMNS: tuple[str, ...] = ("masks", "model", "hematocrit")
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
#: Names the batch itself writes in OUT/; a study folder must not take them.
_RESERVED_IDS = frozenset({"cohort.csv", "cohort.html", "batch.json"})


@dataclass(frozen=True)
class StudySpec:
    """One manifest row with its paths made absolute.

    Attributes
    ----------
    id : str
        Study identifier; also the name of its output folder ``OUT/<id>/``.
    stress, rest : Path or None
        Folders of the stress and rest series (either may be empty, not both).
    masks : Path or None
        User masks for this study.
    model : str or None
        Kinetic model for this study (else the batch default).
    hematocrit : float or None
    row : int
        Line number in the manifest (for messages).
    """

    id: str
    stress: Path | None
    rest: Path | None
    masks: Path | None = None
    model: str | None = None
    hematocrit: float | None = None
    row: int = 0


def _path(base: Path, value: str) -> Path | None:
    value = value.strip()
    return (base / value).resolve() if value else None


def read_manifest(path: str | Path) -> list[StudySpec]:
    """Read and check a manifest; paths are taken relative to the manifest's folder.

    Problems that concern the whole file (missing header columns, duplicate or unsafe ids,
    unparsable hematocrit) raise here, naming the line; whether a study's folders exist is
    checked when the study runs, so one missing study does not stop the others.

    Parameters
    ----------
    path : str or Path
        The CSV file.

    Returns
    -------
    list of StudySpec

    Raises
    ------
    QPerfusionError
        With the file, line and value at fault.
    """
    path = Path(path)
    if not path.is_file():
        raise QPerfusionError(f"manifest {path} not found; give a CSV with header id,stress,rest")
    base = path.resolve().parent
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        header = [h.strip() for h in (reader.fieldnames or [])]
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise QPerfusionError(
                f"manifest {path}: header {','.join(header) or '(empty)'} lacks "
                f"{', '.join(missing)}; the header must start id,stress,rest "
                f"(optionally followed by {','.join(OPTIONAL_COLUMNS)})"
            )
        unknown = [c for c in header if c not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
        if unknown:
            raise QPerfusionError(
                f"manifest {path}: unknown column(s) {', '.join(unknown)}; allowed: "
                f"{', '.join(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)}"
            )
        specs: list[StudySpec] = []
        seen: dict[str, int] = {}
        for raw in reader:
            line = reader.line_num  # the file's line (the reader skips blank lines)
            row = {k.strip(): (v or "").strip() for k, v in raw.items() if k is not None}
            if not any(row.values()):
                continue
            sid = row["id"]
            if not _SAFE_ID.match(sid):
                raise QPerfusionError(
                    f"manifest {path} line {line}: id {sid!r} must be letters, digits, '.', "
                    "'_' or '-' (it names the output folder)"
                )
            if sid.lower() in _RESERVED_IDS:
                raise QPerfusionError(
                    f"manifest {path} line {line}: id {sid!r} is the name of a batch output; "
                    "choose another id"
                )
            # case-insensitive: P01 and p01 are one folder on macOS and Windows
            if sid.lower() in seen:
                raise QPerfusionError(
                    f"manifest {path} line {line}: id {sid!r} repeats line "
                    f"{seen[sid.lower()]} (ids name output folders and must be unique, "
                    "ignoring case)"
                )
            seen[sid.lower()] = line
            if not row["stress"] and not row["rest"]:
                raise QPerfusionError(
                    f"manifest {path} line {line}: study {sid!r} has neither stress nor rest"
                )
            hct = row.get("hematocrit", "")
            try:
                hematocrit = float(hct) if hct else None
            except ValueError:
                raise QPerfusionError(
                    f"manifest {path} line {line}: hematocrit {hct!r} is not a number "
                    "(a fraction, e.g. 0.42)"
                ) from None
            specs.append(StudySpec(
                id=sid, stress=_path(base, row["stress"]), rest=_path(base, row["rest"]),
                masks=_path(base, row.get("masks", "")), model=row.get("model") or None,
                hematocrit=hematocrit, row=line,
            ))
    if not specs:
        raise QPerfusionError(f"manifest {path} has no study rows")
    return specs
