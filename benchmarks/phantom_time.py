"""Phantom generation time: simulation, DICOM writing, and the writer against plain pydicom.

Prints medians over repeats of

* ``simulate_study`` (both states, in memory) per readout,
* ``write_simulated`` (640 DICOM files + masks + truth.json), and the figure,
* the same 320 files of one state written by ``TemplateWriter`` (constant tags encoded once)
  and by ``pydicom.dcmwrite`` on a mutated template (the baseline), with their ratio.

Goal (issue): under 30 s for a study on the project machine (2 shared cores).

    python benchmarks/phantom_time.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset

from qperfusion import phantom
from qperfusion.phantom import dicom, protocol


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _baseline_write(out: Path, series, template: Dataset) -> None:
    """pydicom.dcmwrite per image on one mutated template (what TemplateWriter replaces)."""
    for k in range(series.n_frames):
        for s in range(series.n_slices):
            for e in range(series.n_echoes):
                sop = dicom.uid("bench", k, s, e)
                template.SOPInstanceUID = sop
                template.file_meta.MediaStorageSOPInstanceUID = sop
                template.InstanceNumber = str(k)
                template.AcquisitionTime = "101010.000000"
                template.PixelData = series.echoes[e, s, :, :, k].astype("<u2").tobytes()
                template["PixelData"].VR = "OW"
                pydicom.dcmwrite(out / f"b_{k}_{s}_{e}.dcm", template, enforce_file_format=True)


def _fast_write(out: Path, series, template: Dataset) -> None:
    writer = dicom.TemplateWriter(template)
    for k in range(series.n_frames):
        for s in range(series.n_slices):
            for e in range(series.n_echoes):
                ds = Dataset()
                ds.SOPInstanceUID = dicom.uid("bench", k, s, e)
                ds.InstanceNumber = str(k)
                ds.AcquisitionTime = "101010.000000"
                ds.PixelData = series.echoes[e, s, :, :, k].astype("<u2").tobytes()
                ds["PixelData"].VR = "OW"
                writer.write(out / f"f_{k}_{s}_{e}.dcm", ds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    r = args.repeats

    phantom.simulate_study(seed=0)  # warm imports
    rows = []
    for readout in ("flash", "ssfp"):
        t = _median_time(lambda ro=readout: phantom.simulate_study(seed=0, readout=ro), r)
        rows.append((f"simulate_study ({readout}, resp, noise)", t))
    study = phantom.simulate_study(seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        t = _median_time(lambda: phantom.write_simulated(Path(tmp) / "w", study,
                                                         overwrite=True), r)
        rows.append(("write_simulated (640 files, masks, truth)", t))
        from qperfusion.phantom.figure import phantom_figure

        t = _median_time(lambda: phantom_figure(study, Path(tmp) / "fig.png"), r)
        rows.append(("phantom_figure", t))
        t = _median_time(lambda: phantom.write_study(Path(tmp) / "all", seed=0, figure=True,
                                                     overwrite=True), r)
        rows.append(("write_study total (simulate + write + figure)", t))

        st = study.states["stress"]
        series = st.acquisition.myocardium
        tpl = dicom.series_template(
            series, state="stress", kind="myocardium", patient={
                "name": "A^B", "id": "1", "birth_date": "19700101", "sex": "M"},
            weight_kg=80, dose_ml=4, seed=0, pe_steps=protocol.PE_STEPS["myocardium"],
            acceleration=protocol.ACCELERATION["myocardium"],
            slice_spacing_mm=protocol.SLICE_SPACING_MM, thickness_mm=8.0)
        tpl.ImagePositionPatient = [str(v) for v in np.round(series.affines[0][:3, 3], 3)]
        base = Path(tmp) / "base"
        fast = Path(tmp) / "fast"
        base.mkdir()
        fast.mkdir()
        t_base = _median_time(lambda: _baseline_write(base, series, tpl), r)
        t_fast = _median_time(lambda: _fast_write(fast, series, tpl), r)

    width = max(len(name) for name, _ in rows)
    print(f"median of {r} repeats")
    for name, t in rows:
        print(f"  {name:<{width}}  {t:7.2f} s")
    n = series.n_frames * series.n_slices
    print(f"  DICOM writing, {n} files: pydicom.dcmwrite {t_base:.2f} s "
          f"({1e3 * t_base / n:.1f} ms/file), TemplateWriter {t_fast:.2f} s "
          f"({1e3 * t_fast / n:.1f} ms/file), speed-up ×{t_base / t_fast:.1f}")


if __name__ == "__main__":
    main()
