"""Cohort runs on Dask: complete results, clear errors, resumable re-runs, any scheduler.

One phantom (the session fixture ``phantom_dir``) stands for the four good studies (same files,
different ids: each still runs the whole pipeline); the broken study is a copy of its stress
series with the last files deleted. Runs use the phantom's own masks, 2CXM and no motion
correction to keep each study cheap.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from qperfusion.cli.main import main
from qperfusion.workflows.cohort import (
    COHORT_COLUMNS,
    run_one,
    study_request,
    write_cohort_csv,
)
from qperfusion.workflows.manifest import StudySpec, read_manifest
from qperfusion.workflows.options import RunOptions
from qperfusion.workflows.outputs import OUTPUT_FILES

GOOD = ("p1", "p2", "p3", "p4")
FAST = ["--no-moco", "--model", "2cxm"]


@dataclass
class Batch:
    rc: int
    stdout: str
    stderr: str


def _batch(*args: str) -> Batch:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(["batch", *args])
    return Batch(rc, out.getvalue(), err.getvalue())


def _manifest_rows(phantom: Path, root: Path, broken: Path | None) -> str:
    rel = Path(os.path.relpath(phantom, root))  # manifest paths are relative to the manifest
    study = f"{rel / 'stress'},{rel / 'rest'},{rel / 'masks'}"
    rows = ["id,stress,rest,masks,model,hematocrit",
            f"p1,{study},2cxm,", f"p2,{study},2cxm,0.40", f"p3,{study},,", f"p4,{study},,"]
    if broken is not None:
        rows.append(f"broken,{broken.name},{rel / 'rest'},{rel / 'masks'},2cxm,")
    return "\n".join(rows) + "\n"


@pytest.fixture(scope="module")
def cohort(phantom_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The five-study manifest and its first batch run on a 2-worker local cluster."""
    root = tmp_path_factory.mktemp("cohort")
    broken = root / "broken_stress"
    shutil.copytree(phantom_dir / "stress", broken)
    removed = sorted(broken.glob("*.dcm"))[-5:]  # a transfer that stopped early
    for f in removed:
        f.unlink()
    manifest = root / "manifest.csv"
    manifest.write_text(_manifest_rows(phantom_dir, root, broken), encoding="utf-8")
    out = root / "out"
    first = _batch(str(manifest), "-o", str(out), *FAST, "--workers", "2")
    return {"root": root, "manifest": manifest, "out": out, "first": first,
            "broken": broken, "removed": [f.name for f in removed]}


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_four_complete_results_one_clear_error_exit_status(cohort: dict) -> None:
    first, out = cohort["first"], cohort["out"]
    assert first.rc == 1, first.stdout + first.stderr
    assert "1 of 5 studies failed; see" in first.stderr
    assert "(broken)" in first.stderr
    assert "4 done, 0 skipped (unchanged), 1 failed" in first.stdout
    for sid in GOOD:
        assert f"✓ {sid} done in" in first.stdout
        assert all((out / sid / name).exists() for name in OUTPUT_FILES)
        assert not (out / sid / "error.json").exists()
    error = json.loads((out / "broken" / "error.json").read_text(encoding="utf-8"))
    assert "✗ broken failed: DicomInputError" in first.stdout
    assert error["type"] == "DicomInputError"
    assert error["expected"] is True
    assert "missing" in error["error"]
    assert str(cohort["broken"]) in error["error"]
    assert not (out / "broken" / "results.json").exists()


@pytest.mark.slow
def test_each_study_records_the_request_it_answers(cohort: dict) -> None:
    """Row model/hematocrit/masks override the batch options; provenance holds the request."""
    specs = {s.id: s for s in read_manifest(cohort["manifest"])}
    for sid in GOOD:
        spec = specs[sid]
        options = RunOptions(model="2cxm", moco=False, masks=str(spec.masks),
                             hematocrit=spec.hematocrit)
        prov = json.loads((cohort["out"] / sid / "provenance.json").read_text("utf-8"))
        assert prov["request"] == study_request(spec, options)
        assert prov["study_id"] == sid
    assert specs["p2"].hematocrit == 0.40


