"""Analysis stage: AHA segment statistics, MPR, classification, QC collection, results.json.

Typical use by the pipeline::

    from qperfusion import analysis
    stats = analysis.segment_statistics(maps, labels, layers)          # one state
    summ = analysis.StateSummary(stats, aif_peak_mM=float(np.nanmax(aif)), qc=flags)
    results = analysis.build_results({"stress": s, "rest": r}, model="btex")
    analysis.write_results_json(out / "results.json", results)
    analysis.write_segments_csv(out / "segments.csv", results)
"""

from __future__ import annotations

from qperfusion.analysis.aha import (
    AHA_SEGMENTS,
    LABEL_LV,
    LABEL_RV,
    RINGS,
    SEGMENT_NAMES,
    segment_keys,
)
from qperfusion.analysis.classify import (
    CLASSES,
    FLOW_CONVENTIONS,
    Thresholds,
    classify_segment,
    classify_segments,
)
from qperfusion.analysis.mpr import mpr, segment_mpr
from qperfusion.analysis.qc import collect_qc, mpr_flags, segment_flags
from qperfusion.analysis.results import (
    CSV_COLUMNS,
    SEGMENT_KEYS,
    StateSummary,
    build_results,
    segments_csv_rows,
    to_jsonable,
    write_results_json,
    write_segments_csv,
)
from qperfusion.analysis.segments import (
    LAYER_ENDO,
    LAYER_EPI,
    STATISTICS,
    SegmentStatistics,
    segment_statistics,
)

__all__ = [
    "AHA_SEGMENTS",
    "CLASSES",
    "CSV_COLUMNS",
    "FLOW_CONVENTIONS",
    "LABEL_LV",
    "LABEL_RV",
    "LAYER_ENDO",
    "LAYER_EPI",
    "RINGS",
    "SEGMENT_KEYS",
    "SEGMENT_NAMES",
    "STATISTICS",
    "SegmentStatistics",
    "StateSummary",
    "Thresholds",
    "build_results",
    "classify_segment",
    "classify_segments",
    "collect_qc",
    "mpr",
    "mpr_flags",
    "segment_flags",
    "segment_keys",
    "segment_mpr",
    "segment_statistics",
    "segments_csv_rows",
    "to_jsonable",
    "write_results_json",
    "write_segments_csv",
]
