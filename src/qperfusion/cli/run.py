"""``qperfusion run``: one study, DICOM in, the full output contract out."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from qperfusion.workflows.options import DEFAULT_MODEL

__all__ = ["run"]


def _model_choices() -> list[str]:
    from qperfusion.kinetics import MODELS

    return [*MODELS, "all"]


def threshold_options(f):  # type: ignore[no-untyped-def]
    """Classification options shared by ``run`` and ``batch``."""
    opts = [
        click.option("--mpr-abnormal", type=float, default=1.5, show_default=True,
                     help="MPR below this is abnormal."),
        click.option("--mpr-borderline", type=float, default=2.0, show_default=True,
                     help="MPR below this is borderline."),
        click.option("--stress-flow-threshold", type=float, default=2.0, show_default=True,
                     help="Stress flow (mL/min/g) below this is borderline."),
        click.option("--flow-convention", type=click.Choice(["auto", "fp", "mbf"]),
                     default="auto", show_default=True,
                     help="Which stress flow the threshold applies to: the model's own (auto: "
                          "the flow that reads on the NIH BTEX scale the threshold comes from, "
                          "plasma Fp for 2CXM, blood MBF for the others), plasma Fp or blood "
                          "MBF."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def make_options(model: str, hematocrit: float | None, masks: str | None, no_moco: bool,
                 no_t2star: bool, anonymize: bool, mpr_abnormal: float, mpr_borderline: float,
                 stress_flow_threshold: float, flow_convention: str):  # type: ignore[no-untyped-def]
    """RunOptions from the command-line values."""
    from qperfusion.analysis import Thresholds
    from qperfusion.workflows import RunOptions

    return RunOptions(
        model=model, hematocrit=hematocrit, masks=masks, moco=not no_moco,
        t2star_correction=not no_t2star, anonymize=anonymize,
        thresholds=Thresholds(mpr_abnormal=mpr_abnormal, mpr_borderline=mpr_borderline,
                              stress_flow_borderline_ml_min_g=stress_flow_threshold,
                              flow=flow_convention),
    )


@click.command()
@click.argument("path", required=False, type=click.Path(exists=True, path_type=Path))
@click.option("--stress", type=click.Path(exists=True, path_type=Path),
              help="Folder with the stress series.")
@click.option("--rest", type=click.Path(exists=True, path_type=Path),
              help="Folder with the rest series.")
@click.option("-o", "--out", "out_dir", required=True, type=click.Path(path_type=Path),
              help="Output folder (replaced as a whole when complete).")
@click.option("--model", default=DEFAULT_MODEL, show_default=True,
              type=click.Choice(_model_choices()),
              help="Kinetic model; 'all' fits every model and reports their AIC.")
@click.option("--masks", type=click.Path(exists=True),
              help="Your own masks (NIfTI labels, or JSON contours; a folder with "
                   "<state>_labels.nii.gz) instead of the automatic segmentation.")
@click.option("--hematocrit", type=float, help="Blood hematocrit (fraction); default 0.42.")
@click.option("--aif-series", help="The AIF series (folder, SeriesInstanceUID, number or "
                                   "description) when it is not found automatically.")
@click.option("--readout", type=click.Choice(["flash", "ssfp"]),
              help="Override the myocardial readout read from the headers.")
@click.option("--anonymize", is_flag=True, help="Keep patient identifiers out of every output.")
@click.option("--no-moco", is_flag=True, help="Skip motion correction.")
@click.option("--no-t2star", is_flag=True, help="Skip the dual-echo T2* correction of the AIF.")
@threshold_options
def run(path: Path | None, stress: Path | None, rest: Path | None, out_dir: Path, model: str,
        masks: str | None, hematocrit: float | None, aif_series: str | None,
        readout: str | None, anonymize: bool, no_moco: bool, no_t2star: bool,
        mpr_abnormal: float, mpr_borderline: float, stress_flow_threshold: float,
        flow_convention: str) -> None:
    """Measure MBF, MPR and AHA segments of one study (PATH, or --stress/--rest)."""
    from qperfusion import read_study
    from qperfusion.cli._summary import print_summary, stage_progress
    from qperfusion.errors import QPerfusionError
    from qperfusion.workflows import run as run_pipeline

    if path is None and stress is None and rest is None:
        raise click.UsageError("give a study folder PATH, or --stress and/or --rest folders")
    console = Console(width=None if Console().is_terminal else 120)
    try:
        options = make_options(model, hematocrit, masks, no_moco, no_t2star, anonymize,
                               mpr_abnormal, mpr_borderline, stress_flow_threshold,
                               flow_convention)
        study = read_study(path, stress=stress, rest=rest, aif_series=aif_series,
                           readout=readout, hematocrit=hematocrit)
        with stage_progress(console) as progress:
            result = run_pipeline(study, options=options, progress=progress)
            progress("writing", "outputs")
            out = result.write(out_dir)
    except QPerfusionError as exc:
        raise click.ClickException(str(exc)) from exc
    print_summary(console, result.results, out)