@pytest.mark.slow
def test_cohort_csv_and_html(cohort: dict) -> None:
    out = cohort["out"]
    rows = _rows(out / "cohort.csv")
    assert list(rows[0]) == list(COHORT_COLUMNS)
    assert len(rows) == len(GOOD) * 2 * 16  # study × state × segment; the failed one absent
    assert sorted({r["id"] for r in rows}) == list(GOOD)
    for sid in GOOD:
        res = json.loads((out / sid / "results.json").read_text(encoding="utf-8"))
        for r in (r for r in rows if r["id"] == sid):
            seg = res["states"][r["state"]]["segments"][r["segment"]]
            assert float(r["mbf_ml_min_g"]) == seg["mbf_ml_min_g"]
            assert float(r["global_mbf_ml_min_g"]) == res["states"][r["state"]][
                "global_mbf_ml_min_g"]
            assert float(r["mpr"]) == res["mpr"]["segments"][r["segment"]]
            assert r["classification"] == res["findings"]["classification"][r["segment"]]
            assert r["model"] == "2cxm"
    # the row's model (p1) and the batch default (p3) are the same run
    assert [r["mbf_ml_min_g"] for r in rows if r["id"] == "p1"] == [
        r["mbf_ml_min_g"] for r in rows if r["id"] == "p3"]
    html = (out / "cohort.html").read_text(encoding="utf-8")
    for sid in GOOD:
        assert f'href="{sid}/report.html"' in html
    assert 'href="broken/error.json"' in html
    assert "DicomInputError" in html
    assert html.count('<img alt="distribution') == 1


@pytest.mark.slow
def test_rerun_skips_complete_studies_and_retries_the_failed_one(
    cohort: dict, phantom_dir: Path
) -> None:
    out, manifest = cohort["out"], str(cohort["manifest"])
    stamps = {sid: (out / sid / "results.json").stat().st_mtime_ns for sid in GOOD}
    error_stamp = (out / "broken" / "error.json").stat().st_mtime_ns

    again = _batch(manifest, "-o", str(out), *FAST, "--workers", "2")
    assert again.rc == 1
    assert "0 done, 4 skipped (unchanged), 1 failed" in again.stdout
    assert all(f"= {sid} skipped" in again.stdout for sid in GOOD)
    assert {sid: (out / sid / "results.json").stat().st_mtime_ns for sid in GOOD} == stamps
    assert (out / "broken" / "error.json").stat().st_mtime_ns > error_stamp  # tried again

    # the missing files arrive: the retry succeeds and replaces error.json by the results
    for name in cohort["removed"]:
        shutil.copy2(phantom_dir / "stress" / name, cohort["broken"] / name)
    fixed = _batch(manifest, "-o", str(out), *FAST, "--workers", "2")
    assert fixed.rc == 0, fixed.stdout + fixed.stderr
    assert "1 done, 4 skipped (unchanged), 0 failed" in fixed.stdout
    assert not (out / "broken" / "error.json").exists()
    assert all((out / "broken" / name).exists() for name in OUTPUT_FILES)
    assert len(_rows(out / "cohort.csv")) == 5 * 2 * 16


