"""Cohort runs on Dask: many studies, resumable, one failure never stops the rest.

Each study runs the same pipeline as ``qperfusion run`` in a Dask task (one process per
worker), writing ``OUT/<id>/`` atomically. A study is skipped on a re-run when its outputs are
complete and the *request* recorded in its provenance.json (a digest of every input file, the
options, the qperfusion version) is the one it would run now; a failed study leaves
``OUT/<id>/error.json`` and is retried next time. The default scheduler is a
``LocalCluster`` on this machine; ``scheduler="tcp://host:8786"`` sends the same tasks to an
existing cluster, so the code that runs on a laptop scales to many machines.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from qperfusion.errors import QPerfusionError
from qperfusion.workflows.manifest import StudySpec, read_manifest
from qperfusion.workflows.options import RunOptions
from qperfusion.workflows.outputs import OUTPUT_FILES, hash_files

__all__ = [
    "COHORT_COLUMNS",
    "StudyOutcome",
    "run_batch",
    "run_one",
    "study_request",
    "write_cohort_csv",
]

#: Columns of cohort.csv (one row per study × state × segment).
COHORT_COLUMNS: tuple[str, ...] = (
    "id", "state", "segment", "name", "mbf_ml_min_g", "mbf_sd_ml_min_g", "fp_ml_min_g",
    "endo_mbf_ml_min_g", "epi_mbf_ml_min_g", "n_pixels", "mpr", "classification",
    "global_mbf_ml_min_g", "global_mpr", "model",
)


@dataclass(frozen=True)
class StudyOutcome:
    """What happened to one study of a batch.

    Attributes
    ----------
    id : str
    status : {"done", "skipped", "failed"}
    seconds : float
        Wall time of the study (0 when skipped).
    error : str
        One-line reason when failed.
    """

    id: str
    status: str
    seconds: float = 0.0
    error: str = ""


def _files_under(path: Path | None) -> list[str]:
    if path is None:
        return []
    if path.is_file():
        return [str(path)]
    return sorted(str(p) for p in path.rglob("*") if p.is_file())


def study_request(spec: StudySpec, options: RunOptions) -> dict[str, Any]:
    """The request a study's outputs answer: input digest, options, version.

    The digest covers every file under the study's stress, rest and masks paths, by content
    and relative name, so an edited, added or removed file makes the study run again.
    """
    from qperfusion import __version__

    h = hashlib.sha256()
    for root in (spec.stress, spec.rest, spec.masks):
        files = _files_under(root)
        for name, digest in sorted(hash_files(files).items()):
            rel = os.path.relpath(name, root if root and root.is_dir() else Path(name).parent)
            h.update(f"{rel}\0{digest}\n".encode())
        h.update(b"--\n")
    return {"inputs_digest": h.hexdigest(), "options": options.to_dict(),
            "qperfusion_version": __version__}


def _options_for(spec: StudySpec, base: RunOptions) -> RunOptions:
    changes: dict[str, Any] = {}
    if spec.model:
        changes["model"] = spec.model
    if spec.hematocrit is not None:
        changes["hematocrit"] = spec.hematocrit
    if spec.masks is not None:
        changes["masks"] = str(spec.masks)
    return replace(base, **changes) if changes else base


def _is_complete(out: Path, request: dict[str, Any]) -> bool:
    if not all((out / name).exists() for name in OUTPUT_FILES):
        return False
    try:
        prov = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return prov.get("request") == request


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2)
    os.replace(tmp, path)


def run_one(spec: StudySpec, out_root: str | os.PathLike, base: RunOptions) -> StudyOutcome:
    """Run (or skip) one study into ``out_root/<id>/``; never raises for a bad study.

    Parameters
    ----------
    spec : StudySpec
    out_root : path
    base : RunOptions
        Batch options; the manifest row's model, hematocrit and masks override them.

    Returns
    -------
    StudyOutcome
    """
    out = Path(out_root) / spec.id
    t0 = time.perf_counter()
    try:
        options = _options_for(spec, base)
        for p in (spec.stress, spec.rest, spec.masks):
            if p is not None and not p.exists():
                raise QPerfusionError(
                    f"study {spec.id!r} (manifest line {spec.row}): {p} does not exist; fix "
                    "the path (relative to the manifest)"
                )
        request = study_request(spec, options)
        if _is_complete(out, request):
            return StudyOutcome(spec.id, "skipped")
        from qperfusion.io.reader import read_study
        from qperfusion.workflows.pipeline import run

        study = read_study(stress=spec.stress, rest=spec.rest, hematocrit=spec.hematocrit)
        result = run(study, options=options)
        result.write(out, extra_provenance={"request": request, "study_id": spec.id})
        return StudyOutcome(spec.id, "done", time.perf_counter() - t0)
    except Exception as exc:  # one bad study must never stop the batch
        message = f"{type(exc).__name__}: {exc}".splitlines()[0]
        record = {
            "id": spec.id, "manifest_row": spec.row, "error": message,
            "type": type(exc).__name__,
            "expected": isinstance(exc, QPerfusionError),
            "traceback": traceback.format_exc(),
            "stress": str(spec.stress), "rest": str(spec.rest),
        }
        # a later success replaces the whole folder, error.json included
        _write_json_atomic(out / "error.json", record)
        return StudyOutcome(spec.id, "failed", time.perf_counter() - t0, message)


def _result_rows(study_id: str, results: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    mpr = results.get("mpr", {})
    classes = results.get("findings", {}).get("classification", {})
    for state, st in results["states"].items():
        for key, seg in st["segments"].items():
            rows.append({
                "id": study_id, "state": state, "segment": key, "name": seg["name"],
                **{c: seg.get(c) for c in COHORT_COLUMNS[4:10]},
                "mpr": (mpr.get("segments") or {}).get(key),
                "classification": classes.get(key),
                "global_mbf_ml_min_g": st.get("global_mbf_ml_min_g"),
                "global_mpr": mpr.get("global"), "model": results.get("model"),
            })
    return rows


def write_cohort_csv(out_root: str | os.PathLike, ids: Sequence[str]) -> Path:
    """``OUT/cohort.csv``: one row per study × state × segment of every finished study."""
    out_root = Path(out_root)
    rows = []
    for sid in ids:
        res = out_root / sid / "results.json"
        if res.is_file():
            rows += _result_rows(sid, json.loads(res.read_text(encoding="utf-8")))
    path = out_root / "cohort.csv"
    fd, tmp = tempfile.mkstemp(prefix=".cohort.csv.", dir=out_root)
    with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(COHORT_COLUMNS))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
    os.replace(tmp, path)
    return path


def _client(scheduler: str | None, workers: int | None) -> tuple[Any, Any]:
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise QPerfusionError(
            "cohort runs need Dask: pip install 'qperfusion[cluster]'"
        ) from exc
    if scheduler:
        return Client(scheduler), None
    n = workers or max(1, min(os.cpu_count() or 1, 4))
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                           dashboard_address=None)
    return Client(cluster), cluster


def run_batch(
    manifest: str | os.PathLike,
    out_root: str | os.PathLike,
    *,
    options: RunOptions | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    on_done: Callable[[StudyOutcome], None] | None = None,
) -> list[StudyOutcome]:
    """Run every study of a manifest on Dask; write cohort.csv and cohort.html.

    Parameters
    ----------
    manifest : path
        CSV with header ``id,stress,rest[,masks,model,hematocrit]``.
    out_root : path
        Results go to ``out_root/<id>/``, failures to ``out_root/<id>/error.json``.
    options : RunOptions, optional
        Batch defaults (a row's model, hematocrit, masks override them).
    scheduler : str, optional
        Address of an existing Dask scheduler; default a LocalCluster here.
    workers : int, optional
        Worker processes of the LocalCluster (default: cores, at most 4).
    on_done : callable, optional
        Called with each :class:`StudyOutcome` as it finishes (progress bars).

    Returns
    -------
    list of StudyOutcome
        In manifest order.
    """
    from dask.distributed import as_completed

    specs = read_manifest(manifest)
    base = options or RunOptions()
    out = Path(out_root)
    out.mkdir(parents=True, exist_ok=True)
    client, cluster = _client(scheduler, workers)
    try:
        futures = {client.submit(run_one, spec, str(out.resolve()), base, pure=False,
                                 key=f"qperfusion-{spec.id}-{time.time_ns()}"): spec.id
                   for spec in specs}
        outcomes: dict[str, StudyOutcome] = {}
        for fut in as_completed(futures):
            sid = futures[fut]
            try:
                outcome = fut.result()
            except Exception as exc:  # a worker died: still record it, keep going
                outcome = StudyOutcome(sid, "failed", 0.0, f"worker failure: {exc}")
                _write_json_atomic(out / sid / "error.json",
                                   {"id": sid, "error": outcome.error, "expected": False})
            outcomes[sid] = outcome
            if on_done is not None:
                on_done(outcome)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    ordered = [outcomes[s.id] for s in specs]
    ids = [s.id for s in specs]
    write_cohort_csv(out, ids)
    from qperfusion.workflows.cohort_report import write_cohort_html

    write_cohort_html(out, ids, ordered)
    (out / "batch.json").write_text(
        json.dumps([asdict(o) for o in ordered], indent=2), encoding="utf-8"
    )
    return ordered
