"""Module-level ``__getattr__`` / ``__dir__`` (PEP 562) that import a builder's module on first access."""

from __future__ import annotations

import importlib
from typing import Any, Callable

from ._manifest import MODELS, WEIGHTS


def lazy_exports(package: str, namespace: dict[str, Any]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``: the manifest's builders and enums defined under it."""
    names = {
        name: module
        for mapping in (MODELS, WEIGHTS)
        for name, module in mapping.items()
        if module.startswith(package + ".")
    }

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(names))

    return __getattr__, __dir__
