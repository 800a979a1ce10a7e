"""Integer ids of the built-in closed-form models in the numba kernels (importing no numba)."""

from __future__ import annotations

__all__ = [
    "MODEL_2CUM",
    "MODEL_2CXM",
    "MODEL_ETOFTS",
    "MODEL_FERMI",
    "MODEL_PATLAK",
    "MODEL_TOFTS",
]

MODEL_FERMI = 0
MODEL_2CXM = 1
MODEL_2CUM = 2
MODEL_TOFTS = 3
MODEL_ETOFTS = 4
MODEL_PATLAK = 5
