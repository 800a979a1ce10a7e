"""Round trip: the digital phantom's DICOM read back gives every parameter it wrote."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

import qperfusion as qp
from qperfusion.cli.main import main


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    phantom = pytest.importorskip("qperfusion.phantom")
    out = tmp_path_factory.mktemp("phantom") / "study"
    return phantom.write_study(out, seed=3, readout="ssfp")


@pytest.fixture(scope="module")
def study(written):
    files = sorted(p for p in written.out_dir.rglob("*") if p.is_file())
    before = [hashlib.sha256(p.read_bytes()).hexdigest() for p in files]
    study = qp.read_study(written.out_dir)
    assert [hashlib.sha256(p.read_bytes()).hexdigest() for p in files] == before
    return study


@pytest.mark.parametrize("state", ["stress", "rest"])
@pytest.mark.parametrize("role", ["myocardium", "aif"])
def test_every_written_parameter_is_recovered(written, study, state, role):
    truth = getattr(written.study.states[state].acquisition, role)
    got = getattr(study[state], role)
    assert got is not None
    assert got.echoes.shape == truth.echoes.shape
    np.testing.assert_array_equal(got.echoes, truth.echoes)
    np.testing.assert_allclose(got.times_s, truth.times_s, atol=1e-6)  # DICOM keeps µs
    np.testing.assert_allclose(got.affines, truth.affines, atol=1e-6)
    np.testing.assert_allclose(got.slice_positions_mm, truth.slice_positions_mm, atol=1e-6)
    assert got.pd_frames == truth.pd_frames
    q, t = got.sequence, truth.sequence
    # everything the tags carry; ramp-up pulses have no DICOM tag (always read as 0)
    for name in ("readout", "ordering", "n_pe_lines", "lines_to_center", "agent"):
        assert getattr(q, name) == getattr(t, name), name
    for name in ("td_s", "tr_s", "flip_deg", "pd_flip_deg", "field_t"):
        assert getattr(q, name) == pytest.approx(getattr(t, name), abs=1e-9), name
    assert q.te_s == pytest.approx(t.te_s, abs=1e-9)
    assert got.time_source == "AcquisitionTime"
    assert got.rr_s == pytest.approx(truth.rr_s, abs=1e-6)
    assert got.description == truth.description
    assert study[state].hematocrit == pytest.approx(0.42)


def test_phantom_reads_without_warnings(study):
    flags = [*study.warnings, *(f for a in study.acquisitions.values() for f in a.warnings)]
    assert [f for f in flags if f.severity != "info"] == []


def test_phantom_info_json(written, study, capsys):
    assert main(["info", str(written.out_dir), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for state in ("stress", "rest"):
        truth = written.study.states[state].acquisition
        m = out["states"][state]["myocardium"]
        assert m["n_slices"] == truth.myocardium.n_slices
        assert m["n_frames"] == truth.myocardium.n_frames
        assert m["pd_frames"] == truth.myocardium.pd_frames
        assert m["readout"] == "ssfp"
        assert m["td_ms"] == pytest.approx(truth.myocardium.sequence.td_s * 1000)
        a = out["states"][state]["aif"]
        assert a["n_echoes"] == 2
        assert a["matrix"] == list(truth.aif.matrix)
    assert out["warnings"] == []
