"""Builders by name: ``register_model``, ``list_models``, ``get_model``, ``get_weight``...

Listing must be cheap (no torchvision, torchaudio or huggingface_hub import), so the
built-in models are known from a generated manifest (``modelver/models/_manifest.py``,
kept current by a test) and a model module is imported only when one of its builders or
enums is asked for. Models that users register at run time live beside them.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
import inspect
import pkgutil
import typing
from collections.abc import Iterable
from types import ModuleType
from typing import Any, Callable, TypeVar

from ._weights import WeightsEnum
from .errors import SettingError, UnknownModelError, UnknownWeightsError

__all__ = [
    "get_model",
    "get_model_builder",
    "get_model_weights",
    "get_weight",
    "list_models",
    "register_model",
]

F = TypeVar("F", bound=Callable[..., Any])

_BUILDERS: dict[str, Callable[..., Any]] = {}
MODELS_PACKAGE = "modelver.models"


def _manifest() -> tuple[dict[str, str], dict[str, str]]:
    from .models import _manifest as manifest

    return manifest.MODELS, manifest.WEIGHTS


def register_model(name: str | None = None) -> Callable[[F], F]:
    """Decorator that registers a builder under ``name`` (default: the function's name).

    A name that another builder already holds is an error. Registering the same
    function again (a module imported twice, e.g. by torch.hub) replaces it quietly.
    """

    def wrapper(fn: F) -> F:
        key = (name or fn.__name__).lower()
        owner = _BUILDERS.get(key)
        builtin_module = _manifest()[0].get(key)
        if owner is None and builtin_module is not None and builtin_module != fn.__module__:
            owner_text = f"{builtin_module}.{key}"
        elif owner is not None and (owner.__module__, owner.__qualname__) != (fn.__module__, fn.__qualname__):
            owner_text = f"{owner.__module__}.{owner.__qualname__}"
        else:
            _BUILDERS[key] = fn
            return fn
        raise ValueError(
            f"An entry is already registered under the name '{key}' (by {owner_text}). "
            f"Register {fn.__module__}.{fn.__qualname__} under another name: @register_model(name=...)."
        )

    return wrapper


def _all_models() -> dict[str, str]:
    """Every known model name → the module that defines its builder."""
    models = dict(_manifest()[0])
    models.update({key: fn.__module__ for key, fn in _BUILDERS.items()})
    return models


def _as_patterns(value: Iterable[str] | str | None, what: str = "include") -> list[str]:
    if value is None or (isinstance(value, (str, Iterable)) and not value):  # torchvision: "" and [] are no filter
        return []
    patterns = [value] if isinstance(value, str) else list(value) if isinstance(value, Iterable) else None
    if patterns is None or not all(isinstance(p, str) for p in patterns):
        raise SettingError(
            f"list_models({what}={value!r}): {what} must be a pattern such as 'resnet*', or a list of "
            "patterns, or None."
        )
    return patterns


def list_models(
    module: ModuleType | str | None = None,
    include: Iterable[str] | str | None = None,
    exclude: Iterable[str] | str | None = None,
) -> list[str]:
    """Sorted names of the registered models, without importing any model code.

    Args:
        module: only the builders defined directly in this package (or module), as
            torchvision's ``list_models(torchvision.models.detection)``.
        include: fnmatch pattern(s); a name is kept if it matches any of them. Empty
            (``None``, ``""``, ``[]``) means no filter, as in torchvision.
        exclude: fnmatch pattern(s) applied after ``include``; matches are removed.
    """
    target = module.__name__ if isinstance(module, ModuleType) else module
    names = {
        name
        for name, mod in _all_models().items()
        if target is None or mod == target or mod.rsplit(".", 1)[0] == target
    }
    includes = _as_patterns(include)
    if includes:
        names = {n for n in names if any(fnmatch.fnmatch(n, p) for p in includes)}
    for pattern in _as_patterns(exclude, "exclude"):
        names = {n for n in names if not fnmatch.fnmatch(n, pattern)}
    return sorted(names)


def _discover_all() -> None:
    """Import every model module (slow path): finds models the manifest does not list yet."""
    import_model_modules()


def get_model_builder(name: str) -> Callable[..., Any]:
    """The builder function registered under ``name`` (case-insensitive)."""
    if not isinstance(name, str):
        raise UnknownModelError(f"A model name must be a string, got {type(name).__name__}: {name!r}.")
    key = name.strip().lower()
    if key not in _BUILDERS:
        module = _manifest()[0].get(key)
        if module is not None:
            importlib.import_module(module)
        else:
            _discover_all()
    if key in _BUILDERS:
        return _BUILDERS[key]
    close = difflib.get_close_matches(key, list(_all_models()), n=3)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise UnknownModelError(f"Unknown model {name!r}.{hint} See `modelver list` for every model.")


def get_model(name: str, **config: Any) -> Any:
    """Build the model registered under ``name``: ``get_model("resnet50", weights="DEFAULT")``."""
    return get_model_builder(name)(**config)


def get_model_weights(name: Callable[..., Any] | str) -> type[WeightsEnum]:
    """The weights enum class of a builder (given by name or as the function)."""
    fn = get_model_builder(name) if isinstance(name, str) else name
    enum = _enum_of(fn)
    if enum is None:
        raise UnknownWeightsError(
            f"Builder {getattr(fn, '__name__', fn)!r} has no weights enum: annotate its keyword "
            "argument as `weights: Optional[X_Weights] = None`."
        )
    return enum


def _enum_of(fn: Callable[..., Any]) -> type[WeightsEnum] | None:
    try:
        parameter = inspect.signature(fn).parameters.get("weights")
    except (TypeError, ValueError):
        return None
    if parameter is None:
        return None
    annotation = parameter.annotation
    if isinstance(annotation, str):  # postponed annotations
        target = inspect.unwrap(fn)
        try:
            annotation = eval(annotation, target.__globals__)
        except Exception:  # noqa: BLE001 - an annotation that does not evaluate: no enum
            return None
    candidates = [annotation, *typing.get_args(annotation)]
    for candidate in candidates:
        if isinstance(candidate, type) and issubclass(candidate, WeightsEnum):
            return candidate
    return None


def released_enum(fn: Callable[..., Any]) -> type[WeightsEnum] | None:
    """The builder's weights enum if it has at least one entry (an empty enum means nothing released)."""
    enum = _enum_of(fn)
    return enum if enum is not None and len(enum) > 0 else None


def _find_enum(enum_name: str) -> type[WeightsEnum] | None:
    for fn in list(_BUILDERS.values()):
        enum = _enum_of(fn)
        if enum is not None and enum.__name__ == enum_name:
            return enum
    module = _manifest()[1].get(enum_name)
    if module is not None:
        candidate = getattr(importlib.import_module(module), enum_name, None)
        if isinstance(candidate, type) and issubclass(candidate, WeightsEnum):
            return candidate
    return None


def all_weight_enums() -> list[str]:
    """Names of every known weights enum class (no import)."""
    names = set(_manifest()[1])
    names.update(e.__name__ for e in map(_enum_of, list(_BUILDERS.values())) if e is not None)
    return sorted(names)


def get_weight(name: str) -> WeightsEnum:
    """The weights entry with the full name ``"X_Weights.NAME"`` (e.g. ``"ResNet50_Weights.DEFAULT"``)."""
    if not isinstance(name, str):
        raise UnknownWeightsError(f"A weights name must be a string like 'X_Weights.NAME', got {name!r}.")
    enum_name, dot, member = name.strip().partition(".")
    if not dot or not enum_name or not member or "." in member:
        raise UnknownWeightsError(
            f"Invalid weight name provided: {name!r}. Use the full name 'X_Weights.NAME', "
            "e.g. 'ResNet50_Weights.DEFAULT'."
        )
    enum = _find_enum(enum_name)
    if enum is None:
        close = difflib.get_close_matches(enum_name, all_weight_enums(), n=3)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise UnknownWeightsError(
            f"The weight enum {enum_name!r} couldn't be retrieved.{hint} "
            "See `modelver list` and `modelver info NAME` for every weights enum."
        )
    return enum.verify(member)


# --- for modelver's own tooling (hub, docs, manifest, fingerprints, hf): one way to ask each question ---
def model_modules() -> list[str]:
    """Every public module under ``modelver.models`` where builders live (walking the package's files; packages,
    which only re-export lazily, and ``_private`` modules left out; nothing is imported)."""
    package = importlib.import_module(MODELS_PACKAGE)
    return sorted(
        info.name
        for info in pkgutil.walk_packages(package.__path__, MODELS_PACKAGE + ".")
        if not info.ispkg and not info.name.rsplit(".", 1)[-1].startswith("_")
    )


def import_model_modules(*, unlisted_only: bool = False) -> None:
    """Import the model modules (only those the manifest does not name yet, with ``unlisted_only``)."""
    listed: set[str] = set()
    if unlisted_only:
        models, enums = _manifest()
        listed = set(models.values()) | set(enums.values())
    for name in model_modules():
        if name not in listed:
            importlib.import_module(name)


def weights_enum_of(builder: Callable[..., Any]) -> type[WeightsEnum] | None:
    """The weights enum a builder takes (its ``weights`` annotation); None for a weight-less builder."""
    return _enum_of(builder)


def find_weights_enum(enum_name: str) -> type[WeightsEnum] | None:
    """The weights enum class named ``enum_name`` (``"ResNet50_Weights"``), None if there is none."""
    return _find_enum(enum_name)


def builders_of(enum: type[WeightsEnum]) -> list[str]:
    """The registered builders that take ``enum`` (they live beside it: nothing new is imported)."""
    return sorted(
        name
        for name, module in _all_models().items()
        if module == enum.__module__ and _enum_of(get_model_builder(name)) is enum
    )


def builder_name(builder: Callable[..., Any]) -> str | None:
    """The name ``builder`` is registered under, None if it is not registered."""
    return next((name for name, fn in _BUILDERS.items() if fn is builder), None)


def registered_builders(module_prefix: str = MODELS_PACKAGE + ".") -> dict[str, Callable[..., Any]]:
    """Every registered builder defined under ``module_prefix`` (imports every model module first), by name."""
    import_model_modules()
    return {name: fn for name, fn in sorted(_BUILDERS.items()) if fn.__module__.startswith(module_prefix)}
