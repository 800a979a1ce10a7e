"""Look-up table from a Bloch simulation of the actual readout: signal ratio → [Gd].

The table is the forward model :func:`qperfusion.physics.readout_signal` evaluated on a dense
grid of gadolinium concentrations, divided by the signal of a *reference* image of the same
voxel (same M0, same coil sensitivity, so both cancel):

* ``reference="pd"`` — the proton-density frame (no saturation, ``pd_flip_deg``, same readout
  and lines to the k-space centre), acquired before contrast:
  ``ratio(Gd) = S_SR(R1₀ + r1·Gd) / S_PD(R1₀)``;
* ``reference="baseline"`` — the pre-contrast saturation-recovery signal itself:
  ``ratio(Gd) = S_SR(R1₀ + r1·Gd) / S_SR(R1₀)`` (the classic DCE "enhancement" conversion;
  the SPGR steady state of the OSIPI reference is a special case, see
  :func:`spgr_steady_state_sequence`).

The inverse is a monotone cubic (PCHIP) interpolation of Gd against the ratio. The grid starts
below zero (down to R1 = 5 % of R1₀) so that baseline noise is converted, not clipped; ratios
beyond either end of the table are clamped to that end and flagged, never wrapped.

References
----------
Kellman P, Hansen MS, Nielles-Vallespin S, et al. Myocardial perfusion cardiovascular magnetic
resonance: optimized dual sequence and reconstruction for quantification. JCMR 2017;19:43.
doi:10.1186/s12968-017-0355-5
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy.interpolate import PchipInterpolator

from qperfusion import constants
from qperfusion.io.model import SequenceParams
from qperfusion.physics.bloch import readout_signal
from qperfusion.physics.relaxation import relaxivity as relaxivity_preset

__all__ = [
    "REFERENCES",
    "LookUpTable",
    "build_lut",
    "native_relaxation_s",
    "spgr_steady_state_sequence",
]

Reference = Literal["pd", "baseline"]
REFERENCES: tuple[str, ...] = ("pd", "baseline")

#: The table's lower end: R1 = this fraction of R1₀ (negative Gd), so noise below the
#: pre-contrast level still converts instead of being clamped.
_R1_FLOOR_FRACTION = 0.05


def native_relaxation_s(tissue: str, field_t: float, *, kind: Literal["t1", "t2"]) -> float:
    """Literature native T1 or T2 (s) of a tissue at the nearest tabulated field.

    Parameters
    ----------
    tissue : {"myocardium", "blood"}
        Tissue name (keys of :data:`qperfusion.constants.T1_NATIVE_S`).
    field_t : float
        Main field (T); the nearest tabulated field (1.5 T or 3 T) is used.
    kind : {"t1", "t2"}
        Which relaxation time.
    """
    table = constants.T1_NATIVE_S if kind == "t1" else constants.T2_NATIVE_S
    if tissue not in table:
        raise ValueError(
            f"tissue {tissue!r} has no native {kind.upper()}; use one of {sorted(table)}"
        )
    fields = sorted(table[tissue])
    nearest = min(fields, key=lambda f: abs(f - float(field_t)))
    return float(table[tissue][nearest])


def spgr_steady_state_sequence(
    *, tr_s: float, flip_deg: float, r1_min: float = 0.05, tol: float = 1e-13
) -> SequenceParams:
    """A FLASH readout so long that its centre line is read in the SPGR steady state.

    The SPGR steady state ``S = M0·sinα·(1 − E1)/(1 − E1·cosα)`` is the limit of the
    saturation-recovery FLASH train when the centre line is read after ``n`` pulses with
    ``(E1·cosα)ⁿ`` negligible. This returns that special case of :class:`SequenceParams`
    (``td_s = 0``, ``lines_to_center = n``) so SPGR data go through the same table code.

    Parameters
    ----------
    tr_s : float
        Repetition time (s).
    flip_deg : float
        Flip angle (degrees), 0 < flip < 90.
    r1_min : float, optional
        Smallest R1 (1/s) the table must reach steady state for.
    tol : float, optional
        Largest relative distance from the steady state that is accepted.
    """
    decay = math.exp(-tr_s * r1_min) * math.cos(math.radians(flip_deg))
    n = math.ceil(math.log(tol) / math.log(decay)) + 1
    return SequenceParams(
        readout="flash",
        td_s=0.0,
        tr_s=float(tr_s),
        te_s=(0.0,),
        flip_deg=float(flip_deg),
        pd_flip_deg=float("nan"),
        n_pe_lines=2 * n,
        lines_to_center=n,
    )


@dataclass(frozen=True)
class LookUpTable:
    """Signal ratio ↔ [Gd] table of one readout, one native T1 and one relaxivity.

    Attributes
    ----------
    gd_mM : ndarray of shape (N,)
        Gadolinium grid (mmol/L), increasing, from slightly negative to ``gd_max_mM``.
    ratio : ndarray of shape (N,)
        Simulated signal ratio (SR signal / reference signal, dimensionless) on the grid.
    t1_0_s : float
        Native (pre-contrast) T1 (s).
    r2_0 : float
        Native R2 (1/s) used for bSSFP (0 for FLASH, where it does not enter).
    relaxivity : tuple of float
        (r1, r2) in L/mmol/s.
    reference : {"pd", "baseline"}
        What the ratio's denominator is (see the module docstring).
    sequence : SequenceParams
        The simulated readout.
    gd_valid_max_mM : float
        Largest Gd (mmol/L) up to which the table is strictly increasing; equals the grid's
        end when the whole table is monotonic.
    monotonic : bool
        True when the ratio increases strictly over the whole grid.
    """

    gd_mM: np.ndarray  # noqa: N815 (unit suffix, DESIGN.md)
    ratio: np.ndarray
    t1_0_s: float
    r2_0: float
    relaxivity: tuple[float, float]
    reference: str
    sequence: SequenceParams
    gd_valid_max_mM: float  # noqa: N815
    monotonic: bool
    _inverse: PchipInterpolator = field(repr=False, compare=False)
    _forward: PchipInterpolator = field(repr=False, compare=False)

    @property
    def ratio_range(self) -> tuple[float, float]:
        """Smallest and largest invertible ratio (dimensionless)."""
        n = int(np.searchsorted(self.gd_mM, self.gd_valid_max_mM, side="right"))
        return float(self.ratio[0]), float(self.ratio[n - 1])

    def gd_from_ratio(self, ratio: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """[Gd] (mmol/L) from the measured signal ratio.

        Parameters
        ----------
        ratio : array_like
            SR signal / reference signal (dimensionless), any shape. NaN gives NaN.

        Returns
        -------
        gd : ndarray, shape of ``ratio``
            Gadolinium concentration (mmol/L); ratios outside the table are clamped to its
            ends (``gd_mM[0]`` or ``gd_valid_max_mM``).
        out_of_range : ndarray of bool, shape of ``ratio``
            True where the ratio was outside the table and was clamped.
        """
        r = np.asarray(ratio, dtype=float)
        lo, hi = self.ratio_range
        below, above = r < lo, r > hi
        gd = self._inverse(np.clip(r, lo, hi))
        gd = np.where(np.isnan(r), np.nan, gd)
        return np.asarray(gd, dtype=float), below | above

    def ratio_from_gd(self, gd_mM: ArrayLike) -> np.ndarray:
        """Table ratio (dimensionless) at ``gd_mM`` (mmol/L), interpolated (PCHIP)."""
        return np.asarray(self._forward(np.asarray(gd_mM, dtype=float)), dtype=float)

    def sensitivity(self, gd_mM: ArrayLike) -> np.ndarray:
        """d ratio / d Gd at ``gd_mM`` relative to its value at Gd = 0 (1 = linear regime).

        A value well below 1 means the signal is saturating: the same noise gives a larger
        Gd error and errors in the sequence parameters are amplified.
        """
        d = self._forward.derivative()
        return np.asarray(d(np.asarray(gd_mM, dtype=float)) / d(0.0), dtype=float)


def _simulate(
    sequence: SequenceParams, r1: np.ndarray, r2: np.ndarray, *, saturated: bool, flip_deg: float
) -> np.ndarray:
    return readout_signal(
        r1,
        readout=sequence.readout,
        td_s=float(sequence.td_s) if saturated else None,
        tr_s=sequence.tr_s,
        flip_deg=flip_deg,
        lines_to_center=sequence.lines_to_center,
        n_rampup=sequence.n_rampup,
        r2=r2 if sequence.readout == "ssfp" else None,
    )


def build_lut(
    sequence: SequenceParams,
    *,
    t1_0_s: float,
    tissue_r2_0: float | None = None,
    relaxivity: tuple[float, float] | None = None,
    gd_max_mM: float = 20.0,
    reference: Reference = "pd",
    n_points: int = 4001,
) -> LookUpTable:
    """Simulate a series' readout and tabulate the signal ratio against [Gd].

    Parameters
    ----------
    sequence : SequenceParams
        The readout (FLASH or bSSFP, TD, TR, flip angles, lines to the k-space centre,
        ramp-up pulses).
    t1_0_s : float
        Native T1 (s) of the tissue.
    tissue_r2_0 : float, optional
        Native R2 (1/s), bSSFP only; default the literature myocardial T2 at the field
        (:data:`qperfusion.constants.T2_NATIVE_S`).
    relaxivity : tuple of float, optional
        (r1, r2) in L/mmol/s; default the preset of ``sequence.agent`` at ``sequence.field_t``
        (Rohrer 2005, :data:`qperfusion.constants.RELAXIVITY_PLASMA`).
    gd_max_mM : float, optional
        Upper end of the table (mmol/L).
    reference : {"pd", "baseline"}, optional
        Denominator of the ratio: the PD frame (needs ``sequence.pd_flip_deg``) or the
        pre-contrast SR signal.
    n_points : int, optional
        Grid size (the PCHIP inverse is accurate to ~1e-7 mmol/L with the default).

    Returns
    -------
    LookUpTable

    Raises
    ------
    ValueError
        For a bad option, a PD reference without a PD flip angle, or a readout whose signal
        does not increase with Gd at all (e.g. no saturation recovery left to measure).
    """
    if reference not in REFERENCES:
        raise ValueError(f"reference {reference!r} is not one of {REFERENCES}")
    if not (t1_0_s > 0 and math.isfinite(t1_0_s)):
        raise ValueError(f"t1_0_s must be a positive number of seconds, got {t1_0_s}")
    if not gd_max_mM > 0:
        raise ValueError(f"gd_max_mM must be > 0, got {gd_max_mM}")
    if reference == "pd" and not (sequence.pd_flip_deg > 0):
        raise ValueError(
            f"PD reference needs the PD flip angle, got pd_flip_deg={sequence.pd_flip_deg}; "
            "use reference='baseline' for a series without PD frames"
        )
    r1_rel, r2_rel = (
        relaxivity_preset(sequence.agent, sequence.field_t) if relaxivity is None else relaxivity
    )
    if tissue_r2_0 is None:
        tissue_r2_0 = 1.0 / native_relaxation_s("myocardium", sequence.field_t, kind="t2")
    r1_0 = 1.0 / float(t1_0_s)
    r2_0 = float(tissue_r2_0) if sequence.readout == "ssfp" else 0.0

    gd = np.linspace(-(1.0 - _R1_FLOOR_FRACTION) * r1_0 / r1_rel, float(gd_max_mM), int(n_points))
    r1 = r1_0 + r1_rel * gd
    r2 = np.maximum(r2_0 + r2_rel * gd, 0.0)
    signal = _simulate(sequence, r1, r2, saturated=True, flip_deg=sequence.flip_deg)
    ref = _simulate(
        sequence,
        np.array(r1_0),
        np.array(r2_0),
        saturated=reference == "baseline",
        flip_deg=sequence.pd_flip_deg if reference == "pd" else sequence.flip_deg,
    )
    ratio = signal / float(ref)

    increasing = np.diff(ratio) > 0
    n_valid = len(gd) if increasing.all() else int(np.argmin(increasing)) + 1
    if n_valid < 4 or gd[n_valid - 1] <= 0:
        raise ValueError(
            f"the simulated {sequence.readout} signal (TD {sequence.td_s} s, flip "
            f"{sequence.flip_deg} deg) does not increase with Gd; a look-up table cannot "
            "invert it (check TD, flip angle and the reference)"
        )
    inverse = PchipInterpolator(ratio[:n_valid], gd[:n_valid], extrapolate=False)
    forward = PchipInterpolator(gd, ratio, extrapolate=True)
    return LookUpTable(
        gd_mM=gd,
        ratio=ratio,
        t1_0_s=float(t1_0_s),
        r2_0=r2_0,
        relaxivity=(float(r1_rel), float(r2_rel)),
        reference=reference,
        sequence=sequence,
        gd_valid_max_mM=float(gd[n_valid - 1]),
        monotonic=n_valid == len(gd),
        _inverse=inverse,
        _forward=forward,
    )
