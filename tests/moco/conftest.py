"""Shared fixtures of the MoCo tests: the truth-known moving series and its registration."""

from __future__ import annotations

import pytest

from qperfusion import moco
from qperfusion.moco._synthetic import SyntheticSeries, synthetic_series


@pytest.fixture(scope="session")
def series() -> SyntheticSeries:
    return synthetic_series()


@pytest.fixture(scope="session")
def registered(series: SyntheticSeries) -> moco.MocoResult:
    return moco.register_series(series.images, pd_frames=series.pd_frames)
