"""Physical and physiological constants, each with its source.

Units follow the package convention: seconds, mmol/L, mL/s/mL, fractions, L/mmol/s.
"""

from __future__ import annotations

__all__ = [
    "DEFAULT_HEMATOCRIT",
    "MYOCARDIAL_DENSITY_G_ML",
    "SECONDS_PER_MINUTE",
]

#: Myocardial tissue density (g/mL). Vinnakota & Bassingthwaighte, Am J Physiol Heart
#: 2004;286:H1742, doi:10.1152/ajpheart.00478.2003 (1.053 g/mL, rounded as in DESIGN.md).
MYOCARDIAL_DENSITY_G_ML = 1.05

#: Default large-vessel hematocrit (fraction) when the user gives none; the value the NIH
#: inline perfusion mapping assumes (Kellman et al., JCMR 2017;19:43, doi:10.1186/s12968-017-0355-5).
DEFAULT_HEMATOCRIT = 0.42

SECONDS_PER_MINUTE = 60.0
