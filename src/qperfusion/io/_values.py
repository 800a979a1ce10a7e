"""Tolerant access to DICOM values: a broken or absent tag gives ``None``, never an exception.

Real files carry malformed strings (``DS`` with letters, times with colons, empty values);
the reader must decide from what is there, so every access goes through these helpers.
"""

from __future__ import annotations

import math
import re
from typing import Any

from pydicom.valuerep import PersonName

__all__ = [
    "dt_seconds",
    "first",
    "fnum",
    "fseq",
    "get",
    "inum",
    "text",
    "tm_seconds",
]


_TAG_CACHE: dict[str, int | None] = {}


def _tag(keyword: str) -> int | None:
    tag = _TAG_CACHE.get(keyword, -1)
    if tag == -1:
        from pydicom.datadict import tag_for_keyword

        tag = _TAG_CACHE[keyword] = tag_for_keyword(keyword)
    return tag


def _data_element() -> type:
    from pydicom.dataelem import DataElement

    return DataElement


def get(ds: Any, keyword: str) -> Any:
    """``ds.keyword`` or None when absent, empty or unreadable."""
    if ds is None:
        return None
    tag = _tag(keyword)
    elements = getattr(ds, "_dict", None)  # fast path: most keywords asked for are absent
    try:
        if tag is not None and isinstance(elements, dict):
            elem = elements.get(tag)
            if elem is None:
                return None
            # converted elements are read directly; raw ones go through pydicom once
            value = elem.value if isinstance(elem, _data_element()) else ds[tag].value
        else:
            value = getattr(ds, keyword, None)
    except Exception:  # pydicom raises many types on malformed elements
        return None
    if value is None:
        return None
    try:
        if value == "" or (hasattr(value, "__len__") and len(value) == 0):
            return None
    except Exception:
        return None
    return value


def first(value: Any) -> Any:
    """The first item of a multi-valued element, or the value itself."""
    if value is None:
        return None
    if isinstance(value, str | bytes):
        return value
    try:
        return value[0] if len(value) else None
    except TypeError:
        return value
    except Exception:
        return None


def fnum(value: Any) -> float | None:
    """A finite float from a DS/FD/IS/str value (first item if multi-valued), else None."""
    value = first(value)
    if value is None:
        return None
    try:
        out = float(value)
    except Exception:
        return None
    return out if math.isfinite(out) else None


def inum(value: Any) -> int | None:
    """An int from an IS/US/str value, else None."""
    out = fnum(value)
    if out is None or abs(out) > 2**53:
        return None
    return round(out)


def fseq(value: Any) -> tuple[float, ...] | None:
    """All items of a multi-valued numeric element as floats; None if any is unreadable."""
    if value is None:
        return None
    if isinstance(value, str | bytes | int | float):
        v = fnum(value)
        return None if v is None else (v,)
    try:
        out = tuple(float(v) for v in value)
    except Exception:
        return None
    return out if all(math.isfinite(v) for v in out) else None


def text(value: Any) -> str:
    """A string value ('' when absent); multi-valued strings are joined with a backslash."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("latin-1", "replace").strip()
    if isinstance(value, str | PersonName):  # PersonName iterates over its characters
        return str(value).strip()
    try:
        return "\\".join(str(v).strip() for v in value)
    except TypeError:
        return str(value).strip()
    except Exception:
        return ""


_TM = re.compile(r"^(\d{2})(\d{2})?(\d{2})?(\.\d+)?$")


def tm_seconds(value: Any) -> tuple[float, bool] | None:
    """Seconds since midnight from a DICOM TM, and whether it has a fractional part.

    Accepts ``HHMMSS.FFFFFF``, partial ``HHMM``, and the ACR-NEMA form ``HH:MM:SS.frac``.
    """
    s = text(value).replace(":", "")
    m = _TM.match(s)
    if not m:
        return None
    h, mi, se, frac = m.groups()
    hours, minutes, secs = int(h), int(mi or 0), int(se or 0)
    if hours > 23 or minutes > 59 or secs > 60:
        return None
    seconds = 3600.0 * hours + 60.0 * minutes + secs + (float(frac) if frac else 0.0)
    return seconds, bool(frac) and float(frac) != 0.0


_DT = re.compile(r"^(\d{4})(\d{2})(\d{2})(\d{2})?(\d{2})?(\d{2})?(\.\d+)?([+-]\d{4})?$")


# Day numbers count from 2000-01-01 so that seconds on this clock (~1e9) keep sub-µs
# precision in float64; from year 1 they would be ~6e10 and lose microseconds.
_EPOCH_ORDINAL = 730120


def _days(year: int, month: int, day: int) -> int | None:
    import datetime

    try:
        return datetime.date(year, month, day).toordinal() - _EPOCH_ORDINAL
    except ValueError:
        return None


def da_days(value: Any) -> int | None:
    """Day number (days since 2000-01-01) of a DICOM DA ``YYYYMMDD`` (also ``YYYY.MM.DD``)."""
    s = text(value).replace(".", "").replace("-", "")
    if len(s) != 8 or not s.isdigit():
        return None
    return _days(int(s[:4]), int(s[4:6]), int(s[6:]))


def dt_seconds(value: Any) -> tuple[float, bool] | None:
    """Seconds on a continuous clock (days·86400 + time) from a DICOM DT, plus has-fraction."""
    m = _DT.match(text(value))
    if not m:
        return None
    y, mo, d, h, mi, se, frac, _tz = m.groups()
    days = _days(int(y), int(mo), int(d))
    if days is None:
        return None
    hours, minutes, secs = int(h or 0), int(mi or 0), int(se or 0)
    if hours > 23 or minutes > 59 or secs > 60:
        return None
    f = float(frac) if frac else 0.0
    return days * 86400.0 + 3600.0 * hours + 60.0 * minutes + secs + f, f != 0.0
