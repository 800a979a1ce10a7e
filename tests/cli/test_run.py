"""``qperfusion run`` and ``qperfusion demo`` called as a user would (``main([...])``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qperfusion.cli.main import main

pytestmark = pytest.mark.slow


def test_run_writes_the_contract_and_prints_a_summary(phantom_dir: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]):
    out = tmp_path / "OUT"
    code = main(["run", "--stress", str(phantom_dir / "stress"), "--rest",
                 str(phantom_dir / "rest"), "-o", str(out), "--model", "fermi",
                 "--masks", str(phantom_dir / "masks"), "--no-moco", "--flow-convention", "mbf"])
    assert code == 0
    text = capsys.readouterr().out
    assert "Global MBF" in text
    assert str(out / "report.html") in text.replace("\n", "")
    res = json.loads((out / "results.json").read_text())
    assert res["model"] == "fermi"
    assert res["findings"]["flow_convention"] == "mbf"


def test_run_on_a_folder_without_dicom_says_what_is_wrong(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]):
    (tmp_path / "notes.txt").write_text("not an image")
    code = main(["run", str(tmp_path), "-o", str(tmp_path / "OUT")])
    assert code == 1
    err = capsys.readouterr().err
    assert "Error" in err
    assert not (tmp_path / "OUT").exists()


def test_run_without_inputs_is_a_usage_error(tmp_path: Path):
    assert main(["run", "-o", str(tmp_path / "OUT")]) == 2


def test_unknown_model_lists_the_valid_ones(phantom_dir: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]):
    code = main(["run", str(phantom_dir), "-o", str(tmp_path / "o"), "--model", "nope"])
    assert code == 2
    assert "btex" in capsys.readouterr().err
