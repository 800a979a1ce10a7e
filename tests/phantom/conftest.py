"""Shared phantom studies: simulated once per test session (a study takes a few seconds)."""

from __future__ import annotations

import pytest

from qperfusion import phantom


@pytest.fixture(scope="session")
def study():
    """Default study: LAD ischemia, respiratory motion, noise, FLASH."""
    return phantom.simulate_study(seed=0)


@pytest.fixture(scope="session")
def clean():
    """Motion-, noise- and blur-free study (RCA ischemia): every pixel follows its own truth."""
    return phantom.simulate_study(seed=5, ischemia="rca", motion="none", noise=False, psf=False)


@pytest.fixture(scope="session")
def moving_clean():
    """As ``clean`` with respiratory motion (same seed: the same static images)."""
    return phantom.simulate_study(seed=5, ischemia="rca", motion="resp", noise=False, psf=False)


@pytest.fixture(scope="session")
def written(study, tmp_path_factory):
    """The default study written to disk."""
    return phantom.write_simulated(tmp_path_factory.mktemp("phantom"), study)


@pytest.fixture(scope="session")
def clean_btex():
    """As ``clean`` with the tissue curves made by NIH's 20-segment BTEX (same physiology)."""
    return phantom.simulate_study(seed=5, ischemia="rca", motion="none", noise=False, psf=False,
                                  tissue_model="btex")
