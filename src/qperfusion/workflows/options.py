"""Options of a pipeline run, in one immutable object (recorded in provenance.json)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from qperfusion.analysis.classify import Thresholds
from qperfusion.errors import QPerfusionError

__all__ = ["DEFAULT_MODEL", "RunOptions"]

#: The kinetic model a run uses unless told otherwise. 2CXM, because it is the model measured
#: to recover the phantom truth end to end and to reproduce the published NIH BTEX median on
#: the real NIH stress patch (validation/README.md); our BTEX does not yet agree with NIH's
#: (see docs/design.md), so it is an option, not the default.
DEFAULT_MODEL = "2cxm"


@dataclass(frozen=True)
class RunOptions:
    """How to run the cascade.

    Attributes
    ----------
    model : str
        Kinetic model (a key of ``qperfusion.kinetics.MODELS``), or ``"all"`` to fit every
        registry model and report their AIC; the first of ``models_order`` then gives the maps.
    hematocrit : float or None
        Blood hematocrit (fraction); None keeps the study's (reader default 0.42).
    masks : str or None
        User masks (NIfTI label image or JSON contours) overriding the automatic segmentation;
        a folder holding ``<state>_labels.nii.gz`` files gives one per state.
    moco : bool
        Motion correction on (default) or off.
    t2star_correction : bool
        Dual-echo T2* correction of the AIF.
    thresholds : Thresholds
        Classification thresholds and flow convention.
    anonymize : bool
        Drop patient identifiers from every output.
    statistic : str
        Segment statistic (median by default).
    """

    model: str = DEFAULT_MODEL
    hematocrit: float | None = None
    masks: str | None = None
    moco: bool = True
    t2star_correction: bool = True
    thresholds: Thresholds = field(default_factory=Thresholds)
    anonymize: bool = False
    statistic: str = "median"

    def __post_init__(self) -> None:
        from qperfusion.kinetics import MODELS

        if self.model != "all" and self.model not in MODELS:
            raise QPerfusionError(
                f"unknown model {self.model!r}; choose one of {', '.join(MODELS)} or 'all'"
            )
        if self.hematocrit is not None and not 0.0 <= self.hematocrit < 1.0:
            raise QPerfusionError(
                f"hematocrit {self.hematocrit} is not a fraction in [0, 1); e.g. 0.42"
            )

    @property
    def models(self) -> tuple[str, ...]:
        """Models to fit: the chosen one, or every registry model for ``"all"``."""
        from qperfusion.kinetics import MODELS

        if self.model != "all":
            return (self.model,)
        # the default model first: its maps are the ones reported
        return (DEFAULT_MODEL, *(m for m in MODELS if m != DEFAULT_MODEL))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form for provenance.json."""
        d = asdict(self)
        d["thresholds"] = self.thresholds.to_dict()
        return d
