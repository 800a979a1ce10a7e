"""The cohort manifest: columns, ids, paths relative to it, messages that say what to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from qperfusion.errors import QPerfusionError
from qperfusion.workflows.manifest import StudySpec, read_manifest


def _write(tmp_path: Path, text: str, name: str = "manifest.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_paths_are_relative_to_the_manifest_and_optional_columns_parse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sub = tmp_path / "trial"
    sub.mkdir()
    path = _write(sub, "id,stress,rest,masks,model,hematocrit\n"
                       "P01,d/p1/stress,d/p1/rest,d/p1/masks,fermi,0.40\n"
                       "P02,/abs/stress,,,,\n")
    monkeypatch.chdir(tmp_path)  # the working folder must not matter
    specs = read_manifest(path)
    assert specs[0] == StudySpec(
        id="P01", stress=sub / "d/p1/stress", rest=sub / "d/p1/rest", masks=sub / "d/p1/masks",
        model="fermi", hematocrit=0.40, row=2,
    )
    assert specs[1] == StudySpec(id="P02", stress=Path("/abs/stress"), rest=None, row=3)


def test_minimal_header_blank_lines_spaces_and_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_bytes("\ufeffid, stress ,rest\n\n A ,s, r\n,,\nB,s2,r2\n".encode())
    specs = read_manifest(path)
    assert [(s.id, s.stress.name, s.rest.name, s.row) for s in specs] == [
        ("A", "s", "r", 3), ("B", "s2", "r2", 5)
    ]
    assert all(s.masks is None and s.model is None and s.hematocrit is None for s in specs)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("id,stress\nA,s\n", "lacks rest"),
        ("name,stress,rest\nA,s,r\n", "lacks id"),
        ("id,stress,rest,weight\nA,s,r,70\n", "unknown column(s) weight"),
        ("id,stress,rest\n../up,s,r\n", "line 2: id '../up' must be letters"),
        ("id,stress,rest\nA,s,r\nB,s,r\na,s,r\n", "line 4: id 'a' repeats line 2"),
        ("id,stress,rest\ncohort.csv,s,r\n", "name of a batch output"),
        ("id,stress,rest\nA,,\n", "line 2: study 'A' has neither stress nor rest"),
        ("id,stress,rest,hematocrit\nA,s,r,42%\n", "hematocrit '42%' is not a number"),
        ("id,stress,rest\n", "has no study rows"),
        ("", "header (empty) lacks id, stress, rest"),
    ],
)
def test_bad_manifest_names_line_and_value(tmp_path: Path, text: str, expected: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(QPerfusionError) as info:
        read_manifest(path)
    assert expected in str(info.value)
    assert str(path) in str(info.value)


def test_missing_manifest(tmp_path: Path) -> None:
    with pytest.raises(QPerfusionError, match="not found; give a CSV with header id,stress,rest"):
        read_manifest(tmp_path / "nope.csv")
