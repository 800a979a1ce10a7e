"""``qperfusion demo``: write the digital phantom as DICOM, run the whole cascade on it, and
compare the result with the phantom's ground truth."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click
import numpy as np

from qperfusion.errors import QPerfusionError
from qperfusion.workflows.options import DEFAULT_MODEL

#: Demo phantom: LAD ischemia with respiratory motion, written with its figure.
DEMO_OPTIONS = {"seed": 0, "ischemia": "lad", "motion": "resp", "readout": "flash"}


def make_demo_phantom(out: str | Path, *, overwrite: bool = True) -> object:
    """Write the demo phantom into ``out/phantom`` and return the ``WrittenPhantom``.

    Parameters
    ----------
    out : str or Path
        Demo folder; the phantom goes to ``out/phantom`` (DICOM in ``stress/`` and ``rest/``,
        ``masks/``, ``truth.json``, ``figures/phantom.png``).
    overwrite : bool
        Replace an earlier demo's DICOM files.
    """
    from qperfusion.phantom import write_study

    return write_study(Path(out) / "phantom", figure=True, overwrite=overwrite, **DEMO_OPTIONS)


def truth_comparison(results: dict[str, Any], truth: dict[str, Any]) -> dict[str, Any]:
    """Segmental MBF and MPR errors against a phantom truth (same results.json shape).

    Returns
    -------
    dict
        Per state ``{"median_abs_error": f, "max_abs_error": f}`` (relative, fractions),
        ``"mpr"`` likewise, and ``"ischemic_match"`` (bool).
    """
    out: dict[str, Any] = {}
    for state, st in truth["states"].items():
        got = results["states"].get(state)
        if got is None:
            continue
        err = [
            (got["segments"][k]["mbf_ml_min_g"] or np.nan) / v["mbf_ml_min_g"] - 1
            for k, v in st["segments"].items()
        ]
        out[state] = {"median_abs_error": float(np.nanmedian(np.abs(err))),
                      "max_abs_error": float(np.nanmax(np.abs(err)))}
    t_mpr, g_mpr = truth.get("mpr", {}).get("segments", {}), results.get("mpr", {}).get("segments")
    if t_mpr and g_mpr:
        err = [(g_mpr.get(k) or np.nan) / v - 1 for k, v in t_mpr.items() if v]
        out["mpr"] = {"median_abs_error": float(np.nanmedian(np.abs(err))),
                      "max_abs_error": float(np.nanmax(np.abs(err)))}
    out["ischemic_match"] = (results["findings"]["ischemic_segments"]
                             == truth["findings"]["ischemic_segments"])
    return out


@click.command("demo")
@click.option("-o", "--out", "out", type=click.Path(file_okay=False, path_type=Path),
              default="qperfusion-demo", show_default=True, help="Demo output folder.")
@click.option("--model", default=DEFAULT_MODEL, show_default=True, help="Kinetic model.")
def demo(out: Path, model: str) -> None:
    """Run the whole job on a built-in phantom study (LAD ischemia, breathing) and check it.

    Writes OUT/phantom (DICOM as a scanner would, masks, truth.json) and OUT/results (the
    output contract of ``qperfusion run``), then prints the summary and the error against
    the phantom's ground truth.
    """
    from rich.console import Console

    from qperfusion import read_study
    from qperfusion.cli._summary import print_summary, stage_progress
    from qperfusion.cli.phantom import describe
    from qperfusion.workflows import RunOptions, run

    console = Console(width=None if Console().is_terminal else 120)
    start = time.perf_counter()
    try:
        with stage_progress(console) as progress:
            progress("demo", "writing the phantom study as DICOM")
            written = make_demo_phantom(out)
            phantom_s = time.perf_counter() - start
            progress("demo", "reading the DICOM")
            study = read_study(stress=written.dicom_dirs["stress"],  # type: ignore[attr-defined]
                               rest=written.dicom_dirs["rest"])  # type: ignore[attr-defined]
            result = run(study, options=RunOptions(model=model), progress=progress)
            progress("demo", "writing outputs")
            out_dir = result.write(Path(out) / "results")
    except QPerfusionError as exc:
        raise click.ClickException(str(exc)) from None
    console.print(describe(written, phantom_s))
    print_summary(console, result.results, out_dir)
    truth = json.loads((Path(out) / "phantom" / "truth.json").read_text(encoding="utf-8"))
    cmp = truth_comparison(result.results, truth)
    (Path(out) / "truth_comparison.json").write_text(json.dumps(cmp, indent=2), encoding="utf-8")
    for key in ("stress", "rest", "mpr"):
        if key in cmp:
            console.print(f"vs truth, {key}: median |error| "
                          f"{100 * cmp[key]['median_abs_error']:.1f}%, max "
                          f"{100 * cmp[key]['max_abs_error']:.1f}%")
    console.print(f"ischemic segments match the truth: {cmp['ischemic_match']}")
    console.print(f"done in {time.perf_counter() - start:.0f} s")
