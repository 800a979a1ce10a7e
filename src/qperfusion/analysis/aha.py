"""The AHA 17-segment model as used here: segments 1–16 (the apex cap, 17, is not imaged).

Cerqueira et al., "Standardized myocardial segmentation and nomenclature for tomographic
imaging of the heart", Circulation 2002;105:539–542, doi:10.1161/hc0402.102975.

Label images in qperfusion use 1–16 for the AHA myocardial segments, :data:`LABEL_LV` (17)
for the LV blood pool and :data:`LABEL_RV` (18) for the RV blood pool, 0 elsewhere.
"""

from __future__ import annotations

__all__ = [
    "AHA_SEGMENTS",
    "LABEL_LV",
    "LABEL_RV",
    "RINGS",
    "SEGMENT_NAMES",
    "segment_keys",
]

#: Label value of the LV blood pool in label images (not an AHA segment here).
LABEL_LV = 17
#: Label value of the RV blood pool in label images.
LABEL_RV = 18

#: AHA segment number -> name (Cerqueira 2002, table 1; lower case).
SEGMENT_NAMES: dict[int, str] = {
    1: "basal anterior",
    2: "basal anteroseptal",
    3: "basal inferoseptal",
    4: "basal inferior",
    5: "basal inferolateral",
    6: "basal anterolateral",
    7: "mid anterior",
    8: "mid anteroseptal",
    9: "mid inferoseptal",
    10: "mid inferior",
    11: "mid inferolateral",
    12: "mid anterolateral",
    13: "apical anterior",
    14: "apical septal",
    15: "apical inferior",
    16: "apical lateral",
}

#: The 16 segment numbers in order.
AHA_SEGMENTS: tuple[int, ...] = tuple(SEGMENT_NAMES)

#: Ring name -> its segments, base to apex.
RINGS: dict[str, tuple[int, ...]] = {
    "basal": (1, 2, 3, 4, 5, 6),
    "mid": (7, 8, 9, 10, 11, 12),
    "apical": (13, 14, 15, 16),
}


def segment_keys() -> list[str]:
    """The results.json keys of the segments: ``["1", ..., "16"]``."""
    return [str(s) for s in AHA_SEGMENTS]
