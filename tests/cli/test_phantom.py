"""``qperfusion phantom`` and ``qperfusion demo``: thin commands over the phantom library."""

from __future__ import annotations

import json

import pydicom

from qperfusion.cli import demo as demo_cli
from qperfusion.cli.main import main
from qperfusion.errors import QPerfusionError


def test_phantom_writes_the_study_with_a_figure(tmp_path, capsys):
    out = tmp_path / "ph"
    code = main(["phantom", str(out), "--seed", "4", "--ischemia", "lcx", "--motion", "none",
                 "--snr", "40", "--readout", "ssfp", "--figure"])
    assert code == 0
    printed = capsys.readouterr().out
    assert str(out / "truth.json") in printed
    assert "[5, 6, 11, 12, 16]" in printed
    assert len(list((out / "stress").glob("*.dcm"))) == 320
    assert len(list((out / "rest").glob("*.dcm"))) == 320
    for name in ("stress_labels", "rest_labels", "stress_aif_mask", "rest_aif_mask"):
        assert (out / "masks" / f"{name}.nii.gz").is_file()
    png = out / "figures" / "phantom.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 50_000
    truth = json.loads((out / "truth.json").read_text())
    assert truth["phantom"]["readout"] == "ssfp"
    assert truth["findings"]["ischemic_segments"] == [5, 6, 11, 12, 16]
    ds = pydicom.dcmread(next((out / "rest").glob("*.dcm")))
    assert ds.SequenceName in ("*tfi2d1", "*tfl2d1")  # the AIF series stays FLASH
    # the same folder again needs --overwrite (two phantoms would mix their series)
    assert main(["phantom", str(out), "--seed", "4"]) != 0
    assert "overwrite" in capsys.readouterr().err


def test_phantom_rejects_unknown_options(tmp_path):
    assert main(["phantom", str(tmp_path / "x"), "--ischemia", "lmca"]) != 0
    assert not (tmp_path / "x").exists()


def test_demo_writes_the_lad_phantom_where_it_says(tmp_path, capsys, monkeypatch):
    calls = []

    def fake_write_study(out, **options):
        # the writing itself is tested above; record the call and stop
        calls.append((out, options))
        raise QPerfusionError("stopped by the test")

    monkeypatch.setattr("qperfusion.phantom.write_study", fake_write_study, raising=False)
    code = main(["demo", "-o", str(tmp_path / "demo")])
    assert code != 0
    assert "stopped by the test" in capsys.readouterr().err
    (out, options), = calls
    assert out == tmp_path / "demo" / "phantom"
    assert options["ischemia"] == "lad"
    assert options["motion"] == "resp"
    assert options["figure"] is True
    assert demo_cli.DEMO_OPTIONS["ischemia"] == "lad"
