"""Pipeline composition: one study end to end (:func:`run`), cohorts on Dask (``batch``)."""

from __future__ import annotations

from qperfusion.workflows.options import RunOptions
from qperfusion.workflows.pipeline import PipelineResult, StateResult, process_state, run

__all__ = ["PipelineResult", "RunOptions", "StateResult", "process_state", "run"]
