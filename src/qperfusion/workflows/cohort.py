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
import logging
import os
import tempfile
import time
import traceback
from collections.abc import Callable, Collection, Sequence
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
    "start_local_cluster",
    "study_request",
    "write_cohort_csv",
]

#: Seconds to wait for an existing scheduler given by address.
_CONNECT_TIMEOUT_S = 20

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

    Parameters
    ----------
    spec : StudySpec
        The manifest row.
    options : RunOptions
        The options the study runs with (the row's overrides applied, see ``run_one``).

    Returns
    -------
    dict
        JSON-safe ``{"inputs_digest", "options", "qperfusion_version"}``. The digest covers
        every file under the study's stress and rest folders and under the masks it runs with
        (the row's, else the batch's), by content and relative name, so an edited, added or
        removed file makes the study run again.
    """
    from qperfusion import __version__

    masks = Path(options.masks) if options.masks else None
    h = hashlib.sha256()
    for root in (spec.stress, spec.rest, masks):
        files = _files_under(root)
        for name, digest in sorted(hash_files(files).items()):
            rel = os.path.relpath(name, root if root and root.is_dir() else Path(name).parent)
            h.update(f"{rel}\0{digest}\n".encode())
        h.update(b"--\n")
    request = {"inputs_digest": h.hexdigest(), "options": options.to_dict(),
               "qperfusion_version": __version__}
    # the form provenance.json gives back (tuples become lists), so the two compare equal
    return json.loads(json.dumps(request))


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
        message = _one_line(exc)
        trace = traceback.format_exc()
        if base.anonymize:
            message, trace = (_without_input_paths(text, spec) for text in (message, trace))
        # a later success replaces the whole folder, error.json included
        _write_error(out, spec, message, type(exc).__name__,
                     expected=isinstance(exc, QPerfusionError), trace=trace,
                     anonymize=base.anonymize)
        return StudyOutcome(spec.id, "failed", time.perf_counter() - t0, message)


def _without_input_paths(text: str, spec: StudySpec) -> str:
    """``text`` with the study's input folders replaced by ``<stress>``, ``<rest>``,
    ``<masks>``: folder names often carry the patient's name or ID, and an anonymised batch's
    outputs must not (the manifest row number still says which study failed)."""
    for name in ("stress", "rest", "masks"):
        path = getattr(spec, name)
        if path is not None:
            text = text.replace(str(path), f"<{name}>")
    return text


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    first = text.splitlines()[0] if text else "(no message)"
    return f"{type(exc).__name__}: {first}"


def _write_error(out: Path, spec: StudySpec, message: str, kind: str, *, expected: bool,
                 trace: str, anonymize: bool = False) -> None:
    from qperfusion import __version__

    def where(path: Path | None, name: str) -> str | None:
        if path is None:
            return None
        return f"<{name}: manifest line {spec.row}>" if anonymize else str(path)

    _write_json_atomic(out / "error.json", {
        "id": spec.id, "manifest_row": spec.row, "error": message, "type": kind,
        # expected: bad input (a qperfusion error naming what to fix); otherwise a bug to report
        "expected": expected,
        "stress": where(spec.stress, "stress"),
        "rest": where(spec.rest, "rest"),
        "qperfusion_version": __version__,
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "traceback": trace,
    })


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


def write_cohort_csv(out_root: str | os.PathLike, ids: Sequence[str], *,
                     failed: Collection[str] = ()) -> Path:
    """Write ``OUT/cohort.csv``: one row per study × state × segment of every finished study.

    Parameters
    ----------
    out_root : path
        The batch output folder holding ``<id>/results.json``.
    ids : sequence of str
        Studies in manifest order.
    failed : collection of str
        Studies that failed this time: left out even if an older result is still on disk.

    Returns
    -------
    Path
        The CSV (columns :data:`COHORT_COLUMNS`; MBF in mL/min/g, empty where not available).
    """
    out_root = Path(out_root)
    rows = []
    for sid in ids:
        res = out_root / sid / "results.json"
        if sid not in failed and res.is_file():
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


def start_local_cluster(workers: int | None = None) -> Any:
    """A Dask ``LocalCluster`` set up for cohort runs: one process per study at a time.

    Parameters
    ----------
    workers : int, optional
        Worker processes (default: this machine's cores, at most 4).

    Returns
    -------
    distributed.LocalCluster
        Close it when done (``with start_local_cluster(2) as cluster: ...``); its
        ``scheduler_address`` can be given to several :func:`run_batch` calls.
    """
    try:
        from dask.distributed import LocalCluster
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise QPerfusionError(
            "cohort runs need Dask: pip install 'qperfusion[cluster]'"
        ) from exc
    if workers is not None and workers < 1:
        raise QPerfusionError(f"workers={workers}: give at least 1 worker process")
    cores = os.cpu_count() or 1
    n = workers or max(1, min(cores, 4))
    # one study per process: share the cores among the workers' numba thread pools rather
    # than giving every worker all of them (n × cores threads thrash a small machine)
    env = {"NUMBA_NUM_THREADS": str(max(1, cores // n))}
    # silence_logs=ERROR: a loaded machine makes the nannies warn at shutdown ("still alive
    # after 4 s, killing"); a study's own failure is reported through its outcome anyway
    return LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                        dashboard_address=None, env=env, silence_logs=logging.ERROR)


def _client(scheduler: str | None, workers: int | None) -> tuple[Any, Any]:
    try:
        from dask.distributed import Client
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise QPerfusionError(
            "cohort runs need Dask: pip install 'qperfusion[cluster]'"
        ) from exc
    if scheduler:
        try:
            return Client(scheduler, timeout=_CONNECT_TIMEOUT_S), None
        except (OSError, TimeoutError, ValueError) as exc:
            raise QPerfusionError(
                f"cannot reach the Dask scheduler at {scheduler!r} ({exc}); start one "
                "(`dask scheduler` plus `dask worker ADDRESS`) or leave out --scheduler to "
                "run on this machine"
            ) from exc
    cluster = start_local_cluster(workers)
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
    specs = read_manifest(manifest)
    base = options or RunOptions()
    out = Path(out_root).resolve()
    out.mkdir(parents=True, exist_ok=True)
    client, cluster = _client(scheduler, workers)
    try:
        outcomes = _run_on(client, specs, out, base, on_done)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    ordered = [outcomes[s.id] for s in specs]
    ids = [s.id for s in specs]
    write_cohort_csv(out, ids, failed={o.id for o in ordered if o.status == "failed"})
    from qperfusion.workflows.cohort_report import write_cohort_html

    write_cohort_html(out, ids, ordered)
    _write_json_atomic(out / "batch.json", {"studies": [asdict(o) for o in ordered]})
    return ordered


def _run_on(client: Any, specs: Sequence[StudySpec], out: Path, base: RunOptions,
            on_done: Callable[[StudyOutcome], None] | None) -> dict[str, StudyOutcome]:
    from dask.distributed import as_completed

    # pure=False and a unique key: a re-run must run again (the skip decision is run_one's,
    # made against the files on disk), never reuse a result the scheduler still remembers
    batch = time.time_ns()
    futures = {client.submit(run_one, spec, str(out), base, pure=False,
                             key=f"qperfusion-{spec.id}-{batch}"): spec for spec in specs}
    outcomes: dict[str, StudyOutcome] = {}
    for fut in as_completed(futures):
        spec = futures[fut]
        try:
            outcome = fut.result()
        except Exception as exc:  # the worker died (memory, segfault): record it, go on
            outcome = StudyOutcome(spec.id, "failed", 0.0,
                                   f"worker failure: {_one_line(exc)}")
            _write_error(out / spec.id, spec, outcome.error, type(exc).__name__,
                         expected=False, trace=traceback.format_exc())
        outcomes[spec.id] = outcome
        if on_done is not None:
            on_done(outcome)
    return outcomes
