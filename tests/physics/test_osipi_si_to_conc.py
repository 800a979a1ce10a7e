"""OSIPI CodeCollection signal → concentration reference, through the look-up-table code.

The reference is SPGR steady state with a baseline-normalised signal (S0 from the mean of
frames 1 … BLpts−1; the first frame is not used and not assessed), tolerance 1e-5 absolute
+ 1e-5 relative (``test/SI_to_Conc/SI2Conc_data.py``).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from qperfusion.physics import build_lut, spgr_steady_state_sequence

pytestmark = pytest.mark.validation


def _cases(root: Path) -> list[dict[str, str]]:
    path = root / "osipi" / "test" / "SI_to_Conc" / "data" / "SI2Conc_data.csv"
    if not path.is_file():
        pytest.skip(f"OSIPI SI_to_Conc data not found at {path}")
    with path.open(encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("case", range(5))
def test_osipi_si_to_conc(validation_dir: Path, case: int) -> None:
    row = _cases(validation_dir)[case]
    s = np.array(row["s"].split(), dtype=float)
    conc = np.array(row["conc"].split(), dtype=float)
    n_base = int(row["numbaselinepts"])
    seq = spgr_steady_state_sequence(tr_s=float(row["TR"]), flip_deg=float(row["FA"]))
    lut = build_lut(
        seq, t1_0_s=float(row["T1base"]), relaxivity=(float(row["r1"]), 0.0), reference="baseline"
    )
    gd, out_of_range = lut.gd_from_ratio(s / s[1:n_base].mean())
    assert not out_of_range.any()
    np.testing.assert_allclose(gd[1:], conc[1:], rtol=1e-5, atol=1e-5)
