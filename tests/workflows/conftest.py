"""One phantom study on disk and one pipeline run of it, shared by the workflow tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def phantom_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The LCX-ischemia phantom written as DICOM (+ masks, truth.json), no motion."""
    from qperfusion.phantom import write_study

    out = tmp_path_factory.mktemp("phantom")
    write_study(out, seed=3, ischemia="lcx", motion="none")
    return out


@pytest.fixture(scope="session")
def pipeline_result(phantom_dir: Path):  # type: ignore[no-untyped-def]
    """DICOM → read → cascade with the phantom's masks and the fast 2CXM fit, no MoCo."""
    import qperfusion as qp

    study = qp.read_study(phantom_dir)
    return qp.run(study, model="2cxm", masks=str(phantom_dir / "masks"), moco=False)