@pytest.mark.slow
def test_existing_cluster_by_address_gives_identical_results(
    cohort: dict, tmp_path: Path
) -> None:
    from dask.distributed import LocalCluster

    two = cohort["root"] / "two.csv"
    rows = cohort["manifest"].read_text(encoding="utf-8").splitlines()
    two.write_text("\n".join(rows[:3]) + "\n", encoding="utf-8")  # header, p1, p2
    out = tmp_path / "out"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None, env={"NUMBA_NUM_THREADS": "1"}) as cluster:
        run = _batch(str(two), "-o", str(out), *FAST, "--scheduler", cluster.scheduler_address)
        ran_there = [k for k in cluster.scheduler.task_prefixes if k.startswith("qperfusion")]
    assert run.rc == 0, run.stdout + run.stderr
    assert ran_there
    for sid in ("p1", "p2"):
        for name in ("results.json", "segments.csv"):
            assert (out / sid / name).read_bytes() == (cohort["out"] / sid / name).read_bytes()
    local = [r for r in _rows(cohort["out"] / "cohort.csv") if r["id"] in ("p1", "p2")]
    assert _rows(out / "cohort.csv") == local


# ---- the skip rule and failures without a cluster -------------------------------------------


def _fake_study(root: Path) -> StudySpec:
    for state in ("stress", "rest"):
        (root / state).mkdir(parents=True)
        for i in range(3):
            (root / state / f"IM_{i}.dcm").write_bytes(f"{state} {i}".encode())
    return StudySpec(id="s1", stress=root / "stress", rest=root / "rest", row=2)


def _complete_outputs(out: Path, request: dict) -> None:
    out.mkdir(parents=True)
    for name in OUTPUT_FILES:
        if "." in name:
            (out / name).write_text("{}", encoding="utf-8")
        else:
            (out / name).mkdir()
    (out / "provenance.json").write_text(json.dumps({"request": request}), encoding="utf-8")


def test_skip_needs_complete_outputs_and_the_same_request(tmp_path: Path) -> None:
    spec = _fake_study(tmp_path / "in")
    options = RunOptions(model="2cxm", moco=False)
    out_root = tmp_path / "out"
    _complete_outputs(out_root / "s1", study_request(spec, options))
    assert run_one(spec, out_root, options).status == "skipped"
    # other options, or an output missing: the study runs (and fails: the files are not DICOM)
    assert run_one(spec, out_root, RunOptions(model="fermi", moco=False)).status == "failed"
    (out_root / "s1" / "error.json").unlink()
    (out_root / "s1" / "segments.csv").unlink()
    assert run_one(spec, out_root, options).status == "failed"


