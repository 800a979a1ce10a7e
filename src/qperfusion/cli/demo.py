"""``qperfusion demo``: write the phantom study and say where it is.

Interim: the pipeline run on the phantom is added by the lead; :func:`make_demo_phantom` is the
one generation call to reuse.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from qperfusion.errors import QPerfusionError

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


@click.command("demo")
@click.option("-o", "--out", "out", type=click.Path(file_okay=False),
              default="qperfusion-demo", show_default=True, help="Demo output folder.")
def demo(out: str) -> None:
    """Write a demo study (digital phantom, LAD ischemia, breathing) and show where it is."""
    from qperfusion.cli.phantom import describe

    start = time.perf_counter()
    try:
        written = make_demo_phantom(out)
    except QPerfusionError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(describe(written, time.perf_counter() - start))
    click.echo("next: run the pipeline on it, e.g. "
               f"qperfusion info {Path(out) / 'phantom'}")
