"""The whole cascade on the real GE first-pass series (no AIF series, one mid slice)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.validation]


def test_ge_series_runs_end_to_end_and_says_why_to_be_careful(validation_dir: Path,
                                                               tmp_path: Path):
    import qperfusion as qp

    study = qp.read_study(validation_dir / "ge_firstpass" / "dicom")
    result = qp.run(study, model="fermi")
    out = result.write(tmp_path / "ge")
    (state,) = result.results["states"]
    st = result.results["states"][state]
    codes = {f["code"] for f in st["qc"]}
    # no dual-echo AIF series: the AIF comes from the LV pool and is flagged as possibly saturated
    assert "AIF_FROM_MYOCARDIAL_SERIES" in codes
    assert st["aif"]["saturation_warning"] is True
    # one mid-ventricular slice: mid segments 7–12 have values, the others are reported missing
    have = {k for k, v in st["segments"].items() if v["mbf_ml_min_g"] is not None}
    assert have == {str(k) for k in range(7, 13)}
    assert "SEGMENT_MISSING" in codes
    flows = [st["segments"][k]["mbf_ml_min_g"] for k in have]
    assert np.all(np.isfinite(flows))
    assert all(f > 0 for f in flows)
    assert (out / "report.html").is_file()
    assert (out / "maps" / f"{state}_labels.nii.gz").is_file()