def test_request_follows_file_contents_not_location(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = _fake_study(tmp_path / "a")
    options = RunOptions(moco=False)
    request = study_request(spec, options)
    assert request == json.loads(json.dumps(request))  # what provenance.json gives back

    moved = _fake_study(tmp_path / "b")
    assert study_request(moved, options)["inputs_digest"] == request["inputs_digest"]
    (moved.rest / "IM_1.dcm").write_bytes(b"edited")
    assert study_request(moved, options)["inputs_digest"] != request["inputs_digest"]
    (moved.rest / "IM_1.dcm").write_bytes(b"rest 1")
    (moved.rest / "IM_9.dcm").write_bytes(b"added")
    assert study_request(moved, options)["inputs_digest"] != request["inputs_digest"]

    masks = tmp_path / "masks"
    masks.mkdir()
    (masks / "stress_labels.nii.gz").write_bytes(b"labels")
    with_masks = RunOptions(moco=False, masks=str(masks))
    digest = study_request(spec, with_masks)["inputs_digest"]
    assert digest != request["inputs_digest"]
    (masks / "stress_labels.nii.gz").write_bytes(b"labels, corrected")
    assert study_request(spec, with_masks)["inputs_digest"] != digest

    import qperfusion

    monkeypatch.setattr(qperfusion, "__version__", "999.0")
    assert study_request(spec, options)["qperfusion_version"] == "999.0"


def test_missing_folder_is_a_recorded_failure(tmp_path: Path) -> None:
    spec = StudySpec(id="gone", stress=tmp_path / "nowhere", rest=None, row=7)
    outcome = run_one(spec, tmp_path / "out", RunOptions())
    assert outcome.status == "failed"
    error = json.loads((tmp_path / "out" / "gone" / "error.json").read_text("utf-8"))
    assert error["expected"] is True
    assert error["manifest_row"] == 7
    assert f"{tmp_path / 'nowhere'} does not exist" in error["error"] == outcome.error


def test_anonymized_error_json_names_no_input_folder(tmp_path: Path) -> None:
    # folder names often carry the patient's name: an anonymised batch must not echo them
    patient_dir = tmp_path / "DOE_JOHN_12345" / "stress"
    spec = StudySpec(id="gone", stress=patient_dir, rest=None, row=4)
    outcome = run_one(spec, tmp_path / "out", RunOptions(anonymize=True))
    assert outcome.status == "failed"
    text = (tmp_path / "out" / "gone" / "error.json").read_text("utf-8")
    assert "DOE_JOHN" not in text
    assert "DOE_JOHN" not in outcome.error
    error = json.loads(text)
    assert error["stress"] == "<stress: manifest line 4>"
    assert error["error"].startswith("QPerfusionError: study 'gone' (manifest line 4): <stress>")


def test_a_bad_row_model_fails_that_study_only(tmp_path: Path) -> None:
    spec = StudySpec(id="m", stress=tmp_path, rest=None, model="nope", row=3)
    outcome = run_one(spec, tmp_path / "out", RunOptions())
    assert outcome.status == "failed"
    assert "unknown model 'nope'; choose one of" in outcome.error


def test_cohort_csv_leaves_out_failed_studies(tmp_path: Path) -> None:
    segs = {str(k): {"name": f"seg {k}", "mbf_ml_min_g": 1.0 + k} for k in range(1, 17)}
    res = {"model": "fermi", "states": {"stress": {"global_mbf_ml_min_g": 2.5,
                                                   "segments": segs}},
           "mpr": {"global": None, "segments": {}}, "findings": {"classification": {}}}
    for sid in ("a", "b"):
        (tmp_path / sid).mkdir()
        (tmp_path / sid / "results.json").write_text(json.dumps(res), encoding="utf-8")
    rows = _rows(write_cohort_csv(tmp_path, ["a", "b", "c"], failed={"b"}))
    assert [(r["id"], r["segment"]) for r in rows] == [("a", str(k)) for k in range(1, 17)]
    assert rows[4]["mbf_ml_min_g"] == "6.0"
    assert rows[0]["mpr"] == ""
    assert rows[0]["model"] == "fermi"


def test_cli_usage_errors_before_any_cluster(tmp_path: Path) -> None:
    manifest = tmp_path / "m.csv"
    manifest.write_text("id,stress\nA,s\n", encoding="utf-8")
    assert _batch(str(manifest), "-o", str(tmp_path / "o"), "--workers", "2",
                  "--scheduler", "tcp://127.0.0.1:1").rc == 2
    bad = _batch(str(manifest), "-o", str(tmp_path / "o"))
    assert bad.rc == 1
    assert "lacks rest" in bad.stderr
    assert not (tmp_path / "o").exists()


def test_cohort_html_with_failed_states_and_no_rest(tmp_path: Path) -> None:
    from qperfusion.workflows.cohort import StudyOutcome
    from qperfusion.workflows.cohort_report import write_cohort_html

    res = {"states": {"stress": {"global_mbf_ml_min_g": float("nan"), "segments": {}}},
           "mpr": {"global": None}, "findings": {"ischemic_segments": []}}
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "results.json").write_text(json.dumps(res), encoding="utf-8")
    outcomes = [StudyOutcome("a", "done", 3.0), StudyOutcome("b", "failed", 1.0, "Boom: x")]
    html = write_cohort_html(tmp_path, ["a", "b"], outcomes).read_text(encoding="utf-8")
    assert "nan" not in html.lower()
    assert "<img" not in html  # no finite value to plot
    assert 'href="a/report.html"' in html
    assert 'href="b/error.json"' in html
    assert "1 done, 0 unchanged since the last run, 1 failed" in html
