"""torch.hub entry points for every registered builder and weights enum, resolved lazily.

``hubconf.py`` at the repository root delegates here through module ``__getattr__`` /
``__dir__`` (PEP 562), so adding a model to the registry exposes it on torch.hub without
editing hubconf. ``torch.hub.list`` calls ``getattr`` on every name of ``dir(hubconf)``:
each name maps to a small :class:`HubEntry` whose target (the builder, or the enum) is
imported only when it is called or its ``__doc__`` is read (``torch.hub.help``). So
listing imports no model module, and loading one model imports only that model's module.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable

from . import _modeldocs, _registry
from ._weights import WeightsEnum
from .errors import UnknownModelError, UnknownWeightsError

__all__ = ["HUB_REPO", "HubEntry", "entry", "entry_names", "get_model_weights", "get_weight", "list_models"]

#: The GitHub repository users pass to ``torch.hub.load``.
HUB_REPO = "org/modelver"

BUILDER = "builder"
_PIP_NAMES = {"PIL": "pillow", "skimage": "scikit-image", "yaml": "pyyaml"}
ENUM = "weights enum"


@functools.cache
def _import_unlisted_model_modules() -> None:
    """Import the model modules the manifest does not name (a model added without ``make manifest``).

    Walking the package lists file names only; modules the manifest names stay unimported.
    Once per process: ``torch.hub.list`` asks for every name.
    """
    _registry.import_model_modules(unlisted_only=True)


def entry_names() -> dict[str, str]:
    """Every name torch.hub exposes beyond hubconf's own: builder names and weights enum names → kind."""
    _import_unlisted_model_modules()
    names = {name: BUILDER for name in _registry.list_models()}
    names.update({name: ENUM for name in _registry.all_weight_enums()})
    return names


class HubEntry:
    """A torch.hub entry point: calls (and documents) its builder or weights enum, imported on first use."""

    def __init__(self, name: str, kind: str) -> None:
        self.name = name
        self.kind = kind
        self.__name__ = self.__qualname__ = name

    def target(self) -> Any:
        """The builder function or the weights enum class (imports its module)."""
        if self.kind == BUILDER:
            return _registry.get_model_builder(self.name)
        enum = _registry.find_weights_enum(self.name)
        if enum is None:
            raise UnknownWeightsError(f"The weights enum {self.name!r} is no longer registered.")
        return enum

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            target = self.target()
            if self.kind == ENUM:
                return _call_enum(target, *args, **kwargs)
            return target(*args, **kwargs)
        except ModuleNotFoundError as exc:
            if exc.name is None or "." in exc.name:
                raise
            raise ModuleNotFoundError(
                f"torch.hub entry {self.name!r} needs the module {exc.name!r}, which is not installed: "
                f"pip install {_PIP_NAMES.get(exc.name, exc.name)}",
                name=exc.name,
            ) from exc

    @property  # type: ignore[override]
    def __doc__(self) -> str:  # torch.hub.help prints this
        target = self.target()
        if self.kind == ENUM:
            return describe_enum(target)
        doc = inspect.getdoc(target) or f"{self.name}: no docstring."
        return doc + "\n" + _modeldocs.hub_help_section(self.name, _registry.released_enum(target), HUB_REPO)

    @property
    def __signature__(self) -> inspect.Signature:
        target = self.target()
        return inspect.signature(_call_enum if self.kind == ENUM else target)

    def __repr__(self) -> str:
        return f"<torch.hub entry {self.name!r} ({self.kind})>"


def _call_enum(enum: type[WeightsEnum], name: str | None = None) -> Any:
    return enum if name is None else enum.verify(name)


def describe_enum(enum: type[WeightsEnum]) -> str:
    """What ``torch.hub.help(repo, "X_Weights")`` prints: every entry, DEFAULT marked, and how to use one."""
    builders = _registry.builders_of(enum)
    lines = [f"{enum.__name__}: the pre-trained weights of {', '.join(builders) or 'a builder'}.", "", "Entries:"]
    for name, member, is_default in _modeldocs.entries(enum):
        mark = " (= DEFAULT)" if is_default else ""
        lines.append(f"    {name}{mark}: {_modeldocs.weights_summary(member) or member.url}")
    lines += [
        "",
        (f"torch.hub.load({HUB_REPO!r}, {enum.__name__!r}) returns this enum; "
        f'torch.hub.load({HUB_REPO!r}, {enum.__name__!r}, "DEFAULT") one entry.'),
    ]
    if builders:
        lines.append(f'Build with them: torch.hub.load({HUB_REPO!r}, {builders[0]!r}, weights="DEFAULT").')
    return "\n".join(lines)


def entry(name: str) -> HubEntry:
    """The entry for ``name`` (hubconf's module ``__getattr__``)."""
    kind = entry_names().get(name)
    if kind is None:
        raise AttributeError(f"hubconf has no entry point {name!r}; torch.hub.list({HUB_REPO!r}) lists them.")
    return HubEntry(name, kind)


def get_weight(name: str | None = None, *, weights: str | None = None) -> WeightsEnum:
    """A weights entry by its full name, e.g. ``"EfficientNet_Lite0_Weights.DEFAULT"``.

    torch.hub passes keyword arguments, so both forms work::

        weights = torch.hub.load("org/modelver", "get_weight", weights="EfficientNet_Lite0_Weights.DEFAULT")
        preprocess = weights.transforms()
        categories = weights.meta["categories"]

    Args:
        name: the full name ``"X_Weights.NAME"`` (positional).
        weights: the same, as a keyword.
    """
    if (name is None) == (weights is None):
        raise UnknownWeightsError(
            "get_weight takes one full weights name, e.g. get_weight(weights='EfficientNet_Lite0_Weights.DEFAULT')."
        )
    return _registry.get_weight(name if name is not None else weights)  # type: ignore[arg-type]


def get_model_weights(name: Callable[..., Any] | str | None = None, *, model: str | None = None) -> type[WeightsEnum]:
    """The weights enum of a builder: ``torch.hub.load("org/modelver", "get_model_weights", model="efficientnet_lite0")``.

    Args:
        name: the builder's name (or the builder), positional.
        model: the same name, as a keyword.
    """
    if (name is None) == (model is None):
        raise UnknownModelError(
            "get_model_weights takes one model name, e.g. get_model_weights(model='efficientnet_lite0')."
        )
    return _registry.get_model_weights(name if name is not None else model)  # type: ignore[arg-type]


def list_models(include: Any = None, exclude: Any = None) -> list[str]:
    """Sorted names of every model torch.hub can load, with optional fnmatch filters.

    Example: ``torch.hub.load("org/modelver", "list_models", include="efficientnet*")``.
    """
    _import_unlisted_model_modules()
    return _registry.list_models(include=include, exclude=exclude)
