"""``qperfusion batch``: a cohort from a manifest, on a Dask cluster (local by default)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from qperfusion.cli.run import _model_choices, make_options, threshold_options

__all__ = ["batch"]

#: How each outcome is shown: mark, rich style.
_SHOW: dict[str, tuple[str, str]] = {
    "done": ("✓", "green"),
    "skipped": ("=", "dim"),
    "failed": ("✗", "bold red"),
}


def _outcome_line(outcome: Any) -> str:
    mark, style = _SHOW[outcome.status]
    if outcome.status == "done":
        what = f"done in {outcome.seconds:.1f} s"
    elif outcome.status == "skipped":
        what = "skipped (outputs complete, same inputs, options and version)"
    else:
        what = f"failed: {outcome.error}"
    return f"[{style}]{mark}[/] {outcome.id} {what}"


@click.command()
@click.argument("manifest", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--out", "out_dir", required=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Output folder: OUT/<id>/ per study, OUT/cohort.csv, OUT/cohort.html.")
@click.option("--scheduler", metavar="ADDRESS",
              help="Address of an existing Dask scheduler (e.g. tcp://host:8786); default: a "
                   "local cluster on this machine.")
@click.option("--workers", type=click.IntRange(min=1),
              help="Worker processes of the local cluster (default: cores, at most 4).")
@click.option("--model", default="btex", show_default=True, type=click.Choice(_model_choices()),
              help="Kinetic model for rows that do not name one.")
@click.option("--hematocrit", type=float,
              help="Blood hematocrit (fraction) for rows that do not give one; default 0.42.")
@click.option("--anonymize", is_flag=True, help="Keep patient identifiers out of every output.")
@click.option("--no-moco", is_flag=True, help="Skip motion correction.")
@click.option("--no-t2star", is_flag=True, help="Skip the dual-echo T2* correction of the AIF.")
@threshold_options
def batch(manifest: Path, out_dir: Path, scheduler: str | None, workers: int | None, model: str,
          hematocrit: float | None, anonymize: bool, no_moco: bool, no_t2star: bool,
          mpr_abnormal: float, mpr_borderline: float, stress_flow_threshold: float,
          flow_convention: str) -> None:
    """Run every study of MANIFEST (CSV: id,stress,rest[,masks,model,hematocrit]).

    Paths in the manifest are relative to it. A study whose outputs are complete for the same
    inputs, options and version is skipped; a failed one leaves OUT/<id>/error.json and the
    others go on. Exit status 1 when any study failed.
    """
    from qperfusion.errors import QPerfusionError
    from qperfusion.workflows.cohort import run_batch

    if scheduler and workers is not None:
        raise click.UsageError("--workers sizes the local cluster; with --scheduler the "
                               "cluster's own workers run the studies")
    console = Console(width=None if Console().is_terminal else 120)
    try:
        options = make_options(model, hematocrit, None, no_moco, no_t2star, anonymize,
                               mpr_abnormal, mpr_borderline, stress_flow_threshold,
                               flow_convention)
        from qperfusion.workflows.manifest import read_manifest

        n_studies = len(read_manifest(manifest))  # a bad manifest fails before any cluster
        with Progress(TextColumn("studies"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console, transient=True) as bar:
            task = bar.add_task("studies", total=n_studies)

            def on_done(outcome: Any) -> None:
                bar.console.print(_outcome_line(outcome), highlight=False)
                bar.advance(task)

            outcomes = run_batch(manifest, out_dir, options=options, scheduler=scheduler,
                                 workers=workers, on_done=on_done)
    except QPerfusionError as exc:
        raise click.ClickException(str(exc)) from exc
    counts = {s: sum(o.status == s for o in outcomes) for s in _SHOW}
    console.print(
        f"{len(outcomes)} studies: {counts['done']} done, {counts['skipped']} skipped "
        f"(unchanged), {counts['failed']} failed. Cohort: {out_dir / 'cohort.csv'}, "
        f"{out_dir / 'cohort.html'}", highlight=False,
    )
    if counts["failed"]:
        failed = ", ".join(o.id for o in outcomes if o.status == "failed")
        raise click.ClickException(
            f"{counts['failed']} of {len(outcomes)} studies failed; see "
            f"{out_dir}/<id>/error.json ({failed})"
        )
