"""Quality-control flags shared by every stage.

A flag explains itself: a stable ``code`` for machines, a ``severity`` and a plain-words
``message`` for people. Stages return flags; the pipeline collects them into results.json.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

__all__ = ["QCFlag", "Severity"]

Severity = Literal["info", "warning", "error"]


@dataclass(frozen=True)
class QCFlag:
    """One quality-control finding.

    Parameters
    ----------
    code : str
        Upper-case stable identifier, e.g. ``"AIF_SATURATION"``.
    severity : {"info", "warning", "error"}
        ``error`` means the number it concerns should not be used.
    message : str
        One or two sentences in plain words, with the values that triggered the flag.
    stage : str, optional
        The cascade stage that raised it (``io``, ``physics``, ``moco``, ``aif``, ...).
    """

    code: str
    severity: Severity
    message: str
    stage: str = ""

    def to_dict(self) -> dict[str, str]:
        """The results.json form: ``{"code", "severity", "message"}`` (+ ``stage``)."""
        d = asdict(self)
        if not d["stage"]:
            del d["stage"]
        return d
