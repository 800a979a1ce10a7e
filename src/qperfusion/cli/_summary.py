"""The one-screen summary and stage progress shared by ``run`` and ``demo``."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

__all__ = ["print_summary", "stage_progress"]


@contextmanager
def stage_progress(console: Console) -> Iterator[Callable[[str, str], None]]:
    """A ``progress(state, stage)`` callback that shows the running stage with a spinner."""
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task("starting", total=None)

        def progress(state: str, stage: str) -> None:
            bar.update(task, description=f"{state}: {stage}")

        yield progress


def _fmt(v: Any, digits: int = 2) -> str:
    return "–" if v is None else f"{v:.{digits}f}"


def print_summary(console: Console, results: Mapping[str, Any], out_dir: Path) -> None:
    """Global and segmental MBF, MPR, abnormal segments, QC warnings, where the report is."""
    states = results["states"]
    mpr = results.get("mpr", {})
    classes = results["findings"]["classification"]
    table = Table(title=f"Myocardial blood flow ({results['model']}), mL/min/g", box=None)
    table.add_column("segment", justify="right")
    table.add_column("name")
    for state in states:
        table.add_column(f"{state} MBF", justify="right")
        table.add_column(f"{state} Fp", justify="right")
    if any(v is not None for v in mpr.get("segments", {}).values()):
        table.add_column("MPR", justify="right")
    table.add_column("class")
    has_mpr = len(table.columns) > 3 + 2 * len(states)
    for key in (str(k) for k in range(1, 17)):
        row = [key, next(iter(states.values()))["segments"][key]["name"]]
        for st in states.values():
            seg = st["segments"][key]
            row += [_fmt(seg["mbf_ml_min_g"]), _fmt(seg["fp_ml_min_g"])]
        if has_mpr:
            row.append(_fmt(mpr["segments"].get(key)))
        cls = classes.get(key, "")
        style = {"abnormal": "bold red", "borderline": "yellow"}.get(cls, "")
        row.append(f"[{style}]{cls}[/]" if style else cls)
        table.add_row(*row)
    console.print(table)
    glob = ", ".join(f"{s} {_fmt(st['global_mbf_ml_min_g'])}" for s, st in states.items())
    console.print(f"Global MBF (mL/min/g): {glob}"
                  + (f"; global MPR {_fmt(mpr.get('global'))}" if mpr.get("global") else ""))
    ischemic = results["findings"]["ischemic_segments"]
    console.print("Abnormal segments: " + (", ".join(map(str, ischemic)) if ischemic else "none"))
    flags = [(s, f) for s, st in states.items() for f in st["qc"]]
    flags += [("study", f) for f in results.get("qc", [])]
    for where, f in flags:
        if f["severity"] in ("warning", "error"):
            console.print(f"[yellow]{f['severity'].upper()}[/] {where} {f['code']}: {f['message']}")
    console.print(f"Report: {out_dir / 'report.html'}")
