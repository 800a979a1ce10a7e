"""Relaxation rates from gadolinium concentration, and T2* decay between echoes.

``R1 = R1₀ + r1·[Gd]`` and ``R2(*) = R2(*)₀ + r2(*)·[Gd]`` (fast water exchange, linear
relaxivity); the gradient-echo signal at echo time TE is ``S(TE) = S₀·exp(−TE·R2*)``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from qperfusion import constants

__all__ = ["agent_name", "r1_from_gd", "relaxivity", "t2star_decay"]


def agent_name(text: str | None) -> str:
    """Generic agent name from a ContrastBolusAgent value (trade names accepted).

    Empty text gives :data:`qperfusion.constants.DEFAULT_AGENT`. Raises ``ValueError`` that
    lists the known agents when the name is not recognised.
    """
    if not text or not str(text).strip():
        return constants.DEFAULT_AGENT
    key = str(text).strip().lower()
    for word in [key, *key.replace("/", " ").replace(",", " ").split()]:
        if word in constants.RELAXIVITY_PLASMA:
            return word
        if word in constants.AGENT_ALIASES:
            return constants.AGENT_ALIASES[word]
    known = sorted({*constants.RELAXIVITY_PLASMA, *constants.AGENT_ALIASES})
    raise ValueError(f"contrast agent {text!r} is not known; use one of {known}")


def relaxivity(agent: str, field_t: float) -> tuple[float, float]:
    """(r1, r2) in L/mmol/s for an agent at a field strength.

    Fields between 1.5 T and 3 T are interpolated linearly; outside they take the nearest.

    Parameters
    ----------
    agent : str
        Generic or trade name (see :func:`agent_name`).
    field_t : float
        Main field (T).
    """
    table = constants.RELAXIVITY_PLASMA[agent_name(agent)]
    fields = np.array(sorted(table))
    r1 = np.interp(field_t, fields, [table[f][0] for f in fields])
    r2 = np.interp(field_t, fields, [table[f][1] for f in fields])
    return float(r1), float(r2)


def r1_from_gd(gd_mM: ArrayLike, *, r1_0: float, relaxivity_r1: float) -> np.ndarray:
    """R1 (1/s) = R1₀ + r1·[Gd].

    Parameters
    ----------
    gd_mM : array_like
        Gadolinium concentration (mmol/L).
    r1_0 : float
        Native R1 = 1/T1₀ (1/s).
    relaxivity_r1 : float
        r1 (L/mmol/s).
    """
    return float(r1_0) + float(relaxivity_r1) * np.asarray(gd_mM, dtype=float)


def t2star_decay(te_s: ArrayLike, r2star: ArrayLike) -> np.ndarray:
    """Signal fraction left at echo time ``te_s`` (s) for decay rate ``r2star`` (1/s)."""
    return np.exp(-np.asarray(te_s, dtype=float) * np.asarray(r2star, dtype=float))
