"""One pipeline run of the shared phantom study (tests/conftest.py), for the workflow tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def pipeline_result(phantom_dir: Path):  # type: ignore[no-untyped-def]
    """DICOM → read → cascade with the phantom's masks and the fast 2CXM fit, no MoCo."""
    import qperfusion as qp

    study = qp.read_study(stress=phantom_dir / "stress", rest=phantom_dir / "rest")
    return qp.run(study, model="2cxm", masks=str(phantom_dir / "masks"), moco=False)
