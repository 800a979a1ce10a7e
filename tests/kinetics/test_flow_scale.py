"""Each model's ``threshold_flow`` is the flow that reads on the NIH map's scale (real data;
the figures: benchmarks/flow_scale.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qperfusion import kinetics
from qperfusion.constants import MYOCARDIAL_DENSITY_G_ML
from qperfusion.kinetics.registry import get_model
from tests.kinetics.test_btex_fit import HCT, RING, _load

FLOW_MODELS = [m for m in kinetics.MODELS if get_model(m).flow_param is not None]


@pytest.fixture(scope="module")
def nih_ring(validation_dir):
    folder = validation_dir / "qperf_nih"
    data, aif, t = _load(folder / "perf_data_stress.mat")
    reference = np.load(folder / "stress_mbf_reference.npy")[:, ::-1]  # stored flipped
    return data[RING], aif, t, float(np.median(reference[RING]))


@pytest.mark.validation
@pytest.mark.parametrize("model", FLOW_MODELS)
def test_threshold_flow_reads_on_the_nih_scale(model, nih_ring) -> None:
    curves, aif, t, map_median = nih_ring
    fit = kinetics.fit(model, curves, aif=aif, times=t, hematocrit=HCT)
    ratios = {  # NIH reports flow per mL of tissue
        k: float(np.nanmedian(getattr(fit, f"{k}_ml_min_g")) * MYOCARDIAL_DENSITY_G_ML
                 / map_median)
        for k in ("mbf", "fp")
    }
    chosen = get_model(model).threshold_flow
    other = {"mbf": "fp", "fp": "mbf"}[chosen]
    assert abs(math.log(ratios[chosen])) < abs(math.log(ratios[other])), ratios
    assert 0.75 < ratios[chosen] < 1.33, ratios
