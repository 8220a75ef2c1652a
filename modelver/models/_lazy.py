"""Lazy imports for the model packages.

``lazy_exports``: module-level ``__getattr__`` / ``__dir__`` (PEP 562) that import a builder's
module on first access. ``lazy_module``: a stand-in for a heavy module (torchvision,
torchaudio) named in builders' return annotations, so ``typing.get_type_hints(builder)``
resolves them at run time while importing the model module stays light.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys
from types import ModuleType
from typing import Any, Callable

from ._manifest import MODELS, WEIGHTS


def lazy_exports(package: str, namespace: dict[str, Any]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``: the manifest's builders and enums defined under it,
    and its subpackages (``modelver.models.detection`` is an attribute after ``import modelver.models``,
    as torchvision's are)."""
    names = {
        name: module
        for mapping in (MODELS, WEIGHTS)
        for name, module in mapping.items()
        if module.startswith(package + ".")
    }
    path = namespace.get("__path__") or []
    submodules = {info.name: info.ispkg for info in pkgutil.iter_modules(path)}
    subpackages = {name for name, ispkg in submodules.items() if ispkg and not name.startswith("_")}
    shadowed = {name: names[name] for name in names if name in submodules}
    if shadowed:
        _keep_builders_over_modules(sys.modules[package], shadowed)

    def __getattr__(name: str) -> Any:
        if name in subpackages:
            value = importlib.import_module(f"{package}.{name}")
        elif name in names:
            value = getattr(importlib.import_module(names[name]), name)
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(names) | subpackages)

    return __getattr__, __dir__


class _BuilderOverModule:
    """Package attribute ``name``: the builder, even once the same-named module is imported.

    Importing ``pkg.tacotron2`` sets ``pkg.tacotron2`` to the module; torchvision's packages
    import their modules eagerly and rebind the builder (``torchvision.models.alexnet`` is the
    function). modelver imports lazily, so this data descriptor gives the builder instead.
    A non-module value set by the user (a test's monkeypatch) wins, as for a plain attribute.
    """

    def __init__(self, name: str, module: str) -> None:
        self.name, self.module = name, module

    def __get__(self, package: Any, owner: Any = None) -> Any:
        if package is None:
            return self
        value = package.__dict__.get(self.name)
        if value is not None and not inspect.ismodule(value):
            return value
        return getattr(importlib.import_module(self.module), self.name)

    def __set__(self, package: Any, value: Any) -> None:
        package.__dict__[self.name] = value

    def __delete__(self, package: Any) -> None:
        package.__dict__.pop(self.name, None)


def _keep_builders_over_modules(package: ModuleType, shadowed: dict[str, str]) -> None:
    attributes = {name: _BuilderOverModule(name, module) for name, module in shadowed.items()}
    package.__class__ = type("ModelPackage", (ModuleType,), attributes)


class _LazyModule:
    """Imports ``name`` on first attribute access; not put in ``sys.modules`` until then."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        module: ModuleType = importlib.import_module(self._name)
        return getattr(module, attribute)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"


def lazy_module(name: str) -> Any:
    """A stand-in for module ``name`` that imports it when an attribute is read (by type-hint evaluation)."""
    return _LazyModule(name)
