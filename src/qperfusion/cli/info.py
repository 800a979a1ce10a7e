"""``qperfusion info PATH``: what the reader finds in a study, and every warning."""

from __future__ import annotations

import json

import click

from qperfusion.errors import QPerfusionError


@click.command("info")
@click.argument("path", required=False, type=click.Path(exists=False))
@click.option("--stress", type=click.Path(), help="Folder holding the stress series.")
@click.option("--rest", type=click.Path(), help="Folder holding the rest series.")
@click.option("--aif-series", "aif_series",
              help="AIF series: its folder, SeriesNumber, SeriesInstanceUID or description.")
@click.option("--readout", type=str, help="Override the readout: flash or ssfp.")
@click.option("--hematocrit", type=float, help="Blood hematocrit (fraction), default 0.42.")
@click.option("--json", "as_json", is_flag=True, help="Print the DESIGN.md JSON shape.")
@click.option("--show-phi", is_flag=True, help="Also print patient name, ID and birth date.")
def info(path: str | None, stress: str | None, rest: str | None, aif_series: str | None,
         readout: str | None, hematocrit: float | None, as_json: bool, show_phi: bool) -> None:
    """Summarise the perfusion study in PATH (or --stress/--rest folders)."""
    from qperfusion.io.reader import read_study
    from qperfusion.io.summary import format_summary, study_summary

    try:
        study = read_study(path, stress=stress, rest=rest, aif_series=aif_series,
                           readout=readout, hematocrit=hematocrit)
    except QPerfusionError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(study_summary(study, show_phi=show_phi), indent=2))
    else:
        click.echo(format_summary(study, show_phi=show_phi))
