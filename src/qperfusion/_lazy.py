"""Lazy public names for a package ``__init__`` (PEP 562), so importing it stays light."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, table: Mapping[str, str], extra: tuple[str, ...] = ()
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Module-level ``__getattr__`` and ``__dir__`` that load each name on first use.

    Parameters
    ----------
    package : str
        The package's ``__name__`` (for the error message).
    table : mapping of str to str
        Public name -> module that defines it.
    extra : tuple of str
        Names defined in the package itself, listed by ``__dir__`` too.
    """

    def __getattr__(name: str) -> Any:  # noqa: N807 (PEP 562 hook)
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)

    def __dir__() -> list[str]:  # noqa: N807
        return sorted({*table, *extra})

    return __getattr__, __dir__
