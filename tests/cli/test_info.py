"""``qperfusion info``: the readable summary and the DESIGN.md JSON shape."""

from __future__ import annotations

import json

import pytest
from pydicom.uid import generate_uid

from qperfusion.cli.main import main
from tests.io.dicom_factory import SeriesSpec, classic_series, write

MYO_KEYS = {"n_slices", "n_frames", "pd_frames", "time_source", "rr_s", "readout", "td_ms",
            "tr_ms", "te_ms", "flip_deg", "field_t", "agent"}


@pytest.fixture
def study_dir(tmp_path):
    uid = generate_uid()
    for state, num in (("stress", 10), ("rest", 20)):
        myo = SeriesSpec(description=f"Perfusion {state}", study_uid=uid, n_frames=6,
                         series_number=num)
        aif = SeriesSpec(description=f"AIF {state}", study_uid=uid, n_frames=6, n_slices=1,
                         rows=4, cols=4, echoes_ms=(0.8, 2.0), series_number=num + 1)
        write(classic_series(myo), tmp_path / "study" / f"s{num}")
        write(classic_series(aif), tmp_path / "study" / f"s{num + 1}")
    return tmp_path / "study"


def test_info_json_shape(study_dir, capsys):
    assert main(["info", str(study_dir), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["states"]) == {"stress", "rest"}
    for st in out["states"].values():
        assert set(st["myocardium"]) >= MYO_KEYS
        assert st["myocardium"]["td_ms"] == pytest.approx(90.0)
        assert st["myocardium"]["time_source"] == "AcquisitionTime"
        assert st["aif"] == {**st["aif"], "n_frames": 6, "n_echoes": 2, "pd_frames": 2,
                             "matrix": [4, 4]}
    assert isinstance(out["warnings"], list)
    assert "patient" not in out
    assert "PAT-0001" not in json.dumps(out)


def test_info_text_and_phi(study_dir, capsys):
    assert main(["info", str(study_dir)]) == 0
    text = capsys.readouterr().out
    assert "stress:" in text
    assert "TD 90.0 ms" in text
    assert "PAT-0001" not in text
    assert "Doe" not in text
    assert main(["info", str(study_dir), "--show-phi", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["patient"]["id"] == "PAT-0001"


def test_info_stress_rest_options_and_errors(study_dir, capsys):
    # an AIF folder given beside both states goes to the state its description names
    assert main(["info", "--stress", str(study_dir / "s10"), "--rest", str(study_dir / "s20"),
                 "--aif-series", str(study_dir / "s21"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["states"]["rest"]["aif"]["n_echoes"] == 2
    assert out["states"]["stress"]["aif"] is None
    assert main(["info", "--stress", str(study_dir / "s10"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out["states"]) == ["stress"]
    assert out["states"]["stress"]["aif"] is None
    assert any(w.startswith("AIF_SERIES_MISSING") for w in out["warnings"])
    assert main(["info", str(study_dir), "--aif-series", "no-such-series"]) == 1
    err = capsys.readouterr().err
    assert "matches no series" in err
    assert main(["info", str(study_dir / "missing")]) == 1
