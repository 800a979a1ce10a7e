"""``qperfusion phantom OUT``: write the digital perfusion phantom (DICOM, masks, truth)."""

from __future__ import annotations

import time

import click

from qperfusion.errors import QPerfusionError


@click.command("phantom")
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--seed", type=int, default=0, show_default=True,
              help="Random seed; the same seed gives the same study.")
@click.option("--ischemia", type=click.Choice(["none", "lad", "lcx", "rca"]), default="lad",
              show_default=True, help="Coronary territory with reduced stress flow.")
@click.option("--motion", type=click.Choice(["none", "resp"]), default="resp",
              show_default=True, help="Respiratory motion (+ two abrupt frames at stress).")
@click.option("--snr", type=float, default=None,
              help="Normal myocardium at peak stress / noise SD [default: 25].")
@click.option("--readout", type=click.Choice(["flash", "ssfp"]), default="flash",
              show_default=True, help="Myocardial readout (the AIF is always FLASH).")
@click.option("--tissue-model", type=click.Choice(["2cxm", "btex", "btex_plug"]),
              default="2cxm", show_default=True,
              help="Kinetic model generating the myocardial curves (btex: NIH's 20-segment "
                   "BTEX); the true flow is the same.")
@click.option("--no-noise", is_flag=True, help="Noise-free images.")
@click.option("--figure", is_flag=True, help="Also write OUT/figures/phantom.png.")
@click.option("--overwrite", is_flag=True, help="Replace DICOM files of an earlier phantom.")
def phantom(out: str, seed: int, ischemia: str, motion: str, snr: float | None, readout: str,
            tissue_model: str, no_noise: bool, figure: bool, overwrite: bool) -> None:
    """Write a stress + rest phantom study with ground truth into OUT."""
    from qperfusion.phantom import DEFAULT_SNR, write_study

    start = time.perf_counter()
    try:
        written = write_study(out, seed=seed, ischemia=ischemia, motion=motion,
                              snr=DEFAULT_SNR if snr is None else snr, readout=readout,
                              tissue_model=tissue_model,
                              noise=not no_noise, figure=figure, overwrite=overwrite)
    except QPerfusionError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(describe(written, time.perf_counter() - start))


def describe(written: object, seconds: float) -> str:
    """Lines saying where the phantom's parts are (shared with ``qperfusion demo``)."""
    w = written
    truth = w.study.truth  # type: ignore[attr-defined]
    lines = [
        f"phantom written to {w.out_dir} in {seconds:.1f} s "  # type: ignore[attr-defined]
        f"({w.n_files} DICOM files)",  # type: ignore[attr-defined]
        f"  DICOM  stress: {w.dicom_dirs['stress']}",  # type: ignore[attr-defined]
        f"  DICOM  rest:   {w.dicom_dirs['rest']}",  # type: ignore[attr-defined]
        f"  masks:         {w.out_dir / 'masks'}",  # type: ignore[attr-defined]
        f"  truth:         {w.truth_json}",  # type: ignore[attr-defined]
    ]
    if w.figure is not None:  # type: ignore[attr-defined]
        lines.append(f"  figure:        {w.figure}")  # type: ignore[attr-defined]
    lines.append(
        f"  true global MBF stress {truth['states']['stress']['global_mbf_ml_min_g']:.2f}, "
        f"rest {truth['states']['rest']['global_mbf_ml_min_g']:.2f} mL/min/g, "
        f"MPR {truth['mpr']['global']:.2f}; ischemic segments "
        f"{truth['findings']['ischemic_segments'] or 'none'}"
    )
    return "\n".join(lines)
