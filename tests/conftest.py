"""Shared fixtures: where the external validation data lives (skip when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _validation_root() -> Path:
    env = os.environ.get("QPERFUSION_VALIDATION")
    return Path(env) if env else REPO.parent / "shared" / "validation"


@pytest.fixture(scope="session")
def validation_dir() -> Path:
    """``../shared/validation`` (or $QPERFUSION_VALIDATION); skips the test when absent."""
    root = _validation_root()
    if not root.is_dir():
        pytest.skip(f"external validation data not found at {root}")
    return root


@pytest.fixture(scope="session")
def phantom_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The LCX-ischemia phantom written as DICOM (+ masks, truth.json), no motion; shared."""
    from qperfusion.phantom import write_study

    out = tmp_path_factory.mktemp("phantom")
    write_study(out, seed=3, ischemia="lcx", motion="none")
    return out
