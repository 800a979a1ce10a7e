"""Pipeline composition: one study end to end (:func:`run`), cohorts on Dask (:func:`run_batch`)."""

from __future__ import annotations

from qperfusion.workflows.cohort import StudyOutcome, run_batch, start_local_cluster
from qperfusion.workflows.options import DEFAULT_MODEL, RunOptions
from qperfusion.workflows.pipeline import PipelineResult, StateResult, process_state, run

__all__ = [
    "DEFAULT_MODEL",
    "PipelineResult",
    "RunOptions",
    "StateResult",
    "StudyOutcome",
    "process_state",
    "run",
    "run_batch",
    "start_local_cluster",
]
